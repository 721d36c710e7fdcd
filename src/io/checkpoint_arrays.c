/* The checkpoint's arrays (checkpoint_layout.h, "dataset rows"): each dataset row of the layout
 * table names an accessor here that says how many instances the row has and where instance i
 * lives in memory; ck_put_arrays and ck_get_arrays write and read every row of a range through
 * them, so the writer, the checked reader and the document all follow from the row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "checkpoint_layout.h"
#include "h5io.h"
#include "history.h"
#include "pipeline.h"
#include "stats.h"

bool ck_at_init(const struct model *m, uint64_t seed, int p)
{
    const struct param *pa = &m->params[p];
    for (size_t i = 0; i < pa->count; i++)
        if (m->values[pa->offset + i] != model_init_value(m, seed, p, i))
            return false;
    return true;
}

static size_t elem_size(enum ck_type t)
{
    switch (t) {
    case CK_T_F32: return sizeof(float);
    case CK_T_F64: return sizeof(double);
    case CK_T_I64: return sizeof(int64_t);
    case CK_T_U8: return 1;
    default: REVIVE_ASSERT(0 && "not an array type");
    }
    return 0;
}

/* ---- the accessors ---------------------------------------------------------------------- */

/* /model input_mean, input_std: struct run's normalization, (in_c,). Written when known (an
 * export of an older file may not know it), read when there; read_mathematics puts it to use. */
static void locate_input_norm(const void *base, int id, int i, const struct ck_io *io, struct ck_array *a)
{
    const struct run *r = base;
    size_t c = (size_t)r->model.spec.in_c;
    REVIVE_ASSERT(c <= DATA_MAX_CHANNELS);
    *a = (struct ck_array){.need = !io->writing ? CK_IF_THERE : r->norm_c == (int)c ? CK_NEED : CK_SKIP,
                           .ndim = 1, .dims = {c},
                           .data = (void *)(id == CK_MODEL_INPUT_MEAN ? r->norm_mean : r->norm_std)};
}
const struct ck_access ck_acc_input_norm = {.locate = locate_input_norm};

/* /params, /momentum, /mask, /moment2: parameter i of the model's blocks, in its shape. The base
 * is the struct model (a run's, or pipeline superres's generator). */
static int count_params(const void *base)
{
    return ((const struct model *)base)->nparams;
}

static void locate_param(const void *base, int id, int i, const struct ck_io *io, struct ck_array *a)
{
    const struct model *m = base;
    const struct param *pa = &m->params[i];
    *a = (struct ck_array){.need = CK_NEED, .arg = pa->name, .ndim = pa->ndim};
    for (int d = 0; d < pa->ndim; d++)
        a->dims[d] = (size_t)pa->dims[d];
    switch (id) {
    case CK_PARAMS:
        a->data = m->values + pa->offset;
        /* Seed-only: conv weights are regenerated from the seed; the output layer too, unless it
         * was trained. Read back: γ and β must be there, the rest when they are. */
        if (io->seed_only && io->writing) {
            bool regenerated = pa->kind == PARAM_CONV ||
                               ((pa->kind == PARAM_OUTPUT_W || pa->kind == PARAM_OUTPUT_B) &&
                                ck_at_init(m, io->seed, i));
            a->need = regenerated ? CK_SKIP : CK_NEED;
        } else if (io->seed_only) {
            a->need = pa->kind == PARAM_GAMMA || pa->kind == PARAM_BETA ? CK_NEED : CK_IF_THERE;
        }
        break;
    case CK_MOMENTUM: a->data = m->momentum + pa->offset; break;
    case CK_MASK: break; /* float 0/1 in memory, uint8 in the file */
    case CK_MOMENT2: /* AdamW only; in a checkpoint read when there (checkpoint.c checks it is
                        where needed); a state file always continues its optimizer: required */
        a->data = m->moment2 ? m->moment2 + pa->offset : NULL;
        a->need = !m->moment2 ? CK_SKIP
                  : io->writing || io->file == CK_FILE_STATE ? CK_NEED : CK_IF_THERE;
        break;
    default: REVIVE_ASSERT(0 && "not a parameter row");
    }
}

static void pack_mask(const void *base, int id, int i, void *buf)
{
    const struct model *m = base;
    const struct param *pa = &m->params[i];
    uint8_t *b = buf;
    for (size_t j = 0; j < pa->count; j++)
        b[j] = m->mask[pa->offset + j] != 0.0f;
}

static void unpack_mask(void *base, int id, int i, const void *buf)
{
    struct model *m = base;
    const struct param *pa = &m->params[i];
    const uint8_t *b = buf;
    for (size_t j = 0; j < pa->count; j++)
        m->mask[pa->offset + j] = b[j] ? 1.0f : 0.0f;
}
const struct ck_access ck_acc_param = {.count = count_params, .locate = locate_param,
                                       .pack = pack_mask, .unpack = unpack_mask};

/* /running/<unit>/mean and var: the unit's running statistics, (channels,) each, of the struct
 * model at base. A LayerNorm unit (a Mixer's) has none: no dataset, written or read. */
static int count_units(const void *base)
{
    return ((const struct model *)base)->nunits;
}

static void locate_running(const void *base, int id, int i, const struct ck_io *io, struct ck_array *a)
{
    const struct model *m = base;
    const struct unit *un = &m->units[i];
    size_t c = ck_unit_channels(m, i);
    if (un->layernorm) {
        *a = (struct ck_array){.need = CK_SKIP, .arg = un->name};
        return;
    }
    *a = (struct ck_array){.need = CK_NEED, .arg = un->name, .ndim = 1, .dims = {c},
                           .data = m->running_stats + un->running + (id == CK_RUNNING_VAR ? c : 0)};
}
const struct ck_access ck_acc_running = {.count = count_units, .locate = locate_running};

/* /history/<column>: one column of struct run's history rows (history.h, in the rows' order),
 * (nhistory,). */
static void locate_history(const void *base, int id, int i, const struct ck_io *io, struct ck_array *a)
{
    const struct run *r = base;
    *a = (struct ck_array){.need = CK_NEED, .ndim = 1, .dims = {(size_t)r->nhistory}};
}

static void pack_history(const void *base, int id, int i, void *buf)
{
    const struct run *r = base;
    double *col = buf;
    for (int j = 0; j < r->nhistory; j++)
        col[j] = history_get(&r->history[j], id - CK_HIST_STAGE);
}

static void unpack_history(void *base, int id, int i, const void *buf)
{
    struct run *r = base;
    const double *col = buf;
    for (int j = 0; j < r->nhistory; j++)
        history_set(&r->history[j], id - CK_HIST_STAGE, col[j]);
}
const struct ck_access ck_acc_history = {.locate = locate_history, .pack = pack_history,
                                         .unpack = unpack_history};

/* /stats filters_per_unit: the model's channel counts, (nunits,); read back they must be. */
static void locate_filters_per_unit(const void *base, int id, int i, const struct ck_io *io,
                                    struct ck_array *a)
{
    const struct model *m = base;
    *a = (struct ck_array){.need = CK_NEED, .ndim = 1, .dims = {(size_t)m->nunits}};
}

static void pack_filters_per_unit(const void *base, int id, int i, void *buf)
{
    const struct model *m = base;
    int64_t *count = buf;
    for (int u = 0; u < m->nunits; u++)
        count[u] = (int64_t)ck_unit_channels(m, u);
}

static int filters_disagree(struct h5in *f, const char *path, const void *base, int i, size_t u,
                            double got, struct rv_error *err)
{
    const struct model *m = base;
    return rv_fail(err, "%s: %s[%zu] = %lld but unit %s of the file's /model has %zu filters; the "
                   "checkpoint is damaged", h5in_path(f), path, u, (long long)got, m->units[u].name,
                   ck_unit_channels(m, (int)u));
}
const struct ck_access ck_acc_filters_per_unit = {.locate = locate_filters_per_unit,
                                                  .pack = pack_filters_per_unit,
                                                  .disagree = filters_disagree};

/* /stats/stage-KK gamma and the five flags, (nfilters,) each. The record holds disabled (d) and
 * reinit (r); revived = r∧¬d, died_again = r∧d and newly_disabled = ¬r∧d are derived from them
 * (written for readers outside revive; read back, they must agree). */
static void locate_record(const void *base, int id, int i, const struct ck_io *io, struct ck_array *a)
{
    const struct stage_record *rec = base;
    *a = (struct ck_array){.need = CK_NEED, .ndim = 1, .dims = {(size_t)rec->nfilters}};
    a->data = id == CK_REC_GAMMA ? (void *)rec->gamma : id == CK_REC_DISABLED ? (void *)rec->disabled
              : id == CK_REC_REINIT ? (void *)rec->reinit : NULL;
}

static void pack_record_flag(const void *base, int id, int i, void *buf)
{
    const struct stage_record *rec = base;
    uint8_t *b = buf;
    for (int j = 0; j < rec->nfilters; j++) {
        int d = rec->disabled[j] != 0, r = rec->reinit[j] != 0;
        b[j] = (uint8_t)(id == CK_REC_REVIVED ? r && !d : id == CK_REC_DIED_AGAIN ? r && d : !r && d);
    }
}

static int flag_disagrees(struct h5in *f, const char *path, const void *base, int i, size_t j,
                          double got, struct rv_error *err)
{
    return rv_fail(err, "%s: %s[%zu] disagrees with disabled and reinit; the checkpoint is damaged",
                   h5in_path(f), path, j);
}
const struct ck_access ck_acc_record = {.locate = locate_record, .pack = pack_record_flag,
                                        .disagree = flag_disagrees};

/* /superres/epochs/<column>: one column of struct sr_state's rows, (epochs,). */
static void locate_sr_epochs(const void *base, int id, int i, const struct ck_io *io, struct ck_array *a)
{
    const struct sr_state *st = base;
    *a = (struct ck_array){.need = CK_NEED, .ndim = 1, .dims = {(size_t)st->epochs}};
}

static double *sr_column(const struct sr_state *st, int id, int e)
{
    struct sr_epoch *r = &st->rows[e];
    switch (id) {
    case CK_SR_EPOCH_LR: return &r->lr;
    case CK_SR_EPOCH_PIXEL: return &r->pixel;
    case CK_SR_EPOCH_PERCEPTUAL: return &r->perceptual;
    case CK_SR_EPOCH_SECONDS: return &r->seconds;
    default: REVIVE_ASSERT(0 && "not a superres epoch row");
    }
    return NULL;
}

static void pack_sr_epochs(const void *base, int id, int i, void *buf)
{
    const struct sr_state *st = base;
    for (int e = 0; e < st->epochs; e++)
        ((double *)buf)[e] = *sr_column(st, id, e);
}

static void unpack_sr_epochs(void *base, int id, int i, const void *buf)
{
    const struct sr_state *st = base;
    for (int e = 0; e < st->epochs; e++)
        *sr_column(st, id, e) = ((const double *)buf)[e];
}
const struct ck_access ck_acc_sr_epochs = {.locate = locate_sr_epochs, .pack = pack_sr_epochs,
                                           .unpack = unpack_sr_epochs};

/* ---- reading and writing through them --------------------------------------------------- */

static size_t count_of(const struct ck_array *a)
{
    size_t n = 1;
    for (int d = 0; d < a->ndim; d++)
        n *= a->dims[d];
    return n;
}

/* The end of the run of rows from `from` (≤ last) that share from's instances. */
static int group_end(int from, int last)
{
    int to = from;
    while (to < last && ck_layout[to + 1].access &&
           ck_layout[to + 1].access->count == ck_layout[from].access->count)
        to++;
    return to;
}

static int instances(const struct ck_row *row, const void *base)
{
    return row->access->count ? row->access->count(base) : 1;
}

/* Instance i of row id into the file (ck_put_arrays walks them). */
static int put_one(void *file, int id, int k, int i, void *base, const struct ck_io *io,
                   struct rv_error *err)
{
    struct h5out *f = file;
    const struct ck_row *row = &ck_layout[id];
    struct ck_array a;
    if (!ck_in_file(row, io->file))
        return 0;
    row->access->locate(base, id, i, io, &a);
    if (a.need == CK_SKIP || (io->seed_only && (row->flags & CK_FULL_ONLY)))
        return 0;
    char path[160];
    ck_dataset_path(path, sizeof path, (enum ck_field)id, k, a.arg);
    size_t n = count_of(&a);
    void *buf = a.data;
    if (!buf) {
        buf = rv_malloc(n ? n * elem_size(row->type) : 1);
        row->access->pack(base, id, i, buf);
    }
    int rc = row->type == CK_T_F32 ? h5out_floats(f, path, buf, a.ndim, a.dims, err)
             : row->type == CK_T_F64 ? h5out_doubles(f, path, buf, a.ndim, a.dims, err)
             : row->type == CK_T_I64 ? h5out_int64s(f, path, buf, a.ndim, a.dims, err)
                                     : h5out_bytes(f, path, buf, a.ndim, a.dims, err);
    if (buf != a.data)
        free(buf);
    return rc ? -1 : 0;
}

typedef int ck_one_fn(void *file, int id, int k, int i, void *base, const struct ck_io *io,
                      struct rv_error *err);

/* one() for every instance of every row from first to last, in the file's order (ck_put_arrays'
 * comment in checkpoint_layout.h). */
static int walk(void *file, ck_one_fn *one, enum ck_field first, enum ck_field last, int k,
                void *base, const struct ck_io *io, struct rv_error *err)
{
    for (int from = first; from <= (int)last;) {
        REVIVE_ASSERT(ck_layout[from].access);
        int to = group_end(from, last), n = instances(&ck_layout[from], base);
        for (int i = 0; i < n; i++)
            for (int id = from; id <= to; id++)
                if (one(file, id, k, i, base, io, err))
                    return -1;
        from = to + 1;
    }
    return 0;
}

int ck_put_arrays(struct h5out *f, enum ck_field first, enum ck_field last, int k, const void *base,
                  const struct ck_io *io, struct rv_error *err)
{
    return walk(f, put_one, first, last, k, (void *)base, io, err); /* put_one only reads base */
}

/* Read (the shape must be a's: h5in_* refuse any other unread), then checked against the row's
 * bounds. */
static int read_checked(struct h5in *f, const struct ck_row *row, int id, const char *path,
                        void *buf, const struct ck_array *a, size_t n, struct rv_error *err)
{
    char where[168]; /* messages name the absolute path: /model/input_mean[0] = 5 */
    snprintf(where, sizeof where, "/%s", path);
    int rc = row->type == CK_T_F32   ? h5in_floats(f, path, buf, a->ndim, a->dims, err)
             : row->type == CK_T_F64 ? h5in_doubles(f, path, buf, a->ndim, a->dims, err)
             : row->type == CK_T_I64 ? h5in_int64s(f, path, buf, a->ndim, a->dims, err)
                                     : h5in_bytes(f, path, buf, a->ndim, a->dims, err);
    return rc || ck_check_values(f, (enum ck_field)id, where, buf, n, err) ? -1 : 0;
}

/* Instance i of row id from the file, checked (ck_get_arrays walks them). */
static int get_one(void *file, int id, int k, int i, void *base, const struct ck_io *io,
                   struct rv_error *err)
{
    struct h5in *f = file;
    const struct ck_row *row = &ck_layout[id];
    const struct ck_access *acc = row->access;
    struct ck_array a;
    if (!ck_in_file(row, io->file))
        return 0;
    acc->locate(base, id, i, io, &a);
    if (a.need == CK_SKIP || (io->seed_only && (row->flags & CK_FULL_ONLY)))
        return 0;
    char path[160];
    ck_dataset_path(path, sizeof path, (enum ck_field)id, k, a.arg);
    size_t n = count_of(&a), size = elem_size(row->type);
    bool absent = (a.need == CK_IF_THERE || (row->flags & CK_OPTIONAL)) && !h5in_exists(f, path);
    if (absent && !(acc->unpack && !a.data && (row->flags & CK_OPTIONAL)))
        return 0; /* left as it is */
    void *buf = a.data ? a.data : rv_malloc(n ? n * size : 1);
    int rc = 0;
    if (absent) { /* an optional row of an older file: its `absent` value (a double column) */
        REVIVE_ASSERT(row->type == CK_T_F64);
        for (size_t j = 0; j < n; j++)
            ((double *)buf)[j] = row->absent;
    } else {
        rc = read_checked(f, row, id, path, buf, &a, n, err);
    }
    if (!rc && !a.data && acc->unpack) {
        acc->unpack(base, id, i, buf);
    } else if (!rc && !a.data) { /* derived: must be what the values it derives from give */
        void *want = rv_malloc(n ? n * size : 1);
        acc->pack(base, id, i, want);
        for (size_t j = 0; j < n && !rc; j++)
            if (ck_value_at(row->type, buf, j) != ck_value_at(row->type, want, j))
                rc = acc->disagree(f, path, base, i, j, ck_value_at(row->type, buf, j), err);
        free(want);
    }
    if (buf != a.data)
        free(buf);
    return rc ? -1 : 0;
}

int ck_get_arrays(struct h5in *f, enum ck_field first, enum ck_field last, int k, void *base,
                  const struct ck_io *io, struct rv_error *err)
{
    return walk(f, get_one, first, last, k, base, io, err);
}
