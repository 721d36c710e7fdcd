/* Winograd F(2×2, 3×3) for 3×3 stride-1 pad-1 convolutions (Lavin & Gray 2016).
 *
 * A 2×2 output tile Y of one (out, in) filter g comes from the 4×4 input tile d around it:
 *     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,
 *     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
 *     Aᵀ = [1 1 1 0; 0 1 −1 −1].
 * Summed over input channels, each of the 16 points ξ of the 4×4 transform domain is a matrix
 * product: M[ξ] (cout × T) = U[ξ] (cout × cin) · V[ξ] (cin × T), T tiles as columns, so the
 * 16 GEMMs do 16·cout·cin·T multiply-adds where im2col does 36 for the same 4 outputs (2.25×).
 * Tile t of an image covers outputs [2ty, 2ty+2) × [2tx, 2tx+2) and reads input rows and columns
 * from 2ty − 1 and 2tx − 1 (pad 1); odd sizes get a last, clipped tile.
 *
 * The input gradient of such a convolution is the same convolution of dout with each filter
 * rotated by 180° and in/out swapped. Reversing g's columns is G·J = P·G with P swapping rows 0
 * and 3 of G, so the rotated filter's transform is P·U·P: point (a, b) of it is point
 * (p(a), p(b)) of U, p = (3, 1, 2, 0). The backward pass reuses the forward's U, transposed.
 *
 * The batch is cut into chunks of images whose tiles (V and M) fit CONV2D_CHUNK_FLOATS; the
 * chunk size depends only on the layer and n, each chunk's GEMMs run on one thread, so the bits
 * do not depend on the thread count. Error: see tests/test_layers.c and docs/ARCHITECTURE.md.
 */
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "conv2d_internal.h"
#include "error.h"

static int tiles_1d(int x) { return (x + 1) / 2; }

size_t conv2d_winograd_weight_count(const struct conv2d *l)
{
    return (size_t)16 * l->out_c * l->in_c;
}

/* U[ξ][o][c] = (G g Gᵀ)[ξ] for filter g = w[o][c]. */
void conv2d_winograd_weights(float *u, const float *w, const struct conv2d *l)
{
    REVIVE_ASSERT(l->k == 3);
    size_t plane = (size_t)l->out_c * l->in_c;
    for (size_t f = 0; f < plane; f++) {
        const float *g = w + 9 * f;
        float t[4][3]; /* G·g */
        for (int j = 0; j < 3; j++) {
            float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
            t[0][j] = g0;
            t[1][j] = 0.5f * (g0 + g1 + g2);
            t[2][j] = 0.5f * (g0 - g1 + g2);
            t[3][j] = g2;
        }
        for (int i = 0; i < 4; i++) {
            float a = t[i][0], b = t[i][1], c = t[i][2];
            u[(size_t)(4 * i + 0) * plane + f] = a;
            u[(size_t)(4 * i + 1) * plane + f] = 0.5f * (a + b + c);
            u[(size_t)(4 * i + 2) * plane + f] = 0.5f * (a - b + c);
            u[(size_t)(4 * i + 3) * plane + f] = c;
        }
    }
}

static int chunk_images(int cin, int cout, int h, int w, int n)
{
    size_t per = (size_t)16 * (cin + cout) * tiles_1d(h) * tiles_1d(w);
    size_t b = CONV2D_CHUNK_FLOATS / per;
    if (b < 1)
        b = 1;
    if (b > (size_t)n)
        b = (size_t)n;
    return (int)b;
}

/* Distance between the 16 points' matrices of rows × T floats: padded by 16 floats (64 bytes)
 * whenever it would be a multiple of 1 KiB, else the transforms' 16 scattered stores and
 * loads per tile fall into one cache set (measured: 2.5× slower at 32×32 and 64×7×7). */
static size_t point_stride(size_t rows, size_t T)
{
    size_t s = rows * T;
    return s % 256 == 0 ? s + 16 : s;
}

static size_t pad_floats(int h, int w)
{
    return (size_t)(2 * tiles_1d(h) + 2) * (2 * tiles_1d(w) + 2);
}

size_t winograd_scratch_floats(const struct conv2d *l, int n)
{
    int th = tiles_1d(l->out_h), tw = tiles_1d(l->out_w);
    size_t b = (size_t)chunk_images(l->in_c, l->out_c, l->out_h, l->out_w, n);
    size_t T = (size_t)th * tw * b;
    return 16 * (point_stride((size_t)l->in_c, T) + point_stride((size_t)l->out_c, T)) +
           pad_floats(l->out_h, l->out_w) + 16;
}

/* V[ξ][c][t] = (Bᵀ d B)[ξ] for the chunk's tiles; pad is (2·th + 2) × (2·tw + 2) scratch. */
static void input_transform(float *v, float *pad, const float *in, int cin, int h, int w,
                            int nb, size_t T)
{
    int th = tiles_1d(h), tw = tiles_1d(w), pw = 2 * tw + 2;
    memset(pad, 0, pad_floats(h, w) * sizeof(float));
    size_t cstride = T, xstride = point_stride((size_t)cin, T);
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < cin; c++) {
            const float *x = in + ((size_t)b * cin + c) * h * w;
            for (int i = 0; i < h; i++) /* the border and any row/column past h, w stay 0 */
                memcpy(pad + (size_t)(i + 1) * pw + 1, x + (size_t)i * w, (size_t)w * sizeof(float));
            float *vc = v + (size_t)c * cstride + (size_t)b * th * tw;
            for (int ty = 0; ty < th; ty++)
                for (int tx = 0; tx < tw; tx++) {
                    const float *d = pad + (size_t)(2 * ty) * pw + 2 * tx;
                    float t[4][4]; /* Bᵀ·d */
                    for (int j = 0; j < 4; j++) {
                        float d0 = d[j], d1 = d[pw + j], d2 = d[2 * pw + j], d3 = d[3 * pw + j];
                        t[0][j] = d0 - d2;
                        t[1][j] = d1 + d2;
                        t[2][j] = d2 - d1;
                        t[3][j] = d1 - d3;
                    }
                    float *vt = vc + (size_t)ty * tw + tx;
                    for (int i = 0; i < 4; i++) {
                        vt[(4 * i + 0) * xstride] = t[i][0] - t[i][2];
                        vt[(4 * i + 1) * xstride] = t[i][1] + t[i][2];
                        vt[(4 * i + 2) * xstride] = t[i][2] - t[i][1];
                        vt[(4 * i + 3) * xstride] = t[i][1] - t[i][3];
                    }
                }
        }
}

/* out = (or +=) Aᵀ M A for every (o, tile), clipped at odd sizes. */
static void output_transform(float *out, int accumulate, const float *mm, int cout, int h, int w,
                             int nb, size_t T)
{
    int th = tiles_1d(h), tw = tiles_1d(w);
    size_t xstride = point_stride((size_t)cout, T);
    for (int b = 0; b < nb; b++)
        for (int o = 0; o < cout; o++) {
            float *y = out + ((size_t)b * cout + o) * h * w;
            const float *mo = mm + (size_t)o * T + (size_t)b * th * tw;
            for (int ty = 0; ty < th; ty++)
                for (int tx = 0; tx < tw; tx++) {
                    const float *mt = mo + (size_t)ty * tw + tx;
                    float m[16];
                    for (int x = 0; x < 16; x++)
                        m[x] = mt[x * xstride];
                    float t[2][4]; /* Aᵀ·m */
                    for (int j = 0; j < 4; j++) {
                        t[0][j] = m[j] + m[4 + j] + m[8 + j];
                        t[1][j] = m[4 + j] - m[8 + j] - m[12 + j];
                    }
                    float r[2][2];
                    for (int i = 0; i < 2; i++) {
                        r[i][0] = t[i][0] + t[i][1] + t[i][2];
                        r[i][1] = t[i][1] - t[i][2] - t[i][3];
                    }
                    int oh = 2 * ty, ow = 2 * tx;
                    int rh = h - oh < 2 ? h - oh : 2, rw = w - ow < 2 ? w - ow : 2;
                    for (int i = 0; i < rh; i++)
                        for (int j = 0; j < rw; j++) {
                            float *dst = y + (size_t)(oh + i) * w + ow + j;
                            *dst = accumulate ? *dst + r[i][j] : r[i][j];
                        }
                }
        }
}

/* The point of U that the rotated filter's point x is (header comment): p = (3, 1, 2, 0). */
static int flipped_point(int x)
{
    static const int p[4] = {3, 1, 2, 0};
    return 4 * p[x / 4] + p[x % 4];
}

void winograd_conv(float *out, int accumulate, const float *in, const float *u, int transpose_u,
                   int cin, int cout, int h, int w, int n, struct conv2d_workspace *ws)
{
    int tiles = tiles_1d(h) * tiles_1d(w);
    int bsz = chunk_images(cin, cout, h, w, n);
    int chunks = (n + bsz - 1) / bsz;
    int nt = conv2d_team_size(ws);
    size_t plane = (size_t)cin * cout;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int ci = 0; ci < chunks; ci++) {
        int n0 = ci * bsz;
        int nb = n - n0 < bsz ? n - n0 : bsz;
        size_t T = (size_t)nb * tiles;
        size_t vs = point_stride((size_t)cin, T), ms = point_stride((size_t)cout, T);
        float *v = conv2d_thread_scratch(ws); /* (16, cin, T), points vs apart */
        float *mm = v + 16 * vs;               /* (16, cout, T), points ms apart */
        float *pad = mm + 16 * ms;
        input_transform(v, pad, in + (size_t)n0 * cin * h * w, cin, h, w, nb, T);
        for (int x = 0; x < 16; x++) {
            if (transpose_u)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cout, (int)T, cin, 1.0f,
                            u + (size_t)flipped_point(x) * plane, cout, v + x * vs, (int)T, 0.0f,
                            mm + x * ms, (int)T);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, (int)T, cin, 1.0f,
                            u + (size_t)x * plane, cin, v + x * vs, (int)T, 0.0f, mm + x * ms,
                            (int)T);
        }
        output_transform(out + (size_t)n0 * cout * h * w, accumulate, mm, cout, h, w, nb, T);
    }
}
