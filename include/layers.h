/* The layers of revive's networks, each a small struct describing its shape and plain functions.
 *
 *   struct conv2d conv;
 *   conv2d_init(&conv, 16, 32, 3, 2, 1, 28, 28);           in_c, out_c, k, stride, pad, in_h, in_w
 *   struct conv2d_workspace ws;
 *   conv2d_workspace_init(&ws, &conv, batch, threads);     or one workspace sized for the largest layer
 *   conv2d_forward(out, in, w, &conv, n, &ws);
 *   conv2d_backward(din, dw, dout, in, w, &conv, n, &ws);  dw == NULL skips the weight-gradient GEMM
 *
 * Conventions, for every layer:
 * - Arguments: outputs first, then inputs, then the layer, the batch size n, then workspaces.
 * - Tensors are float, NCHW, contiguous. Shapes are given in comments as (N, C, H, W).
 * - forward overwrites its outputs. backward ACCUMULATES (+=) into din and the parameter
 *   gradients, so a residual block's two paths add up and the model zeroes gradients once.
 *   Any gradient pointer may be NULL: that gradient is not computed.
 * - Results do not depend on the number of threads: work is cut into pieces whose sizes depend
 *   only on the layer and n, and partial sums are added in a fixed order.
 */
#ifndef REVIVE_LAYERS_H
#define REVIVE_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* ---- 2-D convolution, no bias: im2col + cblas_sgemm, or Winograd F(2×2,3×3) --------------- */

/* How a convolution computes its output and input gradient. WINOGRAD F(2×2,3×3) serves 3×3
 * stride-1 pad-1 layers (every other shape, and every weight gradient, uses im2col) and does
 * 2.25× fewer multiplications; its float32 error is a small multiple of im2col's
 * (docs/ARCHITECTURE.md, tests/test_layers.c). ONEDNN runs every layer's forward pass, input
 * gradient and dense weight gradient through oneDNN (libdnnl) in its channel-blocked layouts;
 * a masked weight gradient stays im2col. AUTO is a fixed rule on the layer's shape and the
 * CPU's instruction set (conv2d_set_algo), never a timing, so a config gives the same bits on
 * every run on one CPU type. The names, in enum order, are the config key's choices
 * (train.conv_algo): one table. */
enum conv_algo { CONV_ALGO_AUTO, CONV_ALGO_IM2COL, CONV_ALGO_WINOGRAD, CONV_ALGO_ONEDNN,
                 CONV_ALGO_COUNT };
/* (Its names: conv_algo_names in config.h.) */

/* What AUTO means: one numbered rule each time revive changes it (conv2d_set_algo applies them).
 * A run keeps the rule it started under, stored in its checkpoints (/model conv_auto_rule,
 * docs/checkpoint-format.md), so a resumed run chooses as the run straight through did and its
 * bits stay the same; a file without it ran rule 1. Numbers are never reused: a new rule gets
 * the next one and becomes CONV_AUTO_RULE_CURRENT. */
enum conv_auto_rule {
    /* 1 (until oneDNN came): WINOGRAD for 3×3 stride-1 pad-1 layers with at least 8 input
     * channels, im2col for every other layer. */
    CONV_AUTO_RULE_WINOGRAD = 1,
    /* 2: for 3×3 layers with at least 8 input channels, ONEDNN (any stride) where oneDNN's
     * kernels are AVX-512 (conv2d_onednn_preferred, a property of the CPU); elsewhere rule 1. */
    CONV_AUTO_RULE_ONEDNN = 2,
    CONV_AUTO_RULE_CURRENT = CONV_AUTO_RULE_ONEDNN, /* the rule a new run starts under */
};

struct conv2d {
    int in_c, out_c, k, stride, pad;
    int in_h, in_w, out_h, out_w;
    int winograd;       /* 1: forward and input gradient by Winograd (conv2d_set_algo) */
    int onednn;         /* 1: forward, input gradient and dense weight gradient by oneDNN */
    struct conv2d_onednn *dnnl; /* oneDNN's primitives, made by conv2d_workspace_reserve and
                                   freed by conv2d_release; NULL until then */
};

/* Scratch memory for convolutions; one can serve every layer if sized for the largest. */
struct conv2d_workspace {
    int threads;        /* OpenMP threads the workspace was sized for */
    size_t col_floats;  /* per thread: one chunk of im2col columns or Winograd tiles */
    float *col;         /* (threads, col_floats) */
    size_t dw_floats;   /* per partial sum of the weight gradient */
    float *dw_partial;  /* (CONV2D_DW_GROUPS, dw_floats) */
    size_t wt_floats;   /* Winograd weights transformed per call, when the caller has no cache */
    float *wt;          /* (wt_floats) */
};

/* The weight gradient is summed in this many fixed groups of images, then the groups in order:
 * parallel over up to this many threads, and the same bits for any thread count. */
#define CONV2D_DW_GROUPS 8

/* A masked weight gradient: only the entries idx[0..count) (flat (o·in_c·k·k + r), ascending)
 * are computed, each a dot product of output-gradient row o with im2col row r; `rows` flags
 * (in_c·k·k bytes) the column rows any entry needs, so the others are never built. Cheaper than
 * the dense GEMM below CONV2D_SPARSE_DW_DENSITY trainable entries per weight (measured:
 * docs/ARCHITECTURE.md, "A stage costs what trains"); the model builds one per conv with fewer
 * (model_mask_changed). */
struct conv2d_dw_sparse {
    size_t count;
    const unsigned *idx;
    const unsigned char *rows;
};
#define CONV2D_SPARSE_DW_DENSITY 0.15

void conv2d_init(struct conv2d *l, int in_c, int out_c, int k, int stride, int pad, int in_h, int in_w);
/* Chooses the algorithm (conv2d_init leaves im2col): WINOGRAD takes effect for 3×3 stride-1
 * pad-1 layers only; ONEDNN for every layer. AUTO follows `rule` (enum conv_auto_rule; ignored
 * for the others): under rule 2, for 3×3 layers with at least 8 input channels, ONEDNN (any
 * stride) where oneDNN's kernels are AVX-512 (conv2d_onednn_preferred), else WINOGRAD (stride
 * 1); measured faster there. The 1- or 3-channel stem and 1×1 layers stay im2col (measured:
 * neither pays there). */
void conv2d_set_algo(struct conv2d *l, enum conv_algo algo, enum conv_auto_rule rule);
/* What conv2d_set_algo chose for l: IM2COL, WINOGRAD or ONEDNN (never AUTO). */
enum conv_algo conv2d_algo(const struct conv2d *l);
/* 1 when AUTO means ONEDNN on this CPU (for its 3×3 layers): oneDNN's kernels are AVX-512. */
int conv2d_onednn_preferred(void);
size_t conv2d_weight_count(const struct conv2d *l);
/* Grows ws (if needed) so that it serves layer l at batch size n; ws starts zeroed ({0}). */
/* Also makes a oneDNN layer's primitives for up to `threads` threads (hence l is not const). */
void conv2d_workspace_reserve(struct conv2d_workspace *ws, struct conv2d *l, int n, int threads);
void conv2d_workspace_free(struct conv2d_workspace *ws);
/* Frees what conv2d_workspace_reserve made for l (oneDNN's primitives); l stays usable after a
 * new reserve. A copy of l shares them: release one copy only. */
void conv2d_release(struct conv2d *l);

/* Winograd: the transformed weights U = G·g·Gᵀ of every (out, in) filter, (16, out_c, in_c);
 * a caller whose weights stay fixed over many calls computes them once and passes them in. */
size_t conv2d_winograd_weight_count(const struct conv2d *l);
void conv2d_winograd_weights(float *u, const float *w, const struct conv2d *l);

void conv2d_forward(float *out,      /* (N, out_c, out_h, out_w) */
                    const float *in, /* (N, in_c, in_h, in_w) */
                    const float *w,  /* (out_c, in_c, k, k) */
                    const struct conv2d *l, int n, struct conv2d_workspace *ws);
void conv2d_backward(float *din,       /* (N, in_c, in_h, in_w) +=, or NULL */
                     float *dw,        /* (out_c, in_c, k, k) +=, or NULL: skip that GEMM */
                     const float *dout, /* (N, out_c, out_h, out_w) */
                     const float *in,  /* (N, in_c, in_h, in_w) */
                     const float *w,   /* (out_c, in_c, k, k) */
                     const struct conv2d *l, int n, struct conv2d_workspace *ws);
/* The same with what a caller may know beyond the weights: wt, the Winograd-transformed weights
 * of w (NULL: transformed in the call when the layer uses Winograd); sp, the entries of dw to
 * compute (NULL: all; the other entries of dw are left as they are). */
void conv2d_forward_x(float *out, const float *in, const float *w, const float *wt,
                      const struct conv2d *l, int n, struct conv2d_workspace *ws);
void conv2d_backward_x(float *din, float *dw, const float *dout, const float *in, const float *w,
                       const float *wt, const struct conv2d_dw_sparse *sp,
                       const struct conv2d *l, int n, struct conv2d_workspace *ws);

/* ---- BatchNorm2d ----------------------------------------------------------------------- */
struct batchnorm {
    int c, h, w;
    float eps;      /* 1e-5 */
    float momentum; /* 0.1: running = (1 - momentum) * running + momentum * batch */
    int relu;       /* 1: the forward writes ReLU(y), fused while y is in cache (init: 0) */
};

/* Sums per-channel statistics over all ranks (synchronized BatchNorm). NULL = this rank alone.
 * sum(buf, n, ctx) must replace buf[0..n) by its sum over ranks. */
struct bn_reducer {
    void (*sum)(double *buf, int n, void *ctx);
    void *ctx;
};

void batchnorm_init(struct batchnorm *l, int c, int h, int w);
/* Training: normalizes with the batch statistics (over all ranks through r), saves the mean and
 * 1/sqrt(var + eps) for backward, and updates the running statistics (unbiased variance). */
void batchnorm_forward_train(float *out,          /* (N, C, H, W) */
                             float *save_mean,    /* (C) */
                             float *save_invstd,  /* (C) */
                             float *running_mean, /* (C) updated */
                             float *running_var,  /* (C) updated */
                             const float *in,     /* (N, C, H, W) */
                             const float *gamma, const float *beta, /* (C) */
                             const struct batchnorm *l, int n, const struct bn_reducer *r,
                             double *sums /* (2C + 1) scratch, or NULL: allocated */);
void batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var,
                            const struct batchnorm *l, int n);
/* dx = γ·invstd/m · (m·dy − Σdy − x̂·Σ(dy·x̂)), sums over the global batch of m values per channel
 * (through r); dγ += Σ dy·x̂ and dβ += Σ dy over this rank's images only (the gradient allreduce
 * adds the ranks). */
/* backward's din (and only din) is written (=) instead of added to: for a first contribution,
 * so the caller need not zero it. */
void batchnorm_backward_to(float *din, float *dgamma, float *dbeta, /* din =, the others += */
                           const float *dout, const float *in,
                           const float *save_mean, const float *save_invstd, const float *gamma,
                           const struct batchnorm *l, int n, const struct bn_reducer *r,
                           double *sums);
void batchnorm_backward(float *din, float *dgamma, float *dbeta, /* +=; any may be NULL */
                        const float *dout, const float *in,
                        const float *save_mean, const float *save_invstd, const float *gamma,
                        const struct batchnorm *l, int n, const struct bn_reducer *r,
                        double *sums /* (2C + 1) scratch, or NULL: allocated */);

/* The backward of batchnorm_forward_eval (a frozen network's input gradient): din = (add: +=)
 * γ·invstd·dout with the running statistics; dγ, dβ += (any may be NULL). No reduction. */
void batchnorm_backward_eval(float *din, int add, float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *gamma, const float *running_mean,
                             const float *running_var, const struct batchnorm *l, int n);

/* ---- ReLU (in place allowed: out == in) -------------------------------------------------- */
void relu_forward(float *out, const float *in, size_t count);
/* din += dout where out > 0 (out is the forward's output). */
void relu_backward(float *din, const float *dout, const float *out, size_t count);
/* din = dout where out > 0, else 0: a first contribution, into memory that need not be zeroed. */
void relu_backward_to(float *din, const float *dout, const float *out, size_t count);

/* ---- residual add ------------------------------------------------------------------------ */
void add_forward(float *out, const float *a, const float *b, size_t count);
/* out = ReLU(a + b) in one pass (a residual block's end); NaN passes as in relu_forward. */
void add_relu_forward(float *out, const float *a, const float *b, size_t count);
/* The add's backward is the identity into both inputs: callers pass dout on (no function). */

/* ---- max pooling: PyTorch's MaxPool2d(k, stride, pad, ceil_mode) -------------------------- */
struct maxpool2d {
    int c, k, stride, pad;
    int in_h, in_w, out_h, out_w;
};
/* out = ⌊(in + 2·pad − k) / stride⌋ + 1, or with ceil_mode ⌈…⌉ + 1 less one where the last
 * window would start in the right padding (PyTorch's rule). pad ≤ k/2, so every window holds an
 * input value. */
void maxpool2d_init(struct maxpool2d *l, int c, int k, int stride, int pad, int in_h, int in_w,
                    int ceil_mode);
/* argmax: per output, the index (ih·in_w + iw) in its plane of the first maximum (NaN wins, as
 * in PyTorch). */
void maxpool2d_forward(float *out,      /* (N, C, out_h, out_w) */
                       int32_t *argmax, /* (N, C, out_h, out_w) */
                       const float *in, /* (N, C, in_h, in_w) */
                       const struct maxpool2d *l, int n);
void maxpool2d_backward(float *din,          /* (N, C, in_h, in_w) += */
                        const float *dout,   /* (N, C, out_h, out_w) */
                        const int32_t *argmax, const struct maxpool2d *l, int n);

/* ---- per-channel bias: out (N, C, HW) += b (C); db += Σ_{n,hw} dout ------------------------ */
void bias_forward(float *out, const float *b, int n, int c, int hw);
void bias_backward(float *db, const float *dout, int n, int c, int hw);

/* ---- global average pooling: (N, C, H, W) -> (N, C) ------------------------------------ */
void avgpool_forward(float *out, const float *in, int n, int c, int hw);
void avgpool_backward(float *din, const float *dout, int n, int c, int hw); /* din += */

/* ---- linear: out = in · Wᵀ + b --------------------------------------------------------- */
struct linear {
    int in_f, out_f;
};
void linear_init(struct linear *l, int in_f, int out_f);
void linear_forward(float *out,      /* (N, out_f) */
                    const float *in, /* (N, in_f) */
                    const float *w,  /* (out_f, in_f) */
                    const float *b,  /* (out_f) */
                    const struct linear *l, int n);
void linear_backward(float *din, float *dw, float *db, /* +=; any may be NULL */
                     const float *dout, const float *in, const float *w,
                     const struct linear *l, int n);

/* ---- pixel shuffle: PyTorch's PixelShuffle(r), (N, C·r², H, W) → (N, C, H·r, W·r) ---------- */
/* out[n][c][h·r + i][w·r + j] = in[n][c·r² + i·r + j][h][w]. */
struct pixel_shuffle {
    int r, c;           /* factor; output channels (input channels / r²) */
    int in_h, in_w;
};
void pixel_shuffle_init(struct pixel_shuffle *l, int in_c, int r, int in_h, int in_w);
void pixel_shuffle_forward(float *out, const float *in, const struct pixel_shuffle *l, int n);
void pixel_shuffle_backward(float *din, const float *dout, /* din += (NULL: nothing) */
                            const struct pixel_shuffle *l, int n);

/* ---- softmax cross-entropy ------------------------------------------------------------- */
/* Returns the SUM over this rank's n images of −log softmax(logits)[label] and writes
 * dlogits = (softmax − onehot) / scale_n, where scale_n is the GLOBAL batch size, so that
 * summing gradients over ranks gives the gradient of the mean loss. `correct` (may be NULL)
 * receives the number of images whose arg-max equals the label. */
double softmax_ce_forward_backward(float *dlogits,      /* (N, classes) or NULL: no gradient */
                                   int *correct,
                                   const float *logits, /* (N, classes) */
                                   const int *labels,   /* (N) */
                                   int n, int classes, int scale_n);
/* The same with label smoothing eps (0 ≤ eps ≤ 1): the target (1 − eps)·onehot + eps/classes,
 * as torch's CrossEntropyLoss(label_smoothing = eps); eps = 0 is the function above, bit for bit. */
double softmax_ce_smooth_forward_backward(float *dlogits, int *correct, const float *logits,
                                          const int *labels, int n, int classes, int scale_n,
                                          double eps);

/* ---- LayerNorm over channels at each position (MLP-Mixer's; layernorm.c) ----------------- */
#define LAYERNORM_EPS 1e-6f /* flax's nn.LayerNorm default */
/* Normalizes the C values of every (image, position) pair, S = H·W positions; saves their mean
 * and 1/√(σ² + ε) (N, S) for backward. No running statistics: the same in training and eval. */
void layernorm_forward(float *out,         /* (N, C, S) */
                       float *save_mean,   /* (N, S) */
                       float *save_invstd, /* (N, S) */
                       const float *in,    /* (N, C, S) */
                       const float *gamma, const float *beta, /* (C) */
                       int n, int c, int s);
void layernorm_backward(float *din, float *dgamma, float *dbeta, /* +=; any may be NULL */
                        const float *dout, const float *in,      /* (N, C, S) */
                        const float *save_mean, const float *save_invstd, /* (N, S) */
                        const float *gamma,
                        float *sums, /* (N, 2S) scratch */
                        int n, int c, int s);
/* ---- GELU, tanh form (gelu.c) ------------------------------------------------------------ */
void gelu_forward(float *out, const float *in, size_t count);
/* The tanh gelu_forward and gelu_backward use (vectorizable, not libm's; error in gelu.c). */
float gelu_tanh(float u);
/* din (+= when add, else =) dout · GELU'(in); in is the forward's input. */
void gelu_backward(float *din, const float *dout, const float *in, size_t count, int add);
/* ---- Dense over the tokens of each channel (MLP-Mixer's token mixing; token_dense.c) ------ */
/* l: in_f = S = H·W, out_f = S'; the linear layer on N·C rows. */
void token_dense_forward(float *out,      /* (N, C, S') */
                         const float *in, /* (N, C, S) */
                         const float *w,  /* (S', S) */
                         const float *b,  /* (S') */
                         const struct linear *l, int n, int c);
void token_dense_backward(float *din, float *dw, float *db, /* +=; any may be NULL */
                          const float *dout, const float *in, const float *w,
                          const struct linear *l, int n, int c);

#endif
