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

/* Sets every |γ| < tau to 0 (the filter switched off); returns how many (stages/clamp.c). */
int gamma_clamp(struct model *m, double tau);

/* The transition between stages (stages/reinit.c): what a re-initialized filter gets.
 *   gamma: initial (the value it started with), fresh (a new draw from the initial distribution,
 *          under rng_stream(RNG_REINIT, stage, γ param, filter); for the ~τ of filters that start
 *          below τ, initial would re-disable them at once), zero, or value (gamma_value);
 *   beta:  initial (0) or keep (its trained value);
 *   conv weights: a fresh draw from the initial distribution times weight_scale. */

struct reinit_options {
    enum reinit_gamma gamma;
    double gamma_value;  /* REINIT_GAMMA_VALUE */
    enum reinit_beta beta;
    double weight_scale; /* factor on the fresh conv weights; 1 = the initial distribution */
};
extern const struct reinit_options reinit_defaults; /* initial, initial, scale 1 */


/* Every filter flagged in `which` (per filter, model order) gets fresh conv weights under
 * rng_stream(RNG_REINIT, stage, param, filter), γ and β as o says, running statistics reset
 * (mean 0, var 1), and momentum cleared. Returns the number of filters re-initialized. */
int reinit_filters(struct model *m, uint64_t seed, int stage, const uint8_t *which,
                   const struct reinit_options *o);

extern const struct stage_kind stage_all, stage_bn, stage_bn_output, stage_output,
    stage_per_channel, stage_conv_fraction;

#endif
