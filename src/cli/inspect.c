/* pipeline inspect (see inspect.h): the command line, and the /stats group of a checkpoint read
 * back into struct stage_record for src/cli/inspect_print.c to print. Reading checks everything it
 * relies on, so a damaged or foreign file gives one clear line instead of nonsense numbers. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "../io/checkpoint_layout.h"
#include "h5io.h"
#include "inspect.h"
#include "inspect_internal.h"
#include "stages.h"
#include "stats.h"

static const char usage_line[] = "pipeline inspect FILE|RUN_DIR [--layers] [--format table|csv|json] [--stage K]";

enum format { FORMAT_TABLE, FORMAT_CSV, FORMAT_JSON };

struct options {
    const char *file;
    enum format format;
    int layers;
    int stage; /* −1: every stage */
};

/* ---- reading ---------------------------------------------------------------------------- */


static int load_units(struct insp *d, struct h5in *f, struct rv_error *err)
{
    int ndim;
    size_t dims[H5IO_MAX_DIMS];
    /* h5in_shape also checks that the file stores the data its shape declares, so nothing
     * below allocates more than the file holds. */
    if (h5in_string(f, "stats/units", &d->unit_text, err) ||
        h5in_shape(f, "stats/filters_per_unit", &ndim, dims, err))
        return -1;
    if (ndim != 1 || dims[0] < 1 || dims[0] > 100000)
        return rv_fail(err, "%s: stats/filters_per_unit must be a list of 1 to 100000 counts; the file "
                       "is damaged", d->path);
    d->nunits = (int)dims[0];
    int64_t *per = rv_malloc(dims[0] * sizeof *per);
    d->unit = rv_calloc(dims[0], sizeof *d->unit);
    d->first = rv_malloc(dims[0] * sizeof *d->first);
    d->count = rv_malloc(dims[0] * sizeof *d->count);
    int rc = h5in_int64s(f, "stats/filters_per_unit", per, 1, dims, err) ||
             ck_check_int64s(f, CK_FILTERS_PER_UNIT, "stats/filters_per_unit", per, dims[0], err);
    /* one name per line; the last line ends in '\n' */
    int names = 0;
    for (char *p = d->unit_text; !rc && *p; names++) {
        char *nl = strchr(p, '\n');
        if (names < d->nunits)
            d->unit[names] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    if (!rc && names != d->nunits)
        rc = rv_fail(err, "%s: stats/units names %d units but stats/filters_per_unit counts %d; "
                     "the file is damaged", d->path, names, d->nunits);
    int64_t total = 0;
    for (int u = 0; u < d->nunits && !rc; u++) {
        d->first[u] = (int)total;
        d->count[u] = (int)per[u];
        total += per[u];
    }
    if (!rc && total > 100000000)
        rc = rv_fail(err, "%s: stats/filters_per_unit adds up to %lld filters; the file is damaged",
                     d->path, (long long)total);
    d->nfilters = (int)total;
    free(per);
    return rc;
}

/* Reads stage k's record. The flags write_record derives from disabled (d) and reinit (r),
 * revived = r∧¬d, died_again = r∧d, newly_disabled = ¬r∧d, are checked against them: stored ones
 * that disagree mean a damaged file. */
static int load_stage(struct insp *d, struct h5in *f, int k, struct rv_error *err)
{
    static const char *names[6] = {"gamma", "disabled", "reinit", "revived", "died_again", "newly_disabled"};
    struct stage_record *rec = &d->rec[k];
    char g[64], name[96], *kind = NULL;
    snprintf(g, sizeof g, "stats/stage-%02d", k);
    rec->stage = k;
    rec->nfilters = d->nfilters;
    size_t n = (size_t)d->nfilters;
    /* The shape first: the arrays are allocated only for data the file holds. */
    int nd;
    size_t have[H5IO_MAX_DIMS];
    snprintf(name, sizeof name, "%s/gamma", g);
    if (h5in_shape(f, name, &nd, have, err))
        return -1;
    if (nd != 1 || have[0] != n)
        return rv_fail(err, "%s: %s holds %zu values but stats/filters_per_unit counts %zu filters; the "
                       "file is damaged", d->path, name, nd == 1 ? have[0] : 0, n);
    rec->gamma = rv_malloc(n * sizeof *rec->gamma);
    rec->disabled = rv_malloc(n);
    rec->reinit = rv_malloc(n);
    int64_t trainable = 0;
    int rc = ck_get_string(f, CK_REC_KIND, k, &kind, err) ||
             ck_get_double(f, CK_REC_FRACTION, k, &rec->fraction, err) ||
             ck_get_int(f, CK_REC_TRAINABLE, k, &trainable, err) ||
             ck_get_double(f, CK_REC_THRESHOLD, k, &rec->threshold, err) ||
             ck_get_double(f, CK_REC_ACC_START, k, &rec->acc_start, err) ||
             ck_get_double(f, CK_REC_ACC_END, k, &rec->acc_end, err) ||
             ck_get_double(f, CK_REC_ACC_CLAMPED, k, &rec->acc_clamped, err);
    /* Written since pipeline.recalibrate_batches and pipeline.reinit exist; older files: none
     * (−1), and every flagged filter was re-initialized (−1 here, the flag count below). */
    int64_t applied = -1;
    if (!rc)
        rc = ck_get_double_opt(f, CK_REC_ACC_START_RECAL, k, &rec->acc_start_recal, -1.0, err) ||
             ck_get_int_opt(f, CK_REC_REINIT_APPLIED, k, &applied, -1, err);
    if (!rc && applied > d->nfilters)
        rc = rv_fail(err, "%s: %s attribute reinit_applied = %lld exceeds the %d filters; the file is "
                     "damaged", d->path, g, (long long)applied, d->nfilters);
    if (!rc && (strlen(kind) >= sizeof rec->kind || CHOICE_INDEX(stage_kind_names, kind) < 0))
        rc = rv_fail(err, "%s: %s has kind '%.64s', which is not a stage kind; the file is damaged",
                     d->path, g, kind);
    snprintf(rec->kind, sizeof rec->kind, "%s", kind && !rc ? kind : "");
    free(kind);
    rec->trainable = trainable > 0 ? (size_t)trainable : 0;
    uint8_t *v = rv_malloc(n), *dst[3] = {rec->disabled, rec->reinit, v};
    for (int j = 0; j < 6 && !rc; j++) {
        snprintf(name, sizeof name, "%s/%s", g, names[j]);
        rc = j == 0 ? h5in_floats(f, name, rec->gamma, 1, &n, err)
                    : h5in_bytes(f, name, dst[j < 3 ? j - 1 : 2], 1, &n, err) ||
                          ck_check_bytes(f, (enum ck_field)(CK_REC_DISABLED + j - 1), name,
                                         dst[j < 3 ? j - 1 : 2], n, err);
        for (size_t i = 0; i < n && !rc && j >= 3; i++) {
            int dis = rec->disabled[i] != 0, re = rec->reinit[i] != 0;
            int want = j == 3 ? re && !dis : j == 4 ? re && dis : !re && dis;
            if ((v[i] != 0) != want)
                rc = rv_fail(err, "%s: %s[%zu] disagrees with disabled and reinit; the file is damaged",
                             d->path, name, i);
        }
    }
    free(v);
    if (!rc)
        rec->reinit_applied = applied >= 0 ? (int)applied : stats_count(rec, 0, rec->nfilters).reinit;
    return rc ? -1 : 0;
}

static void insp_free(struct insp *d)
{
    for (int k = 0; d->rec && k < d->nstages; k++)
        stats_free(&d->rec[k]);
    free(d->rec);
    free(d->unit_text);
    free(d->unit);
    free(d->first);
    free(d->count);
    free(d->prov);
    memset(d, 0, sizeof *d);
}

static int insp_load(struct insp *d, const char *path, struct rv_error *err)
{
    memset(d, 0, sizeof *d);
    d->path = path;
    struct h5in *f = h5in_open(path, err);
    if (!f)
        return -1;
    int64_t nstages = 0;
    int rc = checkpoint_check_format(f, err);
    if (!rc && !h5in_exists(f, "stats"))
        rc = rv_fail(err, "%s: no /stats group (written by an older revive?); inspect a stage-KK.h5 "
                     "of a run made with this one", path);
    if (!rc)
        rc = ck_get_int(f, CK_NSTAGES, 0, &nstages, err);
    if (!rc && nstages == 0)
        rc = rv_fail(err, "%s: no stage has finished yet; inspect a stage-KK.h5", path);
    if (!rc)
        rc = load_units(d, f, err);
    if (!rc) {
        d->rec = rv_calloc((size_t)nstages, sizeof *d->rec);
        d->nstages = (int)nstages;
    }
    for (int k = 0; k < d->nstages && !rc; k++)
        rc = load_stage(d, f, k, err);
    if (!rc)
        rc = provenance_read(f, &d->prov, &d->nprov, err);
    h5in_close(f);
    if (rc) {
        insp_free(d);
        checkpoint_escape_message(err);
    }
    return rc ? -1 : 0;
}

/* A run directory stands for its newest stage file: the stage-KK.h5 with the largest KK (which
 * holds the records of every stage before it). 0 with path set, or −1 with err set. */
static int newest_stage_file(const char *dir, char *path, size_t cap, struct rv_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return rv_fail(err, "%s: cannot read the directory: %s", dir, strerror(errno));
    int best = -1;
    for (struct dirent *e; (e = readdir(d));) {
        int k, used = 0;
        if (sscanf(e->d_name, "stage-%d.h5%n", &k, &used) == 1 && used > 0 &&
            e->d_name[used] == '\0' && k > best && k <= 1000)
            best = k;
    }
    closedir(d);
    if (best < 0)
        return rv_fail(err, "%s: no stage-KK.h5 in this directory; give a run's output directory "
                       "(run.out_dir/run.name) or a checkpoint file", dir);
    snprintf(path, cap, "%s/stage-%02d.h5", dir, best);
    return 0;
}

/* ---- command line ----------------------------------------------------------------------- */

/* 0, or 2 with err set; *help set for -h/--help. */
static int parse_args(struct options *o, int *help, int argc, char **argv, struct rv_error *err)
{
    *o = (struct options){.format = FORMAT_TABLE, .stage = -1};
    *help = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            *help = 1;
            return 0;
        }
        if (strcmp(a, "--layers") == 0) {
            o->layers = 1;
            continue;
        }
        int is_format = strncmp(a, "--format", 8) == 0 && (a[8] == '\0' || a[8] == '=');
        int is_stage = strncmp(a, "--stage", 7) == 0 && (a[7] == '\0' || a[7] == '=');
        if (is_format || is_stage) {
            const char *eq = strchr(a, '=');
            v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!v)
                return rv_fail(err, "%s needs a value (usage: %s)", a, usage_line), 2;
        }
        if (is_format) {
            static const char *names[] = {[FORMAT_TABLE] = "table", [FORMAT_CSV] = "csv", [FORMAT_JSON] = "json"};
            int j = FORMAT_JSON;
            while (j >= 0 && strcmp(v, names[j]) != 0)
                j--;
            if (j < 0)
                return rv_fail(err, "--format '%s': expected table, csv or json", v), 2;
            o->format = (enum format)j;
        } else if (is_stage) {
            char *end;
            errno = 0;
            long k = strtol(v, &end, 10);
            if (end == v || *end || errno || k < 0 || k > 1000)
                return rv_fail(err, "--stage '%s': expected a stage number (0, 1, …)", v), 2;
            o->stage = (int)k;
        } else if (a[0] == '-' && a[1] != '\0') {
            return rv_fail(err, "unknown option '%s' (usage: %s)", a, usage_line), 2;
        } else if (o->file) {
            return rv_fail(err, "unexpected argument '%s': give one checkpoint file (usage: %s)", a,
                           usage_line), 2;
        } else {
            o->file = a;
        }
    }
    if (!o->file)
        return rv_fail(err, "needs a checkpoint file (usage: %s)", usage_line), 2;
    return 0;
}

int inspect_run(FILE *out, FILE *errs, int argc, char **argv)
{
    struct rv_error err = {{0}};
    struct options o;
    int help;
    int rc = parse_args(&o, &help, argc, argv, &err);
    if (rc == 0 && help) {
        fprintf(out, "usage: %s\n"
                "  the filter-revival statistics of every finished stage in a checkpoint\n"
                "  (a run directory: its newest stage-KK.h5)\n"
                "  --layers        one row per unit (conv + BN) and stage\n"
                "  --format F      table (default), csv (accuracies as fractions 0..1) or json\n"
                "  --stage K       only stage K\n", usage_line);
        return 0;
    }
    if (rc) {
        fprintf(errs, "pipeline inspect: %s\n", err.msg);
        return rc;
    }
    struct stat st;
    char newest[1200];
    if (stat(o.file, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (newest_stage_file(o.file, newest, sizeof newest, &err)) {
            fprintf(errs, "pipeline inspect: %s\n", err.msg);
            return 1;
        }
        o.file = newest;
    }
    struct insp d;
    if (insp_load(&d, o.file, &err)) {
        fprintf(errs, "pipeline inspect: %s\n", err.msg);
        return 1;
    }
    if (o.stage >= d.nstages) {
        if (d.nstages == 1)
            fprintf(errs, "pipeline inspect: --stage %d: %s has finished stage 0 only\n", o.stage, o.file);
        else
            fprintf(errs, "pipeline inspect: --stage %d: %s has finished stages 0 to %d\n", o.stage,
                    o.file, d.nstages - 1);
        insp_free(&d);
        return 1;
    }
    int k0 = o.stage < 0 ? 0 : o.stage, k1 = o.stage < 0 ? d.nstages : o.stage + 1;
    if (o.format == FORMAT_CSV)
        inspect_print_csv(out, &d, k0, k1, o.layers);
    else if (o.format == FORMAT_JSON)
        inspect_print_json(out, &d, k0, k1);
    else if (o.layers)
        inspect_print_layers(out, &d, k0, k1);
    else
        inspect_print_table(out, &d, k0, k1);
    insp_free(&d);
    return fflush(out) == 0 ? 0 : 1;
}

int inspect_main(int argc, char **argv)
{
    return inspect_run(stdout, stderr, argc, argv);
}
