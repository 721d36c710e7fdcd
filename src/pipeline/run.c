/* Setting up a run (data, model, threads) and evaluating it. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <cblas.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "layers.h"
#include "optim.h"
#include "run.h"
#include "stages.h"

double run_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* FNV-1a over the shape, labels and pixels. */
static uint64_t data_fingerprint(const struct dataset *d)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    int shape[5] = {d->n, d->c, d->h, d->w, d->classes};
    const uint8_t *parts[3] = {(const uint8_t *)shape, d->labels, d->pixels};
    size_t sizes[3] = {sizeof shape, (size_t)d->n, (size_t)d->n * d->c * d->h * d->w};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < sizes[k]; i++)
            h = (h ^ parts[k][i]) * 0x100000001b3ULL;
    return h;
}

int run_dir_check(const char *dir, const char *what, struct rv_error *err)
{
    if (!dir[0])
        return rv_fail(err, "%s is empty; name a directory for the checkpoints, e.g. %s checkpoints/branch",
                       what, what);
    size_t n = strlen(dir);
    if (n >= RUN_DIR_MAX)
        return rv_fail(err, "%s '%.40s...' is %zu bytes long; a run's directory holds at most %d: "
                       "use a shorter path (or a symbolic link to the directory)", what, dir, n,
                       RUN_DIR_MAX - 1);
    return 0;
}

int run_set_dir(struct run *r, const char *dir, const char *what, struct rv_error *err)
{
    if (run_dir_check(dir, what, err))
        return -1;
    memcpy(r->dir, dir, strlen(dir) + 1);
    return 0;
}

void run_path(const struct run *r, const char *file, char *buf)
{
    int n = snprintf(buf, RUN_PATH_MAX, "%s/%s", r->dir, file);
    REVIVE_ASSERT(n > 0 && n < RUN_PATH_MAX); /* run_set_dir keeps r->dir short enough */
}

struct model_mixer run_mixer_spec(const struct config *cfg)
{
    struct schedule s;
    struct rv_error err;
    bool trains = false;
    if (schedule_build(&s, cfg, &err) == 0 && s.n > 0) { /* config_validate reports a bad one */
        const struct stage_plan *p = &s.stage[0];
        trains = p->kind == STAGE_ALL || p->kind == STAGE_BN_OUTPUT || p->kind == STAGE_OUTPUT ||
                 (p->kind == STAGE_CONV_FRACTION && p->train_output);
    }
    return (struct model_mixer){.patch = cfg->mixer_patch, .hidden = cfg->mixer_hidden,
                                .tokens_mlp = cfg->mixer_tokens_mlp,
                                .channels_mlp = cfg->mixer_channels_mlp,
                                .blocks = cfg->mixer_blocks, .zero_head = trains};
}

struct model_spec run_model_spec(const struct config *cfg, const struct dataset *d)
{
    struct model_spec s = {
        .arch = cfg->arch, .stem = cfg->stem, .norm = cfg->norm, .head = cfg->head,
        .depth = cfg->depth, .width = cfg->width, .in_c = d->c, .in_h = d->h, .in_w = d->w,
        .classes = d->classes, .gamma_one = cfg->gamma_init == GAMMA_INIT_ONE, .no_skip = !cfg->skip,
        .conv_algo = cfg->conv_algo, .conv_auto_rule = cfg->conv_auto_rule,
        .mixer = run_mixer_spec(cfg),
    };
    return s;
}

/* A model that cannot fit would end in "out of memory allocating N bytes" (or in the swap):
 * plan it first and name the keys that size it. */
static int check_memory(const struct config *cfg, const struct model_spec *spec, int max_batch,
                        struct rv_error *err)
{
    struct model plan;
    if (model_build(&plan, spec, -1, 1, err))
        return -1;
    double need = (double)model_bytes(&plan, max_batch), gib = 1024.0 * 1024.0 * 1024.0;
    size_t params = plan.total;
    model_free(&plan);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double have = pages > 0 && page > 0 ? (double)pages * (double)page : 0.0;
    if (have <= 0.0 || need <= have)
        return 0;
    return rv_fail(err, "%s: model.depth = %d with model.width = %d needs %.1f GiB (%zu parameters, "
                   "activations for %d images per rank) but this machine has %.1f GiB; lower "
                   "model.depth or model.width (or train.batch_size, train.eval_batch_size)",
                   cfg->source, cfg->depth, cfg->width, need / gib, params, max_batch, have / gib);
}

static int load_data(struct run *r, struct rv_error *err)
{
    const struct config *c = &r->cfg;
    if (c->dataset == DATASET_SYNTHETIC) {
        data_synthetic(&r->train, &r->test, c->synthetic_train, c->synthetic_test,
                       c->synthetic_channels, c->synthetic_size, c->synthetic_classes, (uint64_t)c->seed);
    } else if (data_load(&r->train, &r->test, c->dataset, config_data_dir(c), err)) {
        return -1;
    }
    dataset_truncate(&r->train, c->train_limit);
    dataset_truncate(&r->test, c->test_limit);
    data_label_noise(&r->train, c->label_noise, (uint64_t)c->seed); /* the training set only */
    return 0;
}

int run_open(struct run *r, const struct config *cfg, struct comm *comm, struct rv_error *err)
{
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    r->comm = comm;
    r->started = run_now();
    r->verbose = comm->rank == 0;
    /* mpirun hands every rank a pseudo-terminal even when its output goes to a file, so under
     * MPI the in-epoch progress line would litter logs: only the epoch lines then. */
    r->progress = r->verbose && isatty(STDOUT_FILENO) && !getenv("OMPI_COMM_WORLD_SIZE");
    char dir[RUN_DIR_MAX + 1];
    snprintf(dir, sizeof dir, "%s/%s", cfg->out_dir, cfg->name);
    if (run_set_dir(r, dir, "run.out_dir/run.name", err))
        return -1;

    /* Our own threads split the images; each GEMM runs on one thread inside them. */
    int threads = cfg->threads > 0 ? cfg->threads : omp_get_max_threads();
    omp_set_num_threads(threads);
    openblas_set_num_threads(1);
    /* mpirun binds each rank to one core by default (for up to 2 ranks): threads beyond the
     * cores a rank may use share them and run at a fraction of the speed. Say so. */
    cpu_set_t cpus;
    if (r->verbose && sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) < threads)
        fprintf(stderr, "pipeline: warning: %d threads per rank but this rank may use only %d core%s; "
                "run mpirun with --bind-to none, or set run.threads / OMP_NUM_THREADS to %d\n",
                threads, CPU_COUNT(&cpus), CPU_COUNT(&cpus) > 1 ? "s" : "", CPU_COUNT(&cpus));

    /* Every rank loads its own copy; all must agree that it worked (a file may be missing on
     * one node of a cluster). */
    int rc = load_data(r, err);
    if (comm_agree(comm, rc, err))
        return -1;
    /* Ranks with different copies of the data would disagree on the number of steps and wait
     * for each other forever: compare a fingerprint of what each rank loaded. */
    if (comm->size > 1) {
        uint64_t mine[2] = {data_fingerprint(&r->train), data_fingerprint(&r->test)}, first[2];
        memcpy(first, mine, sizeof first);
        comm_broadcast(comm, first, sizeof first, 0);
        if (memcmp(first, mine, sizeof mine) != 0)
            rc = rv_fail(err, "%s: rank %d loaded other %s data than rank 0 (from '%s'); give every "
                         "node the same files and config", cfg->source, comm->rank, CHOICE_NAME(dataset_names, cfg->dataset),
                         config_data_dir(cfg));
        if (comm_agree(comm, rc, err))
            return -1;
    }
    r->norm_c = r->train.c;
    memcpy(r->norm_mean, r->train.mean, sizeof r->norm_mean);
    memcpy(r->norm_std, r->train.std, sizeof r->norm_std);
    if (r->train.n < 1 || r->test.n < 1)
        return rv_fail(err, "%s: the data set is empty (data.train_limit / data.test_limit?)",
                       cfg->source);
    if (cfg->batch_size < comm->size)
        return rv_fail(err, "%s: train.batch_size = %d is smaller than the %d MPI ranks; "
                       "use a batch of at least one image per rank", cfg->source, cfg->batch_size,
                       comm->size);
    r->local_batch_max = (cfg->batch_size + comm->size - 1) / comm->size;
    int eval_share = (cfg->eval_batch_size + comm->size - 1) / comm->size;
    int max_batch = r->local_batch_max > eval_share ? r->local_batch_max : eval_share;
    struct model_spec spec = run_model_spec(cfg, &r->train);
    if (check_memory(cfg, &spec, max_batch, err))
        return -1;
    if (model_build(&r->model, &spec, max_batch, threads, err)) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return rv_fail(err, "%s: %s", cfg->source, msg);
    }
    optim_alloc_state(&r->model, cfg->optimizer);
    model_init(&r->model, (uint64_t)cfg->seed);
    return 0;
}

void run_close(struct run *r)
{
    model_free(&r->model);
    dataset_free(&r->train);
    dataset_free(&r->test);
    free(r->history);
    free(r->provenance);
    for (int i = 0; i < r->nrecords; i++)
        stats_free(&r->records[i]);
    memset(r, 0, sizeof *r);
}

static void reduce_over_ranks(double *buf, int n, void *ctx)
{
    comm_sum_doubles(ctx, buf, (size_t)n);
}

const struct bn_reducer *run_bn_reducer(struct run *r, struct bn_reducer *buf)
{
    *buf = (struct bn_reducer){.sum = reduce_over_ranks, .ctx = r->comm};
    return r->cfg.sync_bn && r->comm->size > 1 ? buf : NULL;
}

void run_train_batches(struct run *r, struct batches *b)
{
    const struct config *c = &r->cfg;
    const struct augment aug = {.crop_pad = c->augment_crop, .flip = c->augment_flip};
    batches_open(b, &r->train, c->batch_size, r->comm->rank, r->comm->size, &aug, (uint64_t)c->seed);
    REVIVE_ASSERT(b->cap <= r->local_batch_max); /* the model's activations hold a share */
}

void run_test_batches(struct run *r, struct batches *b)
{
    batches_open_shard(b, &r->test, r->model.max_batch, r->comm->rank, r->comm->size);
}

/* Each rank evaluates a contiguous shard of the test set in chunks; the sums are added. */
void run_evaluate_on(struct run *r, struct batches *test, double *accuracy, double *loss)
{
    struct model *m = &r->model;
    double sums[2] = {0.0, 0.0}; /* loss, correct */
    for (long j = 0; j < test->count; j++) {
        batches_load(test, j);
        model_forward(m, test->x, test->n, false, NULL);
        int correct = 0;
        sums[0] += softmax_ce_forward_backward(NULL, &correct, m->logits, test->y, test->n,
                                               m->spec.classes, 1);
        sums[1] += correct;
    }
    comm_sum_doubles(r->comm, sums, 2);
    *loss = sums[0] / test->d->n;
    *accuracy = sums[1] / test->d->n;
}

void run_evaluate(struct run *r, double *accuracy, double *loss)
{
    struct batches test;
    run_test_batches(r, &test);
    run_evaluate_on(r, &test, accuracy, loss);
    batches_close(&test);
}

void run_add_provenance(struct run *r, int argc, char **argv)
{
    struct provenance *l = realloc(r->provenance, (size_t)(r->nprovenance + 1) * sizeof *l);
    REVIVE_ASSERT(l != NULL);
    r->provenance = l;
    struct provenance *p = &l[r->nprovenance++];
    provenance_current(p, r->comm, r->model.threads, argc, argv);
    if (r->verbose) {
        provenance_print(stdout, p);
        fflush(stdout);
    }
}
