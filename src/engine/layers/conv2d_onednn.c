/* Convolutions by oneDNN (Debian's libdnnl 2.6, C API): forward, input gradient and the dense
 * weight gradient of any conv2d, for train.conv_algo = onednn.
 *
 * oneDNN's fast CPU kernels (jit:avx512_core, jit:avx2, …) want channel-blocked tensors
 * (nChw16c: 16 channels of a pixel side by side, so a vector runs across channels); on plain
 * NCHW it falls back to im2col + its own GEMM, slower than revive's own paths (measured:
 * docs/BENCHMARKS.md). revive's tensors stay NCHW, so every call reorders a chunk of images
 * into the blocked layout the primitive chose, runs it, and reorders the result back; a chunk
 * is small enough (CONV2D_CHUNK_FLOATS) that the reorders work in L2.
 *
 * The same bits for any thread count, as in conv2d.c: the batch is cut into chunks of
 * `chunk` images (a power of two fixed by the layer's shape) and then single images for the
 * remainder, each chunk computed by one thread. The primitives are created while OpenMP allows
 * one thread, so oneDNN plans every kernel for one thread; called inside revive's parallel loop
 * oneDNN does not open a team of its own either. The weight gradient of chunk ci goes to
 * partial ci mod CONV2D_DW_GROUPS, each partial summed in chunk order by one thread, then the
 * partials in order (conv2d.c).
 *
 * Memory: primitives, memory descriptors, memory objects (one set per thread: a data handle is
 * per object) and streams are made by conv2d_workspace_reserve, when the model is built.
 * Every primitive runs in dnnl_scratchpad_mode_user with its scratchpad carved from the calling
 * thread's slot of the workspace, and the blocked copies live there too, so a call sets data
 * handles and executes. (oneDNN's dnnl_primitive_execute itself builds a small map of its
 * arguments on the heap and frees it before returning: tests/test_step.c counts that.)
 */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>

#include "conv2d_internal.h"
#include "error.h"

#define DNNL_OK(call) REVIVE_ASSERT((call) == dnnl_success)

enum { OP_MAX_ARGS = 4 };

/* A primitive and, per thread, memory objects for its arguments. prim == NULL: nothing to do
 * (a reorder between equal layouts). */
struct onednn_op {
    dnnl_primitive_t prim;
    int nargs;
    int arg[OP_MAX_ARGS];
    dnnl_memory_t *mem; /* (threads, nargs) */
};

/* Pieces of a thread's scratch slot, in floats (0: not needed). */
enum { BUF_SRC, BUF_DST, BUF_DDST, BUF_DSRC, BUF_WSRC, BUF_WDDST, BUF_DW, BUF_PAD, BUF_COUNT };

/* The primitives for one batch size. */
struct onednn_variant {
    int mb;
    struct onednn_op fwd, src_in, dst_out;                      /* out = conv(in) */
    struct onednn_op bwdd, ddst_in, dsrc_add;                   /* din += conv_bwd_data(dout) */
    struct onednn_op bwdw, wsrc_in, wddst_in, dw_set, dw_add;   /* dw partial (+)= … */
    struct onednn_op wfwd, wbwd;                                /* oihw → the convs' layouts */
    int share_ddst;        /* the weight gradient reads the input gradient's blocked dout */
    size_t buf[BUF_COUNT]; /* floats of each scratch piece */
    size_t wf, wb;         /* floats of the reordered forward and backward-data weights */
};

struct conv2d_onednn {
    int threads;
    int chunk; /* images per chunk; the remainder of a batch runs image by image */
    int nv;    /* variants: mb = chunk, and mb = 1 when chunk > 1 */
    dnnl_engine_t eng;
    dnnl_stream_t *streams; /* (threads) */
    struct onednn_variant v[2];
};

int conv2d_onednn_preferred(void)
{
    return (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
}

static size_t floats_of(const dnnl_memory_desc_t *md)
{
    return (dnnl_memory_desc_get_size(md) / sizeof(float) + 15) & ~(size_t)15;
}

static const dnnl_memory_desc_t *arg_md(const_dnnl_primitive_desc_t pd, int arg)
{
    return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

/* The primitive of pd with per-thread memory objects for args (the last one the scratchpad). */
static void op_init(struct onednn_op *op, const_dnnl_primitive_desc_t pd, const int *args,
                    int nargs, const struct conv2d_onednn *od)
{
    REVIVE_ASSERT(nargs <= OP_MAX_ARGS);
    DNNL_OK(dnnl_primitive_create(&op->prim, pd));
    op->nargs = nargs;
    memcpy(op->arg, args, (size_t)nargs * sizeof *args);
    op->mem = rv_malloc((size_t)od->threads * nargs * sizeof *op->mem);
    for (int t = 0; t < od->threads; t++)
        for (int i = 0; i < nargs; i++)
            DNNL_OK(dnnl_memory_create(&op->mem[t * nargs + i], arg_md(pd, args[i]), od->eng,
                                       DNNL_MEMORY_NONE));
}

static void op_free(struct onednn_op *op, int threads)
{
    if (!op->prim)
        return;
    for (int i = 0; i < threads * op->nargs; i++)
        dnnl_memory_destroy(op->mem[i]);
    free(op->mem);
    dnnl_primitive_destroy(op->prim);
    memset(op, 0, sizeof *op);
}

static dnnl_primitive_attr_t new_attr(int sum)
{
    dnnl_primitive_attr_t attr;
    DNNL_OK(dnnl_primitive_attr_create(&attr));
    DNNL_OK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    if (sum) { /* to = from + to */
        dnnl_post_ops_t po;
        DNNL_OK(dnnl_post_ops_create(&po));
        DNNL_OK(dnnl_post_ops_append_sum(po, 1.0f));
        DNNL_OK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    return attr;
}

/* A reorder from → to (to += from when sum); none when the layouts are equal and !sum.
 * Returns the floats of scratchpad it needs. */
static size_t reorder_init(struct onednn_op *op, const dnnl_memory_desc_t *from,
                           const dnnl_memory_desc_t *to, int sum, const struct conv2d_onednn *od)
{
    memset(op, 0, sizeof *op);
    if (!sum && dnnl_memory_desc_equal(from, to))
        return 0;
    dnnl_primitive_attr_t attr = new_attr(sum);
    dnnl_primitive_desc_t pd;
    DNNL_OK(dnnl_reorder_primitive_desc_create(&pd, from, od->eng, to, od->eng, attr));
    dnnl_primitive_attr_destroy(attr);
    static const int args[] = {DNNL_ARG_FROM, DNNL_ARG_TO, DNNL_ARG_SCRATCHPAD};
    op_init(op, pd, args, 3, od);
    size_t pad = floats_of(arg_md(pd, DNNL_ARG_SCRATCHPAD));
    dnnl_primitive_desc_destroy(pd);
    return pad;
}

static void op_run(const struct onednn_op *op, const struct conv2d_onednn *od, int t,
                   const void *const *ptr)
{
    dnnl_exec_arg_t a[OP_MAX_ARGS];
    for (int i = 0; i < op->nargs; i++) {
        dnnl_memory_t mem = op->mem[t * op->nargs + i];
        DNNL_OK(dnnl_memory_set_data_handle(mem, (void *)ptr[i])); /* sources are only read */
        a[i] = (dnnl_exec_arg_t){op->arg[i], mem};
    }
    DNNL_OK(dnnl_primitive_execute(op->prim, od->streams[t], op->nargs, a));
}

static void reorder_run(const struct onednn_op *op, const struct conv2d_onednn *od, int t,
                        const void *from, void *to, void *pad)
{
    const void *ptr[3] = {from, to, pad};
    op_run(op, od, t, ptr);
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static void variant_init(struct onednn_variant *v, int mb, const struct conv2d *l,
                         const struct conv2d_onednn *od)
{
    memset(v, 0, sizeof *v);
    v->mb = mb;
    dnnl_dims_t sdims = {mb, l->in_c, l->in_h, l->in_w}, ddims = {mb, l->out_c, l->out_h, l->out_w};
    dnnl_dims_t wdims = {l->out_c, l->in_c, l->k, l->k};
    /* oneDNN wants the right padding that makes (in + pad_l + pad_r − k)/s + 1 the output size. */
    dnnl_dims_t strides = {l->stride, l->stride}, pad_l = {l->pad, l->pad};
    dnnl_dims_t pad_r = {(l->out_h - 1) * l->stride + l->k - l->in_h - l->pad,
                         (l->out_w - 1) * l->stride + l->k - l->in_w - l->pad};
    dnnl_memory_desc_t src_p, dst_p, w_p, src_a, dst_a, w_a;
    DNNL_OK(dnnl_memory_desc_init_by_tag(&src_p, 4, sdims, dnnl_f32, dnnl_nchw));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&dst_p, 4, ddims, dnnl_f32, dnnl_nchw));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&w_p, 4, wdims, dnnl_f32, dnnl_oihw));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&src_a, 4, sdims, dnnl_f32, dnnl_format_tag_any));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&dst_a, 4, ddims, dnnl_f32, dnnl_format_tag_any));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&w_a, 4, wdims, dnnl_f32, dnnl_format_tag_any));

    dnnl_primitive_attr_t attr = new_attr(0);
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t fpd, dpd, wpd;
    DNNL_OK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
                                               &src_a, &w_a, NULL, &dst_a, strides, pad_l, pad_r));
    DNNL_OK(dnnl_primitive_desc_create(&fpd, &cd, attr, od->eng, NULL));
    DNNL_OK(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &src_a, &w_a,
                                                     &dst_a, strides, pad_l, pad_r));
    DNNL_OK(dnnl_primitive_desc_create(&dpd, &cd, attr, od->eng, fpd));
    DNNL_OK(dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &src_a, &w_a,
                                                        NULL, &dst_a, strides, pad_l, pad_r));
    DNNL_OK(dnnl_primitive_desc_create(&wpd, &cd, attr, od->eng, fpd));
    dnnl_primitive_attr_destroy(attr);

    static const int fargs[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
    static const int dargs[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC,
                                DNNL_ARG_SCRATCHPAD};
    static const int wargs[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS,
                                DNNL_ARG_SCRATCHPAD};
    op_init(&v->fwd, fpd, fargs, 4, od);
    op_init(&v->bwdd, dpd, dargs, 4, od);
    op_init(&v->bwdw, wpd, wargs, 4, od);
    const dnnl_memory_desc_t *f_src = arg_md(fpd, DNNL_ARG_SRC), *f_dst = arg_md(fpd, DNNL_ARG_DST);
    const dnnl_memory_desc_t *d_dst = arg_md(dpd, DNNL_ARG_DIFF_DST);
    const dnnl_memory_desc_t *d_src = arg_md(dpd, DNNL_ARG_DIFF_SRC);
    const dnnl_memory_desc_t *w_src = arg_md(wpd, DNNL_ARG_SRC);
    const dnnl_memory_desc_t *w_dst = arg_md(wpd, DNNL_ARG_DIFF_DST);
    const dnnl_memory_desc_t *w_dw = arg_md(wpd, DNNL_ARG_DIFF_WEIGHTS);

    size_t pad = floats_of(arg_md(fpd, DNNL_ARG_SCRATCHPAD));
    pad = max_size(pad, floats_of(arg_md(dpd, DNNL_ARG_SCRATCHPAD)));
    pad = max_size(pad, floats_of(arg_md(wpd, DNNL_ARG_SCRATCHPAD)));
    pad = max_size(pad, reorder_init(&v->src_in, &src_p, f_src, 0, od));
    pad = max_size(pad, reorder_init(&v->dst_out, f_dst, &dst_p, 0, od));
    pad = max_size(pad, reorder_init(&v->ddst_in, &dst_p, d_dst, 0, od));
    pad = max_size(pad, reorder_init(&v->dsrc_add, d_src, &src_p, 1, od));
    pad = max_size(pad, reorder_init(&v->wsrc_in, &src_p, w_src, 0, od));
    pad = max_size(pad, reorder_init(&v->wddst_in, &dst_p, w_dst, 0, od));
    pad = max_size(pad, reorder_init(&v->dw_set, w_dw, &w_p, 0, od));
    pad = max_size(pad, reorder_init(&v->dw_add, w_dw, &w_p, 1, od));
    pad = max_size(pad, reorder_init(&v->wfwd, &w_p, arg_md(fpd, DNNL_ARG_WEIGHTS), 0, od));
    pad = max_size(pad, reorder_init(&v->wbwd, &w_p, arg_md(dpd, DNNL_ARG_WEIGHTS), 0, od));
    v->share_ddst = dnnl_memory_desc_equal(w_dst, d_dst);

    v->buf[BUF_SRC] = v->src_in.prim ? floats_of(f_src) : 0;
    v->buf[BUF_DST] = v->dst_out.prim ? floats_of(f_dst) : 0;
    v->buf[BUF_DDST] = v->ddst_in.prim ? floats_of(d_dst) : 0;
    v->buf[BUF_DSRC] = floats_of(d_src);
    v->buf[BUF_WSRC] = v->wsrc_in.prim ? floats_of(w_src) : 0;
    v->buf[BUF_WDDST] = v->wddst_in.prim ? floats_of(w_dst) : 0;
    v->buf[BUF_DW] = floats_of(w_dw);
    v->buf[BUF_PAD] = pad;
    v->wf = v->wfwd.prim ? floats_of(arg_md(fpd, DNNL_ARG_WEIGHTS)) : 0;
    v->wb = v->wbwd.prim ? floats_of(arg_md(dpd, DNNL_ARG_WEIGHTS)) : 0;
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(dpd);
    dnnl_primitive_desc_destroy(wpd);
}

static void variant_free(struct onednn_variant *v, int threads)
{
    struct onednn_op *ops[] = {&v->fwd, &v->src_in, &v->dst_out, &v->bwdd, &v->ddst_in,
                               &v->dsrc_add, &v->bwdw, &v->wsrc_in, &v->wddst_in, &v->dw_set,
                               &v->dw_add, &v->wfwd, &v->wbwd};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        op_free(ops[i], threads);
}

/* Images per chunk: the largest power of two whose input and output images fit
 * CONV2D_CHUNK_FLOATS (a power of two divides the usual batch sizes, leaving no single images). */
static int chunk_images(const struct conv2d *l)
{
    size_t per = (size_t)l->in_c * l->in_h * l->in_w + (size_t)l->out_c * l->out_h * l->out_w;
    int b = 1;
    while ((size_t)(2 * b) * per <= CONV2D_CHUNK_FLOATS && b < 64)
        b *= 2;
    return b;
}

void conv2d_onednn_prepare(struct conv2d *l, int threads)
{
    REVIVE_ASSERT(l->onednn && threads >= 1);
    if (l->dnnl && l->dnnl->threads >= threads)
        return;
    conv2d_onednn_release(l);
    struct conv2d_onednn *od = rv_calloc(1, sizeof *od);
    od->threads = threads;
    od->chunk = chunk_images(l);
    od->nv = od->chunk > 1 ? 2 : 1;
    /* Kernels planned for one thread (file comment); the caller's setting is restored. */
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    DNNL_OK(dnnl_engine_create(&od->eng, dnnl_cpu, 0));
    od->streams = rv_malloc((size_t)threads * sizeof *od->streams);
    for (int t = 0; t < threads; t++)
        DNNL_OK(dnnl_stream_create(&od->streams[t], od->eng, dnnl_stream_default_flags));
    for (int i = 0; i < od->nv; i++)
        variant_init(&od->v[i], i == 0 ? od->chunk : 1, l, od);
    omp_set_num_threads(saved);
    l->dnnl = od;
}

void conv2d_onednn_release(struct conv2d *l)
{
    struct conv2d_onednn *od = l->dnnl;
    if (!od)
        return;
    for (int i = 0; i < od->nv; i++)
        variant_free(&od->v[i], od->threads);
    for (int t = 0; t < od->threads; t++)
        dnnl_stream_destroy(od->streams[t]);
    free(od->streams);
    dnnl_engine_destroy(od->eng);
    free(od);
    l->dnnl = NULL;
}

static size_t variant_scratch(const struct onednn_variant *v)
{
    size_t f = 0;
    for (int b = 0; b < BUF_COUNT; b++)
        f += v->buf[b];
    return f;
}

size_t conv2d_onednn_scratch_floats(const struct conv2d *l)
{
    const struct conv2d_onednn *od = l->dnnl;
    size_t f = 0;
    for (int i = 0; i < od->nv; i++)
        f = max_size(f, variant_scratch(&od->v[i]));
    return f;
}

size_t conv2d_onednn_weight_floats(const struct conv2d *l)
{
    const struct conv2d_onednn *od = l->dnnl;
    size_t f = 0;
    for (int i = 0; i < od->nv; i++)
        f += od->v[i].wf + od->v[i].wb;
    return f;
}

/* The scratch pieces of variant v in a thread's slot. */
static void carve(float *buf[BUF_COUNT], float *slot, const struct onednn_variant *v)
{
    for (int b = 0; b < BUF_COUNT; b++) {
        buf[b] = slot;
        slot += v->buf[b];
    }
}

/* Chunk ci of a batch of n: full chunks first, then single images. */
static const struct onednn_variant *chunk_of(const struct conv2d_onednn *od, int ci, int n,
                                             int *n0)
{
    int q = n / od->chunk;
    if (ci < q) {
        *n0 = ci * od->chunk;
        return &od->v[0];
    }
    *n0 = q * od->chunk + (ci - q);
    return &od->v[od->nv - 1];
}

static int chunk_count(const struct conv2d_onednn *od, int n)
{
    return n / od->chunk + (od->nv == 2 ? n % od->chunk : 0);
}

/* The weights in each used variant's layouts, into ws->wt (or w itself when it is the layout):
 * wf[i] for the forward, wb[i] for the input gradient. Runs outside the parallel loops. */
static void weights(const float *wf[2], const float *wb[2], const float *w, int fwd, int n,
                    const struct conv2d_onednn *od, struct conv2d_workspace *ws)
{
    float *dst = ws->wt;
    for (int i = 0; i < od->nv; i++) {
        const struct onednn_variant *v = &od->v[i];
        int used = i == 0 ? n >= od->chunk || od->nv == 1 : n % od->chunk != 0;
        const struct onednn_op *op = fwd ? &v->wfwd : &v->wbwd;
        const float **out = fwd ? &wf[i] : &wb[i];
        float *to = fwd ? dst : dst + v->wf;
        *out = w;
        if (used && op->prim) {
            reorder_run(op, od, 0, w, to, ws->col); /* thread 0's slot: free here */
            *out = to;
        }
        dst += v->wf + v->wb;
    }
}

void conv2d_onednn_forward(float *out, const float *in, const float *w, const struct conv2d *l,
                           int n, struct conv2d_workspace *ws)
{
    const struct conv2d_onednn *od = l->dnnl;
    REVIVE_ASSERT(od && ws->wt_floats >= conv2d_onednn_weight_floats(l));
    const float *wf[2], *wb[2];
    weights(wf, wb, w, 1, n, od, ws);
    int chunks = chunk_count(od, n);
    int nt = conv2d_team_size(ws);
    REVIVE_ASSERT(nt <= od->threads);
    size_t ii = (size_t)l->in_c * l->in_h * l->in_w, oi = (size_t)l->out_c * l->out_h * l->out_w;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int ci = 0; ci < chunks; ci++) {
        int n0, t = omp_get_thread_num();
        const struct onednn_variant *v = chunk_of(od, ci, n, &n0);
        float *buf[BUF_COUNT];
        carve(buf, conv2d_thread_scratch(ws), v);
        const float *src = in + (size_t)n0 * ii;
        float *dst = out + (size_t)n0 * oi;
        if (v->src_in.prim) {
            reorder_run(&v->src_in, od, t, src, buf[BUF_SRC], buf[BUF_PAD]);
            src = buf[BUF_SRC];
        }
        const void *args[4] = {src, wf[v == &od->v[0] ? 0 : 1],
                               v->dst_out.prim ? buf[BUF_DST] : dst, buf[BUF_PAD]};
        op_run(&v->fwd, od, t, args);
        if (v->dst_out.prim)
            reorder_run(&v->dst_out, od, t, buf[BUF_DST], dst, buf[BUF_PAD]);
    }
}

int conv2d_onednn_backward(float *din, float *dw_partial, size_t dw_stride, const float *dout,
                           const float *in, const float *w, const struct conv2d *l, int n,
                           struct conv2d_workspace *ws)
{
    const struct conv2d_onednn *od = l->dnnl;
    REVIVE_ASSERT(od && ws->wt_floats >= conv2d_onednn_weight_floats(l));
    const float *wf[2], *wb[2] = {w, w};
    if (din)
        weights(wf, wb, w, 0, n, od, ws);
    int chunks = chunk_count(od, n);
    int nt = conv2d_team_size(ws);
    REVIVE_ASSERT(nt <= od->threads);
    size_t ii = (size_t)l->in_c * l->in_h * l->in_w, oi = (size_t)l->out_c * l->out_h * l->out_w;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int g = 0; g < CONV2D_DW_GROUPS; g++) {
        int t = omp_get_thread_num();
        float *part = dw_partial ? dw_partial + (size_t)g * dw_stride : NULL;
        for (int ci = g; ci < chunks; ci += CONV2D_DW_GROUPS) {
            int n0;
            const struct onednn_variant *v = chunk_of(od, ci, n, &n0);
            float *buf[BUF_COUNT];
            carve(buf, conv2d_thread_scratch(ws), v);
            const float *dd = dout + (size_t)n0 * oi, *src = in + (size_t)n0 * ii;
            const float *ddb = dd; /* dout in the input gradient's layout, once made */
            if (din) {
                if (v->ddst_in.prim) {
                    reorder_run(&v->ddst_in, od, t, dd, buf[BUF_DDST], buf[BUF_PAD]);
                    ddb = buf[BUF_DDST];
                }
                const void *args[4] = {ddb, wb[v == &od->v[0] ? 0 : 1], buf[BUF_DSRC],
                                       buf[BUF_PAD]};
                op_run(&v->bwdd, od, t, args);
                reorder_run(&v->dsrc_add, od, t, buf[BUF_DSRC], din + (size_t)n0 * ii,
                            buf[BUF_PAD]);
            }
            if (!part)
                continue;
            const float *wdd = dd;
            if (v->wddst_in.prim) {
                if (din && v->share_ddst) {
                    wdd = ddb;
                } else {
                    reorder_run(&v->wddst_in, od, t, dd, buf[BUF_WDDST], buf[BUF_PAD]);
                    wdd = buf[BUF_WDDST];
                }
            }
            if (v->wsrc_in.prim) {
                reorder_run(&v->wsrc_in, od, t, src, buf[BUF_WSRC], buf[BUF_PAD]);
                src = buf[BUF_WSRC];
            }
            int first = ci == g, direct = first && !v->dw_set.prim;
            const void *args[4] = {src, wdd, direct ? part : buf[BUF_DW], buf[BUF_PAD]};
            op_run(&v->bwdw, od, t, args);
            if (!direct)
                reorder_run(first ? &v->dw_set : &v->dw_add, od, t, buf[BUF_DW], part,
                            buf[BUF_PAD]);
        }
    }
    return chunks < CONV2D_DW_GROUPS ? chunks : CONV2D_DW_GROUPS;
}
