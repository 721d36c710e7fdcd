/* What a stage trains: one file per kind under stages/, each setting the model's mask.
 *
 *   const struct stage_kind *k = stage_find(STAGE_BN);
 *   struct stage_args a = {.seed = seed, .per_channel_k = 2};
 *   k->set_trainable(&m, &a);        m.mask: 1 = trainable, 0 = frozen; calls model_mask_changed
 *
 * Kinds: all, bn (γ and β only), bn_output (γ, β and the output layer), output (the output layer
 * only), per_channel (k random conv weights per output channel, the same count as BN-only when
 * k = 2), conv_fraction (γ, β and a fraction f of all conv weights, chosen by seed).
 */
#ifndef REVIVE_STAGES_H
#define REVIVE_STAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "model.h"
#include "stats.h"

struct stage_args {
    uint64_t seed;
    int per_channel_k;
    double conv_fraction;
    bool train_output;         /* conv_fraction: also the output layer */
    bool nested;               /* conv_fraction: keep the conv weights m->mask holds (the previous
                                  stage's) and add to them */
    const uint8_t *prefer;     /* conv_fraction: per filter (model order), chosen first; or NULL */
};

struct stage_kind {
    const char *help;          /* (its name: stage_kind_names, config.h) */
    void (*set_trainable)(struct model *m, const struct stage_args *a);
};

/* The kind of an enum value (config.h: enum stage_kind_id, names in stage_kind_names). */
const struct stage_kind *stage_find(enum stage_kind_id id);

/* Shared by the kinds (stages/mask.c). */
void mask_clear(struct model *m);
void mask_kind(struct model *m, enum param_kind kind); /* every entry of every param of kind */
void mask_kind_set(struct model *m, enum param_kind kind, bool on);
/* Exactly round(f · total conv weights) conv weights, those with the smallest scores
 * u(seed, RNG_MASK, param, index): so masks for growing f are nested. */
void mask_conv_fraction(struct model *m, uint64_t seed, double f);
size_t mask_conv_count(const struct model *m, double f);
/* Grows the conv part of m->mask (the previous stage's choice) to round(f · total) weights:
 * new weights by score, or first from the filters flagged in prefer (per filter, model order;
 * NULL = none). The result contains the old choice. */
void mask_conv_grow(struct model *m, uint64_t seed, double f, const uint8_t *prefer);

/* Sets every disabled γ to 0 (the filter switched off; "disabled" as stats_disabled decides:
 * |γ| < τ, or τ × the unit's largest |γ| when relative); returns how many (stages/clamp.c). */
int gamma_clamp(struct model *m, struct stats_threshold t);

/* The transition between stages (stages/reinit.c): what a re-initialized filter gets. Three
 * independent choices, each a [pipeline] key:
 *   gamma:   initial (the value it started with), fresh (a new draw from the initial distribution,
 *            under rng_stream(RNG_REINIT, stage, γ param, filter); for the ~τ of filters that start
 *            below τ, initial would re-disable them at once), zero, value (gamma_value), or median
 *            (the unit's median |γ| at the transition, with the old γ's sign);
 *   beta:    initial (0) or keep (its trained value);
 *   weights: fresh (a draw from the initial distribution times weight_scale), orthogonal (that
 *            draw made orthogonal to the unit's live filters, same norm), or keep (the trained
 *            weights and running statistics).
 * Channel Regeneration = {median, keep, keep}; the function-preserving reset = {zero, keep, fresh}. */

struct reinit_options {
    enum reinit_gamma gamma;
    double gamma_value;  /* REINIT_GAMMA_VALUE */
    enum reinit_beta beta;
    enum reinit_weights weights;
    double weight_scale; /* factor on the fresh conv weights; 1 = the initial distribution */
};
extern const struct reinit_options reinit_defaults; /* initial, initial, fresh, scale 1 */
/* pipeline.reinit_* of c. */
struct reinit_options reinit_options_of(const struct config *c);

/* Every filter flagged in `which` (per filter, model order) gets conv weights, γ and β as o says,
 * momentum cleared and, unless its weights are kept, running statistics reset (mean 0, var 1).
 * Returns the number of filters re-initialized; *not_orthogonal (may be NULL) = how many of them,
 * with weights = orthogonal, got the plain fresh draw because their unit's live filters span
 * every direction. */
int reinit_filters(struct model *m, uint64_t seed, int stage, const uint8_t *which,
                   const struct reinit_options *o, int *not_orthogonal);

extern const struct stage_kind stage_all, stage_bn, stage_bn_output, stage_output,
    stage_per_channel, stage_conv_fraction;

#endif
