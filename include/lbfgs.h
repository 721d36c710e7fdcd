/* L-BFGS as torch.optim.LBFGS (no line search): the optimizer of image-space style transfer.
 *
 *   struct lbfgs o;
 *   struct lbfgs_options opt = lbfgs_defaults();     torch's: lr 1, max_iter 20, history 100, …
 *   lbfgs_init(&o, n, &opt);
 *   while (o.func_evals < 1000 && !o.converged)
 *       lbfgs_step(&o, x, f, ctx);          up to max_iter iterations, as one optimizer.step(closure)
 *   lbfgs_free(&o);
 *
 * f(ctx, x, grad) returns the loss at x and writes its gradient (n floats). The algorithm and its
 * stopping rules are torch's (torch/optim/lbfgs.py, 1.13): the two-loop recursion over the last
 * `history` pairs (s, y) with y·s > 1e-10, H₀ = y·s / y·y, the first step t = min(1, 1/‖g‖₁)·lr,
 * then t = lr; a step ends after max_iter iterations or max_eval evaluations, or when
 * max|g| ≤ tolerance_grad, g·d > −tolerance_change, max|t·d| ≤ tolerance_change or
 * |loss − previous loss| < tolerance_change (then `converged`). Dot products in double (torch's
 * are float32 reductions): the iterates agree with torch's to float rounding, not bit for bit. */
#ifndef REVIVE_LBFGS_H
#define REVIVE_LBFGS_H

#include <stdbool.h>
#include <stddef.h>

struct lbfgs_options {
    double lr;
    int max_iter;          /* iterations per step */
    int max_eval;          /* evaluations per step; 0 = max_iter · 5/4, as torch */
    double tolerance_grad, tolerance_change;
    int history;
};
/* torch's defaults: lr 1, max_iter 20, max_eval 25, tolerance_grad 1e-7, tolerance_change
 * 1e-9, history 100. */
struct lbfgs_options lbfgs_defaults(void);

typedef double (*lbfgs_fn)(void *ctx, const float *x, float *grad);

struct lbfgs {
    struct lbfgs_options opt;
    size_t n;
    float *g, *prev_g, *d, *q;   /* (n): gradient, previous gradient, direction, scratch */
    float *s, *y;                /* (history, n): rings of steps and gradient differences */
    double *ro, *al;             /* (history) */
    int nold, first;             /* pairs held; the oldest's ring slot */
    double t, h_diag, prev_loss;
    long n_iter, func_evals;     /* over all steps (torch's state['n_iter'], ['func_evals']) */
    bool converged;              /* the last step stopped on a tolerance */
};

void lbfgs_init(struct lbfgs *o, size_t n, const struct lbfgs_options *opt);
void lbfgs_free(struct lbfgs *o);
/* One torch optimizer.step(closure): updates x (n) in place; returns the loss at its start. */
double lbfgs_step(struct lbfgs *o, float *x, lbfgs_fn f, void *ctx);

#endif
