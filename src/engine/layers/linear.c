/* Fully connected layer, row-major: out (N × out_f) = in (N × in_f) · Wᵀ + b, W (out_f × in_f).
 * Gradients: dW += doutᵀ · in, db += Σ_n dout, din += dout · W.
 * The classifier's GEMMs (N × 64 × 10) are below OpenBLAS's threading threshold (m·n·k < 2^18),
 * and conv2d leaves OpenBLAS at one thread anyway, so the bits never depend on thread count. */
#include <cblas.h>

#include "error.h"
#include "layers.h"

void linear_init(struct linear *l, int in_f, int out_f)
{
    REVIVE_ASSERT(in_f > 0 && out_f > 0);
    l->in_f = in_f;
    l->out_f = out_f;
}

void linear_forward(float *out, const float *in, const float *w, const float *b,
                    const struct linear *l, int n)
{
    if (n == 0)
        return;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < l->out_f; o++)
            out[(size_t)i * l->out_f + o] = b ? b[o] : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, l->out_f, l->in_f, 1.0f, in, l->in_f,
                w, l->in_f, 1.0f, out, l->out_f);
}

void linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                     const float *w, const struct linear *l, int n)
{
    if (n == 0)
        return;
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l->out_f, l->in_f, n, 1.0f, dout,
                    l->out_f, in, l->in_f, 1.0f, dw, l->in_f);
    if (db)
        for (int o = 0; o < l->out_f; o++) {
            double s = 0.0;
            for (int i = 0; i < n; i++)
                s += dout[(size_t)i * l->out_f + o];
            db[o] += (float)s;
        }
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, l->in_f, l->out_f, 1.0f, dout,
                    l->out_f, w, l->in_f, 1.0f, din, l->in_f);
}
