/* What `pipeline style` and `pipeline style-stats` share (src/tasks/style_setup.c): the config,
 * the prepared images, the frozen network with its taps and the style terms on them.
 *
 *   struct style_setup s;
 *   if (style_setup_open(&s, &cfg, &err)) ...     images read, network built, targets captured
 *   style_normalize_image(&s, x, pixels);          pixels in [0,1] → the network's input
 *   double loss = style_evaluate(&s, x, grad);     forward, every term, backward: d(loss)/dx
 *   style_setup_close(&s);
 *
 * The image is the network's input x (normalized: x = (p − mean_c) / std_c); the network is
 * frozen (mask all zero, so backward computes no weight gradient) and runs in eval mode
 * (BatchNorm with its running statistics: the initial 0 and 1 for random weights). */
#ifndef REVIVE_STYLE_TASK_H
#define REVIVE_STYLE_TASK_H

#include <stdbool.h>

#include "config.h"
#include "error.h"
#include "image.h"
#include "model.h"
#include "style_loss.h"

#define STYLE_MAX_TAPS 16

struct style_setup {
    const struct config *cfg;
    struct image style, content;   /* prepared (downsampled, cropped); content empty for texture */
    int c, h, w;                   /* the network's input */
    float mean[3], std[3];         /* input normalization per channel */
    struct model m;
    int nterms;
    struct style_term term[STYLE_MAX_TAPS];
    struct loss loss[STYLE_MAX_TAPS];
    char tap_name[STYLE_MAX_TAPS][48];
    bool has_style[STYLE_MAX_TAPS], has_content[STYLE_MAX_TAPS];
    char describe[160];            /* the network, for people and the JSON */
    long evaluations;
};

int style_setup_open(struct style_setup *s, const struct config *cfg, struct rv_error *err);
void style_setup_close(struct style_setup *s);
/* x (c·h·w) = (p − mean) / std per channel. */
void style_normalize_image(const struct style_setup *s, float *x, const float *pixels);
/* pixels = clamp(x · std + mean, 0, 1). */
void style_pixels(const struct style_setup *s, float *pixels, const float *x);
/* The total loss at x and, when grad is not NULL, its gradient with respect to x. Each term's
 * last style and content sums stay in its parts. */
double style_evaluate(struct style_setup *s, const float *x, float *grad);

/* "a, b,c" → names (trimmed, at most max, each shorter than 48): the count, or -1 with an error
 * naming key. */
int style_split_names(char names[][48], int max, const char *list, const char *key,
                      struct rv_error *err);
/* The measurements of `pipeline style-stats` on one tap X (c, hw) under one SWAG form
 * (src/tasks/style_stats.c has the definitions); f (c·hw) and g (c·c) are scratch. */
struct tap_stats {
    double max, entropy, entropy_ratio, gram_entropy, gram_entropy_ratio;
};
void style_tap_stats(struct tap_stats *st, const float *x, int c, int hw, enum swag_form form,
                     float alpha, float *f, float *g);

struct cli_args;
/* CONFIG (operand 0) and the --set values, in order, into cfg; validated. One-line errors. */
int style_load_config(struct config *cfg, const struct cli_args *a, struct rv_error *err);
/* The output directory: --out DIR, or run.out_dir/run.name; made if missing. */
int style_out_dir(char *dir, size_t size, const struct config *cfg, const struct cli_args *a,
                  struct rv_error *err);
/* The start of `pipeline style` and `style-stats`: the config, the setup and the output directory
 * (s zeroed first); on an error prints the one line, closes s and returns -1. */
int style_command_open(struct config *cfg, struct style_setup *s, char *dir, size_t size,
                       const struct cli_args *a);

#endif
