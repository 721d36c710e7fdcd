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
        double s = 0.0, ss = 0.0;
        for (int i = 0; i < n; i++) {
            const float *x = in + ((size_t)i * C + c) * hw;
            for (size_t j = 0; j < hw; j++) {
                s += x[j];
                ss += (double)x[j] * x[j];
            }
        }
        buf[c] = s;
        buf[C + c] = ss;
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
        double sdy = 0.0, sdyx = 0.0;
        for (int i = 0; i < n; i++) {
            const float *x = in + ((size_t)i * C + c) * hw;
            const float *dy = dout + ((size_t)i * C + c) * hw;
            for (size_t j = 0; j < hw; j++) {
                sdy += dy[j];
                sdyx += (double)dy[j] * ((x[j] - mean) * invstd);
            }
        }
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
