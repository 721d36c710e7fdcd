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
#include "pipeline.h"
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


/* The units of the file's own /model (its names and filter counts must be /stats's: checked),
 * which bound every /stats array before anything is allocated for it. */
static int load_units(struct insp *d, struct h5in *f, const struct model *plan, struct rv_error *err)
{
    if (ck_read_units(f, plan, &d->unit_text, err))
        return -1;
    d->nunits = plan->nunits;
    d->unit = rv_calloc((size_t)d->nunits, sizeof *d->unit);
    d->first = rv_malloc((size_t)d->nunits * sizeof *d->first);
    d->count = rv_malloc((size_t)d->nunits * sizeof *d->count);
    char *p = d->unit_text;
    int total = 0;
    for (int u = 0; u < d->nunits; u++) {
        d->unit[u] = p; /* one name per line, checked by ck_read_units */
        p = strchr(p, '\n');
        *p++ = '\0';
        d->first[u] = total;
        d->count[u] = (int)ck_unit_channels(plan, u);
        total += d->count[u];
    }
    d->nfilters = total;
    return 0;
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
    struct model plan;
    memset(&plan, 0, sizeof plan);
    int rc = checkpoint_check_format(f, err);
    if (!rc && !h5in_exists(f, ck_layout[CK_NSTAGES].object))
        rc = rv_fail(err, "%s: no /stats group (written by an older revive?); inspect a stage-KK.h5 "
                     "of a run made with this one", path);
    if (!rc)
        rc = ck_get_int(f, CK_NSTAGES, 0, &nstages, err);
    if (!rc && nstages == 0)
        rc = rv_fail(err, "%s: no stage has finished yet; inspect a stage-KK.h5", path);
    if (!rc)
        rc = ck_file_model(f, &plan, err) || load_units(d, f, &plan, err);
    if (!rc) {
        d->rec = rv_calloc(SCHEDULE_MAX_STAGES, sizeof *d->rec);
        rc = ck_read_stats(f, d->nfilters, plan.total, d->rec, SCHEDULE_MAX_STAGES, &d->nstages, err);
    }
    model_free(&plan);
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
