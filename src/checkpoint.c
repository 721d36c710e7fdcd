/* The checkpoint layout (docs/checkpoint-format.md) on top of h5io.
 *
 *   /                 attrs format, format_version, seed, stage, epoch, step, epoch_loss_sum,
 *                           epoch_correct, epoch_seen, acc_start, acc_start_recal, seed_only
 *   /config           the effective config as INI text
 *   /model            attrs depth, width, in_c, in_h, in_w, classes, gamma_one, wiring,
 *                           wiring_version, bn_eps, bn_momentum; datasets input_mean,
 *                           input_std (float32 (in_c)): all but the first seven optional
 *   /params/<name>    float32, the parameter's shape
 *   /momentum/<name>  float32, same shape
 *   /mask/<name>      uint8, same shape: 1 = trainable in the stage
 *   /running/<unit>/mean, /running/<unit>/var   float32 (C)
 *   /provenance       attr count; start-KK: one group per process start (src/provenance.c)
 *   /history/<column> one value per finished epoch (columns: src/history.c; the |γ| ones
 *                     may be missing in older files and then read as NaN)
 *   /stats            attr nstages; datasets units (names, one per line), filters_per_unit (int64)
 *   /stats/stage-KK   attrs kind, fraction, trainable, threshold, acc_start, acc_start_recal,
 *                     reinit_applied, acc_end, acc_clamped;
 *                     gamma (float32), disabled, reinit, revived, died_again, newly_disabled (uint8)
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "h5io.h"
#include "history.h"
#include "provenance.h"

int make_dirs(const char *dir, struct rv_error *err)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return rv_fail(err, "%s: cannot create directory: %s", buf, strerror(errno));
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    return 0;
}

static void param_dims(const struct param *p, size_t *dims)
{
    for (int i = 0; i < p->ndim; i++)
        dims[i] = (size_t)p->dims[i];
}

static int write_record(struct h5out *f, const struct stage_record *rec, struct rv_error *err)
{
    char g[64], name[96];
    snprintf(g, sizeof g, "stats/stage-%02d", rec->stage);
    size_t n = (size_t)rec->nfilters;
    uint8_t *flags[5];
    const char *flag_names[5] = {"disabled", "reinit", "revived", "died_again", "newly_disabled"};
    for (int i = 0; i < 5; i++)
        flags[i] = rv_malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        int d = rec->disabled[i], r = rec->reinit[i];
        flags[0][i] = (uint8_t)d;
        flags[1][i] = (uint8_t)r;
        flags[2][i] = r && !d;
        flags[3][i] = r && d;
        flags[4][i] = !r && d;
    }
    int rc = h5out_group(f, g, err) ||
             h5out_attr_string(f, g, "kind", rec->kind, err) ||
             h5out_attr_double(f, g, "fraction", rec->fraction, err) ||
             h5out_attr_int(f, g, "trainable", (int64_t)rec->trainable, err) ||
             h5out_attr_double(f, g, "threshold", rec->threshold, err) ||
             h5out_attr_double(f, g, "acc_start", rec->acc_start, err) ||
             h5out_attr_double(f, g, "acc_start_recal", rec->acc_start_recal, err) ||
             h5out_attr_int(f, g, "reinit_applied", rec->reinit_applied, err) ||
             h5out_attr_double(f, g, "acc_end", rec->acc_end, err) ||
             h5out_attr_double(f, g, "acc_clamped", rec->acc_clamped, err);
    snprintf(name, sizeof name, "%s/gamma", g);
    rc = rc || h5out_floats(f, name, rec->gamma, 1, &n, err);
    for (int i = 0; i < 5 && !rc; i++) {
        snprintf(name, sizeof name, "%s/%s", g, flag_names[i]);
        rc = h5out_bytes(f, name, flags[i], 1, &n, err);
    }
    for (int i = 0; i < 5; i++)
        free(flags[i]);
    return rc ? -1 : 0;
}

static int write_stats(struct run *r, struct h5out *f, struct rv_error *err)
{
    const struct model *m = &r->model;
    size_t names_len = 1;
    for (int u = 0; u < m->nunits; u++)
        names_len += strlen(m->units[u].name) + 1;
    char *names = rv_calloc(names_len, 1);
    int64_t *per_unit = rv_malloc((size_t)m->nunits * sizeof *per_unit);
    for (int u = 0; u < m->nunits; u++) {
        strcat(names, m->units[u].name);
        strcat(names, "\n");
        per_unit[u] = m->units[u].conv.out_c;
    }
    size_t nu = (size_t)m->nunits;
    int rc = h5out_group(f, "stats", err) ||
             h5out_attr_int(f, "stats", "nstages", r->nrecords, err) ||
             h5out_string(f, "stats/units", names, err) ||
             h5out_int64s(f, "stats/filters_per_unit", per_unit, 1, &nu, err);
    free(names);
    free(per_unit);
    for (int k = 0; k < r->nrecords && !rc; k++)
        rc = write_record(f, &r->records[k], err);
    return rc ? -1 : 0;
}

/* What a reader outside revive needs to compute what revive computes (docs/checkpoint-format.md,
 * "The network, exactly"): the wiring's name and version, the BatchNorm constants as the layers
 * use them (float32 widened to double: eps is 1e-5f = 9.99999974738e-06), and the input
 * normalization. */
#define CHECKPOINT_WIRING "resnet-cifar"
#define CHECKPOINT_WIRING_VERSION 1

static int write_mathematics(const struct run *r, struct h5out *f, struct rv_error *err)
{
    const struct model *m = &r->model;
    size_t c = (size_t)m->spec.in_c;
    if (h5out_attr_string(f, "model", "wiring", CHECKPOINT_WIRING, err) ||
        h5out_attr_int(f, "model", "wiring_version", CHECKPOINT_WIRING_VERSION, err) ||
        h5out_attr_double(f, "model", "bn_eps", (double)m->units[0].bn.eps, err) ||
        h5out_attr_double(f, "model", "bn_momentum", (double)m->units[0].bn.momentum, err))
        return -1;
    if (r->norm_c != m->spec.in_c) /* unknown (an export of an older file): not written */
        return 0;
    return h5out_floats(f, "model/input_mean", r->norm_mean, 1, &c, err) ||
           h5out_floats(f, "model/input_std", r->norm_std, 1, &c, err) ? -1 : 0;
}

/* The optional /model facts of write_mathematics, checked against this build, and the stored
 * normalization put to use. A file without them (an older revive's) keeps the normalization
 * computed from the training data at open, as such files were made. */
static int read_mathematics(struct run *r, struct h5in *f, struct rv_error *err)
{
    const struct model *m = &r->model;
    if (h5in_exists(f, "model/input_mean") != h5in_exists(f, "model/input_std"))
        return rv_fail(err, "%s: /model has only one of input_mean and input_std; the checkpoint "
                       "is damaged", h5in_path(f));
    /* Each is optional (older files): read when there, and then it must agree with this build. */
    int64_t version;
    char *wiring = NULL;
    double eps = m->units[0].bn.eps, momentum = m->units[0].bn.momentum, v;
    if (h5in_attr_exists(f, "model", "wiring")) {
        if (h5in_attr_string(f, "model", "wiring", &wiring, err))
            return -1;
        int same = strcmp(wiring, CHECKPOINT_WIRING) == 0;
        free(wiring);
        if (!same)
            return rv_fail(err, "%s: /model wiring is not '%s'; this revive builds only that network",
                           h5in_path(f), CHECKPOINT_WIRING);
    }
    if (h5in_attr_exists(f, "model", "wiring_version")) {
        if (h5in_attr_int(f, "model", "wiring_version", &version, err))
            return -1;
        if (version != CHECKPOINT_WIRING_VERSION)
            return rv_fail(err, "%s: /model wiring_version is %lld but this revive builds version %d; "
                           "use the revive that wrote it", h5in_path(f), (long long)version,
                           CHECKPOINT_WIRING_VERSION);
    }
    if (h5in_attr_exists(f, "model", "bn_eps")) {
        if (h5in_attr_double(f, "model", "bn_eps", &v, err))
            return -1;
        if (v != eps)
            return rv_fail(err, "%s: /model bn_eps is %.9g but this revive's BatchNorm uses %.9g",
                           h5in_path(f), v, eps);
    }
    if (h5in_attr_exists(f, "model", "bn_momentum")) {
        if (h5in_attr_double(f, "model", "bn_momentum", &v, err))
            return -1;
        if (v != momentum)
            return rv_fail(err, "%s: /model bn_momentum is %.9g but this revive's BatchNorm uses %.9g",
                           h5in_path(f), v, momentum);
    }
    if (!h5in_exists(f, "model/input_mean"))
        return 0;
    size_t c = (size_t)m->spec.in_c;
    float mean[DATA_MAX_CHANNELS], std[DATA_MAX_CHANNELS];
    if (h5in_floats(f, "model/input_mean", mean, 1, &c, err) ||
        h5in_floats(f, "model/input_std", std, 1, &c, err))
        return -1;
    for (size_t i = 0; i < c; i++)
        if (!isfinite(mean[i]) || !isfinite(std[i]) || !(std[i] > 0.0f))
            return rv_fail(err, "%s: /model input_mean[%zu] = %g, input_std[%zu] = %g: not a "
                           "normalization (std must be positive); the checkpoint is damaged",
                           h5in_path(f), i, mean[i], i, std[i]);
    r->norm_c = (int)c;
    memcpy(r->norm_mean, mean, c * sizeof *mean);
    memcpy(r->norm_std, std, c * sizeof *std);
    struct dataset *sets[2] = {&r->train, &r->test};
    for (int k = 0; k < 2; k++)
        if (sets[k]->c == (int)c) {
            memcpy(sets[k]->mean, mean, c * sizeof *mean);
            memcpy(sets[k]->std, std, c * sizeof *std);
        }
    return 0;
}

/* Whether parameter p still holds exactly the values model_init gave it. */
static bool at_init(const struct model *m, uint64_t seed, int p)
{
    const struct param *pa = &m->params[p];
    for (size_t i = 0; i < pa->count; i++)
        if (m->values[pa->offset + i] != model_init_value(m, seed, p, i))
            return false;
    return true;
}

static int write_file(struct run *r, struct h5out *f, bool seed_only, struct rv_error *err)
{
    const struct model *m = &r->model;
    char name[160];
    if (h5out_attr_string(f, "/", "format", CHECKPOINT_FORMAT, err) ||
        h5out_attr_int(f, "/", "format_version", CHECKPOINT_VERSION, err) ||
        h5out_attr_int(f, "/", "seed", r->cfg.seed, err) ||
        h5out_attr_int(f, "/", "stage", r->stage, err) ||
        h5out_attr_int(f, "/", "epoch", r->epoch, err) ||
        h5out_attr_int(f, "/", "step", r->step, err) ||
        h5out_attr_double(f, "/", "epoch_loss_sum", r->epoch_loss_sum, err) ||
        h5out_attr_double(f, "/", "epoch_correct", r->epoch_correct, err) ||
        h5out_attr_double(f, "/", "epoch_seen", r->epoch_seen, err) ||
        h5out_attr_double(f, "/", "acc_start", r->acc_start, err) ||
        h5out_attr_double(f, "/", "acc_start_recal", r->acc_start_recal, err) ||
        h5out_attr_int(f, "/", "seed_only", seed_only, err))
        return -1;
    char *ini = config_to_ini(&r->cfg);
    int rc = h5out_string(f, "config", ini, err);
    free(ini);
    if (rc || h5out_group(f, "model", err) ||
        h5out_attr_int(f, "model", "depth", m->spec.depth, err) ||
        h5out_attr_int(f, "model", "width", m->spec.width, err) ||
        h5out_attr_int(f, "model", "in_c", m->spec.in_c, err) ||
        h5out_attr_int(f, "model", "in_h", m->spec.in_h, err) ||
        h5out_attr_int(f, "model", "in_w", m->spec.in_w, err) ||
        h5out_attr_int(f, "model", "classes", m->spec.classes, err) ||
        h5out_attr_int(f, "model", "gamma_one", m->spec.gamma_one, err) ||
        write_mathematics(r, f, err))
        return -1;
    uint8_t *mask = rv_malloc(m->total);
    for (size_t i = 0; i < m->total; i++)
        mask[i] = m->mask[i] != 0.0f;
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        size_t dims[4];
        param_dims(pa, dims);
        /* Seed-only: conv weights are regenerated from the seed; the output layer too, unless
         * it was trained. */
        bool regenerated = pa->kind == PARAM_CONV ||
                           ((pa->kind == PARAM_OUTPUT_W || pa->kind == PARAM_OUTPUT_B) &&
                            at_init(m, (uint64_t)r->cfg.seed, p));
        if (seed_only && regenerated)
            continue;
        snprintf(name, sizeof name, "params/%s", pa->name);
        if (h5out_floats(f, name, m->values + pa->offset, pa->ndim, dims, err))
            goto fail;
        if (seed_only)
            continue;
        snprintf(name, sizeof name, "momentum/%s", pa->name);
        if (h5out_floats(f, name, m->momentum + pa->offset, pa->ndim, dims, err))
            goto fail;
        snprintf(name, sizeof name, "mask/%s", pa->name);
        if (h5out_bytes(f, name, mask + pa->offset, pa->ndim, dims, err))
            goto fail;
    }
    free(mask);
    for (int u = 0; u < m->nunits; u++) {
        const struct unit *un = &m->units[u];
        size_t c = (size_t)un->conv.out_c;
        snprintf(name, sizeof name, "running/%s/mean", un->name);
        if (h5out_floats(f, name, m->running_stats + un->running, 1, &c, err))
            return -1;
        snprintf(name, sizeof name, "running/%s/var", un->name);
        if (h5out_floats(f, name, m->running_stats + un->running + c, 1, &c, err))
            return -1;
    }
    size_t rows = (size_t)r->nhistory;
    double *col = rv_malloc((rows ? rows : 1) * sizeof(double));
    for (int k = 0; k < HISTORY_COLUMNS; k++) {
        for (size_t i = 0; i < rows; i++)
            col[i] = history_get(&r->history[i], k);
        snprintf(name, sizeof name, "history/%s", history_columns[k].name);
        if (h5out_doubles(f, name, col, 1, &rows, err)) {
            free(col);
            return -1;
        }
    }
    free(col);
    if (provenance_write(f, r->provenance, r->nprovenance, err))
        return -1;
    return write_stats(r, f, err);
fail:
    free(mask);
    return -1;
}

int checkpoint_save(struct run *r, const char *path, struct rv_error *err)
{
    int rc = 0;
    if (r->comm->rank == 0) {
        struct h5out *f = h5out_create(path, err);
        if (!f)
            rc = -1;
        else if (write_file(r, f, false, err)) {
            h5out_discard(f);
            rc = -1;
        } else {
            rc = h5out_commit(f, err);
        }
    }
    return comm_agree(r->comm, rc, err);
}

int checkpoint_check_format(struct h5in *f, struct rv_error *err)
{
    char *format = NULL;
    if (h5in_attr_string(f, "/", "format", &format, err))
        return rv_fail(err, "%s: not a revive checkpoint (no 'format' attribute)", h5in_path(f));
    int ok = strcmp(format, CHECKPOINT_FORMAT) == 0;
    free(format);
    if (!ok)
        return rv_fail(err, "%s: not a revive checkpoint (format is not '%s')", h5in_path(f),
                       CHECKPOINT_FORMAT);
    int64_t version = 0;
    if (h5in_attr_int(f, "/", "format_version", &version, err))
        return -1;
    if (version > CHECKPOINT_VERSION)
        return rv_fail(err, "%s: checkpoint format version %lld is newer than this revive reads "
                       "(%d); update revive", h5in_path(f), (long long)version, CHECKPOINT_VERSION);
    if (version < 1)
        return rv_fail(err, "%s: invalid checkpoint format version %lld", h5in_path(f), (long long)version);
    return 0;
}

int checkpoint_read_config(struct config *cfg, const char *path, struct rv_error *err)
{
    struct h5in *f = h5in_open(path, err);
    if (!f)
        return -1;
    char *text = NULL;
    int rc = checkpoint_check_format(f, err);
    if (!rc)
        rc = h5in_string(f, "config", &text, err);
    if (!rc) {
        char origin[600];
        snprintf(origin, sizeof origin, "%s:/config", path);
        config_defaults(cfg);
        /* A checkpoint written before train.conv_algo existed ran im2col: resume it so. */
        cfg->conv_algo = CONV_ALGO_IM2COL;
        rc = config_load_string(cfg, text, origin, err);
        if (!rc)
            snprintf(cfg->source, sizeof cfg->source, "%s", path);
    }
    free(text);
    h5in_close(f);
    return rc;
}

static int check_model(struct h5in *f, const struct model *m, struct rv_error *err)
{
    const char *keys[] = {"depth", "width", "in_c", "in_h", "in_w", "classes", "gamma_one"};
    int64_t want[] = {m->spec.depth, m->spec.width, m->spec.in_c, m->spec.in_h, m->spec.in_w,
                      m->spec.classes, m->spec.gamma_one};
    for (int i = 0; i < 7; i++) {
        int64_t v;
        if (h5in_attr_int(f, "model", keys[i], &v, err))
            return -1;
        if (v != want[i])
            return rv_fail(err, "%s: the checkpoint's model has %s = %lld but the config and data "
                           "give %lld; the checkpoint does not match this config",
                           h5in_path(f), keys[i], (long long)v, (long long)want[i]);
    }
    return 0;
}

/* An attribute that files written before it existed lack: absent reads as `absent`. */
static int read_optional_double(struct h5in *f, const char *object, const char *attr, double *v,
                                double absent, struct rv_error *err)
{
    *v = absent;
    return h5in_attr_exists(f, object, attr) ? h5in_attr_double(f, object, attr, v, err) : 0;
}

static int read_record(struct h5in *f, struct stage_record *rec, int k, int nfilters,
                       struct rv_error *err)
{
    char g[64], name[96];
    snprintf(g, sizeof g, "stats/stage-%02d", k);
    memset(rec, 0, sizeof *rec);
    rec->stage = k;
    rec->nfilters = nfilters;
    rec->gamma = rv_malloc((size_t)nfilters * sizeof(float));
    rec->disabled = rv_malloc((size_t)nfilters);
    rec->reinit = rv_malloc((size_t)nfilters);
    size_t n = (size_t)nfilters;
    char *kind = NULL;
    int64_t trainable = 0;
    if (h5in_attr_string(f, g, "kind", &kind, err))
        return -1;
    snprintf(rec->kind, sizeof rec->kind, "%s", kind);
    free(kind);
    if (h5in_attr_double(f, g, "fraction", &rec->fraction, err) ||
        h5in_attr_int(f, g, "trainable", &trainable, err) ||
        h5in_attr_double(f, g, "threshold", &rec->threshold, err) ||
        h5in_attr_double(f, g, "acc_start", &rec->acc_start, err) ||
        read_optional_double(f, g, "acc_start_recal", &rec->acc_start_recal, -1.0, err) ||
        h5in_attr_double(f, g, "acc_end", &rec->acc_end, err) ||
        h5in_attr_double(f, g, "acc_clamped", &rec->acc_clamped, err))
        return -1;
    rec->trainable = (size_t)trainable;
    snprintf(name, sizeof name, "%s/gamma", g);
    if (h5in_floats(f, name, rec->gamma, 1, &n, err))
        return -1;
    snprintf(name, sizeof name, "%s/disabled", g);
    if (h5in_bytes(f, name, rec->disabled, 1, &n, err))
        return -1;
    snprintf(name, sizeof name, "%s/reinit", g);
    if (h5in_bytes(f, name, rec->reinit, 1, &n, err))
        return -1;
    /* Files from before pipeline.reinit existed re-initialized every flagged filter. */
    int64_t applied = -1;
    if (h5in_attr_exists(f, g, "reinit_applied") && h5in_attr_int(f, g, "reinit_applied", &applied, err))
        return -1;
    rec->reinit_applied = applied >= 0 ? (int)applied : stats_count(rec, 0, nfilters).reinit;
    return 0;
}

static int read_stats(struct run *r, struct h5in *f, struct rv_error *err)
{
    int64_t n;
    if (h5in_attr_int(f, "stats", "nstages", &n, err))
        return -1;
    if (n < 0 || n > (int64_t)(sizeof r->records / sizeof r->records[0]))
        return rv_fail(err, "%s: stats/nstages = %lld is out of range", h5in_path(f), (long long)n);
    for (int k = 0; k < r->nrecords; k++)
        stats_free(&r->records[k]);
    r->nrecords = 0;
    int nfilters = stats_nfilters(&r->model);
    for (int k = 0; k < (int)n; k++) {
        r->nrecords = k + 1; /* so that run_close frees a half-read record too */
        if (read_record(f, &r->records[k], k, nfilters, err))
            return -1;
    }
    return 0;
}

static int read_rest(struct run *r, struct h5in *f, struct rv_error *err);

/* A seed-only file: every parameter from the seed, then what the file holds over it. */
static int read_seed_only(struct run *r, struct h5in *f, struct rv_error *err)
{
    struct model *m = &r->model;
    int64_t seed;
    if (h5in_attr_int(f, "/", "seed", &seed, err))
        return -1;
    model_init(m, (uint64_t)seed);
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        char name[160];
        size_t dims[4];
        param_dims(pa, dims);
        snprintf(name, sizeof name, "params/%s", pa->name);
        bool needed = pa->kind == PARAM_GAMMA || pa->kind == PARAM_BETA;
        if (!needed && !h5in_exists(f, name))
            continue;
        if (h5in_floats(f, name, m->values + pa->offset, pa->ndim, dims, err))
            return -1;
    }
    return read_rest(r, f, err);
}

static int read_file(struct run *r, struct h5in *f, struct rv_error *err)
{
    struct model *m = &r->model;
    char name[160];
    int64_t v;
    if (checkpoint_check_format(f, err) || check_model(f, m, err) || read_mathematics(r, f, err))
        return -1;
    if (h5in_attr_int(f, "/", "stage", &v, err)) return -1;
    r->stage = (int)v;
    if (h5in_attr_int(f, "/", "epoch", &v, err)) return -1;
    r->epoch = (int)v;
    if (h5in_attr_int(f, "/", "step", &v, err)) return -1;
    r->step = (long)v;
    if (h5in_attr_double(f, "/", "epoch_loss_sum", &r->epoch_loss_sum, err) ||
        h5in_attr_double(f, "/", "epoch_correct", &r->epoch_correct, err) ||
        h5in_attr_double(f, "/", "epoch_seen", &r->epoch_seen, err) ||
        h5in_attr_double(f, "/", "acc_start", &r->acc_start, err) ||
        read_optional_double(f, "/", "acc_start_recal", &r->acc_start_recal, -1.0, err) ||
        h5in_attr_int(f, "/", "seed_only", &v, err))
        return -1;
    r->seed_only = v != 0;
    if (r->seed_only)
        return read_seed_only(r, f, err);
    uint8_t *mask = rv_malloc(m->total);
    for (int p = 0; p < m->nparams; p++) {
        const struct param *pa = &m->params[p];
        size_t dims[4];
        param_dims(pa, dims);
        snprintf(name, sizeof name, "params/%s", pa->name);
        if (h5in_floats(f, name, m->values + pa->offset, pa->ndim, dims, err))
            goto fail;
        snprintf(name, sizeof name, "momentum/%s", pa->name);
        if (h5in_floats(f, name, m->momentum + pa->offset, pa->ndim, dims, err))
            goto fail;
        snprintf(name, sizeof name, "mask/%s", pa->name);
        if (h5in_bytes(f, name, mask + pa->offset, pa->ndim, dims, err))
            goto fail;
    }
    for (size_t i = 0; i < m->total; i++)
        m->mask[i] = mask[i] ? 1.0f : 0.0f;
    free(mask);
    model_mask_changed(m);
    return read_rest(r, f, err);
fail:
    free(mask);
    return -1;
}

/* Running statistics, history and stage statistics: common to full and seed-only files. */
static int read_rest(struct run *r, struct h5in *f, struct rv_error *err)
{
    struct model *m = &r->model;
    char name[160];
    for (int u = 0; u < m->nunits; u++) {
        const struct unit *un = &m->units[u];
        size_t c = (size_t)un->conv.out_c;
        snprintf(name, sizeof name, "running/%s/mean", un->name);
        if (h5in_floats(f, name, m->running_stats + un->running, 1, &c, err))
            return -1;
        snprintf(name, sizeof name, "running/%s/var", un->name);
        if (h5in_floats(f, name, m->running_stats + un->running + c, 1, &c, err))
            return -1;
    }
    int nd;
    size_t shape[H5IO_MAX_DIMS], rows;
    if (h5in_shape(f, "history/epoch", &nd, shape, err))
        return -1;
    if (nd != 1)
        return rv_fail(err, "%s: history/epoch is not one-dimensional", h5in_path(f));
    rows = shape[0];
    if (rows > 10000000)
        return rv_fail(err, "%s: history/epoch holds %zu rows; the checkpoint is damaged", h5in_path(f), rows);
    free(r->history);
    r->history = rv_calloc(rows ? rows : 1, sizeof *r->history);
    r->nhistory = r->history_cap = (int)rows;
    if (!rows)
        r->history_cap = 1;
    double *col = rv_malloc((rows ? rows : 1) * sizeof(double));
    for (int k = 0; k < HISTORY_COLUMNS; k++) {
        snprintf(name, sizeof name, "history/%s", history_columns[k].name);
        if (history_columns[k].optional && !h5in_exists(f, name)) {
            for (size_t i = 0; i < rows; i++) /* an older file: unknown */
                col[i] = NAN;
        } else if (h5in_doubles(f, name, col, 1, &rows, err)) {
            free(col);
            return -1;
        }
        for (size_t i = 0; i < rows; i++)
            history_set(&r->history[i], k, col[i]);
    }
    free(col);
    free(r->provenance);
    if (provenance_read(f, &r->provenance, &r->nprovenance, err))
        return -1;
    return read_stats(r, f, err);
}

static int read_spec(struct h5in *f, struct model_spec *s, struct rv_error *err)
{
    int64_t v[7];
    const char *keys[] = {"depth", "width", "in_c", "in_h", "in_w", "classes", "gamma_one"};
    for (int i = 0; i < 7; i++)
        if (h5in_attr_int(f, "model", keys[i], &v[i], err))
            return -1;
    *s = (struct model_spec){.depth = (int)v[0], .width = (int)v[1], .in_c = (int)v[2],
                             .in_h = (int)v[3], .in_w = (int)v[4], .classes = (int)v[5],
                             .gamma_one = v[6] != 0};
    return 0;
}

int checkpoint_export_seed_only(const char *in, const char *out, struct rv_error *err)
{
    struct run r;
    struct comm self = COMM_SELF_INIT;
    memset(&r, 0, sizeof r);
    r.comm = &self;
    if (checkpoint_read_config(&r.cfg, in, err))
        return -1;
    struct h5in *f = h5in_open(in, err);
    if (!f)
        return -1;
    struct model_spec spec;
    int rc = read_spec(f, &spec, err);
    if (rc == 0)
        rc = model_build(&r.model, &spec, 0, 1, err);
    if (rc == 0) {
        rc = read_file(&r, f, err);
        if (rc == 0 && r.seed_only)
            rc = rv_fail(err, "%s: already a seed-only export", in);
        else if (rc == 0 && r.nrecords != r.stage + 1)
            rc = rv_fail(err, "%s: not a stage-end checkpoint; export a stage-KK.h5 file", in);
    }
    h5in_close(f);
    for (int p = 0; rc == 0 && p < r.model.nparams; p++)
        if (r.model.params[p].kind == PARAM_CONV && !at_init(&r.model, (uint64_t)r.cfg.seed, p))
            rc = rv_fail(err, "%s: conv weight %s differs from the values its seed gives (trained or "
                         "re-initialized); only a checkpoint whose convs were never changed, such as "
                         "the BN-only stage-00.h5, can be exported seed-only", in, r.model.params[p].name);
    if (rc == 0) {
        struct h5out *o = h5out_create(out, err);
        if (!o)
            rc = -1;
        else if (write_file(&r, o, true, err)) {
            h5out_discard(o);
            rc = -1;
        } else {
            rc = h5out_commit(o, err);
        }
    }
    for (int i = 0; i < r.nrecords; i++)
        stats_free(&r.records[i]);
    free(r.history);
    free(r.provenance);
    model_free(&r.model);
    return rc;
}

int checkpoint_load(struct run *r, const char *path, struct rv_error *err)
{
    struct h5in *f = h5in_open(path, err);
    int rc = f ? read_file(r, f, err) : -1;
    if (f)
        h5in_close(f);
    return comm_agree(r->comm, rc, err);
}
