/* Gram-matrix style loss and content loss on taps, and the SWAG transform (Gatys et al. 2016;
 * Wang, Li & Vasconcelos, CVPR 2021, code peiwang062/swag), in the loss interface (loss.h).
 *
 *   const char *taps[] = {"layer3.1"};
 *   spec.taps = taps; spec.ntaps = 1; spec.input_grad = true;  model_build(&m, &spec, 1, ...)
 *   struct style_term t;  struct loss l;
 *   style_term_init(&t, &m, "layer3.1", SWAG_SOFTMAX_ALL, 0.001f, &err);
 *   t.style_weight = 1e6;  t.content_weight = 1;
 *   model_forward(&m, style_image, 1, false, NULL);   style_term_capture_gram(&t, &m);
 *   model_forward(&m, content_image, 1, false, NULL); style_term_capture_content(&t, &m, 1);
 *   loss_style(&l, &t);
 *   model_zero_grad(&m);  memset(m.d_logits, 0, ...);  model_forward(&m, x, 1, false, NULL);
 *   double sum = l.apply(&l, &m, 1, 1, &t);           writes the tap's gradient
 *   model_backward(&m, 1, NULL);                       d(loss)/d(x) in m.d_x
 *
 * Per image, with X the tap (C, H·W) and F = T(X) its SWAG transform:
 *   G = F Fᵀ / (C·H·W)                                    (the reference's gram_matrix, batch 1)
 *   style   = w_s · mean_ij (G − A)²        = w_s / C² · Σ (G − A)²        A: the target Gram
 *   content = w_c · mean (F − P)²           = w_c / (C·H·W) · Σ (F − P)²   P: target features
 * and the gradients
 *   dL/dG = 2 w_s (G − A) / C²;   dL/dF = 2 (dL/dG) F / (C·H·W) + 2 w_c (F − P) / (C·H·W)
 * (dL/dG is symmetric, so Gᵀ's term doubles), then dL/dX through T:
 *   none:              F = X,                     dX = dF
 *   scale:             F = α X,                   dX = α dF          (the current code, α = 0.001)
 *   softmax_all:       F = softmax over all C·H·W entries of the image's tap (the paper's eq.)
 *   softmax_channels:  F = softmax over the C channels at each position (the first code release,
 *                      nn.Softmax2d)
 *   a softmax s:       dX = s ⊙ (dF − Σ s ⊙ dF), the sum over the softmax's own group. */
#ifndef REVIVE_STYLE_LOSS_H
#define REVIVE_STYLE_LOSS_H

#include "error.h"
#include "loss.h"
#include "model.h"

enum swag_form { SWAG_NONE, SWAG_SOFTMAX_ALL, SWAG_SOFTMAX_CHANNELS, SWAG_SCALE, SWAG_COUNT };
extern const char *const swag_names[SWAG_COUNT]; /* "none", "softmax_all", "softmax_channels", "scale" */

/* One tap's style and content loss: its settings, its targets and its scratch. */
struct style_term {
    int tap;                    /* tensor id */
    int c, hw;                  /* the tap's channels and positions */
    enum swag_form swag;
    float alpha;                /* SWAG_SCALE's factor */
    double style_weight;        /* w_s; 0 = no style part (then no target Gram needed) */
    double content_weight;      /* w_c; 0 = no content part */
    float *gram;                /* (C, C) the target Gram A, of transformed features */
    float *content;             /* (max_batch, C, H, W) the target transformed features P */
    double *parts;              /* (2): the last apply's style and content sums */
    /* scratch for one image */
    float *f, *df;              /* (C, H·W) */
    float *g;                   /* (C, C) */
};

/* Allocates for layer's tap (one of spec.taps); -1 + a one-line error if it is not a tap. */
int style_term_init(struct style_term *t, const struct model *m, const char *layer,
                    enum swag_form swag, float alpha, struct rv_error *err);
void style_term_free(struct style_term *t);
/* The target Gram from the tap's values of image 0 of the last forward. */
void style_term_capture_gram(struct style_term *t, const struct model *m);
/* The target features from the tap's values of images 0..n−1 of the last forward. */
void style_term_capture_content(struct style_term *t, const struct model *m, int n);
/* A loss on t's tap; apply's target is t itself (const struct style_term *). */
void loss_style(struct loss *l, const struct style_term *t);

/* The pieces, for one image (tests, style-stats): */
/* F = T(X), X and F (C, hw). */
void style_transform(float *f, const float *x, int c, int hw, enum swag_form swag, float alpha);
/* dX = dT/dX applied to dF (written), given F = T(X). */
void style_transform_backward(float *dx, const float *df, const float *f, int c, int hw,
                              enum swag_form swag, float alpha);
/* G = F Fᵀ / (C·hw), (C, C). */
void style_gram(float *g, const float *f, int c, int hw);

#endif
