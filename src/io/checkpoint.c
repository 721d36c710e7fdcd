/* The checkpoint layout (docs/checkpoint-format.md) on top of h5io; every path, type and bound
 * is a row of the table in checkpoint_layout.c, and the rows that name a member (the position, the
 * model, stage records, provenance) are written and read through it (ck_put_all, ck_get_all,
 * ck_match_all). /stats is read by one function, ck_read_stats, for the loader and inspect alike.
 * In short:
 *
 *   /                 attrs format, format_version, checksum, seed, stage, epoch, step,
 *                           epoch_loss_sum, epoch_correct, epoch_seen, acc_start, acc_start_recal,
 *                           seed_only
 *   /config           the effective config as INI text
 *   /model            attrs depth, width, in_c, in_h, in_w, classes, gamma_one, arch, stem, norm,
 *                           head, wiring, wiring_version, bn_eps, bn_momentum, conv_auto_rule,
 *                           nunits; datasets input_mean, input_std (float32 (in_c)): all but the
 *                           first seven optional
 *   /model/unit-KK    attrs name, channels, filter: the unit table (there when nunits is)
 *   /params/<name>    float32, the parameter's shape
 *   /momentum/<name>  float32, same shape (AdamW: its first moment)
 *   /moment2/<name>   float32, same shape: AdamW's second moment (AdamW runs only)
 *   /mask/<name>      uint8, same shape: 1 = trainable in the stage
 *   /running/<unit>/mean, /running/<unit>/var   float32 (C)
 *   /provenance       attr count; start-KK: one group per process start (src/io/provenance.c)
 *   /history/<column> one value per finished epoch (columns: src/pipeline/history.c; the |γ| ones
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
#include "checkpoint_layout.h"
#include "h5io.h"
#include "pipeline.h"
#include "stages.h"
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

void ck_dataset_path(char *buf, size_t cap, enum ck_field id, int k, const char *arg)
{
    const struct ck_row *row = &ck_layout[id];
    char obj[64];
    ck_object(obj, sizeof obj, id, k);
    const char *lt = strchr(row->name, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (strcmp(obj, "/") == 0)
        snprintf(buf, cap, "%s", row->name);
    else if (!gt)
        snprintf(buf, cap, "%s/%s", obj, row->name);
    else
        snprintf(buf, cap, "%s/%.*s%s%s", obj, (int)(lt - row->name), row->name, arg, gt + 1);
}

/* The history's columns (history.h) are the layout's history rows, in the same order. */
_Static_assert(CK_HIST_ABS_GAMMA_P90 - CK_HIST_STAGE + 1 == HISTORY_COLUMNS,
               "history.h's columns and the layout's history rows differ");

size_t ck_unit_channels(const struct model *m, int u)
{
    return (size_t)m->units[u].channels;
}

void ck_unit_describe(const struct model *m, int u, struct ck_unit *out)
{
    const struct unit *un = &m->units[u];
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", un->name);
    out->channels = un->channels;
    snprintf(out->filter, sizeof out->filter, "%s", un->w >= 0 ? m->params[un->w].name : "");
}

static const struct ck_io writing = {.writing = true};

static int write_record(struct h5out *f, const struct stage_record *rec, struct rv_error *err)
{
    char g[64];
    const int k = rec->stage;
    ck_object(g, sizeof g, CK_REC_KIND, k);
    return h5out_group(f, g, err) || ck_put_all(f, CK_IN_RECORD, k, rec, err) ||
           ck_put_arrays(f, CK_REC_GAMMA, CK_REC_NEWLY_DISABLED, k, rec, &writing, err) ? -1 : 0;
}

static int write_stats(struct run *r, struct h5out *f, struct rv_error *err)
{
    const struct model *m = &r->model;
    size_t names_len = 1;
    for (int u = 0; u < m->nunits; u++)
        names_len += strlen(m->units[u].name) + 1;
    char *names = rv_calloc(names_len, 1);
    for (int u = 0; u < m->nunits; u++) {
        strcat(names, m->units[u].name);
        strcat(names, "\n");
    }
    char units[64];
    ck_dataset_path(units, sizeof units, CK_UNITS, 0, NULL);
    int rc = h5out_group(f, ck_layout[CK_NSTAGES].object, err) ||
             ck_put_int(f, CK_NSTAGES, 0, r->nrecords, err) ||
             h5out_string(f, units, names, err) ||
             ck_put_arrays(f, CK_FILTERS_PER_UNIT, CK_FILTERS_PER_UNIT, 0, m, &writing, err);
    free(names);
    for (int k = 0; k < r->nrecords && !rc; k++)
        rc = write_record(f, &r->records[k], err);
    return rc ? -1 : 0;
}

/* What a reader outside revive needs to compute what revive computes (docs/checkpoint-format.md,
 * "The network, exactly"): the wiring's name and version, the BatchNorm constants as the layers
 * use them (float32 widened to double: eps is 1e-5f = 9.99999974738e-06), and the input
 * normalization. */
static int write_mathematics(const struct run *r, struct h5out *f, struct rv_error *err)
{
    const struct model *m = &r->model;
    const struct model_spec *s = &m->spec;
    if (ck_put_string(f, CK_MODEL_ARCH, 0, arch_names[s->arch], err) ||
        ck_put_string(f, CK_MODEL_STEM, 0, stem_names[s->stem], err) ||
        ck_put_string(f, CK_MODEL_NORM, 0, norm_names[s->norm], err) ||
        ck_put_string(f, CK_MODEL_HEAD, 0, head_names[s->head], err) ||
        ck_put_int(f, CK_MODEL_NUNITS, 0, m->nunits, err))
        return -1;
    for (int u = 0; u < m->nunits; u++) {
        struct ck_unit unit;
        char g[64];
        ck_unit_describe(m, u, &unit);
        ck_object(g, sizeof g, CK_UNIT_NAME, u);
        if (h5out_group(f, g, err) || ck_put_all(f, CK_IN_UNIT, u, &unit, err))
            return -1;
    }
    if (ck_put_string(f, CK_MODEL_WIRING, 0, ck_wiring_names[s->arch], err) ||
        ck_put_int(f, CK_MODEL_WIRING_VERSION, 0, CHECKPOINT_WIRING_VERSION, err) ||
        ck_put_double(f, CK_MODEL_BN_EPS, 0, (double)m->units[0].bn.eps, err) ||
        ck_put_double(f, CK_MODEL_BN_MOMENTUM, 0, (double)m->units[0].bn.momentum, err) ||
        ck_put_int(f, CK_MODEL_CONV_AUTO_RULE, 0, m->spec.conv_auto_rule, err))
        return -1;
    /* Not written when unknown (an export of an older file). */
    return ck_put_arrays(f, CK_MODEL_INPUT_MEAN, CK_MODEL_INPUT_STD, 0, r, &writing, err);
}

/* Optional text row id, when the file has it, must be `want`. */
static int match_text_opt(struct h5in *f, enum ck_field id, const char *want, struct rv_error *err)
{
    char *v = NULL;
    if (ck_get_string_opt(f, id, 0, &v, err))
        return -1;
    int same = !v || strcmp(v, want) == 0;
    if (!same)
        rv_fail(err, "%s: /model %s is '%s' but the file's /config builds '%s'; the checkpoint is "
                "damaged or was not written by revive", h5in_path(f), ck_layout[id].name, v, want);
    free(v);
    return same ? 0 : -1;
}

/* The network description (write_mathematics), where the file has it, against m, the model the
 * file's /config builds: the family and its keys, the wiring, and the unit table. A file written
 * before the description (no `arch`) said `resnet-cifar` whatever its family: there the wiring
 * may be that one too. */
static int check_network(struct h5in *f, const struct model *m, struct rv_error *err)
{
    const struct model_spec *s = &m->spec;
    char obj[64];
    ck_object(obj, sizeof obj, CK_MODEL_ARCH, 0);
    const char *wiring = ck_wiring_names[s->arch];
    if (!h5in_attr_exists(f, obj, ck_layout[CK_MODEL_ARCH].name)) {
        char *v = NULL;
        if (ck_get_string_opt(f, CK_MODEL_WIRING, 0, &v, err))
            return -1;
        if (v && strcmp(v, ck_wiring_names[ARCH_RESNET]) == 0)
            wiring = ck_wiring_names[ARCH_RESNET];
        free(v);
    }
    if (match_text_opt(f, CK_MODEL_ARCH, arch_names[s->arch], err) ||
        match_text_opt(f, CK_MODEL_STEM, stem_names[s->stem], err) ||
        match_text_opt(f, CK_MODEL_NORM, norm_names[s->norm], err) ||
        match_text_opt(f, CK_MODEL_HEAD, head_names[s->head], err) ||
        match_text_opt(f, CK_MODEL_WIRING, wiring, err))
        return -1;
    int64_t nunits;
    if (ck_get_int_opt(f, CK_MODEL_NUNITS, 0, &nunits, -1, err))
        return -1;
    if (nunits < 0)
        return 0;
    if (nunits != m->nunits)
        return rv_fail(err, "%s: /model nunits is %lld but the file's /config builds %d units; the "
                       "checkpoint is damaged or was not written by revive", h5in_path(f),
                       (long long)nunits, m->nunits);
    for (int u = 0; u < m->nunits; u++) {
        struct ck_unit unit;
        ck_unit_describe(m, u, &unit);
        if (ck_match_all(f, CK_IN_UNIT, u, &unit, err))
            return -1;
    }
    return 0;
}

/* The optional /model facts of write_mathematics, each checked against its row's bounds and then
 * against this build, and the stored normalization put to use. A file without them (an older
 * revive's) keeps the normalization computed from the training data at open, as such files were
 * made. */
static int read_mathematics(struct run *r, struct h5in *f, struct rv_error *err)
{
    const struct model *m = &r->model;
    char mean_path[64], std_path[64];
    ck_dataset_path(mean_path, sizeof mean_path, CK_MODEL_INPUT_MEAN, 0, NULL);
    ck_dataset_path(std_path, sizeof std_path, CK_MODEL_INPUT_STD, 0, NULL);
    int has_norm = h5in_exists(f, mean_path);
    if (has_norm != h5in_exists(f, std_path))
        return rv_fail(err, "%s: /model has only one of input_mean and input_std; the checkpoint "
                       "is damaged", h5in_path(f));
    int64_t version;
    double eps, momentum, want_eps = m->units[0].bn.eps, want_momentum = m->units[0].bn.momentum;
    if (check_network(f, m, err))
        return -1;
    if (ck_get_int_opt(f, CK_MODEL_WIRING_VERSION, 0, &version, CHECKPOINT_WIRING_VERSION, err))
        return -1;
    if (version != CHECKPOINT_WIRING_VERSION)
        return rv_fail(err, "%s: /model wiring_version is %lld but this revive builds version %d; "
                       "use the revive that wrote it", h5in_path(f), (long long)version,
                       CHECKPOINT_WIRING_VERSION);
    if (ck_get_double_opt(f, CK_MODEL_BN_EPS, 0, &eps, want_eps, err))
        return -1;
    if (eps != want_eps)
        return rv_fail(err, "%s: /model bn_eps is %.9g but this revive's BatchNorm uses %.9g",
                       h5in_path(f), eps, want_eps);
    if (ck_get_double_opt(f, CK_MODEL_BN_MOMENTUM, 0, &momentum, want_momentum, err))
        return -1;
    if (momentum != want_momentum)
        return rv_fail(err, "%s: /model bn_momentum is %.9g but this revive's BatchNorm uses %.9g",
                       h5in_path(f), momentum, want_momentum);
    if (!has_norm)
        return 0;
    /* The model's in_c values each, which check_model found equal to the file's. */
    const struct ck_io reading = {0};
    if (ck_get_arrays(f, CK_MODEL_INPUT_MEAN, CK_MODEL_INPUT_STD, 0, r, &reading, err))
        return -1;
    size_t c = (size_t)m->spec.in_c;
    r->norm_c = (int)c;
    struct dataset *sets[2] = {&r->train, &r->test};
    for (int k = 0; k < 2; k++)
        if (sets[k]->c == (int)c) {
            memcpy(sets[k]->mean, r->norm_mean, c * sizeof *r->norm_mean);
            memcpy(sets[k]->std, r->norm_std, c * sizeof *r->norm_std);
        }
    return 0;
}

int ck_put_head(struct h5out *f, enum ck_file file, const struct config *cfg, struct rv_error *err)
{
    char name[160];
    if (ck_put_string(f, CK_FORMAT, 0, ck_file_format[file], err) ||
        ck_put_int(f, CK_FORMAT_VERSION, 0, CHECKPOINT_VERSION, err) ||
        ck_put_int(f, CK_SEED, 0, cfg->seed, err))
        return -1;
    char *ini = config_to_ini(cfg);
    ck_dataset_path(name, sizeof name, CK_CONFIG, 0, NULL);
    int rc = h5out_string(f, name, ini, err);
    free(ini);
    return rc;
}

/* Last: the checksum over what HDF5's Fletcher-32 does not cover (attributes, strings). */
int ck_put_checksum(struct h5out *f, enum ck_file file, int nstages, struct rv_error *err)
{
    uint32_t crc;
    return ck_checksum_out(f, file, nstages, &crc, err) || ck_put_int(f, CK_CHECKSUM, 0, crc, err) ? -1 : 0;
}

int ck_write_atomic(const char *path, int (*write)(struct h5out *f, const void *ctx, struct rv_error *err),
                    const void *ctx, struct rv_error *err)
{
    struct h5out *f = h5out_create(path, err);
    if (!f)
        return -1;
    if (write(f, ctx, err)) {
        h5out_discard(f);
        return -1;
    }
    return h5out_commit(f, err);
}

static int write_file(struct run *r, struct h5out *f, bool seed_only, struct rv_error *err)
{
    const struct model *m = &r->model;
    const struct ck_io io = {.writing = true, .seed_only = seed_only, .seed = (uint64_t)r->cfg.seed};
    if (ck_put_head(f, CK_FILE_CHECKPOINT, &r->cfg, err) || ck_put_all(f, CK_IN_RUN, 0, r, err) ||
        ck_put_int(f, CK_SEED_ONLY, 0, seed_only, err))
        return -1;
    if (h5out_group(f, ck_layout[CK_MODEL_DEPTH].object, err) ||
        ck_put_all(f, CK_IN_SPEC, 0, &m->spec, err) || write_mathematics(r, f, err))
        return -1;
    /* Parameters with their optimizer state and masks, running statistics, the history. */
    if (ck_put_arrays(f, CK_PARAMS, CK_RUNNING_VAR, 0, m, &io, err) ||
        ck_put_arrays(f, CK_HIST_STAGE, CK_HIST_ABS_GAMMA_P90, 0, r, &io, err) ||
        provenance_write(f, r->provenance, r->nprovenance, err) || write_stats(r, f, err))
        return -1;
    return ck_put_checksum(f, CK_FILE_CHECKPOINT, r->nrecords, err);
}

static int write_full(struct h5out *f, const void *r, struct rv_error *err)
{
    return write_file((struct run *)r, f, false, err);
}

static int write_seed_only(struct h5out *f, const void *r, struct rv_error *err)
{
    return write_file((struct run *)r, f, true, err);
}

int checkpoint_save(struct run *r, const char *path, struct rv_error *err)
{
    int rc = r->comm->rank == 0 ? ck_write_atomic(path, write_full, r, err) : 0;
    return comm_agree(r->comm, rc, err);
}

/* Format 2 and later: the stored checksum must equal the one recomputed from the file (a state
 * file has no stage records). */
static int verify_checksum(struct h5in *f, enum ck_file file, struct rv_error *err)
{
    int64_t stored, nstages = 0;
    uint32_t crc;
    if (ck_get_int(f, CK_CHECKSUM, 0, &stored, err) ||
        (file == CK_FILE_CHECKPOINT && ck_get_int(f, CK_NSTAGES, 0, &nstages, err)) ||
        ck_checksum_in(f, file, (int)nstages, &crc, err))
        return -1;
    if ((uint32_t)stored != crc)
        return rv_fail(err, "%s: the checksum of its attributes and config text does not match "
                       "(stored %08llx, computed %08x): the file is damaged%s", h5in_path(f),
                       (unsigned long long)stored, crc,
                       file == CK_FILE_CHECKPOINT ? "; resume from another checkpoint" : "");
    return 0;
}

/* The version first (an integer, read without HDF5's global heap), then what it allows, and only
 * then any string: in a format-3 file a variable-length string is refused before it is read, and a
 * format-2 or -3 file without its whole-file CRC-32 is refused before any string is read at all. */
int checkpoint_check_format(struct h5in *f, struct rv_error *err)
{
    return ck_check_format(f, CK_FILE_CHECKPOINT, err);
}

int ck_check_format(struct h5in *f, enum ck_file file, struct rv_error *err)
{
    const char *version_name = ck_layout[CK_FORMAT_VERSION].name, *noun = ck_file_noun[file];
    if (!h5in_attr_exists(f, "/", ck_layout[CK_FORMAT].name))
        return rv_fail(err, "%s: not a %s (no 'format' attribute)", h5in_path(f), noun);
    if (!h5in_attr_exists(f, "/", version_name))
        return rv_fail(err, "%s: not a %s (no '%s' attribute)", h5in_path(f), noun, version_name);
    int64_t version = 0;
    if (h5in_attr_int(f, "/", version_name, &version, err))
        return -1;
    if (version > CHECKPOINT_VERSION)
        return rv_fail(err, "%s: checkpoint format version %lld is newer than this revive reads "
                       "(%d); update revive", h5in_path(f), (long long)version, CHECKPOINT_VERSION);
    if (version < 1)
        return rv_fail(err, "%s: invalid checkpoint format version %lld", h5in_path(f), (long long)version);
    if (version >= 2 && !h5in_checked(f))
        return rv_fail(err, "%s: a format-%lld checkpoint without its file checksum (the first %d "
                       "bytes): damaged, or rewritten by another tool; resume from another checkpoint",
                       h5in_path(f), (long long)version, 512);
    /* Format 1 was never written with the user block (format 2 brought both): a file with one
     * that says 1 was altered to skip the attribute checksum and read variable-length strings. */
    if (version < 2 && h5in_checked(f))
        return rv_fail(err, "%s: says checkpoint format version %lld but carries the file checksum "
                       "format 2 introduced, which no format-1 file has: the file was altered; resume "
                       "from another checkpoint", h5in_path(f), (long long)version);
    if (version >= 2)
        h5in_require_exact_types(f);
    if (version >= CHECKPOINT_FIXED_STRINGS)
        h5in_refuse_variable_strings(f);
    char *format = NULL;
    if (ck_get_string(f, CK_FORMAT, 0, &format, err))
        return -1;
    int ok = strcmp(format, ck_file_format[file]) == 0, other = -1;
    for (int k = 0; k < CK_NFILES; k++)
        if (k != (int)file && strcmp(format, ck_file_format[k]) == 0)
            other = k;
    free(format);
    if (!ok && other >= 0)
        return rv_fail(err, "%s: not a %s but a %s (%s)", h5in_path(f), noun, ck_file_noun[other],
                       ck_file_use[other]);
    if (!ok)
        return rv_fail(err, "%s: not a %s (format is not '%s')", h5in_path(f), noun,
                       ck_file_format[file]);
    /* A state file is written by revives of format 3 on only. */
    if (file != CK_FILE_CHECKPOINT && version < CHECKPOINT_FIXED_STRINGS)
        return rv_fail(err, "%s: a %s of format %lld, which no revive wrote: the file is damaged",
                       h5in_path(f), noun, (long long)version);
    return version >= 2 ? verify_checksum(f, file, err) : 0;
}

/* The length of the valid UTF-8 sequence at p (1 to 4), or 0 when it is not one. */
static int utf8_length(const unsigned char *p)
{
    int n = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
            : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* Control bytes (C0, DEL, C1 as UTF-8) and bytes that are not UTF-8 become \xNN: messages quote
 * text from a file (its config, a stage kind), and raw escape sequences must not reach a
 * terminal. */
void checkpoint_escape_message(struct rv_error *err)
{
    char out[sizeof err->msg];
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)err->msg;
    for (size_t i = 0; p[i] && o + 5 < sizeof out;) {
        int n = utf8_length(p + i);
        int control = n == 1 ? p[i] < 0x20 || p[i] == 0x7f : n == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0;
        if (n == 0 || control) {
            int skip = control && n == 2; /* C1: print the code point, not its lead byte */
            o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", p[i + skip]);
            i += (size_t)(skip + 1);
        } else if (o + (size_t)n < sizeof out) {
            memcpy(out + o, p + i, (size_t)n);
            o += (size_t)n;
            i += (size_t)n;
        } else {
            break;
        }
    }
    out[o] = '\0';
    memcpy(err->msg, out, o + 1);
}

/* The rule train.conv_algo = auto follows in the file's run (enum conv_auto_rule). A file without
 * the attribute ran the rule of the revive that wrote it (CHECKPOINT_FIRST_RULE_2). A rule newer than this build's is refused, since guessing would change the run's
 * arithmetic. */
static int read_conv_auto_rule(struct h5in *f, enum conv_auto_rule *rule, struct rv_error *err)
{
    int64_t version = 0, v;
    if (h5in_attr_int(f, "/", ck_layout[CK_FORMAT_VERSION].name, &version, err))
        return -1;
    int64_t missing = version >= CHECKPOINT_FIRST_RULE_2 ? CONV_AUTO_RULE_ONEDNN : CONV_AUTO_RULE_WINOGRAD;
    if (ck_get_int_opt(f, CK_MODEL_CONV_AUTO_RULE, 0, &v, missing, err))
        return -1;
    if (v > CONV_AUTO_RULE_CURRENT)
        return rv_fail(err, "%s: /model conv_auto_rule is %lld, a rule for train.conv_algo = auto "
                       "newer than this revive knows (1 to %d); upgrade revive to use this checkpoint",
                       h5in_path(f), (long long)v, (int)CONV_AUTO_RULE_CURRENT);
    *rule = (enum conv_auto_rule)v;
    return 0;
}

/* The config a checked file holds (its /config text), with the file's conv_auto_rule. */
static int file_config(struct h5in *f, struct config *cfg, struct rv_error *err)
{
    char *text = NULL, name[64], origin[600];
    ck_dataset_path(name, sizeof name, CK_CONFIG, 0, NULL);
    int rc = h5in_string(f, name, &text, err);
    if (!rc) {
        snprintf(origin, sizeof origin, "%s:/config", h5in_path(f));
        config_defaults(cfg);
        /* A checkpoint written before train.conv_algo existed ran im2col: resume it so. */
        cfg->conv_algo = CONV_ALGO_IM2COL;
        rc = config_load_string(cfg, text, origin, err);
    }
    free(text);
    if (!rc)
        rc = read_conv_auto_rule(f, &cfg->conv_auto_rule, err);
    if (!rc)
        snprintf(cfg->source, sizeof cfg->source, "%s", h5in_path(f));
    return rc ? -1 : 0;
}

int checkpoint_read_config(struct config *cfg, const char *path, struct rv_error *err)
{
    struct h5in *f = h5in_open(path, err);
    if (!f)
        return -1;
    int rc = checkpoint_check_format(f, err) || file_config(f, cfg, err) ? -1 : 0;
    h5in_close(f);
    if (rc)
        checkpoint_escape_message(err);
    return rc;
}

/* Optional text row id as an index into names[0..n): *v stays as it is when the file lacks it. */
static int read_choice(struct h5in *f, enum ck_field id, const char *const *names, int n, int *v,
                       struct rv_error *err)
{
    char *text = NULL;
    if (ck_get_string_opt(f, id, 0, &text, err))
        return -1;
    if (!text)
        return 0;
    int k = 0;
    while (k < n && strcmp(text, names[k]) != 0)
        k++;
    if (k == n) {
        rv_fail(err, "%s: /model %s is '%s', which this revive does not know (%s … %s); the "
                "checkpoint is damaged or needs a newer revive", h5in_path(f), ck_layout[id].name,
                text, names[0], names[n - 1]);
        free(text);
        return -1;
    }
    free(text);
    *v = k;
    return 0;
}

/* The model /model declares: its keys, and its family's where the file says; a file written
 * before the network description has only its /config's (cfg). */
static int read_spec(struct h5in *f, const struct config *cfg, struct model_spec *s,
                     struct rv_error *err)
{
    memset(s, 0, sizeof *s);
    int arch = (int)cfg->arch, stem = (int)cfg->stem, norm = (int)cfg->norm, head = (int)cfg->head;
    if (ck_get_all(f, CK_IN_SPEC, 0, s, err) ||
        read_choice(f, CK_MODEL_ARCH, arch_names, ARCH_COUNT, &arch, err) ||
        read_choice(f, CK_MODEL_STEM, stem_names, STEM_COUNT, &stem, err) ||
        read_choice(f, CK_MODEL_NORM, norm_names, NORM_COUNT, &norm, err) ||
        read_choice(f, CK_MODEL_HEAD, head_names, HEAD_COUNT, &head, err))
        return -1;
    s->arch = (enum arch_kind)arch;
    s->stem = (enum model_stem)stem;
    s->norm = (enum model_norm)norm;
    s->head = (enum model_head)head;
    s->mixer = run_mixer_spec(cfg); /* the Mixer's keys: the file's /config's */
    return 0;
}

int ck_file_model(struct h5in *f, struct model *plan, struct rv_error *err)
{
    struct model_spec spec;
    memset(plan, 0, sizeof *plan);
    struct config *cfg = rv_malloc(sizeof *cfg);
    int rc = file_config(f, cfg, err) || read_spec(f, cfg, &spec, err) ||
             model_build(plan, &spec, -1, 1, err) ? -1 : 0;
    free(cfg);
    return rc;
}

int ck_read_units(struct h5in *f, const struct model *m, char **names, struct rv_error *err)
{
    char units[64];
    ck_dataset_path(units, sizeof units, CK_UNITS, 0, NULL);
    *names = NULL;
    /* filters_per_unit: the shape must be the model's (nunits,), checked before anything is
     * read, and the values its channel counts. */
    const struct ck_io reading = {0};
    int rc = ck_get_arrays(f, CK_FILTERS_PER_UNIT, CK_FILTERS_PER_UNIT, 0, (void *)m, &reading, err) ||
             h5in_string(f, units, names, err) ? -1 : 0;
    const char *p = rc ? NULL : *names;
    for (int u = 0; u < m->nunits && !rc; u++) {
        size_t len = strlen(m->units[u].name);
        if (strncmp(p, m->units[u].name, len) != 0 || p[len] != '\n')
            rc = rv_fail(err, "%s: %s does not name unit %d '%s' of the file's /model (one name per "
                         "line, in model order); the checkpoint is damaged", h5in_path(f), units, u,
                         m->units[u].name);
        else
            p += len + 1;
    }
    if (!rc && *p)
        rc = rv_fail(err, "%s: %s names more units than the file's /model has (%d); the checkpoint "
                     "is damaged", h5in_path(f), units, m->nunits);
    if (rc) {
        free(*names);
        *names = NULL;
    }
    return rc;
}

/* The file's /model must be the run's model. */
static int check_model(struct h5in *f, const struct model *m, struct rv_error *err)
{
    return ck_match_all(f, CK_IN_SPEC, 0, &m->spec, err);
}

/* A stage record's kind against its fraction and the file's own config (format 2 on; format-1
 * files of single-stage runs recorded train.conv_fraction whatever the kind). A single-stage run
 * records train.trainable and schedule_single_stage's fraction; a pipeline stage is bn at fraction 0,
 * all at 1 and conv_fraction between (set_kind, src/pipeline/pipeline.c). */
static int check_kind(struct h5in *f, const struct stage_record *rec, const struct config *cfg,
                      int64_t version, struct rv_error *err)
{
    if (version < 2)
        return 0;
    int kind = CHOICE_INDEX(stage_kind_names, rec->kind);
    int k = rec->stage;
    if (!cfg->pipeline) {
        struct stage_plan plan = schedule_single_stage(cfg);
        if (kind != (int)plan.kind || rec->fraction != plan.fraction)
            return rv_fail(err, "%s: stats/stage-%02d has kind '%s' and fraction %.17g but its run is "
                           "single-stage with train.trainable = %s (fraction %.17g) in the file's "
                           "/config; the checkpoint is damaged or was not written by revive",
                           h5in_path(f), k, rec->kind, rec->fraction,
                           CHOICE_NAME(stage_kind_names, plan.kind), plan.fraction);
        return 0;
    }
    double x = rec->fraction;
    int want = x == 0 ? STAGE_BN : x == 1 ? STAGE_ALL : STAGE_CONV_FRACTION;
    if (kind != want)
        return rv_fail(err, "%s: stats/stage-%02d has kind '%s' but fraction %.17g, which is a '%s' "
                       "stage of the pipeline (bn: 0, conv_fraction: between 0 and 1, all: 1); the "
                       "checkpoint is damaged or was not written by revive", h5in_path(f), k,
                       rec->kind, x, CHOICE_NAME(stage_kind_names, want));
    return 0;
}

/* Stage k's record; every value is checked before it is used. A kind this build does not know
 * is refused here, where it is read, so nothing later meets an unknown stage kind. */
static int read_record(struct h5in *f, struct stage_record *rec, int k, int nfilters,
                       size_t model_total, const struct config *cfg, int64_t version,
                       struct rv_error *err)
{
    memset(rec, 0, sizeof *rec);
    if (ck_get_all(f, CK_IN_RECORD, k, rec, err))
        return -1;
    rec->stage = k;
    rec->nfilters = nfilters;
    if (CHOICE_INDEX(stage_kind_names, rec->kind) < 0)
        return rv_fail(err, "%s: stats/stage-%02d has kind '%.64s', which is not a stage kind (all, "
                       "bn, bn_output, output, per_channel, conv_fraction); the checkpoint is damaged "
                       "or from another program", h5in_path(f), k, rec->kind);
    if (check_kind(f, rec, cfg, version, err))
        return -1;
    if (rec->trainable > model_total)
        return rv_fail(err, "%s: stats/stage-%02d has trainable = %zu but the model has %zu "
                       "parameters; the checkpoint is damaged", h5in_path(f), k, rec->trainable,
                       model_total);
    if (rec->reinit_applied > nfilters)
        return rv_fail(err, "%s: stats/stage-%02d has reinit_applied = %d but the model has %d "
                       "filters; the checkpoint is damaged", h5in_path(f), k, rec->reinit_applied,
                       nfilters);
    /* Every array has the model's nfilters values (h5in_* refuse any other shape unread). */
    size_t n = (size_t)nfilters;
    rec->gamma = rv_malloc(n ? n * sizeof(float) : 1);
    rec->disabled = rv_malloc(n ? n : 1);
    rec->reinit = rv_malloc(n ? n : 1);
    const struct ck_io reading = {0};
    if (ck_get_arrays(f, CK_REC_GAMMA, CK_REC_NEWLY_DISABLED, k, rec, &reading, err))
        return -1;
    /* Files from before pipeline.reinit existed re-initialized every flagged filter. */
    if (rec->reinit_applied < 0)
        rec->reinit_applied = stats_count(rec, 0, nfilters).reinit;
    return 0;
}

static int file_config(struct h5in *f, struct config *cfg, struct rv_error *err);

int ck_read_stats(struct h5in *f, int nfilters, size_t model_total, struct stage_record *recs,
                  int cap, int *nrecs, struct rv_error *err)
{
    int64_t n, version;
    struct config cfg;
    *nrecs = 0;
    if (ck_get_int(f, CK_NSTAGES, 0, &n, err) || ck_get_int(f, CK_FORMAT_VERSION, 0, &version, err) ||
        file_config(f, &cfg, err))
        return -1;
    REVIVE_ASSERT(n <= cap);
    /* Each record stores its own arrays (γ as float32, the five flags as uint8), so together they
     * fit in the file: stage groups hard-linked to one another would multiply what is read. */
    double need = (double)n * nfilters * (sizeof(float) + CK_REC_NEWLY_DISABLED - CK_REC_DISABLED + 1);
    struct stat st;
    if (stat(h5in_path(f), &st) == 0 && need > (double)st.st_size)
        return rv_fail(err, "%s: /stats holds %lld records of %d filters, %.0f bytes of arrays, but "
                       "the file has only %lld bytes (records linked to one another?); the "
                       "checkpoint is damaged or was not written by revive", h5in_path(f),
                       (long long)n, nfilters, need, (long long)st.st_size);
    for (int k = 0; k < (int)n; k++) {
        *nrecs = k + 1; /* so that the caller frees a half-read record too */
        if (read_record(f, &recs[k], k, nfilters, model_total, &cfg, version, err))
            return -1;
    }
    return 0;
}

static int read_stats(struct run *r, struct h5in *f, struct rv_error *err)
{
    for (int k = 0; k < r->nrecords; k++)
        stats_free(&r->records[k]);
    r->nrecords = 0;
    char *names = NULL; /* not kept: the model has them; checked to be its units */
    if (ck_read_units(f, &r->model, &names, err))
        return -1;
    free(names);
    return ck_read_stats(f, stats_nfilters(&r->model), r->model.total, r->records,
                         (int)(sizeof r->records / sizeof r->records[0]), &r->nrecords, err);
}

static int read_rest(struct run *r, struct h5in *f, struct rv_error *err);

/* A seed-only file: every parameter from the seed, then what the file holds over it. */
static int read_seed_only(struct run *r, struct h5in *f, struct rv_error *err)
{
    struct model *m = &r->model;
    int64_t seed;
    if (ck_get_int(f, CK_SEED, 0, &seed, err))
        return -1;
    model_init(m, (uint64_t)seed);
    const struct ck_io reading = {.seed_only = true};
    if (ck_get_arrays(f, CK_PARAMS, CK_MOMENT2, 0, m, &reading, err))
        return -1;
    return read_rest(r, f, err);
}

/* The position: each value in its row's bounds, then the finished stages counted by
 * /stats nstages must be the stage in progress (mid-stage) or include it (at its end). */
static int read_position(struct run *r, struct h5in *f, struct rv_error *err)
{
    int64_t nstages, seed_only;
    if (ck_get_all(f, CK_IN_RUN, 0, r, err) || ck_get_int(f, CK_SEED_ONLY, 0, &seed_only, err) ||
        ck_get_int(f, CK_NSTAGES, 0, &nstages, err))
        return -1;
    if (nstages != r->stage && nstages != r->stage + 1)
        return rv_fail(err, "%s: the checkpoint stands at stage %d with %lld finished stages "
                       "(/stats nstages); it should be %d or %d: the checkpoint is damaged",
                       h5in_path(f), r->stage, (long long)nstages, r->stage, r->stage + 1);
    r->seed_only = seed_only != 0;
    return 0;
}

/* An optimizer's state belongs to its stage: a run that continues the stage in progress needs
 * the state of the optimizer that stage ran, AdamW's /moment2 or none. At a stage end the next
 * stage starts from zero, so a branch may change train.optimizer there (/moment2 is then read
 * when there and zeroed at the stage start). */
static int check_optimizer_state(const struct run *r, struct h5in *f, struct rv_error *err)
{
    const struct model *m = &r->model;
    char path[160];
    ck_dataset_path(path, sizeof path, CK_MOMENT2, 0, m->params[0].name);
    bool has = h5in_exists(f, path), wants = m->moment2 != NULL;
    if (has == wants || r->nrecords == r->stage + 1)
        return 0;
    return rv_fail(err, "%s: the stage in progress ran %s (the file %s /moment2) but this run "
                   "continues it with train.optimizer = %s; resume mid-stage with the optimizer "
                   "it ran with, or branch from a stage-KK.h5", h5in_path(f),
                   has ? "AdamW" : "SGD", has ? "has" : "has no", wants ? "adamw" : "sgd");
}

static int read_file(struct run *r, struct h5in *f, struct rv_error *err)
{
    struct model *m = &r->model;
    if (checkpoint_check_format(f, err) || check_model(f, m, err) || read_position(r, f, err) ||
        read_mathematics(r, f, err))
        return -1;
    if (r->seed_only)
        return read_seed_only(r, f, err);
    /* Each parameter's values, optimizer state and mask (uint8 in the file, checked 0 or 1). */
    const struct ck_io reading = {0};
    if (ck_get_arrays(f, CK_PARAMS, CK_MOMENT2, 0, m, &reading, err))
        return -1;
    model_mask_changed(m);
    return read_rest(r, f, err) || check_optimizer_state(r, f, err) ? -1 : 0;
}

/* Running statistics, history and stage statistics: common to full and seed-only files. */
static int read_rest(struct run *r, struct h5in *f, struct rv_error *err)
{
    char name[160];
    const struct ck_io reading = {0};
    if (ck_get_arrays(f, CK_RUNNING_MEAN, CK_RUNNING_VAR, 0, &r->model, &reading, err))
        return -1;
    int nd;
    size_t shape[H5IO_MAX_DIMS], rows;
    /* h5in_shape checks that the file holds the data of the shape it declares, so the
     * allocation below is bounded by the file's size. */
    ck_dataset_path(name, sizeof name, CK_HIST_EPOCH, 0, NULL);
    if (h5in_shape(f, name, &nd, shape, err))
        return -1;
    if (nd != 1)
        return rv_fail(err, "%s: %s is not one-dimensional", h5in_path(f), name);
    rows = shape[0];
    /* One row per finished epoch: at most the epochs a stage can have (the epoch column's bound)
     * for each stage up to the one the file stands at (read and checked before). */
    double most = (r->stage + 1.0) * ck_layout[CK_HIST_EPOCH].hi;
    if ((double)rows > most)
        return rv_fail(err, "%s: %s holds %zu rows, more than the %.0f epochs %d stages can have; the "
                       "checkpoint is damaged", h5in_path(f), name, rows, most, r->stage + 1);
    free(r->history);
    r->history = rv_calloc(rows ? rows : 1, sizeof *r->history);
    r->nhistory = r->history_cap = (int)rows;
    if (!rows)
        r->history_cap = 1;
    /* Each column checked before history_set casts stage and epoch to int; the optional ones
     * NaN (unknown) in an older file. */
    if (ck_get_arrays(f, CK_HIST_STAGE, CK_HIST_ABS_GAMMA_P90, 0, r, &reading, err))
        return -1;
    free(r->provenance);
    if (provenance_read(f, &r->provenance, &r->nprovenance, err))
        return -1;
    return read_stats(r, f, err);
}

/* Export builds the model the file's /model declares, and a crafted /model can declare the
 * largest one the layout table allows (ResNet-866 at width 64: tens of billions of parameters,
 * "out of memory"). Before anything is allocated for it, it must be the model of the file's own
 * config, and the file must be large enough to hold it: a full checkpoint stores every
 * parameter's value and momentum (float32) and mask (uint8). Counted on the parameter table
 * alone (model_build with max_batch −1), which allocates nothing per parameter. */
static int check_declared_model(struct h5in *f, const struct config *cfg, const struct model_spec *s,
                                struct rv_error *err)
{
    const char *path = h5in_path(f);
    const struct { const char *key; int file, config; } keys[] = {
        {"depth", s->depth, cfg->depth},
        {"width", s->width, cfg->width},
        {"gamma_one", s->gamma_one, cfg->gamma_init == GAMMA_INIT_ONE},
        {"arch", s->arch, cfg->arch},
        {"stem", s->stem, cfg->stem},
        {"norm", s->norm, cfg->norm},
        {"head", s->head, cfg->head},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i].file != keys[i].config)
            return rv_fail(err, "%s: /model attribute %s = %d but the file's /config gives %d; the "
                           "checkpoint is damaged or was not written by revive", path, keys[i].key,
                           keys[i].file, keys[i].config);
    struct model plan;
    if (model_build(&plan, s, -1, 1, err))
        return -1;
    size_t params = plan.total;
    model_free(&plan);
    double need = (double)params * (2.0 * sizeof(float) + 1.0);
    struct stat st;
    if (stat(path, &st) != 0)
        return rv_fail(err, "%s: cannot read: %s", path, strerror(errno));
    if (need > (double)st.st_size)
        return rv_fail(err, "%s: /model attributes depth = %d and width = %d declare %zu parameters, "
                       "whose values, momentum and masks take %.0f bytes, but the file has only %lld; "
                       "the checkpoint is damaged or was not written by revive", path, s->depth,
                       s->width, params, need, (long long)st.st_size);
    return 0;
}

/* The run the checkpoint `in` holds, without a data set (no run_open): its config, model (built
 * from the file's /model, whose size a full file must be able to hold), position, history and
 * stage records; r->comm = self. checkpoint_free_file_run frees it. */
static int load_file_run(struct run *r, struct comm *self, const char *in, struct rv_error *err)
{
    memset(r, 0, sizeof *r);
    r->comm = self;
    if (checkpoint_read_config(&r->cfg, in, err))
        return -1;
    struct h5in *f = h5in_open(in, err);
    if (!f)
        return -1;
    struct model_spec spec;
    int64_t seed_only = 0;
    int rc = read_spec(f, &r->cfg, &spec, err) || ck_get_int(f, CK_SEED_ONLY, 0, &seed_only, err) ? -1 : 0;
    spec.conv_auto_rule = r->cfg.conv_auto_rule; /* the run's rule */
    if (rc == 0 && !seed_only) /* a seed-only export holds no conv weights: smaller by design */
        rc = check_declared_model(f, &r->cfg, &spec, err);
    if (rc == 0)
        rc = model_build(&r->model, &spec, 0, 1, err);
    if (rc == 0)
        rc = read_file(r, f, err);
    h5in_close(f);
    return rc;
}

int checkpoint_load_file_run(struct run *r, struct comm *self, const char *path, struct rv_error *err)
{
    int rc = load_file_run(r, self, path, err);
    if (rc)
        checkpoint_escape_message(err);
    return rc;
}

void checkpoint_free_file_run(struct run *r)
{
    for (int i = 0; i < r->nrecords; i++)
        stats_free(&r->records[i]);
    free(r->history);
    free(r->provenance);
    model_free(&r->model);
}

int checkpoint_export_seed_only(const char *in, const char *out, struct rv_error *err)
{
    struct run r;
    struct comm self = COMM_SELF_INIT;
    int rc = load_file_run(&r, &self, in, err);
    if (rc == 0 && r.seed_only)
        rc = rv_fail(err, "%s: already a seed-only export", in);
    else if (rc == 0 && r.nrecords != r.stage + 1)
        rc = rv_fail(err, "%s: not a stage-end checkpoint; export a stage-KK.h5 file", in);
    for (int p = 0; rc == 0 && p < r.model.nparams; p++)
        if (r.model.params[p].kind == PARAM_CONV && !ck_at_init(&r.model, (uint64_t)r.cfg.seed, p))
            rc = rv_fail(err, "%s: conv weight %s differs from the values its seed gives (trained or "
                         "re-initialized); only a checkpoint whose convs were never changed, such as "
                         "the BN-only stage-00.h5, can be exported seed-only", in, r.model.params[p].name);
    if (rc == 0)
        rc = ck_write_atomic(out, write_seed_only, &r, err);
    checkpoint_free_file_run(&r);
    if (rc)
        checkpoint_escape_message(err);
    return rc;
}

int checkpoint_load(struct run *r, const char *path, struct rv_error *err)
{
    struct h5in *f = h5in_open(path, err);
    int rc = f ? read_file(r, f, err) : -1;
    if (f)
        h5in_close(f);
    if (rc)
        checkpoint_escape_message(err);
    return comm_agree(r->comm, rc, err);
}

static int read_model_values(struct model *m, struct h5in *f, struct ck_input_norm *norm,
                             struct rv_error *err)
{
    /* The network must be the file's; how it was initialized (gamma_one) and the input's height
     * and width do not matter (each parameter's shape is still checked as it is read). */
    struct model_spec file, want = m->spec;
    memset(&file, 0, sizeof file);
    int64_t seed_only = 0, seed = 0;
    if (checkpoint_check_format(f, err) || ck_get_all(f, CK_IN_SPEC, 0, &file, err) ||
        ck_get_int(f, CK_SEED_ONLY, 0, &seed_only, err) || ck_get_int(f, CK_SEED, 0, &seed, err))
        return -1;
    want.gamma_one = file.gamma_one;
    want.in_h = file.in_h;
    want.in_w = file.in_w;
    if (ck_match_all(f, CK_IN_SPEC, 0, &want, err))
        return -1;
    /* A seed-only export: every parameter from its seed, then what the file holds over it. */
    if (seed_only)
        model_init(m, (uint64_t)seed);
    /* The values, running statistics and input normalization through the layout table's rows;
     * the normalization's accessor reads a run's: a run that holds this model (its blocks
     * shared). */
    struct run *r = calloc(1, sizeof *r);
    if (!r)
        return rv_fail(err, "%s: out of memory", h5in_path(f));
    r->model = *m;
    const struct ck_io reading = {.seed_only = seed_only != 0};
    char mean_path[64];
    ck_dataset_path(mean_path, sizeof mean_path, CK_MODEL_INPUT_MEAN, 0, NULL);
    int rc = ck_get_arrays(f, CK_PARAMS, CK_PARAMS, 0, m, &reading, err) ||
             ck_get_arrays(f, CK_RUNNING_MEAN, CK_RUNNING_VAR, 0, m, &reading, err) ||
             ck_get_arrays(f, CK_MODEL_INPUT_MEAN, CK_MODEL_INPUT_STD, 0, r, &reading, err) ? -1 : 0;
    if (rc == 0 && norm) {
        memset(norm, 0, sizeof *norm);
        if (h5in_exists(f, mean_path)) {
            norm->c = m->spec.in_c;
            memcpy(norm->mean, r->norm_mean, sizeof norm->mean);
            memcpy(norm->std, r->norm_std, sizeof norm->std);
        }
    }
    free(r);
    return rc;
}

int checkpoint_load_model(struct model *m, const char *path, struct ck_input_norm *norm,
                          struct rv_error *err)
{
    struct h5in *f = h5in_open(path, err);
    int rc = f ? read_model_values(m, f, norm, err) : -1;
    if (f)
        h5in_close(f);
    if (rc)
        checkpoint_escape_message(err);
    return rc;
}
