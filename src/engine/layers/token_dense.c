/* A Dense layer over the tokens (MLP-Mixer's token mixing): in NCHW one image is (C, S) row-major
 * with S = H·W positions, so the Dense that maps S tokens to S' for every channel, with weights
 * shared over channels, is a linear layer on N·C rows of length S:
 *   out (N·C, S') = in (N·C, S) · Wᵀ + b,   W (S', S),  b (S')
 * (no transpose: the reference's swapaxes to (C, S) is NCHW's own layout). */
#include "layers.h"

void token_dense_forward(float *out, const float *in, const float *w, const float *b,
                         const struct linear *l, int n, int c)
{
    linear_forward(out, in, w, b, l, n * c);
}

void token_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                          const float *w, const struct linear *l, int n, int c)
{
    linear_backward(din, dw, db, dout, in, w, l, n * c);
}
