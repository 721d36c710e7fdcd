/* BatchNorm2d, synchronized over ranks.
 *
 * Training, per channel over the m = N·H·W values of the global batch (all ranks):
 *     mean = Σx / m,  var = Σx² / m − mean²  (biased),  x̂ = (x − mean) / sqrt(var + eps),
 *     y = γ·x̂ + β.
 * Σx, Σx² and the count travel in one buffer of 2C + 1 doubles, so a rank need not know the
 * other ranks' batch sizes, and one reduction serves all channels. Double sums keep
 * Σx²/m − mean² accurate for the ~10⁵ values of a CIFAR channel.
 *
 * Backward, with the same global sums of dy and dy·x̂:
 *     dx = γ·invstd · (dy − Σdy/m − x̂·Σ(dy·x̂)/m),
 * the header's γ·invstd/m · (m·dy − Σdy − x̂·Σ(dy·x̂)) written so no large terms cancel.
 *
 * Channels are independent: OpenMP splits them, each channel's sums run in one fixed order.
 */
#include <math.h>
#include <stdlib.h>

#include "error.h"
#include "layers.h"

/* Per-channel sums run in 8 double lanes (lane = index mod 8 within each plane), added in a
 * fixed tree at the end: independent chains the compiler vectorizes, where one accumulator
 * would serialize every add on its latency (no fast-math here). The order depends only on the
 * shape, so the bits do not depend on the thread count. */
#define BN_LANES 8

static double lanes_total(const double *a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* s += Σx, ss += Σx² over one plane, lane-wise. */
static void plane_sums(double *s, double *ss, const float *x, size_t hw)
{
    size_t j = 0;
    for (; j + BN_LANES <= hw; j += BN_LANES)
        for (int k = 0; k < BN_LANES; k++) {
            double v = x[j + k];
            s[k] += v;
            ss[k] += v * v;
        }
    for (int k = 0; j + (size_t)k < hw; k++) {
        double v = x[j + k];
        s[k] += v;
        ss[k] += v * v;
    }
}

/* sdy += Σdy, sdyx += Σdy·x̂ over one plane, lane-wise (x̂ in float, as the forward's). */
static void plane_grad_sums(double *sdy, double *sdyx, const float *dy, const float *x, float mean,
                            float invstd, size_t hw)
{
    size_t j = 0;
    for (; j + BN_LANES <= hw; j += BN_LANES)
        for (int k = 0; k < BN_LANES; k++) {
            double d = dy[j + k];
            sdy[k] += d;
            sdyx[k] += d * ((x[j + k] - mean) * invstd);
        }
    for (int k = 0; j + (size_t)k < hw; k++) {
        double d = dy[j + k];
        sdy[k] += d;
        sdyx[k] += d * ((x[j + k] - mean) * invstd);
    }
}

/* y = x·scale + shift, then ReLU when relu (`v < 0 ? 0 : v`, as relu_forward: NaN passes). */
static void affine(float *y, const float *x, size_t hw, float scale, float shift, int relu)
{
    if (relu)
        for (size_t j = 0; j < hw; j++) {
            float v = x[j] * scale + shift;
            y[j] = v < 0.0f ? 0.0f : v;
        }
    else
        for (size_t j = 0; j < hw; j++)
            y[j] = x[j] * scale + shift;
}

void batchnorm_init(struct batchnorm *l, int c, int h, int w)
{
    REVIVE_ASSERT(c > 0 && h > 0 && w > 0);
    l->c = c;
    l->h = h;
    l->w = w;
    l->eps = 1e-5f;
    l->momentum = 0.1f;
    l->relu = 0;
}

void batchnorm_forward_train(float *out, float *save_mean, float *save_invstd, float *running_mean,
                             float *running_var, const float *in, const float *gamma,
                             const float *beta, const struct batchnorm *l, int n,
                             const struct bn_reducer *r, double *sums)
{
    /* n = 0 is an empty share of a global batch: this rank adds zeros to the reduction. */
    REVIVE_ASSERT(n >= 0);
    int C = l->c;
    size_t hw = (size_t)l->h * l->w;
    /* Σx (C), Σx² (C), m */
    double *buf = sums ? sums : rv_malloc((2 * (size_t)C + 1) * sizeof(double));

#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double s[BN_LANES] = {0}, ss[BN_LANES] = {0};
        for (int i = 0; i < n; i++)
            plane_sums(s, ss, in + ((size_t)i * C + c) * hw, hw);
        buf[c] = lanes_total(s);
        buf[C + c] = lanes_total(ss);
    }
    buf[2 * C] = (double)n * (double)hw;
    if (r)
        r->sum(buf, 2 * C + 1, r->ctx);
    double m = buf[2 * C];
    REVIVE_ASSERT(m >= 1.0);

#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double mean = buf[c] / m;
        double var = buf[C + c] / m - mean * mean;
        if (var < 0.0)
            var = 0.0; /* rounding, when every value is (nearly) equal */
        double invstd = 1.0 / sqrt(var + (double)l->eps);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        double unbiased = m > 1.0 ? var * m / (m - 1.0) : var;
        running_mean[c] = (float)((1.0 - l->momentum) * running_mean[c] + l->momentum * mean);
        running_var[c] = (float)((1.0 - l->momentum) * running_var[c] + l->momentum * unbiased);
        /* y = x·scale + shift with scale = γ·invstd, shift = β − mean·scale */
        float scale = (float)(gamma[c] * invstd);
        float shift = (float)(beta[c] - mean * gamma[c] * invstd);
        for (int i = 0; i < n; i++)
            affine(out + ((size_t)i * C + c) * hw, in + ((size_t)i * C + c) * hw, hw, scale, shift,
                   l->relu);
    }
    if (buf != sums)
        free(buf);
}

void batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var,
                            const struct batchnorm *l, int n)
{
    int C = l->c;
    size_t hw = (size_t)l->h * l->w;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double invstd = 1.0 / sqrt((double)running_var[c] + (double)l->eps);
        float scale = (float)(gamma[c] * invstd);
        float shift = (float)(beta[c] - running_mean[c] * gamma[c] * invstd);
        for (int i = 0; i < n; i++)
            affine(out + ((size_t)i * C + c) * hw, in + ((size_t)i * C + c) * hw, hw, scale, shift,
                   l->relu);
    }
}

/* Evaluation mode is an affine map per channel, y = scale·x + shift with the running statistics:
 * dx = scale·dy (the forward's float scale), dγ += Σ dy·(x − mean)·invstd, dβ += Σ dy. */
void batchnorm_backward_eval(float *din, int add, float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *gamma, const float *running_mean,
                             const float *running_var, const struct batchnorm *l, int n)
{
    int C = l->c;
    size_t hw = (size_t)l->h * l->w;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double invstd = 1.0 / sqrt((double)running_var[c] + (double)l->eps);
        float scale = (float)(gamma[c] * invstd);
        double sg = 0.0, sb = 0.0;
        for (int i = 0; i < n; i++) {
            size_t at = ((size_t)i * C + c) * hw;
            const float *dy = dout + at, *x = in + at;
            float *dx = din ? din + at : NULL;
            for (size_t j = 0; j < hw; j++) {
                if (dx)
                    dx[j] = (add ? dx[j] : 0.0f) + scale * dy[j];
                sg += (double)dy[j] * ((double)x[j] - running_mean[c]) * invstd;
                sb += dy[j];
            }
        }
        if (dgamma)
            dgamma[c] += (float)sg;
        if (dbeta)
            dbeta[c] += (float)sb;
    }
}

/* The reduction inside is collective: every rank must pass din == NULL or none. add: din +=,
 * else din =. */
static void backward(float *din, int add, float *dgamma, float *dbeta, const float *dout,
                     const float *in, const float *save_mean, const float *save_invstd,
                     const float *gamma, const struct batchnorm *l, int n,
                     const struct bn_reducer *r, double *sums)
{
    if (!din && !dgamma && !dbeta)
        return;
    int C = l->c;
    size_t hw = (size_t)l->h * l->w;
    /* Σdy (C), Σdy·x̂ (C), m */
    double *buf = sums ? sums : rv_malloc((2 * (size_t)C + 1) * sizeof(double));

#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float mean = save_mean[c], invstd = save_invstd[c];
        double ly[BN_LANES] = {0}, lyx[BN_LANES] = {0};
        for (int i = 0; i < n; i++)
            plane_grad_sums(ly, lyx, dout + ((size_t)i * C + c) * hw, in + ((size_t)i * C + c) * hw,
                            mean, invstd, hw);
        double sdy = lanes_total(ly), sdyx = lanes_total(lyx);
        buf[c] = sdy;
        buf[C + c] = sdyx;
        /* this rank's share; the gradient allreduce adds the other ranks' */
        if (dgamma)
            dgamma[c] += (float)sdyx;
        if (dbeta)
            dbeta[c] += (float)sdy;
    }
    buf[2 * C] = (double)n * (double)hw;
    if (!din) {
        if (buf != sums)
            free(buf);
        return;
    }
    if (r)
        r->sum(buf, 2 * C + 1, r->ctx);
    double m = buf[2 * C];

#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float mean = save_mean[c], invstd = save_invstd[c];
        float a = gamma[c] * invstd;
        float mdy = (float)(buf[c] / m), mdyx = (float)(buf[C + c] / m);
        for (int i = 0; i < n; i++) {
            const float *x = in + ((size_t)i * C + c) * hw;
            const float *dy = dout + ((size_t)i * C + c) * hw;
            float *dx = din + ((size_t)i * C + c) * hw;
            if (add)
                for (size_t j = 0; j < hw; j++) {
                    float xhat = (x[j] - mean) * invstd;
                    dx[j] += a * (dy[j] - mdy - xhat * mdyx);
                }
            else
                for (size_t j = 0; j < hw; j++) {
                    float xhat = (x[j] - mean) * invstd;
                    dx[j] = a * (dy[j] - mdy - xhat * mdyx);
                }
        }
    }
    if (buf != sums)
        free(buf);
}

void batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *save_mean, const float *save_invstd, const float *gamma,
                        const struct batchnorm *l, int n, const struct bn_reducer *r, double *sums)
{
    backward(din, 1, dgamma, dbeta, dout, in, save_mean, save_invstd, gamma, l, n, r, sums);
}

void batchnorm_backward_to(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *save_mean, const float *save_invstd,
                           const float *gamma, const struct batchnorm *l, int n,
                           const struct bn_reducer *r, double *sums)
{
    backward(din, 0, dgamma, dbeta, dout, in, save_mean, save_invstd, gamma, l, n, r, sums);
}

