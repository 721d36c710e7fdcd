/* Walking the schedule: stage start (re-initialize, choose what trains), training, stage end
 * (statistics, checkpoint). See pipeline.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "pipeline.h"
#include "stages.h"

int schedule_for_run(struct schedule *s, const struct run *r, struct rv_error *err)
{
    const struct config *c = &r->cfg;
    if (r->nrecords != r->stage + 1)
        return schedule_build(s, c, err);
    /* At a stage end: the finished stages as they were recorded, then what the (possibly
     * changed) config says comes after the last one. */
    memset(s, 0, sizeof *s);
    int done = r->nrecords;
    /* checkpoint_load checked the position: 0 ≤ stage < SCHEDULE_MAX_STAGES. */
    REVIVE_ASSERT(done >= 1 && done <= SCHEDULE_MAX_STAGES);
    for (int k = 0; k < done; k++) {
        struct stage_plan *p = &s->stage[k];
        /* The kind as the checkpoint names it: parsed here, the one place it becomes an enum. */
        int kind = CHOICE_INDEX(stage_kind_names, r->records[k].kind);
        if (kind < 0)
            return rv_fail(err, "%s: stats/stage-%02d has kind '%.40s', which is not a stage kind "
                           "(all, bn, bn_output, output, per_channel, conv_fraction); the checkpoint "
                           "is damaged or from another program", c->source, k, r->records[k].kind);
        p->kind = (enum stage_kind_id)kind;
        p->fraction = r->records[k].fraction;
        p->train_output = p->kind == STAGE_CONV_FRACTION && c->train_output;
        for (int i = 0; i < r->nhistory; i++)
            p->epochs += r->history[i].stage == k;
    }
    return schedule_continue(s, done, c, err);
}

size_t pipeline_set_trainable(struct run *r, const struct schedule *s, int k, const uint8_t *reinit)
{
    const struct stage_plan *plan = &s->stage[k];
    const struct config *c = &r->cfg;
    const struct stage_args a = {
        .seed = (uint64_t)c->seed,
        .per_channel_k = c->per_channel_k,
        .conv_fraction = plan->fraction,
        .train_output = plan->train_output,
        /* Nested: keep the conv weights the previous stage trained, add new ones. */
        .nested = c->pipeline && k > 0 && s->stage[k - 1].kind == STAGE_CONV_FRACTION,
        .prefer = c->pipeline && c->select == SELECT_REINIT_FIRST ? reinit : NULL,
    };
    stage_find(plan->kind)->set_trainable(&r->model, &a);
    return model_trainable(&r->model);
}

void schedule_describe(char *out, size_t cap, const struct stage_plan *p, const struct config *c)
{
    switch (p->kind) {
    case STAGE_CONV_FRACTION:
        snprintf(out, cap, "BN + %g%% of conv%s", 100.0 * p->fraction, p->train_output ? " + output" : "");
        break;
    case STAGE_BN: snprintf(out, cap, "BN only"); break;
    case STAGE_PER_CHANNEL: snprintf(out, cap, "per_channel (k = %d)", c->per_channel_k); break;
    default: snprintf(out, cap, "%s", CHOICE_NAME(stage_kind_names, p->kind)); break;
    }
}

int schedule_trainable(size_t *trainable, size_t *total, const struct schedule *s,
                       const struct model_spec *spec, const struct config *c, struct rv_error *err)
{
    /* A model of its own (parameters only): counting changes no run's mask. */
    struct model m;
    if (model_build(&m, spec, 0, 1, err))
        return -1;
    for (int k = 0; k < s->n; k++) {
        const struct stage_plan *p = &s->stage[k];
        /* The count of a nested conv_fraction stage does not depend on which weights it adds. */
        const struct stage_kind *kind = stage_find(p->kind);
        struct stage_args a = {.seed = (uint64_t)c->seed, .per_channel_k = c->per_channel_k,
                               .conv_fraction = p->fraction, .train_output = p->train_output};
        kind->set_trainable(&m, &a);
        trainable[k] = model_trainable(&m);
    }
    *total = model_count(&m).total;
    model_free(&m);
    return 0;
}

void schedule_print(const struct schedule *s, const size_t *trainable, size_t total,
                    const struct config *c, FILE *f)
{
    fprintf(f, "schedule: %d stage%s, %zu parameters\n", s->n, s->n > 1 ? "s" : "", total);
    for (int k = 0; k < s->n; k++) {
        const struct stage_plan *p = &s->stage[k];
        char what[320];
        schedule_describe(what, sizeof what, p, c);
        fprintf(f, "  stage %d: %-28s %4d epoch%s  %10zu trainable (%.3f%%)", k, what, p->epochs,
                p->epochs == 1 ? " " : "s", trainable[k], 100.0 * trainable[k] / total);
        if (c->pipeline && c->stage_lr.n > 0)
            fprintf(f, "  lr %g", p->lr);
        fputc('\n', f);
    }
    fflush(f);
}

void conv_algos_print(const struct model *m, const struct config *c, FILE *f)
{
    struct conv_kind { int k, stride, stem, n; enum conv_algo algo; } kind[16];
    int nkinds = 0;
    for (int u = 0; u < m->nunits; u++) {
        const struct conv2d *l = model_unit_conv(m, u);
        if (!l)
            continue;
        enum conv_algo algo = conv2d_algo(l);
        int i = 0, stem = u == 0 && l->in_c == m->spec.in_c;
        while (i < nkinds && !(kind[i].k == l->k && kind[i].stride == l->stride &&
                               kind[i].stem == stem && kind[i].algo == algo))
            i++;
        if (i == nkinds) {
            REVIVE_ASSERT(nkinds < (int)(sizeof kind / sizeof kind[0]));
            kind[nkinds++] = (struct conv_kind){l->k, l->stride, stem, 0, algo};
        }
        kind[i].n++;
    }
    fprintf(f, "convolutions (train.conv_algo = %s", CHOICE_NAME(conv_algo_names, c->conv_algo));
    if (c->conv_algo == CONV_ALGO_AUTO)
        fprintf(f, ", rule %d", (int)m->spec.conv_auto_rule);
    fprintf(f, "):");
    for (int i = 0; i < nkinds; i++) {
        const char *algo = CHOICE_NAME(conv_algo_names, kind[i].algo);
        if (kind[i].stem)
            fprintf(f, "%s stem %s", i ? "," : "", algo);
        else
            fprintf(f, "%s %dx%d stride %d %s (%d)", i ? "," : "", kind[i].k, kind[i].k,
                    kind[i].stride, algo, kind[i].n);
    }
    fprintf(f, "\n");
    fflush(f);
}

/* Test accuracy with every disabled γ set to 0 (gamma_clamp, stages/clamp.c): does switching the filters off
 * cost anything? */
static double clamped_accuracy(struct run *r, struct stats_threshold t)
{
    struct model *m = &r->model;
    float *keep = rv_malloc(m->total * sizeof(float));
    memcpy(keep, m->values, m->total * sizeof(float));
    gamma_clamp(m, t);
    double acc, loss;
    run_evaluate(r, &acc, &loss);
    memcpy(m->values, keep, m->total * sizeof(float));
    free(keep);
    return acc;
}

/* The filters re-initialized before stage k: disabled at the end of stage k − 1 by the threshold
 * (pipeline.threshold, threshold_mode) of the current config, so a branch resumed with another
 * threshold re-initializes by it. (In a straight run these are exactly stage k − 1's disabled
 * flags.) NULL for stage 0. */
static uint8_t *transition_flags(const struct run *r, int k)
{
    if (k == 0 || r->nrecords < k)
        return NULL;
    const struct stage_record *prev = &r->records[k - 1];
    uint8_t *flags = rv_malloc((size_t)prev->nfilters);
    stats_record_disabled(flags, prev, &r->model, stats_threshold_of(&r->cfg));
    return flags;
}

/* The transition before stage k > 0: re-initialize the flagged filters (unless pipeline.reinit
 * = false, the control, which changes nothing), measure the test accuracy, then with
 * pipeline.recalibrate_batches = K recompute the BatchNorm running statistics and measure again.
 * Recalibration runs in the control too, so every variant's transition is measured alike.
 * Returns the number of filters re-initialized, or −1 with err set; *recal: batches used. */
static int transition(struct run *r, int k, const uint8_t *flags, int *recal, struct rv_error *err)
{
    const struct config *c = &r->cfg;
    int reinit = 0, spanned = 0;
    if (c->reinit) {
        const struct reinit_options o = reinit_options_of(c);
        reinit = reinit_filters(&r->model, (uint64_t)c->seed, k, flags, &o, &spanned);
        if (spanned && r->verbose)
            printf("stage %d: %d of %d re-initialized filters got a plain fresh draw, not an orthogonal "
                   "one: their unit's live filters span every direction of its input\n", k, spanned, reinit);
    }
    double loss;
    run_evaluate(r, &r->acc_start, &loss);
    if (c->recalibrate_batches > 0) {
        *recal = run_recalibrate(r, c->recalibrate_batches, k);
        run_evaluate(r, &r->acc_start_recal, &loss);
    }
    return reinit;
}

static int stage_start(struct run *r, const struct schedule *s, struct rv_error *err)
{
    int k = r->stage;
    const struct stage_plan *plan = &s->stage[k];
    uint8_t *flags = transition_flags(r, k);
    int reinit = 0, flagged = 0, recal = 0;
    /* A new stage is a new optimizer: momentum starts from zero, as the lr schedule restarts. */
    memset(r->model.momentum, 0, r->model.total * sizeof(float));
    if (r->model.moment2)
        memset(r->model.moment2, 0, r->model.total * sizeof(float));
    r->acc_start = r->acc_start_recal = -1.0;
    if (flags) {
        for (int f = 0; f < r->records[k - 1].nfilters; f++)
            flagged += flags[f];
        if ((reinit = transition(r, k, flags, &recal, err)) < 0) {
            free(flags);
            return -1;
        }
    }
    /* In the control the flags still choose conv weights with select = reinit_first: the same
     * trainable set as the variants that re-initialize, so only the re-initialization differs. */
    size_t trainable = pipeline_set_trainable(r, s, k, flags);
    free(flags);
    if (r->verbose) {
        char what[320];
        schedule_describe(what, sizeof what, plan, &r->cfg);
        printf("stage %d: %s, %d epochs, %zu of %zu parameters trainable", k, what, plan->epochs,
               trainable, r->model.total);
        if (k > 0 && r->cfg.reinit)
            printf("; re-initialized %d filters (test accuracy after: %.2f%%", reinit, 100.0 * r->acc_start);
        else if (k > 0)
            printf("; %d disabled filters left as they are (pipeline.reinit = false; test accuracy: %.2f%%",
                   flagged, 100.0 * r->acc_start);
        if (k > 0 && r->acc_start_recal >= 0)
            printf(", after recalibrating BatchNorm on %d batch%s: %.2f%%", recal, recal == 1 ? "" : "es",
                   100.0 * r->acc_start_recal);
        if (k > 0)
            printf(")");
        printf("\n");
        fflush(stdout);
    }
    return 0;
}

static int stage_end(struct run *r, const struct schedule *s, struct rv_error *err)
{
    int k = r->stage;
    const struct stage_plan *plan = &s->stage[k];
    if (r->nrecords <= k) {
        struct stage_record *rec = &r->records[k];
        uint8_t *prev = transition_flags(r, k);
        stats_record(rec, &r->model, k, stats_threshold_of(&r->cfg), prev);
        free(prev);
        snprintf(rec->kind, sizeof rec->kind, "%s", CHOICE_NAME(stage_kind_names, plan->kind));
        rec->fraction = plan->fraction;
        rec->trainable = model_trainable(&r->model);
        rec->acc_start = r->acc_start;
        rec->acc_start_recal = r->acc_start_recal;
        if (r->cfg.reinit)
            rec->reinit_applied = stats_count(rec, 0, rec->nfilters).reinit;
        double loss;
        run_evaluate(r, &rec->acc_end, &loss);
        rec->acc_clamped = clamped_accuracy(r, stats_threshold_of(&r->cfg));
        r->nrecords = k + 1;
        char path[RUN_PATH_MAX], file[32];
        snprintf(file, sizeof file, "stage-%02d.h5", k);
        run_path(r, file, path);
        if (checkpoint_save(r, path, err))
            return -1;
        if (r->verbose) {
            struct filter_counts c = stats_count(rec, 0, rec->nfilters);
            char tau[48];
            stats_threshold_text(tau, sizeof tau, stats_threshold_of(&r->cfg));
            printf("stage %d done: test %.2f%%, with |γ| < %s clamped to 0: %.2f%%; disabled %d of %d "
                   "filters (%.1f%%)", k, 100.0 * rec->acc_end, tau,
                   100.0 * rec->acc_clamped, c.disabled, c.filters, 100.0 * c.disabled / c.filters);
            if (k > 0 && rec->reinit_applied == 0 && c.reinit > 0) /* the control */
                printf(", %d of the %d flagged at the transition (left as they were) recovered",
                       c.revived, c.reinit);
            else if (k > 0)
                printf(", revived %d of %d re-initialized", c.revived, c.reinit);
            printf("; saved %s\n", path);
            fflush(stdout);
        }
    }
    return 0;
}

int pipeline_continue(struct run *r, const struct schedule *s, struct rv_error *err)
{
    if (r->stage < 0 || r->stage >= s->n)
        return rv_fail(err, "%s: the run stands at stage %d but the schedule has %d stages; the "
                       "checkpoint is damaged or belongs to another config", r->cfg.source, r->stage, s->n);
    const int B = r->cfg.batch_size, epochs = s->stage[r->stage].epochs;
    const long spe = (r->train.n + B - 1) / B, first = (long)r->epoch * spe;
    bool at_end = r->epoch == epochs;
    if (r->epoch < 0 || r->epoch > epochs || r->step < first || r->step >= first + spe ||
        (at_end && r->step != first) || r->nrecords < r->stage || r->nrecords > r->stage + 1 ||
        (r->nrecords == r->stage + 1 && !at_end))
        return rv_fail(err, "%s: the checkpoint stands at stage %d, epoch %d, step %ld with %d finished "
                       "stages, which does not fit this config (%ld steps an epoch, %d epochs in stage %d); "
                       "it is damaged, or train.batch_size or the data changed", r->cfg.source,
                       r->stage, r->epoch, r->step, r->nrecords, spe, epochs, r->stage);
    if (r->seed_only && r->epoch < s->stage[r->stage].epochs)
        return rv_fail(err, "%s: a seed-only export holds no optimizer state, so it can resume only "
                       "from a stage end; resume from the full checkpoint", r->cfg.source);
    for (;;) {
        const struct stage_plan *plan = &s->stage[r->stage];
        if (r->epoch == 0 && r->step == 0 && stage_start(r, s, err))
            return -1;
        if (r->epoch < plan->epochs && run_train_stage(r, plan, err))
            return -1;
        if (r->stopped)
            return 0;
        if (stage_end(r, s, err))
            return -1;
        if (r->stage + 1 >= s->n)
            return 0;
        r->stage++;
        r->epoch = 0;
        r->step = 0;
    }
}
