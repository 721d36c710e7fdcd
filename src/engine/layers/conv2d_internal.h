/* What conv2d.c and conv2d_winograd.c share; not part of the layer API (layers.h). */
#ifndef REVIVE_CONV2D_INTERNAL_H
#define REVIVE_CONV2D_INTERNAL_H

#include "layers.h"

/* Floats of scratch per chunk of images: 1 MiB, so a chunk's columns or tiles stay in L2. */
#define CONV2D_CHUNK_FLOATS ((size_t)1 << 18)

/* Threads for a parallel loop: what OpenMP would use, capped by the workspace's slots. */
int conv2d_team_size(const struct conv2d_workspace *ws);
/* The calling OpenMP thread's slot of ws->col (col_floats floats). */
float *conv2d_thread_scratch(const struct conv2d_workspace *ws);

/* Per-thread scratch a Winograd layer needs at batch n (either direction). */
size_t winograd_scratch_floats(const struct conv2d *l, int n);
/* out (n, cout, h, w) = (or += when accumulate) the 3×3 stride-1 pad-1 convolution of
 * in (n, cin, h, w) with the filters whose transform is u: (16, cout, cin), or, when
 * transpose_u, the flipped and transposed filters of a layer whose u is (16, cin, cout). */
void winograd_conv(float *out, int accumulate, const float *in, const float *u, int transpose_u,
                   int cin, int cout, int h, int w, int n, struct conv2d_workspace *ws);

/* oneDNN (conv2d_onednn.c). prepare makes l's primitives and per-thread objects for up to
 * `threads` threads (conv2d_workspace_reserve calls it); the sizes are then known. */
void conv2d_onednn_prepare(struct conv2d *l, int threads);
void conv2d_onednn_release(struct conv2d *l);
size_t conv2d_onednn_scratch_floats(const struct conv2d *l); /* per thread */
size_t conv2d_onednn_weight_floats(const struct conv2d *l);  /* ws->wt */
void conv2d_onednn_forward(float *out, const float *in, const float *w, const struct conv2d *l,
                           int n, struct conv2d_workspace *ws);
/* din += the input gradient (din may be NULL); with dw_partial, the weight gradient's
 * CONV2D_DW_GROUPS partials (dw_stride floats apart) are written: returns how many, the first
 * ones, hold a sum (the others are untouched). */
int conv2d_onednn_backward(float *din, float *dw_partial, size_t dw_stride, const float *dout,
                           const float *in, const float *w, const struct conv2d *l, int n,
                           struct conv2d_workspace *ws);

#endif
