/* L-BFGS, torch.optim.LBFGS's algorithm without line search (include/lbfgs.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "lbfgs.h"

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static double abs_max(const float *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i]));
    return m;
}

struct lbfgs_options lbfgs_defaults(void)
{
    return (struct lbfgs_options){.lr = 1.0, .max_iter = 20, .max_eval = 0, .tolerance_grad = 1e-7,
                                  .tolerance_change = 1e-9, .history = 100};
}

void lbfgs_init(struct lbfgs *o, size_t n, const struct lbfgs_options *opt)
{
    REVIVE_ASSERT(n > 0 && opt->history > 0 && opt->max_iter > 0);
    *o = (struct lbfgs){.opt = *opt, .n = n};
    if (o->opt.max_eval <= 0)
        o->opt.max_eval = o->opt.max_iter * 5 / 4;
    size_t h = (size_t)opt->history;
    o->g = rv_calloc(n, sizeof(float));
    o->prev_g = rv_calloc(n, sizeof(float));
    o->d = rv_calloc(n, sizeof(float));
    o->q = rv_calloc(n, sizeof(float));
    o->s = rv_calloc(h * n, sizeof(float));
    o->y = rv_calloc(h * n, sizeof(float));
    o->ro = rv_calloc(h, sizeof(double));
    o->al = rv_calloc(h, sizeof(double));
}

void lbfgs_free(struct lbfgs *o)
{
    free(o->g);
    free(o->prev_g);
    free(o->d);
    free(o->q);
    free(o->s);
    free(o->y);
    free(o->ro);
    free(o->al);
    memset(o, 0, sizeof *o);
}

/* The k-th oldest pair's ring slot. */
static size_t slot(const struct lbfgs *o, int k)
{
    return (size_t)((o->first + k) % o->opt.history);
}

/* d = −H g by the two-loop recursion, after adding the newest pair (s = t·d, y = g − g_prev)
 * when its curvature y·s is positive enough. */
static void direction(struct lbfgs *o)
{
    size_t n = o->n;
    if (o->n_iter == 1) {
        for (size_t i = 0; i < n; i++)
            o->d[i] = -o->g[i];
        o->nold = 0;
        o->first = 0;
        o->h_diag = 1.0;
        return;
    }
    float *ynew = o->q; /* y = g − prev_g, s = t·d; q is free until the recursion */
    for (size_t i = 0; i < n; i++)
        ynew[i] = o->g[i] - o->prev_g[i];
    double ys = 0.0, yy = dot(ynew, ynew, n);
    for (size_t i = 0; i < n; i++)
        ys += (double)ynew[i] * (float)(o->d[i] * o->t);
    if (ys > 1e-10) {
        if (o->nold == o->opt.history) { /* drop the oldest */
            o->first = (o->first + 1) % o->opt.history;
            o->nold--;
        }
        size_t k = slot(o, o->nold);
        float *sk = o->s + k * n, *yk = o->y + k * n;
        for (size_t i = 0; i < n; i++) {
            sk[i] = (float)(o->d[i] * o->t);
            yk[i] = ynew[i];
        }
        o->ro[k] = 1.0 / ys;
        o->nold++;
        o->h_diag = ys / yy;
    }
    float *q = o->q;
    for (size_t i = 0; i < n; i++)
        q[i] = -o->g[i];
    for (int j = o->nold - 1; j >= 0; j--) {
        size_t k = slot(o, j);
        o->al[k] = dot(o->s + k * n, q, n) * o->ro[k];
        const float *yk = o->y + k * n;
        float a = (float)o->al[k];
        for (size_t i = 0; i < n; i++)
            q[i] -= a * yk[i];
    }
    float *r = o->d;
    for (size_t i = 0; i < n; i++)
        r[i] = (float)(q[i] * o->h_diag);
    for (int j = 0; j < o->nold; j++) {
        size_t k = slot(o, j);
        double be = dot(o->y + k * n, r, n) * o->ro[k];
        const float *sk = o->s + k * n;
        float c = (float)(o->al[k] - be);
        for (size_t i = 0; i < n; i++)
            r[i] += c * sk[i];
    }
}

double lbfgs_step(struct lbfgs *o, float *x, lbfgs_fn f, void *ctx)
{
    size_t n = o->n;
    const struct lbfgs_options *p = &o->opt;
    double orig = f(ctx, x, o->g), loss = orig;
    int evals = 1;
    o->func_evals++;
    o->converged = abs_max(o->g, n) <= p->tolerance_grad;
    if (o->converged)
        return orig;
    for (int it = 0; it < p->max_iter;) {
        it++;
        o->n_iter++;
        direction(o);
        memcpy(o->prev_g, o->g, n * sizeof(float));
        o->prev_loss = loss;
        if (o->n_iter == 1) {
            double l1 = 0.0;
            for (size_t i = 0; i < n; i++)
                l1 += fabs((double)o->g[i]);
            o->t = fmin(1.0, 1.0 / l1) * p->lr;
        } else {
            o->t = p->lr;
        }
        double gtd = dot(o->g, o->d, n);
        if (gtd > -p->tolerance_change) {
            o->converged = true;
            break;
        }
        for (size_t i = 0; i < n; i++)
            x[i] += (float)o->t * o->d[i];
        if (it != p->max_iter) {
            loss = f(ctx, x, o->g);
            evals++;
            o->func_evals++;
        }
        if (it == p->max_iter || evals >= p->max_eval)
            break;
        if (abs_max(o->g, n) <= p->tolerance_grad ||
            abs_max(o->d, n) * fabs(o->t) <= p->tolerance_change ||
            fabs(loss - o->prev_loss) < p->tolerance_change) {
            o->converged = true;
            break;
        }
    }
    return orig;
}
