/* Checkpoints: an exact round trip of everything a run resumes from, the stored config, the
 * refusals a user meets (missing, foreign, damaged, mismatched, too new), atomic saves, and the
 * seed-only export. Runs are filled by hand: saving and loading touch only r->comm, r->cfg,
 * r->model, the history, the stage records and the position fields. Each test works in its own
 * mkdtemp directory under /tmp, removed afterwards. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <hdf5.h>

#include "../src/io/checkpoint_layout.h"
#include "../src/io/h5io_internal.h"
#include "checkpoint.h"
#include "h5io.h"
#include "history.h"
#include "pipeline.h"
#include "rng.h"
#include "step.h"
#include "support.h"
#include "support_h5.h"

/* ---------------------------------------------------------------- fixture */

struct fixture {
    char dir[SUPPORT_DIR_LEN]; /* first: support_dir_setup */
    struct comm comm;
};

static int setup(void **state)
{
    if (support_dir_setup(state, sizeof(struct fixture), "test_checkpoint"))
        return -1;
    ((struct fixture *)*state)->comm = (struct comm)COMM_SELF_INIT;
    return 0;
}

static void path_in(char *buf, size_t cap, const struct fixture *fx, const char *name)
{
    snprintf(buf, cap, "%s/%s", fx->dir, name);
}

/* A test's fixture, and the path of its file `name` in the scratch directory. */
static struct fixture *fixture_path(void **state, char path[static 256], const char *name)
{
    struct fixture *fx = *state;
    path_in(path, 256, fx, name);
    return fx;
}

/* ---------------------------------------------------------------- runs by hand */

/* A depth-8 ResNet on 8×8 single-channel images, 4 classes: a checkpoint of ~1 MB. Its convs
 * follow train.conv_algo = auto under `rule` (0: the current one); max_batch > 0 gives it the
 * buffers of a training step. */
static void make_run_rule(struct run *r, struct comm *comm, int depth, int width,
                          enum conv_auto_rule rule, int max_batch)
{
    memset(r, 0, sizeof *r);
    config_defaults(&r->cfg);
    snprintf(r->cfg.name, sizeof r->cfg.name, "ckpt-test");
    r->cfg.dataset = DATASET_SYNTHETIC;
    r->cfg.select = SELECT_REINIT_FIRST;
    r->cfg.depth = depth;
    r->cfg.width = width;
    r->cfg.seed = 4242;
    r->cfg.pipeline = true;
    r->cfg.threshold = 0.3;
    r->cfg.lr = 0.05;
    r->cfg.milestones.n = 2;
    r->cfg.milestones.v[0] = 2;
    r->cfg.milestones.v[1] = 5;
    r->comm = comm;
    struct model_spec spec = {.depth = depth, .width = width, .in_c = 1, .in_h = 8, .in_w = 8,
                              .classes = 4, .conv_auto_rule = rule};
    struct rv_error err = {{0}};
    assert_int_equal(model_build(&r->model, &spec, max_batch, 1, &err), 0);
    model_init(&r->model, (uint64_t)r->cfg.seed);
}

static void make_run(struct run *r, struct comm *comm, int depth, int width)
{
    make_run_rule(r, comm, depth, width, 0, 0);
}

/* Non-trivial values everywhere a checkpoint looks; salt makes two fillings differ. */
static void fill_run(struct run *r, uint64_t salt, int nhistory, int nrecords)
{
    struct model *m = &r->model;
    uint64_t st = rng_stream(RNG_TEST, 1000 + salt, 0, 0);
    for (size_t i = 0; i < m->total; i++) {
        m->values[i] = 2.0f * rng_uniform(salt, st, i) - 1.0f;
        m->momentum[i] = rng_normal(salt, st, m->total + i);
        m->mask[i] = (i * 7 + salt) % 3 == 0 ? 1.0f : 0.0f;
    }
    for (size_t i = 0; i < m->running_total; i++)
        m->running_stats[i] = 0.1f + rng_uniform(salt, st, 3 * m->total + i);
    model_mask_changed(m);

    free(r->history);
    r->history = calloc((size_t)(nhistory ? nhistory : 1), sizeof *r->history);
    assert_non_null(r->history);
    r->nhistory = r->history_cap = nhistory;
    for (int i = 0; i < nhistory; i++) {
        struct history_row *h = &r->history[i];
        double x = (double)salt + i;
        *h = (struct history_row){.stage = i / 2, .epoch = i % 2 + 1, .lr = 0.1 / (x + 1),
                                  .train_loss = 2.25 - 0.1 * x, .train_acc = 0.125 * x + 1e-9,
                                  .test_loss = 1.0 / 3.0 + x, .test_acc = 0.7 + 1e-3 * x,
                                  .seconds = 12.75 * x + 0.1, .gamma_below_tau = 0.0625 * x,
                                  .abs_gamma_q = {0.01 * x, 0.5 + x, 1.0 / (x + 3.0)}};
    }

    for (int k = 0; k < r->nrecords; k++)
        stats_free(&r->records[k]);
    r->nrecords = nrecords;
    for (int k = 0; k < nrecords; k++) {
        /* Fresh values for every record, so that its γ and flags are its own (and filters
         * disabled in one record can revive in the next). */
        for (size_t i = 0; i < m->total; i++)
            m->values[i] = 2.0f * rng_uniform(salt, st, (uint64_t)(4 + k) * m->total + i) - 1.0f;
        struct stage_record *rec = &r->records[k];
        stats_record(rec, m, k, stats_threshold_of(&r->cfg), k ? r->records[k - 1].disabled : NULL);
        snprintf(rec->kind, sizeof rec->kind, "%s", k ? "conv_fraction" : "bn");
        rec->fraction = k ? 0.01 * k + 1e-12 * (double)salt : 0.0; /* bn: 0 */
        rec->trainable = 1003u * (size_t)(k + 1) + salt; /* at most the model's 77364 */
        rec->acc_start = k ? 0.4375 + 1e-3 * (double)salt : -1.0;
        rec->acc_end = 0.8125 - 0.01 * k;
        rec->acc_clamped = 0.5 + 1.0 / (3.0 + k);
    }
    free(r->provenance);
    r->nprovenance = 2;
    r->provenance = calloc(2, sizeof *r->provenance);
    assert_non_null(r->provenance);
    for (int i = 0; i < 2; i++) {
        struct provenance *p = &r->provenance[i];
        snprintf(p->version, sizeof p->version, "0.%d", i);
        snprintf(p->commit, sizeof p->commit, "abc%d-dirty", (int)salt);
        p->ranks = 1 + i;
        p->threads = 4 - i;
        snprintf(p->openblas_core, sizeof p->openblas_core, "Haswell");
        snprintf(p->openblas_config, sizeof p->openblas_config, "OpenBLAS 0.3.21 DYNAMIC_ARCH");
        snprintf(p->hdf5_version, sizeof p->hdf5_version, "1.10.%d", i);
        snprintf(p->mpi_version, sizeof p->mpi_version, "Open MPI v4.1.4, package: x");
        snprintf(p->host, sizeof p->host, "node%d", i);
        snprintf(p->started, sizeof p->started, "2026-12-01T08:0%d:00Z", i);
        snprintf(p->command, sizeof p->command, "./pipeline %s x --set a=\"b c\"", i ? "resume" : "run");
    }
    /* A consistent position: at the end of the last recorded stage, or in the next one. */
    r->stage = nrecords > 0 && salt % 2 ? nrecords - 1 : nrecords;
    r->epoch = 2 + (int)salt;
    r->step = 123456789L + (long)salt;
    r->epoch_loss_sum = 12.5 + (double)salt / 7.0;
    r->epoch_correct = 300.0 + (double)salt;
    r->epoch_seen = 512.0 + (double)salt;
    r->acc_start = 0.4375 / (1.0 + (double)salt);
}

static void assert_same_run(const struct run *a, const struct run *b)
{
    const struct model *ma = &a->model, *mb = &b->model;
    assert_int_equal(ma->total, mb->total);
    assert_int_equal(ma->running_total, mb->running_total);
    size_t fb = ma->total * sizeof(float);
    assert_memory_equal(ma->values, mb->values, fb);
    assert_memory_equal(ma->momentum, mb->momentum, fb);
    assert_memory_equal(ma->mask, mb->mask, fb);
    assert_memory_equal(ma->running_stats, mb->running_stats, ma->running_total * sizeof(float));
    for (int p = 0; p < ma->nparams; p++)
        assert_int_equal(ma->params[p].trainable, mb->params[p].trainable);

    assert_int_equal(a->stage, b->stage);
    assert_int_equal(a->epoch, b->epoch);
    assert_int_equal(a->step, b->step);
    assert_true(a->epoch_loss_sum == b->epoch_loss_sum);
    assert_true(a->epoch_correct == b->epoch_correct);
    assert_true(a->epoch_seen == b->epoch_seen);
    assert_true(a->acc_start == b->acc_start);

    assert_int_equal(a->nhistory, b->nhistory);
    assert_true(b->history_cap >= b->nhistory);
    for (int i = 0; i < a->nhistory; i++) {
        const struct history_row *x = &a->history[i], *y = &b->history[i];
        assert_int_equal(x->stage, y->stage);
        assert_int_equal(x->epoch, y->epoch);
        assert_true(x->lr == y->lr);
        assert_true(x->train_loss == y->train_loss);
        assert_true(x->train_acc == y->train_acc);
        assert_true(x->test_loss == y->test_loss);
        assert_true(x->test_acc == y->test_acc);
        assert_true(x->seconds == y->seconds);
        assert_true(x->gamma_below_tau == y->gamma_below_tau);
        for (int q = 0; q < 3; q++)
            assert_true(x->abs_gamma_q[q] == y->abs_gamma_q[q]);
    }

    assert_int_equal(a->nprovenance, b->nprovenance);
    if (a->nprovenance)
        assert_memory_equal(a->provenance, b->provenance, (size_t)a->nprovenance * sizeof *a->provenance);

    assert_int_equal(a->nrecords, b->nrecords);
    for (int k = 0; k < a->nrecords; k++) {
        const struct stage_record *x = &a->records[k], *y = &b->records[k];
        assert_int_equal(x->stage, y->stage);
        assert_string_equal(x->kind, y->kind);
        assert_true(x->fraction == y->fraction);
        assert_int_equal(x->trainable, y->trainable);
        assert_true(x->threshold == y->threshold);
        assert_true(x->acc_start == y->acc_start);
        assert_true(x->acc_end == y->acc_end);
        assert_true(x->acc_clamped == y->acc_clamped);
        assert_int_equal(x->nfilters, y->nfilters);
        assert_memory_equal(x->gamma, y->gamma, (size_t)x->nfilters * sizeof(float));
        assert_memory_equal(x->disabled, y->disabled, (size_t)x->nfilters);
        assert_memory_equal(x->reinit, y->reinit, (size_t)x->nfilters);
    }
}

/* Loads path into r and fails with the message when it is refused. */
static void assert_loads(struct run *r, const char *path)
{
    struct rv_error err = {{0}};
    if (checkpoint_load(r, path, &err))
        fail_msg("%s", err.msg);
}

/* path loads into a fresh run of the tests' model (ResNet-8, width 1). */
static void assert_loads_fresh(struct fixture *fx, const char *path)
{
    struct run r;
    make_run(&r, &fx->comm, 8, 1);
    assert_loads(&r, path);
    run_close(&r);
}

static void save_filled(struct fixture *fx, struct run *a, const char *path)
{
    make_run(a, &fx->comm, 8, 1);
    fill_run(a, 1, 3, 2);
    struct rv_error err = {{0}};
    if (checkpoint_save(a, path, &err))
        fail_msg("%s", err.msg);
}

/* ---------------------------------------------------------------- round trip */

static void test_round_trip(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "last.h5");
    struct run a, b;
    save_filled(fx, &a, path);
    /* The fill has what a weak round trip would miss: both mask values, flags that differ between
     * records, a revived filter. */
    struct filter_counts c = stats_count(&a.records[1], 0, a.records[1].nfilters);
    assert_true(c.disabled > 0 && c.disabled < c.filters && c.reinit > 0 && c.revived > 0);
    assert_true(model_trainable(&a.model) > 0 && model_trainable(&a.model) < a.model.total);

    /* The second run holds other values, more history and other records: all must be replaced. */
    make_run(&b, &fx->comm, 8, 1);
    fill_run(&b, 2, 5, 1);
    b.seed_only = true;
    assert_loads(&b, path);
    assert_same_run(&a, &b);
    assert_false(b.seed_only);
    run_close(&b);

    /* Into a run that was only built and initialized (what resume does). */
    make_run(&b, &fx->comm, 8, 1);
    assert_loads(&b, path);
    assert_same_run(&a, &b);
    run_close(&b);
    run_close(&a);
}

static void test_round_trip_empty_history(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "stage-00.h5");
    struct run a, b;
    make_run(&a, &fx->comm, 8, 1);
    fill_run(&a, 3, 0, 0);
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_save(&a, path, &err), 0);
    make_run(&b, &fx->comm, 8, 1);
    fill_run(&b, 4, 2, 2);
    assert_loads(&b, path);
    assert_same_run(&a, &b);
    run_close(&a);
    run_close(&b);
}

static void test_read_config(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "cfg.h5");
    struct run a;
    save_filled(fx, &a, path);
    struct config c;
    config_defaults(&c);
    c.depth = 110; /* whatever was there is replaced */
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_read_config(&c, path, &err), 0);
    char *want = config_to_ini(&a.cfg), *got = config_to_ini(&c);
    assert_string_equal(got, want);
    free(want);
    free(got);
    assert_int_equal(c.depth, 8);
    assert_int_equal(c.seed, 4242);
    assert_int_equal(c.select, SELECT_REINIT_FIRST);
    assert_int_equal(c.milestones.n, 2);
    assert_string_equal(c.source, path); /* messages about this config name the checkpoint */
    assert_int_equal(config_validate(&c, &err), 0);
    run_close(&a);
}

/* ---------------------------------------------------------------- refusals */

/* Both readers refuse path, each with a message containing path and every one of the words. */
static void assert_refused(struct fixture *fx, const char *path, const char *w1, const char *w2)
{
    struct run b;
    make_run(&b, &fx->comm, 8, 1);
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_load(&b, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    if (!strstr(err.msg, w1) || (w2 && !strstr(err.msg, w2)))
        fail_msg("load message '%s' lacks '%s' / '%s'", err.msg, w1, w2 ? w2 : "");
    run_close(&b);
    struct config c;
    config_defaults(&c);
    err.msg[0] = '\0';
    assert_int_equal(checkpoint_read_config(&c, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    if (!strstr(err.msg, w1) || (w2 && !strstr(err.msg, w2)))
        fail_msg("read_config message '%s' lacks '%s' / '%s'", err.msg, w1, w2 ? w2 : "");
}

static void test_refuse_missing_and_garbage(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "none.h5");
    assert_refused(fx, path, "no such file", NULL);

    path_in(path, sizeof path, fx, "garbage.h5");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t st = rng_stream(RNG_TEST, 77, 0, 0);
    for (int i = 0; i < 4096; i++)
        fputc((int)rng_below(1, st, (uint64_t)i, 256), f);
    fclose(f);
    assert_refused(fx, path, "not an HDF5 file", NULL);
}

static void test_refuse_truncated(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "cut.h5");
    struct run a;
    save_filled(fx, &a, path);
    run_close(&a);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 100000);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
    assert_refused(fx, path, "truncated", NULL);
}

static void test_refuse_other_model(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "d8.h5");
    struct run a;
    save_filled(fx, &a, path);
    run_close(&a);

    struct run b;
    struct rv_error err = {{0}};
    make_run(&b, &fx->comm, 14, 1);
    fill_run(&b, 5, 1, 1);
    /* Nothing of the run may change when the load is refused. */
    size_t fb = b.model.total * sizeof(float);
    float *before = malloc(fb);
    assert_non_null(before);
    memcpy(before, b.model.values, fb);
    assert_int_equal(checkpoint_load(&b, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "depth = 8"));
    assert_non_null(strstr(err.msg, "14"));
    assert_memory_equal(b.model.values, before, fb);
    assert_int_equal(b.stage, 0); /* salt 5 at the end of its one record: stage 0 */
    assert_int_equal(b.nhistory, 1);
    assert_int_equal(b.nrecords, 1);
    free(before);
    run_close(&b);

    make_run(&b, &fx->comm, 8, 2);
    err.msg[0] = '\0';
    assert_int_equal(checkpoint_load(&b, path, &err), -1);
    assert_non_null(strstr(err.msg, "width = 1"));
    assert_non_null(strstr(err.msg, "2"));
    run_close(&b);
}

/* Replaces attribute `name` of `object` with one of the given type and value, then restamps. */
static void poke_attr(const char *path, const char *object, const char *name, hid_t type,
                      const void *value)
{
    hid_t file = support_h5_open(path);
    support_h5_set_attr(file, object, name, type, value);
    support_h5_close(file, path, -1);
}

static void poke_i64(const char *path, const char *object, const char *name, int64_t v)
{
    poke_attr(path, object, name, H5T_NATIVE_INT64, &v);
}

static void poke_f64(const char *path, const char *object, const char *name, double v)
{
    poke_attr(path, object, name, H5T_NATIVE_DOUBLE, &v);
}

/* A string attribute as revive writes them since format 3: fixed-length, NUL-terminated. */
static void poke_str(const char *path, const char *object, const char *name, const char *v)
{
    hid_t type = support_h5_string_type(v);
    poke_attr(path, object, name, type, v);
    H5Tclose(type);
}

/* Replaces the scalar string dataset `name` with a fixed-length one holding text, then restamps. */
static void poke_text(const char *path, const char *name, const char *text)
{
    hid_t file = support_h5_open(path);
    support_h5_set_text(file, name, text);
    support_h5_close(file, path, -1);
}

static void test_refuse_newer_version(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "v99.h5");
    struct run a;
    save_filled(fx, &a, path);
    run_close(&a);
    poke_i64(path, "/", "format_version", 99);
    assert_refused(fx, path, "newer", "99");
    poke_i64(path, "/", "format_version", 0);
    assert_refused(fx, path, "invalid checkpoint format version", NULL);
    /* Back to the version written: it loads again, so the pokes were all that was wrong. */
    poke_i64(path, "/", "format_version", CHECKPOINT_VERSION);
    assert_loads_fresh(fx, path);
}

/* A checkpoint written before the |γ| history columns and /provenance existed still loads; those values are NaN
 * (unknown) and everything else is as stored. */
/* metrics.csv (history.h's names) and /history (the layout's rows) name the same columns in the
 * same order: the static assertion in checkpoint.c ties their counts only. */
static void test_history_columns_are_the_layout_rows(void **state)
{
    (void)state;
    for (int k = 0; k < HISTORY_COLUMNS; k++) {
        const struct ck_row *row = &ck_layout[CK_HIST_STAGE + k];
        assert_string_equal(row->object, "history");
        assert_string_equal(row->name, history_columns[k].name);
        assert_int_equal((row->flags & CK_OPTIONAL) != 0, history_columns[k].optional);
    }
}

/* A file written before the |γ| columns and provenance existed (then restamped, as such a file's
 * bytes would match its own header). */
static void test_history_without_gamma_columns(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "old.h5");
    struct run a, b;
    save_filled(fx, &a, path);
    hid_t file = support_h5_open(path);
    const char *cols[] = {"gamma_below_tau", "abs_gamma_p10", "abs_gamma_p50", "abs_gamma_p90"};
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "history/%s", cols[i]);
        assert_true(H5Ldelete(file, name, H5P_DEFAULT) >= 0);
    }
    assert_true(H5Ldelete(file, "provenance", H5P_DEFAULT) >= 0);
    assert_true(H5Fclose(file) >= 0);
    support_h5_restamp_file(path);
    make_run(&b, &fx->comm, 8, 1);
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_load(&b, path, &err), 0);
    assert_int_equal(b.nhistory, a.nhistory);
    for (int i = 0; i < b.nhistory; i++) {
        assert_true(isnan(b.history[i].gamma_below_tau));
        assert_true(isnan(b.history[i].abs_gamma_q[2]));
        assert_true(b.history[i].test_acc == a.history[i].test_acc);
        /* what makes the row NaN-free again, so assert_same_run can compare the rest */
        b.history[i].gamma_below_tau = a.history[i].gamma_below_tau;
        memcpy(b.history[i].abs_gamma_q, a.history[i].abs_gamma_q, sizeof b.history[i].abs_gamma_q);
    }
    assert_int_equal(b.nprovenance, 0); /* no /provenance: none recorded */
    b.nprovenance = a.nprovenance;
    b.provenance = calloc((size_t)a.nprovenance, sizeof *b.provenance);
    memcpy(b.provenance, a.provenance, (size_t)a.nprovenance * sizeof *b.provenance);
    assert_same_run(&a, &b);
    run_close(&a);
    run_close(&b);
}

static void test_refuse_wrong_format(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "wrong.h5");
    struct run a;
    save_filled(fx, &a, path);
    run_close(&a);
    poke_str(path, "/", "format", "some-other-tool");
    assert_refused(fx, path, "not a revive checkpoint", CHECKPOINT_FORMAT);
}

static void test_refuse_foreign_hdf5(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "foreign.h5");
    struct rv_error err = {{0}};
    struct h5out *f = h5out_create(path, &err);
    assert_non_null(f);
    const float x[3] = {1, 2, 3};
    size_t n = 3;
    assert_int_equal(h5out_floats(f, "x", x, 1, &n, &err), 0);
    assert_int_equal(h5out_commit(f, &err), 0);
    assert_refused(fx, path, "not a revive checkpoint", "format");
}

/* ---------------------------------------------------------------- crafted values */

/* The file's bytes; *n its size. */
/* load refuses path with a message naming it and containing w1 (and w2). */
static void assert_load_refused(struct fixture *fx, const char *path, const char *w1, const char *w2)
{
    struct run b;
    make_run(&b, &fx->comm, 8, 1);
    struct rv_error err = {{0}};
    int rc = checkpoint_load(&b, path, &err);
    run_close(&b);
    if (rc != -1)
        fail_msg("%s loaded; expected a refusal with '%s'", path, w1);
    if (!strstr(err.msg, path) || !strstr(err.msg, w1) || (w2 && !strstr(err.msg, w2)))
        fail_msg("load message '%s' lacks the path, '%s' or '%s'", err.msg, w1, w2 ? w2 : "");
}

/* Element i of a dataset, written from *v in memory type `type`. */
static void poke_typed(const char *path, const char *dataset, hsize_t i, hid_t type, const void *v)
{
    hid_t file = support_h5_open(path);
    hid_t d = H5Dopen2(file, dataset, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t fs = H5Dget_space(d);
    hsize_t one = 1;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &i, NULL, &one, NULL);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    assert_true(H5Dwrite(d, type, ms, fs, H5P_DEFAULT, v) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    support_h5_close(file, path, -1);
}

/* Element i of a float64 dataset. */
static void poke_element(const char *path, const char *dataset, hsize_t i, double v)
{
    poke_typed(path, dataset, i, H5T_NATIVE_DOUBLE, &v);
}

/* Element i of a float32 dataset. */
static void poke_element_f32(const char *path, const char *dataset, hsize_t i, float v)
{
    poke_typed(path, dataset, i, H5T_NATIVE_FLOAT, &v);
}

/* A stage-end file (2 records, stage 1) to damage; the unchanged file loads. */
static void save_stage_end(struct fixture *fx, const char *path)
{
    struct run a;
    make_run(&a, &fx->comm, 8, 1);
    fill_run(&a, 1, 3, 2);
    assert_int_equal(a.stage, 1);
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_save(&a, path, &err), 0);
    run_close(&a);
    assert_loads_fresh(fx, path);
}

/* A test's fixture, with a stage-end file saved at path (DIR/stage-01.h5) to damage. */
static struct fixture *stage_end_file(void **state, char path[static 256])
{
    struct fixture *fx = fixture_path(state, path, "stage-01.h5");
    save_stage_end(fx, path);
    return fx;
}

/* Issue #11 item 1: a stage kind read from a file reached stage_find() and its NULL result was
 * used (SIGSEGV in resume). Now it is refused where it is read. */
static void test_refuse_unknown_stage_kind(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "stage-01.h5");
    const char *bad[] = {"bogus", "", "BN", "conv_fraction_but_longer_than_the_kind_buffer_holds"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        save_stage_end(fx, path);
        poke_str(path, "stats/stage-01", "kind", bad[i]);
        /* a name longer than any kind is refused by its length, before it is compared */
        assert_load_refused(fx, path, "stats/stage-01", i == 3 ? "bytes long" : "not a stage kind");
    }
}

/* Issue #11 item 3: the position and history were used before (or without) a range check:
 * stage −1 read records[−1], 2^32+1 became stage 1, NaN was a finished fraction, and NaN or
 * 1e300 history values were cast to int. Each is now refused where it is read. */
static void test_refuse_values_out_of_range(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "stage-01.h5");
    const int64_t stages[] = {-1, INT64_MAX, (INT64_C(1) << 32) + 1, SCHEDULE_MAX_STAGES};
    char range[32];
    snprintf(range, sizeof range, "0…%d", SCHEDULE_MAX_STAGES - 1);
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
        save_stage_end(fx, path);
        poke_i64(path, "/", "stage", stages[i]);
        assert_load_refused(fx, path, "attribute 'stage' of '/'", range);
    }
    save_stage_end(fx, path);
    poke_i64(path, "/", "stage", 5); /* in range, but 2 finished stages do not fit stage 5 */
    assert_load_refused(fx, path, "stage 5 with 2 finished stages", NULL);
    save_stage_end(fx, path);
    poke_i64(path, "/", "epoch", -1);
    assert_load_refused(fx, path, "attribute 'epoch'", NULL);
    save_stage_end(fx, path);
    poke_i64(path, "/", "step", -5);
    assert_load_refused(fx, path, "attribute 'step'", NULL);
    save_stage_end(fx, path);
    poke_f64(path, "/", "epoch_seen", NAN);
    assert_load_refused(fx, path, "attribute 'epoch_seen'", "nan");
    save_stage_end(fx, path);
    poke_f64(path, "stats/stage-01", "fraction", NAN);
    assert_load_refused(fx, path, "attribute 'fraction' of 'stats/stage-01'", "0…1");
    save_stage_end(fx, path);
    poke_f64(path, "stats/stage-00", "fraction", 1.5);
    assert_load_refused(fx, path, "attribute 'fraction' of 'stats/stage-00'", "1.5");
    save_stage_end(fx, path);
    poke_i64(path, "stats", "nstages", SCHEDULE_MAX_STAGES + 1);
    snprintf(range, sizeof range, "0…%d", SCHEDULE_MAX_STAGES);
    assert_load_refused(fx, path, "attribute 'nstages'", range);
    save_stage_end(fx, path);
    poke_i64(path, "stats/stage-00", "trainable", INT64_C(1) << 40);
    assert_load_refused(fx, path, "trainable", "parameters");
    save_stage_end(fx, path);
    poke_element(path, "history/epoch", 1, NAN);
    assert_load_refused(fx, path, "history/epoch[1]", "whole");
    save_stage_end(fx, path);
    poke_element(path, "history/stage", 2, 1e300);
    assert_load_refused(fx, path, "history/stage[2]", "1e+300");
    save_stage_end(fx, path);
    poke_element(path, "history/stage", 0, 0.5);
    assert_load_refused(fx, path, "history/stage[0]", "whole");
}

/* Issue #11 item 2: a file with SCHEDULE_MAX_STAGES finished stages (34 then; as many as a
 * schedule holds) and no pipeline.fractions list: the schedule rebuilt from it wrote one stage
 * past its array
 * (fractions_after was given room for 0 and still wrote the final 1). Now it is an error, and
 * nothing is written past the schedule. */
static void test_schedule_from_full_file(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "stage-last.h5");
    struct run a, b;
    make_run(&a, &fx->comm, 8, 1);
    fill_run(&a, 1, 3, SCHEDULE_MAX_STAGES);
    assert_int_equal(a.stage, SCHEDULE_MAX_STAGES - 1);
    assert_int_equal(a.cfg.fractions.n, 0);
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_save(&a, path, &err), 0);
    run_close(&a);
    make_run(&b, &fx->comm, 8, 1);
    assert_loads(&b, path);
    struct {
        struct schedule s;
        unsigned char guard[2 * sizeof(struct stage_plan)];
    } g;
    memset(g.guard, 0xa5, sizeof g.guard);
    int rc = schedule_for_run(&g.s, &b, &err);
    for (size_t i = 0; i < sizeof g.guard; i++)
        if (g.guard[i] != 0xa5)
            fail_msg("schedule_for_run wrote past the schedule (byte %zu after it)", i);
    assert_int_equal(rc, -1);
    char want[64];
    snprintf(want, sizeof want, "more than %d stages", SCHEDULE_MAX_STAGES);
    assert_non_null(strstr(err.msg, want));
    /* With an explicit list, the same: no room for another stage. */
    b.cfg.fractions.n = 2;
    b.cfg.fractions.v[0] = 0.0;
    b.cfg.fractions.v[1] = 1.0;
    assert_int_equal(schedule_for_run(&g.s, &b, &err), -1);
    assert_non_null(strstr(err.msg, "pipeline.fractions"));
    run_close(&b);
}

/* ---------------------------------------------------------------- integrity */

/* ---------------------------------------------------------------- issue #24: crafted files */

/* Replaces dataset `name` by one of the same shape and bytes, chunked, with Fletcher-32 and (when
 * deflate) gzip, its file type `ftype`; the bytes are written unconverted (memory type = ftype).
 * Then both checksums are recomputed. */
static void replace_dataset(const char *path, const char *name, hid_t ftype, int deflate)
{
    hid_t file = support_h5_open(path);
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t space = H5Dget_space(d), type = H5Dget_type(d);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    size_t bytes = (size_t)n * H5Tget_size(type);
    assert_int_equal(H5Tget_size(type), H5Tget_size(ftype));
    void *buf = malloc(bytes ? bytes : 1);
    assert_true(buf && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5IO_MAX_DIMS];
    H5Sget_simple_extent_dims(space, dims, NULL);
    H5Dclose(d);
    H5Tclose(type);
    assert_true(H5Ldelete(file, name, H5P_DEFAULT) >= 0);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, dims);
    H5Pset_fletcher32(dcpl);
    if (deflate)
        H5Pset_deflate(dcpl, 6);
    d = H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(d >= 0 && H5Dwrite(d, ftype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    free(buf);
    support_h5_close(file, path, -1);
}

/* Item 1: compressed datasets were trusted (their storage is not the bytes their shape needs):
 * gzip history columns of 10^8 rows in a 2.78 MB file took 9.5 GB. revive never writes them:
 * any filter but Fletcher-32 is refused before the dataset is read. */
static void test_compressed_refused(void **state)
{
    char path[256];
    struct fixture *fx = stage_end_file(state, path);
    replace_dataset(path, "history/test_loss", H5T_IEEE_F64LE, 1);
    assert_load_refused(fx, path, "history/test_loss", "compressed");
    save_stage_end(fx, path);
    replace_dataset(path, "stats/stage-00/gamma", H5T_IEEE_F32LE, 1);
    assert_load_refused(fx, path, "stats/stage-00/gamma", "compressed");
    /* The same dataset with Fletcher-32 alone (as revive writes it) still loads. */
    save_stage_end(fx, path);
    replace_dataset(path, "history/test_loss", H5T_IEEE_F64LE, 0);
    assert_loads_fresh(fx, path);
}

/* Item 2: any float of the right size was read as a float, so a float32 whose datatype message
 * says another exponent bias passed, and HDF5 converted its (Fletcher-valid) bytes to other
 * values: γ read 1024× too small, exit 0. Format 2 on: numbers must be exactly the LE IEEE and
 * integer types revive writes. */
static void test_exact_types_required(void **state)
{
    char path[256];
    struct fixture *fx = stage_end_file(state, path);
    hid_t biased = H5Tcopy(H5T_IEEE_F32LE);
    assert_true(H5Tset_ebias(biased, 137) >= 0);
    replace_dataset(path, "params/stem.gamma", biased, 0);
    H5Tclose(biased);
    assert_load_refused(fx, path, "params/stem.gamma", "exact little-endian");
    /* big-endian: HDF5 would convert it exactly, but revive never writes it */
    save_stage_end(fx, path);
    replace_dataset(path, "momentum/stem.gamma", H5T_IEEE_F32BE, 0);
    assert_load_refused(fx, path, "momentum/stem.gamma", "exact little-endian");
    /* an attribute: epoch as a big-endian int64 of the same value */
    save_stage_end(fx, path);
    int64_t epoch = 2 + 1;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen(file, "epoch", H5P_DEFAULT);
    assert_true(a >= 0 && H5Aread(a, H5T_NATIVE_INT64, &epoch) >= 0);
    H5Aclose(a);
    H5Fclose(file);
    unsigned char be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)((uint64_t)epoch >> (8 * (7 - i)));
    poke_attr(path, "/", "epoch", H5T_STD_I64BE, be);
    assert_load_refused(fx, path, "attribute 'epoch'", "exact little-endian");
}

/* Item 3: a file with revive's user block and format_version = 1 was read as format 1 (no
 * attribute checksum, variable-length strings allowed). Format 1 was never written with one. */
static void test_format_1_with_user_block_refused(void **state)
{
    char path[256];
    struct fixture *fx = stage_end_file(state, path);
    poke_i64(path, "/", "format_version", 1);
    assert_refused(fx, path, "format version 1", "file checksum");
    assert_load_refused(fx, path, "format version 1", "file checksum");
}

/* Item 6: a stage record's kind was not checked against its fraction (bn with fraction 0.1
 * loaded), nor against train.trainable in a single-stage run. */
static void test_kind_against_fraction(void **state)
{
    char path[256];
    struct fixture *fx = stage_end_file(state, path);
    poke_f64(path, "stats/stage-00", "fraction", 0.1);
    assert_load_refused(fx, path, "stats/stage-00 has kind 'bn' but fraction 0.1", "'conv_fraction'");
    save_stage_end(fx, path);
    poke_str(path, "stats/stage-01", "kind", "all");
    assert_load_refused(fx, path, "stats/stage-01 has kind 'all'", "'conv_fraction'");
    save_stage_end(fx, path);
    poke_f64(path, "stats/stage-01", "fraction", 1.0);
    assert_load_refused(fx, path, "stats/stage-01 has kind 'conv_fraction' but fraction 1", "'all'");

    /* A single-stage run (pipeline.enabled = false, train.trainable = bn): its one record. */
    struct run a;
    make_run(&a, &fx->comm, 8, 1);
    fill_run(&a, 2, 3, 1);
    a.cfg.pipeline = false;
    a.cfg.trainable = STAGE_BN;
    a.stage = 0;
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_save(&a, path, &err), 0);
    assert_loads_fresh(fx, path);
    poke_str(path, "stats/stage-00", "kind", "output");
    assert_load_refused(fx, path, "single-stage with train.trainable = bn", "kind 'output'");
    assert_int_equal(checkpoint_save(&a, path, &err), 0);
    poke_f64(path, "stats/stage-00", "fraction", 0.25);
    assert_load_refused(fx, path, "single-stage with train.trainable = bn", "fraction 0.25");
    run_close(&a);
}

/* /stats units and filters_per_unit are the model's own (the loader checks them as inspect does). */
static void test_units_against_model(void **state)
{
    char path[256];
    struct fixture *fx = stage_end_file(state, path);
    int64_t v = 17;
    poke_typed(path, "stats/filters_per_unit", 0, H5T_NATIVE_INT64, &v);
    assert_load_refused(fx, path, "unit stem of the file's /model has 16 filters", NULL);
    save_stage_end(fx, path);
    poke_text(path, "stats/units", "stem\nseg1.block0.conv2\n");
    assert_load_refused(fx, path, "does not name unit 1 'seg1.block0.conv1'", NULL);
}

/* The history's rows are bounded by the stages the file stands at, before anything is read. */
static void test_history_rows_bounded(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "stage-01.h5");
    struct run a;
    make_run(&a, &fx->comm, 8, 1);
    fill_run(&a, 1, 3, 2);
    a.stage = 0; /* at stage 0 … */
    a.nrecords = 1;
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_save(&a, path, &err), 0);
    assert_loads_fresh(fx, path);
    /* … a stage-0 file holds at most 100000 epochs: a column of 100001 rows is refused unread */
    free(a.history);
    a.history = calloc(100001, sizeof *a.history);
    assert_non_null(a.history);
    a.nhistory = a.history_cap = 100001;
    for (int i = 0; i < a.nhistory; i++)
        a.history[i] = (struct history_row){.stage = 0, .epoch = 1 + i % 100000};
    assert_int_equal(checkpoint_save(&a, path, &err), 0);
    assert_load_refused(fx, path, "history/epoch holds 100001 rows", "1 stages can have");
    run_close(&a);
}

/* Flips bit `bit` of the byte at offset `at`. */
static void flip_bit(const char *path, size_t at, int bit)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, (long)at, SEEK_SET);
    int c = fgetc(f);
    assert_true(c != EOF);
    fseek(f, (long)at, SEEK_SET);
    fputc(c ^ (1 << bit), f);
    fclose(f);
}

/* Where the data of a dataset starts in the file: its first chunk, or its contiguous block. */
static size_t data_offset(const char *path, const char *dataset)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(file, dataset, H5P_DEFAULT);
    assert_true(d >= 0);
    haddr_t at = H5Dget_offset(d);
    if (at == HADDR_UNDEF) {
        hsize_t size;
        unsigned mask;
        hid_t space = H5Dget_space(d);
        assert_true(H5Dget_chunk_info(d, space, 0, NULL, &mask, &at, &size) >= 0);
        H5Sclose(space);
    }
    hsize_t userblock = 0; /* HDF5's addresses count from the end of the user block */
    hid_t fcpl = H5Fget_create_plist(file);
    H5Pget_userblock(fcpl, &userblock);
    H5Pclose(fcpl);
    H5Dclose(d);
    H5Fclose(file);
    return (size_t)(at + userblock);
}

/* The offset of the only occurrence of needle in the file. */
static size_t find_unique(const char *path, const void *needle, size_t len)
{
    size_t n, found = 0, count = 0;
    unsigned char *b = support_slurp(path, &n);
    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(b + i, needle, len) == 0) {
            found = i;
            count++;
        }
    free(b);
    assert_int_equal(count, 1);
    return found;
}

/* Issue #11 item 10: of 206 bit-flipped checkpoints that still loaded, 94 had silently changed
 * parameters, momentum or masks. Datasets now carry HDF5's Fletcher-32 checksum and the
 * attributes and config text a CRC-32: a flipped bit is a one-line error. */
static void test_bit_flips_refused(void **state)
{
    struct fixture *fx = *state;
    char path[256], name[160];
    path_in(path, sizeof path, fx, "last.h5");
    struct run a;
    make_run(&a, &fx->comm, 8, 1);
    fill_run(&a, 1, 3, 2);
    const char *pname = a.model.params[3].name;
    const char *groups[] = {"params", "momentum", "mask"};
    struct rv_error err = {{0}};
    for (int g = 0; g < 3; g++) {
        assert_int_equal(checkpoint_save(&a, path, &err), 0);
        snprintf(name, sizeof name, "%s/%s", groups[g], pname);
        flip_bit(path, data_offset(path, name) + 1, g + 2);
        assert_load_refused(fx, path, "damaged or truncated", "CRC-32");
        /* below the whole-file CRC, as for a file whose user block was rewritten: */
        support_h5_restamp_file(path);
        assert_load_refused(fx, path, name, "Fletcher-32");
    }
    /* An attribute's value: epoch_loss_sum, whose 8 bytes occur once in the file. */
    assert_int_equal(checkpoint_save(&a, path, &err), 0);
    flip_bit(path, find_unique(path, &a.epoch_loss_sum, sizeof a.epoch_loss_sum), 0);
    assert_load_refused(fx, path, "CRC-32", NULL);
    support_h5_restamp_file(path);
    assert_load_refused(fx, path, "checksum", "does not match");
    /* The config text (in HDF5's global heap, which has no checksum of its own). */
    assert_int_equal(checkpoint_save(&a, path, &err), 0);
    flip_bit(path, find_unique(path, "\"ckpt-test\"", 11) + 5, 1);
    assert_refused(fx, path, "CRC-32", NULL);
    support_h5_restamp_file(path);
    assert_refused(fx, path, "checksum", "does not match");
    /* HDF5's own structures (superblock, object headers, B-trees, heaps) and the user block:
     * every byte is under the whole-file CRC-32; a sample of offsets across the file. */
    size_t size;
    free(support_slurp(path, &size));
    for (int i = 1; i < 16; i++) {
        assert_int_equal(checkpoint_save(&a, path, &err), 0);
        size_t at = i == 1 ? 3 : i == 2 ? H5IO_USERBLOCK + 9 : size / 16 * (size_t)i;
        flip_bit(path, at, i % 8);
        if (i == 1)
            assert_load_refused(fx, path, "header", NULL);
        else
            assert_load_refused(fx, path, "CRC-32", NULL);
    }
    run_close(&a);
}

/* A format-1 file (contiguous datasets, no filters, no checksum: what revive wrote before)
 * still loads, to the same run. Made from a format-2 file with h5repack and two attribute
 * edits; a format-2 file without its checksum is refused. */
static void test_reads_format_1(void **state)
{
    struct fixture *fx = *state;
    char path[256], old[256], cmd[1400];
    path_in(path, sizeof path, fx, "v2.h5");
    path_in(old, sizeof old, fx, "v1.h5");
    struct run a, b;
    save_filled(fx, &a, path);
    /* h5repack keeps the user block; h5unjam takes it off, as format 1 files have none */
    snprintf(cmd, sizeof cmd, "h5repack -f NONE -l CONTI '%s' '%s.ub' 2>/dev/null && "
             "h5unjam -i '%s.ub' -o '%s' >/dev/null 2>&1", path, old, old, old);
    if (system(cmd) != 0) {
        print_message("skip: h5repack or h5unjam (hdf5-tools) did not run; format 1 not tested\n");
        run_close(&a);
        return;
    }
    hid_t file = H5Fopen(old, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    assert_true(H5Adelete(file, "checksum") >= 0);
    hid_t d = H5Dopen2(file, "params/stem.conv", H5P_DEFAULT), dcpl = H5Dget_create_plist(d);
    assert_int_equal(H5Pget_nfilters(dcpl), 0);
    assert_int_equal(H5Pget_layout(dcpl), H5D_CONTIGUOUS);
    H5Pclose(dcpl);
    H5Dclose(d);
    assert_true(H5Fclose(file) >= 0);
    assert_load_refused(fx, old, "without its file checksum", NULL);
    poke_i64(old, "/", "format_version", 1);
    make_run(&b, &fx->comm, 8, 1);
    assert_loads(&b, old);
    assert_same_run(&a, &b);
    run_close(&b);
    run_close(&a);
}

/* ---------------------------------------------------------------- variable-length strings */

/* Object names below the root, collected by H5Lvisit. */
struct names {
    char v[512][160];
    int n;
};

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    (void)g;
    (void)info;
    struct names *ns = op;
    assert_true(ns->n < 512);
    snprintf(ns->v[ns->n++], sizeof ns->v[0], "%s", name);
    return 0;
}

static herr_t collect_attr(hid_t loc, const char *name, const H5A_info_t *info, void *op)
{
    (void)loc;
    (void)info;
    return collect_name(loc, name, NULL, op);
}

/* A variable-length UTF-8 string type, as revive wrote before format 3 (and h5py writes str). */
static hid_t vlen_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* The value of a fixed-length string attribute or dataset (malloc'd), or NULL for other types. */
static char *fixed_text(hid_t id, int is_attr)
{
    hid_t t = is_attr ? H5Aget_type(id) : H5Dget_type(id);
    char *buf = NULL;
    if (H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0) {
        buf = calloc(H5Tget_size(t) + 1, 1);
        assert_non_null(buf);
        assert_true((is_attr ? H5Aread(id, t, buf) : H5Dread(id, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)) >= 0);
    }
    H5Tclose(t);
    return buf;
}

/* Every string attribute of `object` that `only` names (every one when NULL) turned into a
 * variable-length string of the same value. */
static void attrs_to_vlen(hid_t file, const char *object, const char *only)
{
    hid_t obj = H5Oopen(file, object, H5P_DEFAULT);
    assert_true(obj >= 0);
    struct names *attrs = calloc(1, sizeof *attrs);
    assert_non_null(attrs);
    assert_true(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_attr, attrs) >= 0);
    for (int i = 0; i < attrs->n; i++) {
        if (only && strcmp(only, attrs->v[i]))
            continue;
        hid_t a = H5Aopen(obj, attrs->v[i], H5P_DEFAULT);
        char *text = fixed_text(a, 1);
        H5Aclose(a);
        if (!text)
            continue;
        assert_true(H5Adelete(obj, attrs->v[i]) >= 0);
        hid_t t = vlen_type(), space = H5Screate(H5S_SCALAR);
        a = H5Acreate2(obj, attrs->v[i], t, space, H5P_DEFAULT, H5P_DEFAULT);
        const char *p = text;
        assert_true(a >= 0 && H5Awrite(a, t, &p) >= 0);
        H5Aclose(a);
        H5Sclose(space);
        H5Tclose(t);
        free(text);
    }
    free(attrs);
    H5Oclose(obj);
}

/* The scalar string dataset `name` turned into a variable-length string of the same value. */
static void dataset_to_vlen(hid_t file, const char *name)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    assert_true(d >= 0);
    char *text = fixed_text(d, 0);
    H5Dclose(d);
    if (!text)
        return;
    assert_true(H5Ldelete(file, name, H5P_DEFAULT) >= 0);
    hid_t t = vlen_type(), space = H5Screate(H5S_SCALAR);
    d = H5Dcreate2(file, name, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *p = text;
    assert_true(d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) >= 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(t);
    free(text);
}

/* Strings of path as a revive before format 3 wrote them: every string attribute and string
 * dataset variable-length (object NULL), or only attribute `attr` of `object` (or the dataset
 * `object` when attr is NULL); then restamped, so that only the string types differ. */
static void strings_to_vlen(const char *path, const char *object, const char *attr)
{
    hid_t file = support_h5_open(path);
    if (object && attr) {
        attrs_to_vlen(file, object, attr);
    } else if (object) {
        dataset_to_vlen(file, object);
    } else {
        struct names *objs = calloc(1, sizeof *objs);
        assert_non_null(objs);
        assert_true(H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, collect_name, objs) >= 0);
        attrs_to_vlen(file, "/", NULL);
        for (int i = 0; i < objs->n; i++) {
            attrs_to_vlen(file, objs->v[i], NULL);
            if (h5io_object_kind(file, objs->v[i]) == H5I_DATASET)
                dataset_to_vlen(file, objs->v[i]);
        }
        free(objs);
    }
    support_h5_close(file, path, -1);
}

/* Format 3 writes every string fixed-length (HDF5 1.10.8 loops forever or overflows a buffer in
 * its global heap, where variable-length strings live, on some crafted files:
 * tests/fuzz/known-hdf5-bugs/), and refuses a variable-length string unread, naming it; formats
 * 1 and 2 held variable-length strings, and still load. */
static void test_variable_length_strings(void **state)
{
    char path[256];
    struct fixture *fx = stage_end_file(state, path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    const char *attr_objects[] = {"/", "stats/stage-00", "model", "provenance/start-01"};
    const char *attr_names[] = {"format", "kind", "wiring", "host"};
    for (int i = 0; i < 4; i++) {
        hid_t a = H5Aopen_by_name(file, attr_objects[i], attr_names[i], H5P_DEFAULT, H5P_DEFAULT);
        hid_t t = H5Aget_type(a);
        assert_int_equal(H5Tget_class(t), H5T_STRING);
        assert_int_equal(H5Tis_variable_str(t), 0);
        H5Tclose(t);
        H5Aclose(a);
    }
    const char *datasets[] = {"config", "stats/units"};
    for (int i = 0; i < 2; i++) {
        hid_t d = H5Dopen2(file, datasets[i], H5P_DEFAULT), t = H5Dget_type(d);
        assert_int_equal(H5Tis_variable_str(t), 0);
        H5Tclose(t);
        H5Dclose(d);
    }
    H5Fclose(file);

    /* One variable-length string in a format-3 file: refused, naming it. */
    for (int i = 0; i < 4; i++) {
        save_stage_end(fx, path);
        strings_to_vlen(path, attr_objects[i], attr_names[i]);
        char what[128];
        snprintf(what, sizeof what, "attribute '%s' of '%s'", attr_names[i], attr_objects[i]);
        assert_load_refused(fx, path, what, "variable-length string");
    }
    for (int i = 0; i < 2; i++) {
        save_stage_end(fx, path);
        strings_to_vlen(path, datasets[i], NULL);
        char what[128];
        snprintf(what, sizeof what, "%s' is a", datasets[i]); /* "dataset '/config'" or "'config'" */
        assert_refused(fx, path, what, "variable-length string");
    }
    /* Every string variable-length: refused at the first one read, the format attribute. */
    save_stage_end(fx, path);
    strings_to_vlen(path, NULL, NULL);
    assert_refused(fx, path, "attribute 'format' of '/'", "variable-length string");
    /* The same file as format 2 (as revive wrote it then) loads, to the same run. */
    poke_i64(path, "/", "format_version", 2);
    struct run a, b;
    make_run(&a, &fx->comm, 8, 1);
    fill_run(&a, 1, 3, 2);
    make_run(&b, &fx->comm, 8, 1);
    assert_loads(&b, path);
    assert_same_run(&a, &b);
    run_close(&a);
    run_close(&b);
    struct config c;
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_read_config(&c, path, &err), 0);
    assert_int_equal(c.seed, 4242);
}

/* A copy of tests/fuzz/known-hdf5-bugs/NAME in dir, with a user block in front if it has none. */
static void copy_known_bug(const char *name, const char *dir, char *out, size_t cap)
{
    char src[256];
    snprintf(src, sizeof src, "tests/fuzz/known-hdf5-bugs/%s", name);
    size_t n;
    unsigned char *b = support_slurp(src, &n);
    snprintf(out, cap, "%s/%s", dir, name);
    FILE *f = fopen(out, "wb");
    assert_non_null(f);
    if (memcmp(b, "revive-hdf5", 11) != 0) {
        char block[H5IO_USERBLOCK] = "revive-hdf5";
        assert_int_equal(fwrite(block, 1, sizeof block, f), sizeof block);
    }
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
    free(b);
}

/* The two files on which HDF5 1.10.8 itself fails (docs/FUZZING.md): an endless loop and a
 * heap-buffer-overflow in its global heap, reading a variable-length string. Both are format 2,
 * which holds variable-length strings, so a crafted format-2 file with a valid whole-file CRC-32
 * (the overflow one) still reaches the heap. The loop one has no user block, and a format-2 file
 * without one is now refused before any string is read. Stamped as format 3 (with a valid
 * user block), both are refused before HDF5 reads the string. An alarm ends the test if a read
 * loops. */
static void test_known_hdf5_bugs_refused(void **state)
{
    struct fixture *fx = *state;
    char path[512];
    alarm(60);
    snprintf(path, sizeof path, "tests/fuzz/known-hdf5-bugs/global-heap-loop.h5");
    assert_refused(fx, path, "format-2 checkpoint without its file checksum", NULL);
    const char *names[] = {"global-heap-loop.h5", "global-heap-read-overflow.h5"};
    for (int i = 0; i < 2; i++) {
        copy_known_bug(names[i], fx->dir, path, sizeof path);
        hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        assert_true(file >= 0);
        hid_t a = H5Aopen(file, "format_version", H5P_DEFAULT);
        int64_t v = 3;
        assert_true(a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0);
        H5Aclose(a);
        assert_true(H5Fclose(file) >= 0);
        support_h5_restamp_file(path); /* only the user block: support_h5_restamp would read the strings */
        assert_refused(fx, path, "attribute 'format' of '/' is a variable-length string", NULL);
    }
    alarm(0);
}

/* Issue #11 item 11: error lines quoted a checkpoint's config text, control bytes and all, so a
 * crafted file could send escape sequences to the terminal. They now appear as \xNN. */
static void test_control_bytes_escaped(void **state)
{
    char path[256];
    struct fixture *fx = stage_end_file(state, path);
    poke_text(path, "config", "[run]\n\x1b]0;owned\x07\x1b[2Jseed = 1\n");
    struct config c;
    struct rv_error err = {{0}};
    config_defaults(&c);
    assert_int_equal(checkpoint_read_config(&c, path, &err), -1);
    for (const char *p = err.msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            fail_msg("raw control byte 0x%02x in: %s", (unsigned char)*p, err.msg);
    assert_non_null(strstr(err.msg, "\\x1b"));
    assert_non_null(strstr(err.msg, path));
    /* and a stage kind with an escape sequence, through load */
    save_stage_end(fx, path);
    poke_str(path, "stats/stage-00", "kind", "\x1b[31mred\x9b");
    assert_load_refused(fx, path, "\\x1b[31mred", NULL);
}

/* ---------------------------------------------------------------- atomicity */

static void test_failed_save_leaves_nothing(void **state)
{
    struct fixture *fx = *state;
    struct run a;
    make_run(&a, &fx->comm, 8, 1);
    fill_run(&a, 1, 3, 2);
    char path[256], names[512];
    struct rv_error err = {{0}};

    /* The directory does not exist: refused, and neither it nor a temporary file appears. */
    path_in(path, sizeof path, fx, "nodir/last.h5");
    assert_int_equal(checkpoint_save(&a, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(support_dir_entries(fx->dir, names, sizeof names), 0);

    /* The target is a directory: the file is written, the final rename fails, and the temporary
     * file must go. */
    path_in(path, sizeof path, fx, "isdir");
    assert_int_equal(mkdir(path, 0777), 0);
    err.msg[0] = '\0';
    assert_int_equal(checkpoint_save(&a, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(support_dir_entries(fx->dir, names, sizeof names), 1);
    assert_string_equal(names, "isdir");
    assert_int_equal(support_dir_entries(path, names, sizeof names), 0);
    run_close(&a);
}

static void test_save_replaces(void **state)
{
    struct fixture *fx = *state;
    char path[256], names[512];
    path_in(path, sizeof path, fx, "last.h5");
    struct run a, b;
    save_filled(fx, &a, path);
    fill_run(&a, 7, 4, 1);
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_save(&a, path, &err), 0);
    assert_int_equal(support_dir_entries(fx->dir, names, sizeof names), 1);
    assert_string_equal(names, "last.h5");
    make_run(&b, &fx->comm, 8, 1);
    assert_loads(&b, path);
    assert_same_run(&a, &b);
    assert_int_equal(b.stage, 0); /* salt 7 at the end of its one record: stage 0 */
    run_close(&a);
    run_close(&b);
}

static void test_make_dirs(void **state)
{
    struct fixture *fx = *state;
    char path[256];
    struct rv_error err = {{0}};
    path_in(path, sizeof path, fx, "a/b/c");
    assert_int_equal(make_dirs(path, &err), 0);
    assert_int_equal(make_dirs(path, &err), 0); /* already there */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    path_in(path, sizeof path, fx, "file");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    path_in(path, sizeof path, fx, "file/sub");
    assert_int_equal(make_dirs(path, &err), -1);
    assert_non_null(strstr(err.msg, "cannot create directory"));
}

/* ---------------------------------------------------------------- seed-only export */

static int64_t file_auto_rule(const char *path);

static void test_seed_only_export(void **state)
{
    struct fixture *fx = *state;
    char full[256], slim[256];
    path_in(full, sizeof full, fx, "stage-00.h5");
    path_in(slim, sizeof slim, fx, "seed.h5");
    /* A BN-only stage end: conv and output weights as initialized; γ, β, running stats trained. */
    struct run a, b;
    make_run(&a, &fx->comm, 8, 1);
    struct model *m = &a.model;
    uint64_t st = rng_stream(RNG_TEST, 5, 0, 0);
    for (int p = 0; p < m->nparams; p++)
        if (m->params[p].kind == PARAM_GAMMA || m->params[p].kind == PARAM_BETA)
            for (size_t i = 0; i < m->params[p].count; i++)
                m->values[m->params[p].offset + i] = rng_normal(3, st, m->params[p].offset + i);
    for (size_t i = 0; i < m->running_total; i++)
        m->running_stats[i] = 0.5f + rng_uniform(3, st, m->total + i);
    a.nrecords = 1;
    stats_record(&a.records[0], m, 0, stats_threshold_of(&a.cfg), NULL);
    snprintf(a.records[0].kind, sizeof a.records[0].kind, "bn");
    a.epoch = 3;
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_save(&a, full, &err), 0);
    if (checkpoint_export_seed_only(full, slim, &err))
        fail_msg("%s", err.msg);
    struct stat s1, s2;
    assert_int_equal(stat(full, &s1), 0);
    assert_int_equal(stat(slim, &s2), 0);
    assert_true(s2.st_size < s1.st_size / 4);
    /* It keeps the rule conv_algo = auto follows in the run (here a rule-1 run's). */
    char slim1[256];
    path_in(slim1, sizeof slim1, fx, "seed-rule-1.h5");
    poke_i64(full, "model", "conv_auto_rule", CONV_AUTO_RULE_WINOGRAD);
    if (checkpoint_export_seed_only(full, slim1, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(file_auto_rule(slim1), CONV_AUTO_RULE_WINOGRAD);

    make_run(&b, &fx->comm, 8, 1);
    fill_run(&b, 9, 1, 0);
    assert_int_equal(checkpoint_load(&b, slim, &err), 0);
    assert_true(b.seed_only);
    assert_memory_equal(b.model.values, a.model.values, m->total * sizeof(float));
    assert_memory_equal(b.model.running_stats, a.model.running_stats, m->running_total * sizeof(float));
    assert_int_equal(b.nrecords, 1);
    assert_memory_equal(b.records[0].gamma, a.records[0].gamma, (size_t)a.records[0].nfilters * sizeof(float));
    run_close(&b);

    /* An export of an export, and of a checkpoint whose convs moved, are refused. */
    path_in(full, sizeof full, fx, "again.h5");
    assert_int_equal(checkpoint_export_seed_only(slim, full, &err), -1);
    assert_non_null(strstr(err.msg, "already a seed-only export"));
    m->values[m->params[m->units[2].w].offset + 5] += 0.25f;
    path_in(full, sizeof full, fx, "moved.h5");
    assert_int_equal(checkpoint_save(&a, full, &err), 0);
    assert_int_equal(checkpoint_export_seed_only(full, slim, &err), -1);
    assert_non_null(strstr(err.msg, m->params[m->units[2].w].name));
    run_close(&a);
}

/* /model's facts and /provenance are rows of the layout table, read through it: each value is
 * checked against its bounds and the file's own sizes before use. Before, a provenance `ranks` of
 * 2^40 became an int silently, a text longer than its field was cut silently, a `count` was not
 * compared with the groups the file holds, and an input mean outside [0, 1] was used. */
static void save_with_norm(struct fixture *fx, const char *path)
{
    struct run a;
    make_run(&a, &fx->comm, 8, 1);
    fill_run(&a, 1, 3, 2);
    a.norm_c = 1;
    a.norm_mean[0] = 0.25f;
    a.norm_std[0] = 0.5f;
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_save(&a, path, &err), 0);
    run_close(&a);
    struct run b;
    make_run(&b, &fx->comm, 8, 1);
    assert_loads(&b, path);
    assert_true(b.norm_c == 1 && b.norm_mean[0] == 0.25f && b.norm_std[0] == 0.5f);
    run_close(&b);
}

static void test_model_facts_and_provenance_checked(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "stage-01.h5");
    /* the rows the writer wrote are the rows the reader reads */
    for (int id = CK_MODEL_WIRING; id <= CK_MODEL_INPUT_STD; id++)
        assert_string_equal(ck_layout[id].object, "model");
    for (int id = CK_PROV_RANKS; id <= CK_PROV_COMMAND; id++)
        assert_string_equal(ck_layout[id].object, "provenance/start-KK");

    save_with_norm(fx, path);
    poke_i64(path, "provenance/start-01", "ranks", INT64_C(1) << 40);
    assert_load_refused(fx, path, "attribute 'ranks' of 'provenance/start-01'", "1…2147483647");
    save_with_norm(fx, path);
    poke_i64(path, "provenance/start-00", "threads", 0);
    assert_load_refused(fx, path, "attribute 'threads' of 'provenance/start-00'", NULL);
    save_with_norm(fx, path);
    poke_i64(path, "provenance", "count", 3); /* two groups */
    assert_load_refused(fx, path, "attribute 'count' of 'provenance' is 3", "holds 2");
    save_with_norm(fx, path);
    char host[300];
    memset(host, 'h', sizeof host - 1);
    host[sizeof host - 1] = '\0';
    poke_str(path, "provenance/start-00", "host", host);
    assert_load_refused(fx, path, "attribute 'host' of 'provenance/start-00' is 299 bytes long", "0…255");

    save_with_norm(fx, path);
    poke_element_f32(path, "model/input_mean", 0, 5.0f);
    assert_load_refused(fx, path, "/model/input_mean[0] = 5", "0…1");
    save_with_norm(fx, path);
    poke_element_f32(path, "model/input_std", 0, 0.0f);
    assert_load_refused(fx, path, "/model/input_std[0] = 0", "not the lower bound");
    save_with_norm(fx, path);
    poke_i64(path, "model", "wiring_version", 0);
    assert_load_refused(fx, path, "attribute 'wiring_version' of 'model'", NULL);
    save_with_norm(fx, path); /* a later revive's wiring: in bounds, not this build's */
    poke_i64(path, "model", "wiring_version", CHECKPOINT_WIRING_VERSION + 1);
    assert_load_refused(fx, path, "/model wiring_version is", "use the revive that wrote it");
    save_with_norm(fx, path);
    poke_f64(path, "model", "bn_eps", NAN);
    assert_load_refused(fx, path, "attribute 'bn_eps' of 'model'", "nan");
    save_with_norm(fx, path);
    poke_str(path, "model", "wiring", "densenet");
    assert_load_refused(fx, path, "/model wiring is 'densenet'", "builds 'resnet-cifar'");
}

/* Drops the network description (a file written before it existed: formats 1 to 3). */
static void drop_network(const char *path, int nunits)
{
    hid_t file = support_h5_open(path);
    const char *attrs[] = {"arch", "stem", "norm", "head", "nunits"};
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        assert_true(H5Adelete_by_name(file, "model", attrs[i], H5P_DEFAULT) >= 0);
    for (int u = 0; u < nunits; u++) {
        char g[64];
        snprintf(g, sizeof g, "model/unit-%02d", u);
        assert_true(H5Ldelete(file, g, H5P_DEFAULT) >= 0);
    }
    support_h5_close(file, path, -1);
}

/* /model says which network it holds: the family, its keys and the unit table, each checked
 * against the model the file's /config builds (one line naming the file and the field); a file
 * without them (formats 1 to 3 before it) still loads. */
static void test_network_description(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "stage-01.h5");
    save_with_norm(fx, path);
    struct rv_error err = {{0}};
    struct h5in *in = h5in_open(path, &err);
    assert_non_null(in);
    char *text = NULL;
    int64_t nunits = 0, channels = 0;
    assert_int_equal(h5in_attr_string(in, "model", "arch", &text, &err), 0);
    assert_string_equal(text, "resnet");
    free(text);
    assert_int_equal(h5in_attr_string(in, "model", "wiring", &text, &err), 0);
    assert_string_equal(text, "resnet-cifar");
    free(text);
    assert_int_equal(h5in_attr_int(in, "model", "nunits", &nunits, &err), 0);
    assert_int_equal(h5in_attr_string(in, "model/unit-01", "name", &text, &err), 0);
    assert_string_equal(text, "seg1.block0.conv1");
    free(text);
    assert_int_equal(h5in_attr_string(in, "model/unit-01", "filter", &text, &err), 0);
    assert_string_equal(text, "seg1.block0.conv1.conv");
    free(text);
    assert_int_equal(h5in_attr_int(in, "model/unit-01", "channels", &channels, &err), 0);
    h5in_close(in);
    struct run b;
    make_run(&b, &fx->comm, 8, 1);
    assert_int_equal(nunits, b.model.nunits);
    assert_int_equal(channels, b.model.units[1].channels);
    run_close(&b);

    poke_str(path, "model", "arch", "vgg");
    assert_load_refused(fx, path, "/model arch is 'vgg'", "builds 'resnet'");
    save_with_norm(fx, path);
    poke_str(path, "model", "arch", "densenet");
    assert_load_refused(fx, path, "/model arch is 'densenet'", NULL);
    save_with_norm(fx, path);
    poke_str(path, "model", "head", "torchvision");
    assert_load_refused(fx, path, "/model head is 'torchvision'", "builds 'auto'");
    save_with_norm(fx, path);
    poke_str(path, "model", "wiring", "vgg");
    assert_load_refused(fx, path, "/model wiring is 'vgg'", "builds 'resnet-cifar'");
    save_with_norm(fx, path);
    poke_i64(path, "model", "nunits", nunits - 1);
    assert_load_refused(fx, path, "/model nunits is", "units");
    save_with_norm(fx, path);
    poke_str(path, "model/unit-01", "name", "seg1.block0.conv2");
    assert_load_refused(fx, path, "attribute 'name' of 'model/unit-01' differs", NULL);
    save_with_norm(fx, path);
    poke_i64(path, "model/unit-02", "channels", channels + 1);
    assert_load_refused(fx, path, "model/unit-02 has channels", NULL);
    save_with_norm(fx, path);
    poke_str(path, "model/unit-00", "filter", "fc.weight");
    assert_load_refused(fx, path, "attribute 'filter' of 'model/unit-00' differs", NULL);

    save_with_norm(fx, path); /* an older file: none of it, and it loads */
    drop_network(path, (int)nunits);
    make_run(&b, &fx->comm, 8, 1);
    assert_loads(&b, path);
    run_close(&b);
}

/* ---------------------------------------------------------------- the rule of conv_algo = auto */

/* Deletes attribute `name` of `object` (a file from before it existed), then restamps. */
static void drop_attr(const char *path, const char *object, const char *name)
{
    hid_t file = support_h5_open(path);
    assert_true(H5Adelete_by_name(file, object, name, H5P_DEFAULT) >= 0);
    support_h5_close(file, path, -1);
}

static int64_t file_auto_rule(const char *path)
{
    struct rv_error err = {{0}};
    struct h5in *in = h5in_open(path, &err);
    assert_non_null(in);
    int64_t v = -1;
    assert_int_equal(h5in_attr_int(in, "model", "conv_auto_rule", &v, &err), 0);
    h5in_close(in);
    return v;
}

/* The model a resume builds from the checkpoint's config (run_open's spec), parameters only. */
static void build_from_config(struct model *m, const struct config *c, int max_batch)
{
    struct dataset d = {.c = 1, .h = 8, .w = 8, .classes = 4};
    struct model_spec spec = run_model_spec(c, &d);
    struct rv_error err = {{0}};
    assert_int_equal(model_build(m, &spec, max_batch, 1, &err), 0);
}

/* A file records the rule auto followed (2 for a new run); a file without it resolves auto by the
 * rule of its format's time: 2 for format 3, 1 for format 2, so a format-2 file's its wide 3×3 stride-1 convs are Winograd and its
 * stride-2 ones im2col, not oneDNN, on this CPU too; a resume writes that rule back; a rule this
 * build does not know, or 0, is refused in one line naming the file. */
static void test_conv_auto_rule(void **state)
{
    struct fixture *fx = *state;
    char path[256], again[256];
    path_in(path, sizeof path, fx, "stage-01.h5");
    path_in(again, sizeof again, fx, "again.h5");
    struct run a;
    save_filled(fx, &a, path);
    assert_int_equal(a.cfg.conv_algo, CONV_ALGO_AUTO);
    assert_int_equal(a.model.spec.conv_auto_rule, CONV_AUTO_RULE_CURRENT);
    assert_int_equal(file_auto_rule(path), CONV_AUTO_RULE_ONEDNN);
    struct config c;
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_read_config(&c, path, &err), 0);
    assert_int_equal(c.conv_auto_rule, CONV_AUTO_RULE_ONEDNN);
    struct model m2;
    build_from_config(&m2, &c, 0);
    int onednn = 0;
    for (int u = 0; u < m2.nunits; u++)
        onednn += model_unit_conv(&m2, u)->onednn;
    /* Rule 2 takes oneDNN for the 6 wide 3×3 convs where oneDNN's kernels are AVX-512. */
    assert_int_equal(onednn, conv2d_onednn_preferred() ? 6 : 0);
    model_free(&m2);

    /* Without the attribute a format-3 file ran rule 2 (oneDNN came before format 3), ... */
    drop_attr(path, "model", "conv_auto_rule");
    assert_int_equal(checkpoint_read_config(&c, path, &err), 0);
    assert_int_equal(c.conv_algo, CONV_ALGO_AUTO);
    assert_int_equal(c.conv_auto_rule, CONV_AUTO_RULE_ONEDNN);
    /* ... and a format-2 file rule 1. */
    poke_i64(path, "/", "format_version", 2);
    assert_int_equal(checkpoint_read_config(&c, path, &err), 0);
    assert_int_equal(c.conv_auto_rule, CONV_AUTO_RULE_WINOGRAD);
    struct run b;
    memset(&b, 0, sizeof b);
    b.cfg = c;
    b.comm = &fx->comm;
    build_from_config(&b.model, &c, 0);
    int winograd = 0;
    for (int u = 0; u < b.model.nunits; u++) {
        const struct conv2d *l = model_unit_conv(&b.model, u);
        int wide_s1 = u > 0 && l->k == 3 && l->stride == 1;
        assert_int_equal(l->onednn, 0);
        assert_int_equal(l->winograd, wide_s1);
        winograd += l->winograd;
    }
    assert_int_equal(winograd, 4); /* stem im2col; 4 of 6 wide 3×3 stride 1; 1×1 im2col */
    assert_loads(&b, path);
    assert_int_equal(checkpoint_save(&b, again, &err), 0); /* the resumed run keeps rule 1 */
    assert_int_equal(file_auto_rule(again), CONV_AUTO_RULE_WINOGRAD);
    run_close(&b);
    run_close(&a);

    poke_i64(path, "model", "conv_auto_rule", CONV_AUTO_RULE_CURRENT + 1);
    assert_int_equal(checkpoint_read_config(&c, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "/model conv_auto_rule is 3"));
    assert_non_null(strstr(err.msg, "upgrade revive"));
    assert_null(strchr(err.msg, '\n'));
    poke_i64(path, "model", "conv_auto_rule", 0);
    assert_int_equal(checkpoint_read_config(&c, path, &err), -1);
    assert_non_null(strstr(err.msg, "attribute 'conv_auto_rule' of 'model' = 0 is outside 1…"));
}

/* Eight images of the tiny model's shape, and their labels. */
static void tiny_batch(float *x, int *y, int n, uint64_t salt)
{
    for (size_t i = 0; i < (size_t)n * 64; i++)
        x[i] = rng_normal(salt, rng_stream(RNG_TEST, 77, 0, 0), i);
    for (int i = 0; i < n; i++)
        y[i] = (int)((i + salt) % 4);
}

static void train_steps(struct model *m, struct comm *comm, int from, int count)
{
    enum { N = 8 };
    float x[N * 64];
    int y[N];
    struct sgd opt = {.momentum = 0.9, .weight_decay = 5e-4};
    for (int k = from; k < from + count; k++) {
        double sums[STEP_SUMS] = {0};
        tiny_batch(x, y, N, (uint64_t)k);
        assert_int_equal(step_train(m, x, y, N, N, NULL, comm, 0.05f, &opt, sums), 0);
    }
}

/* A run started under rule 1 (before oneDNN), saved mid-run by a revive that did not record the
 * rule (format 2), and resumed: it continues bit for bit like the run straight through (under rule 1; on
 * an AVX-512 CPU, rule 2 would run oneDNN and round otherwise). */
static void test_rule_1_resume_bit_exact(void **state)
{
    char path[256];
    struct fixture *fx = fixture_path(state, path, "last.h5");
    struct run a, b;
    make_run_rule(&a, &fx->comm, 8, 1, CONV_AUTO_RULE_WINOGRAD, 8);
    train_steps(&a.model, &fx->comm, 0, 2);
    struct rv_error err = {{0}};
    assert_int_equal(checkpoint_save(&a, path, &err), 0);
    drop_attr(path, "model", "conv_auto_rule");
    poke_i64(path, "/", "format_version", 2);
    train_steps(&a.model, &fx->comm, 2, 3); /* straight on */

    memset(&b, 0, sizeof b);
    b.comm = &fx->comm;
    assert_int_equal(checkpoint_read_config(&b.cfg, path, &err), 0);
    build_from_config(&b.model, &b.cfg, 8);
    assert_loads(&b, path);
    train_steps(&b.model, &fx->comm, 2, 3);
    size_t fb = a.model.total * sizeof(float);
    assert_memory_equal(a.model.values, b.model.values, fb);
    assert_memory_equal(a.model.momentum, b.model.momentum, fb);
    assert_memory_equal(a.model.running_stats, b.model.running_stats,
                        a.model.running_total * sizeof(float));
    run_close(&a);
    run_close(&b);
}

/* text with its only occurrence of `from` replaced by `to` (malloc'd). */
static char *replace_once(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

/* Issue #11: export built the model a file's /model declared before comparing it with anything,
 * so a small crafted file declaring ResNet-866 at width 64 made it allocate that model and die
 * ("out of memory", exit 71). It is now refused first, naming the file and the key: against the
 * file's config, and against the bytes the file holds. */
static void test_export_refuses_declared_giant(void **state)
{
    struct fixture *fx = *state;
    char path[256], out[256];
    path_in(path, sizeof path, fx, "stage-01.h5");
    path_in(out, sizeof out, fx, "seed.h5");
    struct rv_error err = {{0}};
    save_stage_end(fx, path);
    poke_i64(path, "model", "depth", 866);
    poke_i64(path, "model", "width", 64);
    assert_int_equal(checkpoint_export_seed_only(path, out, &err), -1);
    if (!strstr(err.msg, path) || !strstr(err.msg, "/model attribute depth = 866 but the file's "
                                                   "/config gives 8"))
        fail_msg("%s", err.msg);
    /* The config changed to match: the file is far too small for the model. */
    struct h5in *in = h5in_open(path, &err);
    assert_non_null(in);
    char *ini = NULL;
    assert_int_equal(h5in_string(in, "config", &ini, &err), 0);
    h5in_close(in);
    char *deeper = replace_once(ini, "\ndepth = 8\n", "\ndepth = 866\n");
    char *wider = replace_once(deeper, "\nwidth = 1\n", "\nwidth = 64\n");
    poke_text(path, "config", wider);
    free(wider);
    free(deeper);
    free(ini);
    assert_int_equal(checkpoint_export_seed_only(path, out, &err), -1);
    if (!strstr(err.msg, path) || !strstr(err.msg, "depth = 866 and width = 64 declare") ||
        !strstr(err.msg, "but the file has only"))
        fail_msg("%s", err.msg);
    assert_int_equal(access(out, F_OK), -1);
}

/* ---------------------------------------------------------------- the layout document */

static const char DOC[] = "docs/checkpoint-format.md";
static const char BEGIN[] = "<!-- layout:begin -->\n", END[] = "<!-- layout:end -->";

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *m = open_memstream(&text, &size);
    int c;
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(f);
    fclose(m);
    return text;
}

/* The document with its layout section replaced by what ck_write_markdown prints now. */
static char *doc_regenerated(const char *doc)
{
    const char *b = strstr(doc, BEGIN), *e = b ? strstr(b, END) : NULL;
    if (!e)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *m = open_memstream(&text, &size);
    fwrite(doc, 1, (size_t)(b - doc) + strlen(BEGIN), m);
    ck_write_markdown(m);
    fputs(e, m);
    fclose(m);
    return text;
}

static void test_layout_doc_current(void **state)
{
    (void)state;
    char *doc = read_all(DOC);
    if (!doc)
        fail_msg("%s is missing (run from the repository root)", DOC);
    char *want = doc_regenerated(doc);
    if (!want)
        fail_msg("%s has no '%s' … '%s' section", DOC, "<!-- layout:begin -->", END);
    assert_non_null(strstr(want, "| `/` attribute `stage` | int | scalar | 0…"));
    assert_non_null(strstr(want, "| `/stats/stage-KK/reinit` | uint8 | (nfilters,) | 0…1 |"));
    if (strcmp(doc, want) != 0)
        fail_msg("the layout section of %s differs from src/io/checkpoint_layout.c; regenerate it with "
                 "build/tests/test_checkpoint --write-docs (from the repository root)", DOC);
    free(want);
    free(doc);
}

static int write_docs(void)
{
    char *doc = read_all(DOC), *text = doc ? doc_regenerated(doc) : NULL;
    FILE *f = text ? fopen(DOC, "wb") : NULL;
    int rc = f && fputs(text, f) >= 0 ? 0 : 1;
    if (f && fclose(f) != 0)
        rc = 1;
    if (rc)
        fprintf(stderr, "%s: cannot regenerate its layout section\n", DOC);
    free(text);
    free(doc);
    return rc;
}

/* --write-sample PATH: the file save_filled writes, with fixed provenance, so that two builds'
 * files can be compared byte for byte (cmp): the writer's output must not change by accident. */
static int write_sample(const char *path)
{
    struct comm self = COMM_SELF_INIT;
    struct run r;
    make_run(&r, &self, 8, 1);
    fill_run(&r, 1, 3, 2);
    struct rv_error err = {{0}};
    int rc = checkpoint_save(&r, path, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    for (int k = 0; k < r.nrecords; k++)
        stats_free(&r.records[k]);
    free(r.history);
    free(r.provenance);
    model_free(&r.model);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--write-docs") == 0)
        return write_docs();
    if (argc == 3 && strcmp(argv[1], "--write-sample") == 0)
        return write_sample(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_doc_current),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_empty_history, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_read_config, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_missing_and_garbage, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_truncated, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_other_model, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_newer_version, setup, support_dir_teardown),
        cmocka_unit_test(test_history_columns_are_the_layout_rows),
        cmocka_unit_test_setup_teardown(test_history_without_gamma_columns, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_wrong_format, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_foreign_hdf5, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_unknown_stage_kind, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_values_out_of_range, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_schedule_from_full_file, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_bit_flips_refused, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_reads_format_1, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_control_bytes_escaped, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_variable_length_strings, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_known_hdf5_bugs_refused, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_failed_save_leaves_nothing, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_save_replaces, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_make_dirs, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_seed_only_export, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_export_refuses_declared_giant, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_model_facts_and_provenance_checked, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_network_description, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_conv_auto_rule, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_rule_1_resume_bit_exact, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_compressed_refused, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_exact_types_required, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_format_1_with_user_block_refused, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_kind_against_fraction, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_history_rows_bounded, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_units_against_model, setup, support_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
