/* 2-D convolution as im2col + GEMM.
 *
 * For one image, with K = in_c·k·k rows and HW = out_h·out_w columns,
 *     col[r][oh·out_w + ow] = in[c][oh·s − p + ki][ow·s − p + kj],  r = (c·k + ki)·k + kj
 * (zero where the input index falls in the padding). The weights (out_c, in_c, k, k) read
 * row-major are then the matrix W (out_c × K) and
 *     out = W · col,    dW += dout · colᵀ,    dcol = Wᵀ · dout, din += col2im(dcol).
 *
 * Whole-batch im2col is memory-bound (K·HW floats per image, 9× the input for 3×3), so the
 * batch is cut into chunks of B images whose column matrix stays within ~1 MiB (cache
 * resident) and one GEMM works on the chunk: col is K × (B·HW), image b in columns
 * [b·HW, (b+1)·HW). B depends only on the layer and n, so the same GEMMs run for any number of
 * threads; chunks run in parallel, each GEMM on one thread. NCHW keeps images apart, so the
 * forward and the input gradient run one GEMM per image of the chunk on its columns; only the
 * weight gradient, a GEMM summing over all the chunk's columns, gathers the output gradients
 * (out_c × B·HW) into a second scratch area.
 *
 * OpenBLAS (the pthread build) must run single-threaded while OpenMP threads call it
 * concurrently, else its own thread pool oversubscribes the cores; forward and backward set
 * openblas_set_num_threads(1) themselves (cheap, idempotent) so no caller can forget.
 */
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "conv2d_internal.h"
#include "error.h"
#include "layers.h"


void conv2d_init(struct conv2d *l, int in_c, int out_c, int k, int stride, int pad, int in_h, int in_w)
{
    REVIVE_ASSERT(in_c > 0 && out_c > 0 && k > 0 && stride > 0 && pad >= 0);
    REVIVE_ASSERT(in_h + 2 * pad >= k && in_w + 2 * pad >= k);
    l->in_c = in_c;
    l->out_c = out_c;
    l->k = k;
    l->stride = stride;
    l->pad = pad;
    l->in_h = in_h;
    l->in_w = in_w;
    l->out_h = (in_h + 2 * pad - k) / stride + 1;
    l->out_w = (in_w + 2 * pad - k) / stride + 1;
    l->winograd = 0;
    l->onednn = 0;
    l->dnnl = NULL;
}

/* AUTO: where it was measured faster, on 3×3 layers with at least 8 input channels; the stem
 * (1 or 3 channels) and the 1×1 shortcuts stay im2col. Rule 2 (enum conv_auto_rule) is the two
 * cases below; rule 1, the runs started before oneDNN came, the second alone on every CPU.
 * - oneDNN, any stride, where its kernels are AVX-512 (dnnl_get_effective_cpu_isa: a property
 *   of the CPU, not a timing). Per layer at batch 128, one thread, forward / input gradient /
 *   weight gradient in ms on a Sapphire Rapids Xeon (docs/BENCHMARKS.md), Winograd or im2col →
 *   oneDNN: 16→16 at 28×28 13.6/11.9/18.7 → 8.3/8.8/7.5 (and lower in a second run),
 *   16→32 stride 2 10.6/9.4/10.8 → 2.6/3.3/2.7, 32→32 at 14×14 8.7/8.6/15.3 → 3.7/7.6/6.2,
 *   64→64 at 7×7 8.0/5.8/11.5 → 3.2/3.6/5.2; but the 1→16 stem 1.1–1.3 → 1.3–1.5 forward and
 *   the 1×1 stride-2 shortcut 0.9/1.0 → 1.1/1.6: too thin for the reorders to pay.
 * - Otherwise (AVX2 or older: oneDNN not measured there) Winograd for stride 1. Per layer at
 *   batch 128, one thread, forward / input gradient in ms on an AMD EPYC (im2col → Winograd):
 *   16→16 at 28×28 9.4/13.2 → 7.3/7.6, 32→32 at 14×14 9.3/10.7 → 4.7/4.8, 64→64 at 7×7
 *   7.7/7.6 → 4.3/4.5, 16→16 at 32×32 12.1/16.6 → 9.6/10.0; but the stem, 1→16 at 28×28
 *   1.3 → 3.3 and 3→16 at 32×32 2.4 → 4.0: with a handful of input channels each point's GEMM
 *   is too thin to pay for the transforms. */
#define CONV2D_AUTO_MIN_IN_C 8

void conv2d_set_algo(struct conv2d *l, enum conv_algo algo, enum conv_auto_rule rule)
{
    REVIVE_ASSERT(!l->dnnl); /* chosen before the workspace is reserved */
    REVIVE_ASSERT(rule >= CONV_AUTO_RULE_WINOGRAD && rule <= CONV_AUTO_RULE_CURRENT);
    int wide = l->k == 3 && l->in_c >= CONV2D_AUTO_MIN_IN_C;
    if (algo == CONV_ALGO_AUTO && rule == CONV_AUTO_RULE_ONEDNN && wide && conv2d_onednn_preferred())
        algo = CONV_ALGO_ONEDNN;
    int eligible = l->k == 3 && l->stride == 1 && l->pad == 1;
    l->onednn = algo == CONV_ALGO_ONEDNN;
    l->winograd = eligible && (algo == CONV_ALGO_WINOGRAD || (algo == CONV_ALGO_AUTO && wide));
}

enum conv_algo conv2d_algo(const struct conv2d *l)
{
    return l->onednn ? CONV_ALGO_ONEDNN : l->winograd ? CONV_ALGO_WINOGRAD : CONV_ALGO_IM2COL;
}

void conv2d_release(struct conv2d *l)
{
    conv2d_onednn_release(l);
}

size_t conv2d_weight_count(const struct conv2d *l)
{
    return (size_t)l->out_c * l->in_c * l->k * l->k;
}

static size_t col_rows(const struct conv2d *l) { return (size_t)l->in_c * l->k * l->k; }
static size_t out_plane(const struct conv2d *l) { return (size_t)l->out_h * l->out_w; }
static size_t in_image(const struct conv2d *l) { return (size_t)l->in_c * l->in_h * l->in_w; }
static size_t out_image(const struct conv2d *l) { return (size_t)l->out_c * out_plane(l); }

/* A 1×1 stride-1 unpadded conv: the image itself is its column matrix. */
static int pointwise(const struct conv2d *l)
{
    return l->k == 1 && l->stride == 1 && l->pad == 0;
}

static int chunk_images(const struct conv2d *l, int n)
{
    size_t b = CONV2D_CHUNK_FLOATS / (col_rows(l) * out_plane(l));
    if (b < 1)
        b = 1;
    if (b > (size_t)n)
        b = (size_t)n;
    return (int)b;
}

/* Per thread: the chunk's columns, then (B > 1) its out_c × B·HW output or output gradient;
 * rounded to 64 bytes so threads never share a cache line. */
static size_t scratch_floats(const struct conv2d *l, int n)
{
    size_t b = (size_t)chunk_images(l, n);
    size_t f = col_rows(l) * out_plane(l) * b;
    if (b > 1)
        f += (size_t)l->out_c * out_plane(l) * b;
    if (l->winograd) {
        size_t wf = winograd_scratch_floats(l, n);
        f = wf > f ? wf : f;
    }
    if (l->onednn) {
        size_t of = conv2d_onednn_scratch_floats(l);
        f = of > f ? of : f;
    }
    return (f + 15) & ~(size_t)15;
}

void conv2d_workspace_reserve(struct conv2d_workspace *ws, struct conv2d *l, int n, int threads)
{
    REVIVE_ASSERT(n >= 1 && threads >= 1);
    if (l->onednn)
        conv2d_onednn_prepare(l, threads);
    size_t cf = scratch_floats(l, n);
    if (cf > ws->col_floats || threads > ws->threads || !ws->col) {
        if (cf < ws->col_floats)
            cf = ws->col_floats;
        if (threads < ws->threads)
            threads = ws->threads;
        free(ws->col); /* scratch: nothing to keep */
        ws->col = rv_malloc(cf * (size_t)threads * sizeof(float));
        ws->col_floats = cf;
        ws->threads = threads;
    }
    size_t wc = conv2d_weight_count(l);
    if (wc > ws->dw_floats || !ws->dw_partial) {
        free(ws->dw_partial);
        ws->dw_partial = rv_malloc((size_t)CONV2D_DW_GROUPS * wc * sizeof(float));
        ws->dw_floats = wc;
    }
    size_t uc = l->winograd ? conv2d_winograd_weight_count(l)
                : l->onednn ? conv2d_onednn_weight_floats(l) : 0;
    if (uc > ws->wt_floats) {
        free(ws->wt);
        ws->wt = rv_malloc(uc * sizeof(float));
        ws->wt_floats = uc;
    }
}

void conv2d_workspace_free(struct conv2d_workspace *ws)
{
    free(ws->col);
    free(ws->dw_partial);
    free(ws->wt);
    memset(ws, 0, sizeof *ws);
}

/* Output columns [*lo, *hi) whose input column ow·s − p + kj lies inside [0, in_w). */
static void valid_range(int *lo, int *hi, int kj, const struct conv2d *l)
{
    int s = l->stride, p = l->pad, ow_n = l->out_w;
    int a = p - kj;               /* need ow·s >= a */
    int b = l->in_w - 1 + p - kj; /* need ow·s <= b */
    int first = a <= 0 ? 0 : (a + s - 1) / s;
    int last = b < 0 ? -1 : b / s;
    if (first > ow_n)
        first = ow_n;
    if (last + 1 < first)
        last = first - 1;
    *lo = first;
    *hi = last + 1 < ow_n ? last + 1 : ow_n;
}

/* Row (ki, off = kj − p) of a stride-1 layer whose output is as wide as its input: the output
 * rows whose input row exists are one contiguous block of the input plane shifted by off, so a
 * single memcpy replaces one per output row (7 to 32 floats each, where the call costs more
 * than the copy), then the columns [0, lo) and [hi, ow) that fell into the padding are zeroed.
 * The same values as the row-by-row loop below. */
static void same_size_row(float *dst, const float *plane /* (in_h, in_w) */, int ki, int off,
                          int lo, int hi, const struct conv2d *l)
{
    int ow_n = l->out_w, oh_n = l->out_h, p = l->pad;
    int oh_lo = p - ki > 0 ? p - ki : 0;                       /* first oh with ih >= 0 */
    int oh_hi = l->in_h + p - ki < oh_n ? l->in_h + p - ki : oh_n; /* ih < in_h */
    if (oh_hi < oh_lo)
        oh_hi = oh_lo;
    memset(dst, 0, (size_t)oh_lo * ow_n * sizeof(float));
    memset(dst + (size_t)oh_hi * ow_n, 0, (size_t)(oh_n - oh_hi) * ow_n * sizeof(float));
    if (oh_hi == oh_lo)
        return;
    /* dst[oh·ow + ow] = plane[(oh − p + ki)·ow + ow + off] for ow in [lo, hi): copy the block
     * from its first to its last valid element; what lands in the columns outside [lo, hi) is
     * overwritten with zeros next. */
    float *d = dst + (size_t)oh_lo * ow_n;
    const float *src = plane + (size_t)(oh_lo - p + ki) * ow_n;
    size_t first = (size_t)lo, last = (size_t)(oh_hi - oh_lo - 1) * ow_n + (size_t)hi;
    memcpy(d + first, src + first + off, (last - first) * sizeof(float));
    for (int oh = 0; oh < oh_hi - oh_lo; oh++) {
        float *row = d + (size_t)oh * ow_n;
        for (int ow = 0; ow < lo; ow++)
            row[ow] = 0.0f;
        for (int ow = hi; ow < ow_n; ow++)
            row[ow] = 0.0f;
    }
}

/* One image's columns into col (row stride ld), by the mapping in the file comment; only the
 * rows flagged in `rows` when it is not NULL. */
static void im2col(float *col, size_t ld, const float *in /* (in_c, in_h, in_w) */,
                   const struct conv2d *l, const unsigned char *rows)
{
    int k = l->k, s = l->stride, p = l->pad, ih_n = l->in_h, iw_n = l->in_w;
    int oh_n = l->out_h, ow_n = l->out_w;
    for (int c = 0; c < l->in_c; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                if (rows && !rows[(c * k + ki) * k + kj])
                    continue;
                float *dst = col + (size_t)((c * k + ki) * k + kj) * ld;
                int lo, hi;
                valid_range(&lo, &hi, kj, l);
                if (s == 1 && iw_n == ow_n && lo < hi) {
                    same_size_row(dst, in + (size_t)c * ih_n * iw_n, ki, kj - p, lo, hi, l);
                    continue;
                }
                for (int oh = 0; oh < oh_n; oh++) {
                    float *d = dst + (size_t)oh * ow_n;
                    int ih = oh * s - p + ki;
                    if (ih < 0 || ih >= ih_n || lo >= hi) {
                        memset(d, 0, (size_t)ow_n * sizeof(float));
                        continue;
                    }
                    const float *src = in + ((size_t)c * ih_n + ih) * iw_n;
                    int off = kj - p; /* input column = ow·s + off */
                    for (int ow = 0; ow < lo; ow++)
                        d[ow] = 0.0f;
                    if (s == 1)
                        memcpy(d + lo, src + lo + off, (size_t)(hi - lo) * sizeof(float));
                    else
                        for (int ow = lo; ow < hi; ow++)
                            d[ow] = src[ow * s + off];
                    for (int ow = hi; ow < ow_n; ow++)
                        d[ow] = 0.0f;
                }
            }
}

/* The transpose of im2col: every column entry adds into the input pixel it was read from. */
static void col2im_add(float *din /* (in_c, in_h, in_w) */, const float *col, size_t ld,
                       const struct conv2d *l)
{
    int k = l->k, s = l->stride, p = l->pad, ih_n = l->in_h, iw_n = l->in_w;
    int oh_n = l->out_h, ow_n = l->out_w;
    for (int c = 0; c < l->in_c; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *srcrow = col + (size_t)((c * k + ki) * k + kj) * ld;
                int lo, hi;
                valid_range(&lo, &hi, kj, l);
                for (int oh = 0; oh < oh_n; oh++) {
                    int ih = oh * s - p + ki;
                    if (ih < 0 || ih >= ih_n)
                        continue;
                    const float *src = srcrow + (size_t)oh * ow_n;
                    float *d = din + ((size_t)c * ih_n + ih) * iw_n;
                    int off = kj - p;
                    for (int ow = lo; ow < hi; ow++)
                        d[ow * s + off] += src[ow];
                }
            }
}

/* Threads for a parallel loop: what OpenMP would use, capped by the workspace's slots. */
int conv2d_team_size(const struct conv2d_workspace *ws)
{
    REVIVE_ASSERT(!omp_in_parallel()); /* scratch slots are indexed by omp_get_thread_num() */
    int nt = omp_get_max_threads();
    return nt < ws->threads ? nt : ws->threads;
}

float *conv2d_thread_scratch(const struct conv2d_workspace *ws)
{
    int t = omp_get_thread_num();
    REVIVE_ASSERT(t < ws->threads);
    return ws->col + (size_t)t * ws->col_floats;
}

/* Images [n0, n0 + nb) forward. */
static void forward_chunk(float *out, const float *in, const float *w, const struct conv2d *l,
                          int n0, int nb, float *scratch)
{
    size_t kr = col_rows(l), hw = out_plane(l), ld = (size_t)nb * hw;
    const float *col = scratch;
    if (pointwise(l) && nb == 1)
        col = in + (size_t)n0 * in_image(l);
    else
        for (int b = 0; b < nb; b++)
            im2col(scratch + (size_t)b * hw, ld, in + (size_t)(n0 + b) * in_image(l), l, NULL);
    /* One GEMM per image, each writing its NCHW output in place: a single GEMM over the chunk
     * would leave the images' outputs interleaved (out_c × B·HW) and need a scatter pass. */
    for (int b = 0; b < nb; b++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l->out_c, (int)hw, (int)kr, 1.0f,
                    w, (int)kr, col + (size_t)b * hw, (int)ld, 0.0f,
                    out + (size_t)(n0 + b) * out_image(l), (int)hw);
}

void conv2d_forward_x(float *out, const float *in, const float *w, const float *wt,
                      const struct conv2d *l, int n, struct conv2d_workspace *ws)
{
    if (n == 0) /* an empty share of a global batch (MPI): nothing to do */
        return;
    REVIVE_ASSERT(n >= 1 && ws->col && ws->col_floats >= scratch_floats(l, n));
    openblas_set_num_threads(1);
    if (l->onednn) {
        conv2d_onednn_forward(out, in, w, l, n, ws);
        return;
    }
    if (l->winograd) {
        if (!wt) {
            REVIVE_ASSERT(ws->wt && ws->wt_floats >= conv2d_winograd_weight_count(l));
            conv2d_winograd_weights(ws->wt, w, l);
            wt = ws->wt;
        }
        winograd_conv(out, 0, in, wt, 0, l->in_c, l->out_c, l->in_h, l->in_w, n, ws);
        return;
    }
    int nt = conv2d_team_size(ws);
    if (pointwise(l)) {
        /* The image is its own column matrix: forward_chunk's GEMMs straight from the input (the
         * same products, so the same bits, without the copy), the images split over threads. */
        size_t hw = out_plane(l);
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int i = 0; i < n; i++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l->out_c, (int)hw, l->in_c, 1.0f,
                        w, l->in_c, in + (size_t)i * in_image(l), (int)hw, 0.0f,
                        out + (size_t)i * out_image(l), (int)hw);
        return;
    }
    int bsz = chunk_images(l, n);
    int chunks = (n + bsz - 1) / bsz;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int ci = 0; ci < chunks; ci++) {
        int n0 = ci * bsz;
        int nb = n - n0 < bsz ? n - n0 : bsz;
        forward_chunk(out, in, w, l, n0, nb, conv2d_thread_scratch(ws));
    }
}

void conv2d_forward(float *out, const float *in, const float *w, const struct conv2d *l, int n,
                    struct conv2d_workspace *ws)
{
    conv2d_forward_x(out, in, w, NULL, l, n, ws);
}

/* Images [n0, n0 + nb) backward: part (= or += when !first) dout·colᵀ, din += col2im(Wᵀ·dout).
 * With sp, part holds sp->count entries: entry e is (dout·colᵀ)[sp->idx[e]], one dot product. */
static void backward_chunk(float *din, float *part, int first, const struct conv2d_dw_sparse *sp,
                           const float *dout, const float *in, const float *w,
                           const struct conv2d *l, int n0, int nb, float *scratch)
{
    size_t kr = col_rows(l), hw = out_plane(l), ld = (size_t)nb * hw;
    const float *dc = dout + (size_t)n0 * out_image(l); /* (out_c, B·HW) */
    /* The weight gradient's GEMM sums over the chunk's columns, so it needs the images' output
     * gradients side by side; the input gradient alone can take them image by image. */
    int gathered = part && nb > 1;
    if (gathered) {
        float *g = scratch + kr * ld;
        for (int b = 0; b < nb; b++)
            for (int o = 0; o < l->out_c; o++)
                memcpy(g + (size_t)o * ld + (size_t)b * hw,
                       dout + (size_t)(n0 + b) * out_image(l) + (size_t)o * hw, hw * sizeof(float));
        dc = g;
    }
    int direct = pointwise(l) && nb == 1;
    if (part) {
        const float *col = scratch;
        if (direct)
            col = in + (size_t)n0 * in_image(l);
        else
            for (int b = 0; b < nb; b++)
                im2col(scratch + (size_t)b * hw, ld, in + (size_t)(n0 + b) * in_image(l), l,
                       sp ? sp->rows : NULL);
        if (sp) {
            for (size_t e = 0; e < sp->count; e++) {
                size_t o = sp->idx[e] / kr, r = sp->idx[e] % kr;
                float d = cblas_sdot((int)ld, dc + o * ld, 1, col + r * ld, 1);
                part[e] = first ? d : part[e] + d;
            }
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l->out_c, (int)kr, (int)ld, 1.0f,
                        dc, (int)ld, col, (int)ld, first ? 0.0f : 1.0f, part, (int)kr);
        }
    }
    if (!din)
        return;
    if (direct) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kr, (int)hw, l->out_c, 1.0f,
                    w, (int)kr, dc, (int)ld, 1.0f, din + (size_t)n0 * in_image(l), (int)hw);
        return;
    }
    if (gathered || nb == 1)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kr, (int)ld, l->out_c, 1.0f,
                    w, (int)kr, dc, (int)ld, 0.0f, scratch, (int)ld);
    else
        for (int b = 0; b < nb; b++)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kr, (int)hw, l->out_c, 1.0f,
                        w, (int)kr, dout + (size_t)(n0 + b) * out_image(l), (int)hw, 0.0f,
                        scratch + (size_t)b * hw, (int)ld);
    for (int b = 0; b < nb; b++)
        col2im_add(din + (size_t)(n0 + b) * in_image(l), scratch + (size_t)b * hw, ld, l);
}

/* Group g of CONV2D_DW_GROUPS holds images [g·n/G, (g+1)·n/G). */
static int group_start(int g, int n)
{
    return (int)((long long)g * n / CONV2D_DW_GROUPS);
}

void conv2d_backward_x(float *din, float *dw, const float *dout, const float *in, const float *w,
                       const float *wt, const struct conv2d_dw_sparse *sp,
                       const struct conv2d *l, int n, struct conv2d_workspace *ws)
{
    if (dw && sp && sp->count == 0)
        dw = NULL; /* nothing of it trains */
    if ((!din && !dw) || n == 0)
        return;
    REVIVE_ASSERT(n >= 1 && ws->col && ws->col_floats >= scratch_floats(l, n));
    REVIVE_ASSERT(!dw || (ws->dw_partial && ws->dw_floats >= conv2d_weight_count(l)));
    openblas_set_num_threads(1);
    if (!dw)
        sp = NULL;
    /* Winograd and oneDNN take the input gradient, oneDNN also a dense weight gradient; the
     * chunks below then do only what is left. */
    float *din_chunks = l->winograd || l->onednn ? NULL : din;
    int np = 0; /* partials of the weight gradient that hold a sum: the first np */
    if (l->onednn && (din || (dw && !sp)))
        np = conv2d_onednn_backward(din, dw && !sp ? ws->dw_partial : NULL, ws->dw_floats, dout,
                                    in, w, l, n, ws);
    if ((dw && !(l->onednn && !sp)) || din_chunks) {
        int bsz = chunk_images(l, n);
        int nt = conv2d_team_size(ws);
        /* Each group sums its own chunks in order into its partial; the groups are then added in
         * order, so dw has the same bits for any thread count. */
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int g = 0; g < CONV2D_DW_GROUPS; g++) {
            int a = group_start(g, n), e = group_start(g + 1, n);
            float *part = dw ? ws->dw_partial + (size_t)g * ws->dw_floats : NULL;
            float *scratch = conv2d_thread_scratch(ws);
            for (int n0 = a; n0 < e; n0 += bsz) {
                int nb = e - n0 < bsz ? e - n0 : bsz;
                backward_chunk(din_chunks, part, n0 == a, sp, dout, in, w, l, n0, nb, scratch);
            }
        }
    }
    if (din && l->winograd) {
        /* The input gradient of a 3×3 stride-1 pad-1 convolution is the same convolution of dout
         * with each filter flipped and in/out swapped: the transposed, point-permuted U. */
        if (!wt) {
            REVIVE_ASSERT(ws->wt && ws->wt_floats >= conv2d_winograd_weight_count(l));
            conv2d_winograd_weights(ws->wt, w, l);
            wt = ws->wt;
        }
        winograd_conv(din, 1, dout, wt, 1, l->out_c, l->in_c, l->out_h, l->out_w, n, ws);
    }
    if (!dw)
        return;
    /* Empty groups (n < G) never wrote their partial: leave them out of the sum. */
    const float *parts[CONV2D_DW_GROUPS];
    if (l->onednn && !sp) {
        for (int g = 0; g < np; g++)
            parts[g] = ws->dw_partial + (size_t)g * ws->dw_floats;
    } else {
        np = 0;
        for (int g = 0; g < CONV2D_DW_GROUPS; g++)
            if (group_start(g, n) < group_start(g + 1, n))
                parts[np++] = ws->dw_partial + (size_t)g * ws->dw_floats;
    }
    size_t cnt = sp ? sp->count : conv2d_weight_count(l);
    for (size_t i = 0; i < cnt; i++) {
        float s = parts[0][i];
        for (int q = 1; q < np; q++)
            s += parts[q][i];
        dw[sp ? sp->idx[i] : i] += s;
    }
}

void conv2d_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                     const struct conv2d *l, int n, struct conv2d_workspace *ws)
{
    conv2d_backward_x(din, dw, dout, in, w, NULL, NULL, l, n, ws);
}
