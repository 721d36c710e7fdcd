/* Losses read taps (named layer outputs) and write their gradients: the seed of backward.
 *
 *   const char *taps[] = {"layer3.1"};
 *   struct model_spec spec = {..., .taps = taps, .ntaps = 1};       planned with the model
 *   model_build(&m, &spec, batch, threads, &err);
 *   struct loss ce, fm;
 *   loss_softmax_ce(&ce, &m);                                      reads the logits
 *   loss_l2(&fm, &m, "layer3.1", &err);                            reads a tap
 *   model_zero_grad(&m);  model_forward(&m, x, n, true, NULL);
 *   double sum = ce.apply(&ce, &m, n, n, labels);                  writes m.d_logits
 *   model_backward(&m, n, NULL);
 *
 * A loss writes (=) the gradients of the taps it reads, divided by scale_n (the global batch,
 * so the ranks' summed gradients are those of the mean loss), and returns this rank's sum of
 * per-image losses. One loss per tap (a sum of losses on one tap is one loss); taps no loss
 * writes keep the zeros model_zero_grad put there. The logits' gradient is always a seed of
 * backward: when no loss reads the logits, zero it (memset m->d_logits, n·classes floats). */
#ifndef REVIVE_LOSS_H
#define REVIVE_LOSS_H

#include "model.h"

#define LOSS_MAX_TAPS 4

struct loss {
    double (*apply)(const struct loss *l, struct model *m, int n, int scale_n, const void *target);
    int ntaps;
    int tap[LOSS_MAX_TAPS]; /* tensor ids */
};

/* Softmax cross-entropy on the logits; target: const int labels[n]. */
void loss_softmax_ce(struct loss *l, const struct model *m);
/* ½ Σ (tap − target)² over each image's tap (a feature-matching loss); target: const float
 * (n, C, H, W) of the tap's shape. The layer must be one of spec.taps (or the last layer). */
int loss_l2(struct loss *l, const struct model *m, const char *layer, struct rv_error *err);

/* Pixel losses, per image the mean over the tap's C·H·W values of (tap − target)² (mean squared
 * error) or |tap − target| (L1; its gradient at 0 is 0, as PyTorch's sign); target: const float
 * (n, C, H, W). layer: one of spec.taps, or NULL for the last layer's output (an image network's
 * output, m->logits). Returns this rank's sum of the per-image means. */
int loss_mse(struct loss *l, const struct model *m, const char *layer, struct rv_error *err);
int loss_l1(struct loss *l, const struct model *m, const char *layer, struct rv_error *err);

/* The tensor of layer `name` if a loss may read it (a declared tap, or the last layer), else -1. */
int model_tap(const struct model *m, const char *name);

#endif
