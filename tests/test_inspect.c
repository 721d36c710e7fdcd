/* inspect: a checkpoint of a real model (ResNet-8, width 1: 9 units, 336 filters) with 2 stages
 * (τ = 0.1) whose first five filters (in the stem) carry a known pattern and every other filter
 * is alive (γ = 1, never flagged), so counts, accuracies and histogram are known exactly; read
 * back through inspect_run; then every error path (arguments, foreign, empty and damaged files,
 * damaged ones with their checksums recomputed so the check aimed at is reached). Each test works
 * in its own mkdtemp directory under /tmp, removed afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "../src/io/checkpoint_layout.h"
#include "checkpoint.h"
#include "h5io.h"
#include "inspect.h"
#include "run.h"
#include "support.h"
#include "support_h5.h"

enum { NF = 5, NS = 2 };

/* Stage 0: |γ| < 0.1 for filters 0, 2, 3. Stage 1: those re-initialized; 0 and 3 revived,
 * 2 died again. log10|γ| bins: stage 0 → bin 0 (γ = 0, 1e-7), bin 10 (0.05), bin 12 (0.5),
 * bin 13 (2); stage 1 → bin 8 (0.01: log10 ≤ −2), bin 11 (0.2, 0.3), bin 12 (0.5), bin 13 (2).
 * Every other filter: γ = 1 (bin 12), alive, never flagged. */
static const float gammas[NS][NF] = {{0.0f, 0.5f, 0.05f, 1e-7f, 2.0f}, {0.2f, 0.5f, 0.01f, 0.3f, 2.0f}};
static const uint8_t disabled[NS][NF] = {{1, 0, 1, 1, 0}, {0, 0, 1, 0, 0}};
static const uint8_t reinit[NS][NF] = {{0, 0, 0, 0, 0}, {1, 0, 1, 1, 0}};

struct fixture {
    char dir[SUPPORT_DIR_LEN]; /* first: support_dir_setup */
    char path[128];
};

/* How a test damages the file it writes. */
struct damage {
    int nstages;          /* the nstages attribute written */
    int bad_revived;      /* flip stage 1 revived[0] */
    const char *units;    /* the units string */
    const char *format;   /* the root format attribute */
    int no_stats;
    int control;          /* a control run (pipeline.reinit = false) with recalibration: 0.625 at
                             stage 1, nothing re-initialized */
};

static void write_file(const char *path, const struct damage *dmg)
{
    struct comm self = COMM_SELF_INIT;
    struct run r;
    memset(&r, 0, sizeof r);
    config_defaults(&r.cfg);
    r.cfg.dataset = DATASET_SYNTHETIC;
    r.cfg.depth = 8;
    r.cfg.width = 1;
    r.cfg.pipeline = true;
    r.cfg.threshold = 0.1;
    r.comm = &self;
    struct model_spec spec = {.depth = 8, .width = 1, .in_c = 1, .in_h = 8, .in_w = 8, .classes = 4};
    struct rv_error err = {{0}};
    assert_int_equal(model_build(&r.model, &spec, 0, 1, &err), 0);
    model_init(&r.model, 1);
    int n = stats_nfilters(&r.model);
    for (int k = 0; k < NS; k++) {
        struct stage_record *rec = &r.records[k];
        rec->stage = k;
        snprintf(rec->kind, sizeof rec->kind, "%s", k ? "conv_fraction" : "bn");
        rec->fraction = k ? 0.01 : 0.0;
        rec->trainable = k ? 20 : 10;
        rec->threshold = 0.1;
        rec->acc_start = k ? 0.375 : -1.0;
        rec->acc_start_recal = k && dmg->control ? 0.625 : -1.0;
        rec->reinit_applied = k && !dmg->control ? 3 : 0;
        rec->acc_end = k ? 0.75 : 0.5;
        rec->acc_clamped = k ? 0.75 : 0.25;
        rec->nfilters = n;
        rec->gamma = calloc((size_t)n, sizeof(float));
        rec->disabled = calloc((size_t)n, 1);
        rec->reinit = calloc((size_t)n, 1);
        for (int i = 0; i < n; i++) {
            rec->gamma[i] = i < NF ? gammas[k][i] : 1.0f;
            rec->disabled[i] = i < NF ? disabled[k][i] : 0;
            rec->reinit[i] = i < NF ? reinit[k][i] : 0;
        }
    }
    r.nrecords = dmg->nstages < NS ? dmg->nstages : NS;
    r.stage = r.nrecords ? r.nrecords - 1 : 0;
    r.acc_start = -1.0;
    r.acc_start_recal = -1.0;
    assert_int_equal(checkpoint_save(&r, path, &err), 0);
    for (int k = 0; k < NS; k++)
        stats_free(&r.records[k]);
    model_free(&r.model);

    int nstages = r.nrecords;
    hid_t file = support_h5_open(path);
    if (dmg->nstages > NS) { /* records that are not there */
        support_h5_set_i64(file, "stats", "nstages", dmg->nstages);
        nstages = dmg->nstages;
    }
    if (strcmp(dmg->format, CHECKPOINT_FORMAT) != 0)
        support_h5_set_str(file, "/", "format", dmg->format);
    if (strcmp(dmg->units, "") != 0)
        support_h5_set_text(file, "stats/units", dmg->units);
    if (dmg->bad_revived) { /* rewritten through HDF5, so its Fletcher-32 still matches */
        hid_t d = H5Dopen2(file, "stats/stage-01/revived", H5P_DEFAULT);
        uint8_t *v = malloc((size_t)n);
        assert_true(d >= 0 && v && H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
        v[0] ^= 1;
        assert_true(H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
        free(v);
        H5Dclose(d);
    }
    if (dmg->no_stats)
        assert_true(H5Ldelete(file, "stats", H5P_DEFAULT) >= 0);
    assert_true(H5Fclose(file) >= 0);
    if (dmg->nstages > NS || strcmp(dmg->format, CHECKPOINT_FORMAT) || strcmp(dmg->units, "") ||
        dmg->bad_revived || dmg->no_stats)
        support_h5_restamp(path, nstages);
}

static const struct damage intact = {.nstages = NS, .units = "", .format = CHECKPOINT_FORMAT};

static int setup(void **state)
{
    if (support_dir_setup(state, sizeof(struct fixture), "test_inspect"))
        return -1;
    struct fixture *fx = *state;
    snprintf(fx->path, sizeof fx->path, "%s/stage-01.h5", fx->dir);
    return 0;
}

struct result {
    int rc;
    char *out, *err;
};

/* inspect_run on ("FILE" replaced by the fixture's path, then the given arguments). */
static struct result run(const struct fixture *fx, int argc, const char **args)
{
    char *argv[16];
    assert_true(argc < 16);
    for (int i = 0; i < argc; i++)
        argv[i] = strcmp(args[i], "FILE") == 0 ? (char *)fx->path : (char *)args[i];
    struct result r = {0};
    size_t no, ne;
    FILE *out = open_memstream(&r.out, &no), *err = open_memstream(&r.err, &ne);
    assert_non_null(out);
    assert_non_null(err);
    r.rc = inspect_run(out, err, argc, argv);
    fclose(out);
    fclose(err);
    return r;
}

static void result_free(struct result *r)
{
    free(r->out);
    free(r->err);
}

static void test_csv_stages(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->path, &intact);
    struct result r = run(fx, 3, (const char *[]){"FILE", "--format", "csv"});
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    assert_string_equal(r.out,
        "stage,kind,fraction,trainable,threshold,acc_start,acc_start_recal,acc_end,acc_clamped,"
        "delta_clamped,filters,disabled,disabled_share,reinit,reinit_applied,revived,died_again,"
        "newly_disabled\n"
        "0,bn,0,10,0.1,,,0.5,0.25,-0.25,336,3,0.008928571428571428,0,0,0,0,3\n"
        "1,conv_fraction,0.01,20,0.1,0.375,,0.75,0.75,0,336,1,0.002976190476190476,3,3,2,1,0\n");
    result_free(&r);
}

/* A control run (pipeline.reinit = false) with recalibration: the flagged filters are marked as
 * left alone, and the recalibrated accuracy is shown. */
static void test_control_and_recal(void **state)
{
    struct fixture *fx = *state;
    struct damage d = intact;
    d.control = 1;
    write_file(fx->path, &d);
    struct result r = run(fx, 3, (const char *[]){"FILE", "--format", "csv"});
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "\n1,conv_fraction,0.01,20,0.1,0.375,0.625,0.75,0.75,0,336,1,0.002976190476190476,3,0,2,1,0\n"));
    result_free(&r);
    r = run(fx, 1, (const char *[]){"FILE"});
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out,
        "    1  BN+1%           20       37.50%     62.50%   75.00%   75.00%   +0.00  1 (0.3%)       3*"
        "        2           1               0\n"));
    assert_non_null(strstr(r.out, "\n* flagged (disabled at the previous stage end) but not re-initialized: "
                                  "pipeline.reinit = false, the control; revived = recovered on its own\n"));
    result_free(&r);
}

static void test_csv_layers_one_stage(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->path, &intact);
    struct result r = run(fx, 5, (const char *[]){"FILE", "--layers", "--format=csv", "--stage", "1"});
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
        "stage,kind,fraction,threshold,unit,filters,disabled,reinit,revived,died_again,"
        "newly_disabled,disabled_share\n"
        "1,conv_fraction,0.01,0.1,stem,16,1,3,2,1,0,0.0625\n"
        "1,conv_fraction,0.01,0.1,seg1.block0.conv1,16,0,0,0,0,0,0\n"
        "1,conv_fraction,0.01,0.1,seg1.block0.conv2,16,0,0,0,0,0,0\n"
        "1,conv_fraction,0.01,0.1,seg2.block0.conv1,32,0,0,0,0,0,0\n"
        "1,conv_fraction,0.01,0.1,seg2.block0.conv2,32,0,0,0,0,0,0\n"
        "1,conv_fraction,0.01,0.1,seg2.block0.shortcut,32,0,0,0,0,0,0\n"
        "1,conv_fraction,0.01,0.1,seg3.block0.conv1,64,0,0,0,0,0,0\n"
        "1,conv_fraction,0.01,0.1,seg3.block0.conv2,64,0,0,0,0,0,0\n"
        "1,conv_fraction,0.01,0.1,seg3.block0.shortcut,64,0,0,0,0,0,0\n");
    result_free(&r);
}

static void test_json(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->path, &intact);
    struct result r = run(fx, 4, (const char *[]){"FILE", "--format", "json", "--stage=0"});
    assert_int_equal(r.rc, 0);
    char want[2048];
    snprintf(want, sizeof want,
        "{\"file\": \"%s\",\n \"stages\": [\n"
        "  {\"stage\": 0, \"kind\": \"bn\", \"label\": \"BN only\", \"fraction\": 0, \"threshold\": 0.1, "
        "\"acc_start\": null, \"acc_start_recal\": null, \"acc_end\": 0.5, \"acc_clamped\": 0.25, \"delta_clamped\": -0.25, "
        "\"trainable\": 10, \"reinit_applied\": 0,\n"
        "   \"filters\": 336, \"disabled\": 3, \"reinit\": 0, \"revived\": 0, \"died_again\": 0, "
        "\"newly_disabled\": 3, \"disabled_share\": 0.008928571428571428,\n"
        "   \"log10_abs_gamma_hist\": {\"upper_edges\": [-6, -5.5, -5, -4.5, -4, -3.5, -3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5, null], "
        "\"counts\": [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 332, 1, 0]},\n"
        "   \"layers\": [\n"
        "    {\"unit\": \"stem\", \"filters\": 16, \"disabled\": 3, \"reinit\": 0, \"revived\": 0, \"died_again\": 0, "
        "\"newly_disabled\": 3, \"disabled_share\": 0.1875},\n"
        "    {\"unit\": \"seg1.block0.conv1\", \"filters\": 16, \"disabled\": 0, ", fx->path);
    assert_int_equal(strncmp(r.out, want, strlen(want)), 0);
    assert_non_null(strstr(r.out, "    {\"unit\": \"seg3.block0.shortcut\", \"filters\": 64, \"disabled\": 0, "
                                  "\"reinit\": 0, \"revived\": 0, \"died_again\": 0, \"newly_disabled\": 0, "
                                  "\"disabled_share\": 0}]}],\n \"provenance\": []}\n"));
    result_free(&r);
}

static void test_table(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->path, &intact);
    struct result r = run(fx, 1, (const char *[]){"FILE"});
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out,
        "stage  kind     trainable  acc re-init  acc recal  acc end  clamped  Δclamp  disabled  re-init  revived  "
        "died again  newly disabled\n"
        "    0  BN only         10            -          -   50.00%   25.00%  -25.00  3 (0.9%)        0        0"
        "           0               3\n"
        "    1  BN+1%           20       37.50%          -   75.00%   75.00%   +0.00  1 (0.3%)        3        2"
        "           1               0\n\n"));
    assert_null(strstr(r.out, "* flagged"));
    assert_non_null(strstr(r.out, "\nclamping |γ| < 0.1 to 0 changed accuracy by at most 25.00 points (stage 0)\n"));
    /* stage 1's histogram, from bin 8 (0.01) to bin 13 (2.0); the empty top bin is left out */
    assert_non_null(strstr(r.out, "log10|γ| at the end of stage 1 (336 filters; τ = 0.1, log10 τ = -1.00):\n"));
    assert_non_null(strstr(r.out, "\n  (-2.5, -2.0]  "));
    assert_non_null(strstr(r.out, "     1\n  (-2.0, -1.5]  "));
    assert_non_null(strstr(r.out, "   332\n    (0.0, 0.5]  "));
    result_free(&r);
}

static void test_layers_table(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->path, &intact);
    struct result r = run(fx, 3, (const char *[]){"FILE", "--layers", "--stage=1"});
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
        "stage 1 (BN+1%), τ = 0.1:\n"
        "  unit                  filters  disabled  re-init  revived  died again  newly disabled  share |γ|<τ\n"
        "  stem                       16         1        3        2           1               0         6.2%\n"
        "  seg1.block0.conv1          16         0        0        0           0               0         0.0%\n"
        "  seg1.block0.conv2          16         0        0        0           0               0         0.0%\n"
        "  seg2.block0.conv1          32         0        0        0           0               0         0.0%\n"
        "  seg2.block0.conv2          32         0        0        0           0               0         0.0%\n"
        "  seg2.block0.shortcut       32         0        0        0           0               0         0.0%\n"
        "  seg3.block0.conv1          64         0        0        0           0               0         0.0%\n"
        "  seg3.block0.conv2          64         0        0        0           0               0         0.0%\n"
        "  seg3.block0.shortcut       64         0        0        0           0               0         0.0%\n"
        "  total                     336         1        3        2           1               0         0.3%\n");
    result_free(&r);
}

/* expect(fx, rc, needle, args…): exit code rc, nothing on stdout, one stderr line holding needle. */
static void expect(const struct fixture *fx, int rc, const char *needle, int argc, const char **args)
{
    struct result r = run(fx, argc, args);
    assert_int_equal(r.rc, rc);
    assert_string_equal(r.out, "");
    if (!strstr(r.err, needle))
        fail_msg("stderr '%s' lacks '%s'", r.err, needle);
    /* A file's errors name the command; the command line's are the option table's, as every
     * command's ("pipeline: inspect: unknown option ..."). */
    const char *prefix = rc == 2 ? "pipeline: inspect" : "pipeline inspect: ";
    assert_int_equal(strncmp(r.err, prefix, strlen(prefix)), 0);
    assert_ptr_equal(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
    result_free(&r);
}

static void test_argument_errors(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->path, &intact);
    expect(fx, 2, "needs a checkpoint file", 0, (const char *[]){NULL});
    expect(fx, 2, "unknown option '--bogus'", 2, (const char *[]){"FILE", "--bogus"});
    expect(fx, 2, "--format 'xml' is not one of table|csv|json", 3, (const char *[]){"FILE", "--format", "xml"});
    expect(fx, 2, "--format needs a value", 2, (const char *[]){"FILE", "--format"});
    expect(fx, 2, "--stage '1x'", 3, (const char *[]){"FILE", "--stage", "1x"});
    expect(fx, 2, "unexpected argument 'other.h5'", 2, (const char *[]){"FILE", "other.h5"});
    char want[200];
    snprintf(want, sizeof want, "--stage 2: %s has finished stages 0 to 1", fx->path);
    expect(fx, 1, want, 3, (const char *[]){"FILE", "--stage", "2"});
    struct result r = run(fx, 2, (const char *[]){"FILE", "--help"});
    assert_int_equal(r.rc, 0);
    assert_int_equal(strncmp(r.out, "usage: pipeline inspect FILE", 28), 0);
    result_free(&r);
}

static void test_file_errors(void **state)
{
    struct fixture *fx = *state;
    char want[300];
    snprintf(want, sizeof want, "%s: no such file", fx->path);
    expect(fx, 1, want, 1, (const char *[]){"FILE"});

    struct damage d = intact;
    d.nstages = 0;
    write_file(fx->path, &d);
    snprintf(want, sizeof want, "%s: no stage has finished yet; inspect a stage-KK.h5\n", fx->path);
    struct result r = run(fx, 1, (const char *[]){"FILE"});
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err + 18, want);
    result_free(&r);

    d = intact;
    d.format = "something-else";
    write_file(fx->path, &d);
    expect(fx, 1, "not a revive checkpoint (format is not 'revive-checkpoint')", 1, (const char *[]){"FILE"});

    d = intact;
    d.no_stats = 1;
    write_file(fx->path, &d);
    expect(fx, 1, "missing 'stats'", 1, (const char *[]){"FILE"});

    d = intact;
    d.units = "u0\nu1\nu2\n";
    write_file(fx->path, &d);
    expect(fx, 1, "stats/units does not name unit 0 'stem' of the file's /model", 1, (const char *[]){"FILE"});

    d = intact;
    d.bad_revived = 1;
    write_file(fx->path, &d);
    expect(fx, 1, "stats/stage-01/revived[0] disagrees with disabled and reinit", 1, (const char *[]){"FILE"});

    d = intact;
    d.nstages = 3; /* a record that is not there */
    write_file(fx->path, &d);
    expect(fx, 1, "stats/stage-02", 1, (const char *[]){"FILE"});
}

/* A small crafted format-1 file (no user block, no checksum) of the ResNet-8 its /model declares:
 * nunits units of `per` filters each in /stats (or, with per = 0, the model's own units), one
 * finished stage whose datasets declare nfilters filters but are never written (chunked, so
 * they take no room). */
static void write_crafted_linked(const char *path, int nunits, int64_t per, hsize_t nfilters,
                                 int width, int links);

static void write_crafted(const char *path, int nunits, int64_t per, hsize_t nfilters)
{
    write_crafted_linked(path, nunits, per, nfilters, 1, -1);
}

/* As write_crafted, for a model of the given width; with links ≥ 0, the stage's arrays are
 * written (zeros) and `links` further records are hard links to stage-00. */
static void write_crafted_linked(const char *path, int nunits, int64_t per, hsize_t nfilters,
                                 int width, int links)
{
    struct model m;
    struct model_spec spec = {.depth = 8, .width = width, .in_c = 1, .in_h = 8, .in_w = 8, .classes = 4};
    struct rv_error err = {{0}};
    assert_int_equal(model_build(&m, &spec, -1, 1, &err), 0);
    if (per == 0)
        nunits = m.nunits;
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(file >= 0);
    hid_t str = H5Tcopy(H5T_C_S1), scalar = H5Screate(H5S_SCALAR);
    H5Tset_size(str, H5T_VARIABLE);
    H5Tset_cset(str, H5T_CSET_UTF8);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(file, "stats/stage-00", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    const char *fmt = CHECKPOINT_FORMAT, *kind = "bn";
    int64_t one = 1, version = 1, depth = 8, four = 4, eight = 8, zero_i = 0, wide = width;
    double zero = 0.0;
    hid_t mg = H5Gcreate2(file, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    struct { hid_t obj; const char *name; hid_t type; const void *v; } attrs[] = {
        {file, "format", str, &fmt}, {file, "format_version", H5T_NATIVE_INT64, &version},
        {mg, "depth", H5T_NATIVE_INT64, &depth}, {mg, "width", H5T_NATIVE_INT64, &wide},
        {mg, "in_c", H5T_NATIVE_INT64, &one}, {mg, "in_h", H5T_NATIVE_INT64, &eight},
        {mg, "in_w", H5T_NATIVE_INT64, &eight}, {mg, "classes", H5T_NATIVE_INT64, &four},
        {mg, "gamma_one", H5T_NATIVE_INT64, &zero_i},
        {g, "kind", str, &kind}, {g, "fraction", H5T_NATIVE_DOUBLE, &zero},
        {g, "trainable", H5T_NATIVE_INT64, &one}, {g, "threshold", H5T_NATIVE_DOUBLE, &zero},
        {g, "acc_start", H5T_NATIVE_DOUBLE, &zero}, {g, "acc_end", H5T_NATIVE_DOUBLE, &zero},
        {g, "acc_clamped", H5T_NATIVE_DOUBLE, &zero},
    };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        hid_t a = H5Acreate2(attrs[i].obj, attrs[i].name, attrs[i].type, scalar, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(a >= 0 && H5Awrite(a, attrs[i].type, attrs[i].v) >= 0);
        H5Aclose(a);
    }
    hid_t st = H5Gopen2(file, "stats", H5P_DEFAULT);
    int64_t nstages = 1 + (links > 0 ? links : 0);
    hid_t a = H5Acreate2(st, "nstages", H5T_NATIVE_INT64, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &nstages);
    H5Aclose(a);
    H5Gclose(st);
    H5Gclose(mg);
    const char *config = "[model]\ndepth = 8\n";
    hid_t d = H5Dcreate2(file, "config", str, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, str, H5S_ALL, H5S_ALL, H5P_DEFAULT, &config);
    H5Dclose(d);
    char *units = calloc((size_t)nunits, 64);
    assert_non_null(units);
    for (int u = 0; u < nunits; u++)
        sprintf(units + strlen(units), "%s\n", per ? "u" : m.units[u].name);
    d = H5Dcreate2(file, "stats/units", str, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, str, H5S_ALL, H5S_ALL, H5P_DEFAULT, &units);
    H5Dclose(d);
    free(units);
    hsize_t nu = (hsize_t)nunits;
    int64_t *counts = malloc((size_t)nunits * sizeof *counts);
    for (int u = 0; u < nunits; u++)
        counts[u] = per ? per : (int64_t)ck_unit_channels(&m, u);
    model_free(&m);
    hid_t sp = H5Screate_simple(1, &nu, NULL);
    d = H5Dcreate2(file, "stats/filters_per_unit", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, counts);
    H5Dclose(d);
    H5Sclose(sp);
    free(counts);
    hsize_t nf = nfilters, chunk = nfilters < 1024 ? nfilters : 1024;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    sp = H5Screate_simple(1, &nf, NULL);
    const char *names[] = {"gamma", "disabled", "reinit", "revived", "died_again", "newly_disabled"};
    for (int j = 0; j < 6; j++) {
        char name[64];
        snprintf(name, sizeof name, "stats/stage-00/%s", names[j]);
        d = H5Dcreate2(file, name, j ? H5T_STD_U8LE : H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        assert_true(d >= 0);
        if (links >= 0) { /* stored: zeros (γ 0, nothing flagged) */
            void *zeros = calloc(nf, 4);
            assert_true(zeros && H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros) >= 0 &&
                        (j || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros) >= 0));
            free(zeros);
        }
        H5Dclose(d);
    }
    for (int k = 1; k <= links; k++) {
        char name[64];
        snprintf(name, sizeof name, "stats/stage-%02d", k);
        assert_true(H5Lcreate_hard(file, "stats/stage-00", file, name, H5P_DEFAULT, H5P_DEFAULT) >= 0);
    }
    H5Sclose(sp);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Gclose(g);
    H5Sclose(scalar);
    H5Tclose(str);
    assert_true(H5Fclose(file) >= 0);
}

/* inspect FILE in a child process limited to `mb` MB of address space: its exit status (or
 * 128 + signal), with its stderr's first line in msg. */
static int run_limited(const struct fixture *fx, long mb, char *msg, size_t cap)
{
    char errpath[160];
    snprintf(errpath, sizeof errpath, "%s/stderr", fx->dir);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit lim = {(rlim_t)mb << 20, (rlim_t)mb << 20};
        setrlimit(RLIMIT_AS, &lim);
        FILE *out = fopen("/dev/null", "w"), *err = fopen(errpath, "w");
        char *argv[] = {(char *)fx->path};
        int rc = inspect_run(out, err, 1, argv);
        fclose(out);
        fclose(err);
        _exit(rc);
    }
    int status;
    waitpid(pid, &status, 0);
    msg[0] = '\0';
    FILE *f = fopen(errpath, "r");
    if (f) {
        if (!fgets(msg, (int)cap, f))
            msg[0] = '\0';
        fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Issue #11 item 9: sizes read from a file were trusted up to limits far beyond what the file
 * holds, so a file of a few kB made inspect allocate GBs. Issue #24 item 1: every extent of /stats
 * is now bounded by the file's own /model (its units and filters) before anything is read, and
 * shapes by the data the file stores. */
static void test_crafted_sizes(void **state)
{
    struct fixture *fx = *state;
    char msg[1024];
    /* 100 units of a million filters: 10^8 filters declared in a 20 kB file of a 9-unit model. */
    write_crafted(fx->path, 100, 1000000, 100000000);
#if defined(__SANITIZE_ADDRESS__)
    print_message("skip: the 256 MB address-space limit is not for an AddressSanitizer build\n");
#else
    int rc = run_limited(fx, 256, msg, sizeof msg);
    if (rc != 1 || !strstr(msg, "dataset 'stats/filters_per_unit' has shape (100), expected (9)"))
        fail_msg("inspect of the crafted file: status %d, '%s'", rc, msg);
#endif
    /* Units right, but a stage's arrays declare 10^8 filters where the model has 336. */
    write_crafted(fx->path, 0, 0, 100000000);
    struct result r = run(fx, 1, (const char *[]){"FILE"});
    assert_int_equal(r.rc, 1);
    if (!strstr(r.err, "dataset 'stats/stage-00/gamma' has shape (100000000), expected (336)"))
        fail_msg("message: %s", r.err);
    result_free(&r);
    /* Issue #24 item 1: one stored stage group hard-linked as 31 more records made inspect read
     * it 32 times (2.5 GB from a 1.65 MB file with gzip). The records' arrays must fit in the file. */
    write_crafted_linked(fx->path, 0, 0, 336 * 16, 16, 31);
    r = run(fx, 1, (const char *[]){"FILE"});
    assert_int_equal(r.rc, 1);
    if (!strstr(r.err, "/stats holds 32 records of 5376 filters"))
        fail_msg("message: %s", r.err);
    result_free(&r);
    write_crafted_linked(fx->path, 0, 0, 336 * 16, 16, 0); /* one record: it fits, and reads */
    r = run(fx, 1, (const char *[]){"FILE"});
    if (r.rc != 0)
        fail_msg("message: %s", r.err);
    result_free(&r);
    /* The model's 336 filters, declared but not stored. */
    write_crafted(fx->path, 0, 0, 336);
    r = run(fx, 1, (const char *[]){"FILE"});
    assert_int_equal(r.rc, 1);
    if (!strstr(r.err, "dataset 'stats/stage-00/gamma' declares 336 values but the file stores only 0"))
        fail_msg("message: %s", r.err);
    result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_csv_stages, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_csv_layers_one_stage, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_control_and_recal, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_table, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_layers_table, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_argument_errors, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_crafted_sizes, setup, support_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
