/* Filter-revival statistics: what happened to every filter at every stage end.
 *
 * A filter is output channel c of a unit (conv + BN) with its γ_c, β_c; filters are numbered
 * unit by unit (model order), 0 … nfilters−1. At the end of stage k, with τ the threshold:
 *   disabled        |γ| < τ (pipeline.threshold_mode = absolute), or |γ| < τ · max |γ| over the
 *                   filter's unit (relative); stats_disabled is the one place that decides it,
 *                   for the flags, the per-epoch share, the clamp and re-initialization
 *   reinit          flagged at the transition before stage k (= disabled at k−1's end) and so
 *                   re-initialized, unless pipeline.reinit = false (the control: reinit_applied
 *                   = 0, and the flags mark the filters that would have been re-initialized)
 *   revived         reinit and not disabled now (in the control: recovered without help)
 *   died_again      reinit and disabled now (in the control: stayed disabled)
 *   newly_disabled  disabled now, not re-initialized before this stage (alive at its start)
 *
 *   struct stage_record rec;
 *   stats_record(&rec, &model, k, stats_threshold_of(&cfg), prev ? prev->disabled : NULL);
 *   stats_unit_counts(&rec, &model, u, &counts);
 */
#ifndef REVIVE_STATS_H
#define REVIVE_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "model.h"

#define STATS_HIST_BINS 15 /* log10|γ|: (≤−6], (−6,−5.5] … (0,0.5], (>0.5) */

/* What "disabled" means: |γ| < tau, or |γ| < tau · (the unit's largest |γ|). */
struct stats_threshold {
    double tau;
    enum threshold_mode mode;
};
/* pipeline.threshold and pipeline.threshold_mode of c. */
struct stats_threshold stats_threshold_of(const struct config *c);
/* τ as text for messages: "0.01", or "0.01·max" in relative mode (τ times the unit's largest |γ|). */
void stats_threshold_text(char *buf, size_t size, struct stats_threshold t);
/* The disabled flags of one unit's n filters with these γ: out[c] = |gamma[c]| < cut, with
 * cut = t.tau (absolute) or t.tau · max_c |gamma[c]| (relative; a unit whose γ are all 0 has
 * cut 0 and no disabled filter). Returns the number disabled. THE definition of "disabled". */
int stats_disabled(uint8_t *out, const float *gamma, int n, struct stats_threshold t);
/* The same for every filter of m (model order, stats_nfilters entries), from the model's γ. */
int stats_model_disabled(uint8_t *out, const struct model *m, struct stats_threshold t);
/* (Setting every disabled γ to 0 is gamma_clamp, stages/clamp.c: the one clamp.) */

struct stage_record {
    int stage;
    char kind[32];
    double fraction;
    size_t trainable;
    double threshold;   /* τ (with the run's pipeline.threshold_mode, stored in /config) */
    double acc_start;   /* right after the re-initialization before this stage; −1 for stage 0 */
    double acc_start_recal; /* the same after BatchNorm recalibration (pipeline.recalibrate_batches);
                               −1 for stage 0 and when recalibration is off */
    int reinit_applied; /* filters actually re-initialized before this stage: the count of `reinit`
                           flags, or 0 with pipeline.reinit = false (the control) */
    double acc_end;     /* at the stage end */
    double acc_clamped; /* at the stage end with every |γ| < τ set to 0 */
    int nfilters;
    float *gamma;       /* (nfilters) γ at the stage end */
    uint8_t *disabled, *reinit; /* (nfilters) */
};

struct filter_counts {
    int filters, disabled, reinit, revived, died_again, newly_disabled;
};

int stats_nfilters(const struct model *m);
int stats_unit_offset(const struct model *m, int unit);
/* Fills rec from the model's γ (allocates its arrays). prev_disabled: the previous stage's
 * disabled flags (NULL for the first stage: nothing was re-initialized). */
void stats_record(struct stage_record *rec, const struct model *m, int stage, struct stats_threshold t,
                  const uint8_t *prev_disabled);
/* The disabled flags of a record's γ (rec->gamma) under t, into out (nfilters): at a transition,
 * the filters to re-initialize by the threshold in force now. */
void stats_record_disabled(uint8_t *out, const struct stage_record *rec, const struct model *m,
                           struct stats_threshold t);
void stats_free(struct stage_record *rec);
/* Counts over filters [first, first + count). */
struct filter_counts stats_count(const struct stage_record *rec, int first, int count);
/* Histogram of log10|γ| into STATS_HIST_BINS bins; edges[i] is the upper edge of bin i. */
void stats_histogram(const struct stage_record *rec, int first, int count, int *bins);
double stats_hist_edge(int i);

/* The |γ| distribution over all filters of m, for the per-epoch history: *below = share of
 * disabled filters under t (0…1), q[i] = quantile STATS_GAMMA_QUANTILES[i] of |γ|, interpolated linearly between
 * order statistics as numpy.quantile's default does: position p·(n−1) in the sorted values. */
#define STATS_GAMMA_NQ 3
extern const double STATS_GAMMA_QUANTILES[STATS_GAMMA_NQ]; /* 0.1, 0.5, 0.9 */
void stats_gamma_summary(const struct model *m, struct stats_threshold t, double *below, double *q);

#endif
