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
#include "cli.h"
#include "../io/checkpoint_layout.h"
#include "h5io.h"
#include "inspect.h"
#include "inspect_internal.h"
#include "pipeline.h"
#include "stages.h"
#include "stats.h"

enum format { FORMAT_TABLE, FORMAT_CSV, FORMAT_JSON };

struct options {
    const char *file;
    enum format format;
    int layers;
    int stage; /* −1: every stage */
};

static int inspect_parsed(FILE *out, FILE *errs, const struct cli_args *a);

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

static const char *const formats[] = {[FORMAT_TABLE] = "table", [FORMAT_CSV] = "csv",
                                      [FORMAT_JSON] = "json", NULL};
static const struct cli_option opt_layers = {"--layers", NULL, CLI_FLAG,
                                             .help = "one row per unit (conv + BN) and stage"};
static const struct cli_option opt_format = {
    "--format", "table|csv|json", CLI_CHOICE, .choices = formats,
    .help = "table (default), csv (accuracies as fractions 0..1) or json"};
static const struct cli_option opt_stage = {"--stage", "K", CLI_LONG, 0, 1000,
                                            .valid = "a stage number (0, 1, ...)",
                                            .help = "only stage K"};
static const struct cli_option *const inspect_options[] = {&opt_layers, &opt_format, &opt_stage, NULL};

static int inspect_command(const struct cli_args *a)
{
    return inspect_parsed(stdout, stderr, a);
}

const struct cli_command inspect_command_row = {
    .name = "inspect", .operands = "FILE|RUN_DIR", .min_operands = 1, .max_operands = 1,
    .missing = "a checkpoint file or a run directory, e.g. pipeline inspect checkpoints/demo",
    .options = inspect_options,
    .help = "filter-revival statistics of every finished stage in a checkpoint (a run directory: "
            "its newest stage-KK.h5)",
    .main = inspect_command};

int inspect_run(FILE *out, FILE *errs, int argc, char **argv)
{
    struct rv_error err = {{0}};
    struct cli_args a;
    if (cli_parse(&a, &inspect_command_row, argc, argv, &err)) {
        fprintf(errs, "pipeline: %s\n", err.msg);
        return CLI_EXIT_USAGE;
    }
    if (a.help) {
        cli_command_usage(out, &inspect_command_row);
        return 0;
    }
    return inspect_parsed(out, errs, &a);
}

static int inspect_parsed(FILE *out, FILE *errs, const struct cli_args *a)
{
    struct rv_error err = {{0}};
    struct options o = {.file = a->operand[0], .format = (enum format)cli_number(a, &opt_format, FORMAT_TABLE),
                        .layers = cli_flag(a, &opt_layers), .stage = (int)cli_number(a, &opt_stage, -1)};
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

