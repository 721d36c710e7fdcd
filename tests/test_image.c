/* PNG in and out (src/image/png.c) and the image measurements (src/image/metrics.c).
 *
 * The fixtures in tests/data/png/ were written by tests/tools/make_pngs.py's own encoder (zlib
 * and struct, not libpng): 5 x 3 pixels whose samples follow the formulas s8, s16 and PALETTE
 * below. Run from the repository root. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "image.h"
#include "support.h"

#define FIX "tests/data/png/"
enum { FW = 5, FH = 3 };
static const int PALETTE[4][3] = {{0, 0, 0}, {255, 0, 0}, {10, 200, 30}, {255, 255, 255}};

static double s8(int x, int y, int k) { return ((37 * x + 11 * y + 71 * k + 5) % 256) / 255.0; }
static double s16(int x, int y, int k) { return ((9973 * x + 311 * y + 17011 * k + 101) % 65536) / 65535.0; }

static float at(const struct image *im, int k, int y, int x) { return im->v[((size_t)k * im->h + y) * im->w + x]; }

static void read_ok(struct image *im, const char *path, int want_c)
{
    struct rv_error err = {{0}};
    int rc = image_read_png(im, path, want_c, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(im->h, FH);
    assert_int_equal(im->w, FW);
}

/* As stored: every colour type and bit depth gives its channels and samples / (2^bits - 1). */
static void test_read_as_stored(void **state)
{
    (void)state;
    static const struct { const char *name; int c, bits; } cases[] = {
        {"gray8", 1, 8}, {"gray16", 1, 16}, {"ga8", 2, 8}, {"ga16", 2, 16},
        {"rgb8", 3, 8},  {"rgb16", 3, 16},  {"rgba8", 4, 8}, {"rgba16", 4, 16},
        {"rgb8_interlaced", 3, 8}, /* Adam7 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, FIX "%s.png", cases[i].name);
        struct image im;
        read_ok(&im, path, 0);
        assert_int_equal(im.c, cases[i].c);
        for (int k = 0; k < im.c; k++)
            for (int y = 0; y < FH; y++)
                for (int x = 0; x < FW; x++)
                    assert_true(at(&im, k, y, x) == (float)(cases[i].bits == 8 ? s8(x, y, k) : s16(x, y, k)));
        image_free(&im);
        assert_null(im.v);
    }
}

/* Gray from RGB by skimage.color.rgb2gray's weights; alpha dropped; gray replicated to RGB. */
static void test_read_converted(void **state)
{
    (void)state;
    struct image g, rgb;
    const char *from_rgb[] = {FIX "rgb8.png", FIX "rgba8.png"};
    for (int f = 0; f < 2; f++) {
        read_ok(&g, from_rgb[f], 1);
        assert_int_equal(g.c, 1);
        for (int y = 0; y < FH; y++)
            for (int x = 0; x < FW; x++)
                assert_true(at(&g, 0, y, x) ==
                            (float)(0.2125 * s8(x, y, 0) + 0.7154 * s8(x, y, 1) + 0.0721 * s8(x, y, 2)));
        image_free(&g);
    }
    read_ok(&g, FIX "ga16.png", 1); /* gray + alpha → gray: alpha dropped */
    assert_int_equal(g.c, 1);
    assert_true(at(&g, 0, 2, 4) == (float)s16(4, 2, 0));
    image_free(&g);
    read_ok(&rgb, FIX "gray8.png", 3);
    assert_int_equal(rgb.c, 3);
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < FH; y++)
            for (int x = 0; x < FW; x++)
                assert_true(at(&rgb, k, y, x) == (float)s8(x, y, 0));
    image_free(&rgb);
    read_ok(&rgb, FIX "rgba16.png", 3);
    assert_int_equal(rgb.c, 3);
    assert_true(at(&rgb, 2, 1, 3) == (float)s16(3, 1, 2));
    image_free(&rgb);

    /* image_convert converts as the reader does (from float samples: equal to float rounding) */
    struct image stored, conv;
    read_ok(&stored, FIX "rgba8.png", 0);
    read_ok(&g, FIX "rgba8.png", 1);
    image_convert(&conv, &stored, 1);
    assert_int_equal(conv.c, 1);
    for (int i = 0; i < FH * FW; i++)
        assert_true(fabsf(conv.v[i] - g.v[i]) <= 1e-7f);
    image_free(&conv);
    image_convert(&conv, &stored, 3); /* alpha dropped */
    assert_int_equal(conv.c, 3);
    assert_memory_equal(conv.v, stored.v, sizeof(float) * 3 * FH * FW);
    image_free(&conv);
    image_convert(&conv, &g, 3); /* gray replicated */
    for (int k = 0; k < 3; k++)
        assert_memory_equal(conv.v + k * FH * FW, g.v, sizeof(float) * FH * FW);
    image_free(&conv);
    image_free(&g);
    image_free(&stored);
}

/* Palette → RGB; a tRNS chunk → alpha (as stored); 1-bit gray → 0 or 1. */
static void test_read_palette_and_low_bits(void **state)
{
    (void)state;
    struct image im;
    read_ok(&im, FIX "palette.png", 0);
    assert_int_equal(im.c, 3);
    for (int y = 0; y < FH; y++)
        for (int x = 0; x < FW; x++)
            for (int k = 0; k < 3; k++)
                assert_true(at(&im, k, y, x) == (float)(PALETTE[(x + 2 * y) % 4][k] / 255.0));
    image_free(&im);
    read_ok(&im, FIX "palette_trns.png", 0);
    assert_int_equal(im.c, 4);
    for (int y = 0; y < FH; y++)
        for (int x = 0; x < FW; x++)
            assert_true(at(&im, 3, y, x) == ((x + 2 * y) % 4 == 1 ? (float)(128 / 255.0) : 1.0f));
    image_free(&im);
    read_ok(&im, FIX "palette_trns.png", 1);
    assert_int_equal(im.c, 1);
    assert_true(at(&im, 0, 0, 2) == (float)(0.2125 * 10 / 255.0 + 0.7154 * 200 / 255.0 + 0.0721 * 30 / 255.0));
    image_free(&im);
    read_ok(&im, FIX "gray1.png", 0);
    assert_int_equal(im.c, 1);
    for (int y = 0; y < FH; y++)
        for (int x = 0; x < FW; x++)
            assert_true(at(&im, 0, y, x) == (float)((x + y) & 1));
    image_free(&im);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 16);
    *n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void put_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The memory reader gives the file reader's answer. */
static void test_read_mem(void **state)
{
    (void)state;
    size_t n;
    char *buf = slurp(FIX "rgba16.png", &n);
    struct image a, b;
    struct rv_error err;
    read_ok(&a, FIX "rgba16.png", 0);
    assert_int_equal(image_read_png_mem(&b, buf, n, "mem", 0, &err), 0);
    assert_int_equal(b.c, a.c);
    assert_memory_equal(a.v, b.v, sizeof(float) * a.c * a.h * a.w);
    image_free(&a);
    image_free(&b);
    free(buf);
}

/* A bad input gives -1, an empty image and one line naming the file and the fix. */
static void expect_error(int rc, const struct image *im, const struct rv_error *err, const char *name,
                         const char *needle)
{
    assert_int_equal(rc, -1);
    assert_null(im->v);
    if (!strstr(err->msg, name) || !strstr(err->msg, needle) || strchr(err->msg, '\n'))
        fail_msg("expected one line naming %s with '%s', got: %s", name, needle, err->msg);
}

/* A PNG of w x h gray 8-bit pixels with no image data after the header: enough to test bounds. */
static size_t header_only_png(unsigned char *out, uint32_t w, uint32_t h)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[4 + 4 + 13 + 4] = {0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (int i = 0; i < 4; i++) {
        ihdr[8 + i] = (unsigned char)(w >> (24 - 8 * i));
        ihdr[12 + i] = (unsigned char)(h >> (24 - 8 * i));
    }
    ihdr[16] = 8; /* bit depth; colour type 0, compression, filter, interlace 0 */
    uint32_t crc = (uint32_t)crc32(0, ihdr + 4, 4 + 13);
    for (int i = 0; i < 4; i++)
        ihdr[21 + i] = (unsigned char)(crc >> (24 - 8 * i));
    memcpy(out, sig, 8);
    memcpy(out + 8, ihdr, sizeof ihdr);
    return 8 + sizeof ihdr;
}

static void test_read_errors(void **state)
{
    (void)state;
    char dir[256], path[512];
    assert_int_equal(support_make_tmpdir(dir, sizeof dir, "test_image"), 0);
    struct image im;
    struct rv_error err;

    snprintf(path, sizeof path, "%s/missing.png", dir);
    expect_error(image_read_png(&im, path, 0, &err), &im, &err, path, "check the path");

    snprintf(path, sizeof path, "%s/text.png", dir);
    put_file(path, "[run]\nname = x\n", 15);
    expect_error(image_read_png(&im, path, 0, &err), &im, &err, path, "not a PNG file");
    put_file(path, "", 0);
    expect_error(image_read_png(&im, path, 0, &err), &im, &err, path, "it is empty");
    expect_error(image_read_png(&im, dir, 0, &err), &im, &err, dir, "cannot read"); /* a directory */

    /* Every proper prefix of a good file is truncated: an error, never a crash or a picture. */
    size_t n;
    char *good = slurp(FIX "rgb16.png", &n);
    snprintf(path, sizeof path, "%s/cut.png", dir);
    for (size_t cut = 0; cut < n; cut++) {
        put_file(path, good, cut);
        int rc = image_read_png(&im, path, 3, &err);
        expect_error(rc, &im, &err, path, cut < 8 ? "not a PNG file" : "re-export");
        expect_error(image_read_png_mem(&im, good, cut, "cut-in-memory", 0, &err), &im, &err,
                     "cut-in-memory", cut < 8 ? "not a PNG" : "truncated");
    }
    /* A flipped bit in the pixel data fails the chunk's CRC-32. */
    char *bad = malloc(n);
    memcpy(bad, good, n);
    bad[n - 12 - 5] ^= 0x10; /* inside IDAT, before its CRC and the 12-byte IEND */
    snprintf(path, sizeof path, "%s/flipped.png", dir);
    put_file(path, bad, n);
    expect_error(image_read_png(&im, path, 0, &err), &im, &err, path, "damaged");
    free(bad);
    free(good);

    /* Too large: a side over IMAGE_MAX_SIDE, or sides within it whose product is over
     * IMAGE_MAX_PIXELS; refused from the header, before any pixel is allocated. */
    unsigned char hdr[64];
    snprintf(path, sizeof path, "%s/wide.png", dir);
    put_file(path, hdr, header_only_png(hdr, IMAGE_MAX_SIDE + 1, 1));
    expect_error(image_read_png(&im, path, 0, &err), &im, &err, path, "scale the image down");
    put_file(path, hdr, header_only_png(hdr, 4097, 4097));
    expect_error(image_read_png(&im, path, 0, &err), &im, &err, path, "4097 x 4097");
    put_file(path, hdr, header_only_png(hdr, 4096, 4096)); /* within bounds, no data: truncated */
    expect_error(image_read_png(&im, path, 0, &err), &im, &err, path, "truncated");

    expect_error(image_read_png(&im, FIX "rgb8.png", 2, &err), &im, &err, "rgb8.png", "1 (gray) or 3 (RGB)");
    support_rm_rf(dir);
}

/* 8-bit gray and RGB round trips: k/255 comes back exactly; values are clamped and rounded. */
static void test_write_round_trip(void **state)
{
    (void)state;
    char dir[256], path[512];
    assert_int_equal(support_make_tmpdir(dir, sizeof dir, "test_image"), 0);
    for (int c = 1; c <= 3; c += 2) {
        struct image im, back;
        image_alloc(&im, c, 7, 9);
        size_t n = (size_t)c * 7 * 9;
        for (size_t i = 0; i < n; i++)
            im.v[i] = (float)((i * 29 + 3) % 256) / 255.0f;
        snprintf(path, sizeof path, "%s/rt%d.png", dir, c);
        struct rv_error err;
        assert_int_equal(image_write_png(&im, path, &err), 0);
        assert_int_equal(image_read_png(&back, path, 0, &err), 0);
        assert_int_equal(back.c, c);
        assert_int_equal(back.h, 7);
        assert_int_equal(back.w, 9);
        assert_memory_equal(back.v, im.v, sizeof(float) * n);
        image_free(&back);
        /* clamping and rounding: -1 → 0, 2 → 1, NaN → 0, 0.5 → 128/255, 0.3 → 77/255 */
        const float in[5] = {-1.0f, 2.0f, NAN, 0.5f, 0.3f};
        const float want[5] = {0.0f, 1.0f, 0.0f, 128 / 255.0f, 77 / 255.0f};
        for (int i = 0; i < 5; i++)
            im.v[i] = in[i];
        assert_int_equal(image_write_png(&im, path, &err), 0);
        assert_int_equal(image_read_png(&back, path, 0, &err), 0);
        for (int i = 0; i < 5; i++)
            assert_true(back.v[i] == want[i]);
        image_free(&back);
        image_free(&im);
    }
    /* no PATH.tmp is left behind */
    snprintf(path, sizeof path, "%s/rt1.png.tmp", dir);
    assert_null(fopen(path, "rb"));
    support_rm_rf(dir);
}

static void test_write_errors(void **state)
{
    (void)state;
    char dir[256], path[512];
    assert_int_equal(support_make_tmpdir(dir, sizeof dir, "test_image"), 0);
    struct image im;
    struct rv_error err;
    image_alloc(&im, 2, 4, 4);
    snprintf(path, sizeof path, "%s/two.png", dir);
    assert_int_equal(image_write_png(&im, path, &err), -1);
    assert_non_null(strstr(err.msg, "give 1 (gray) or 3 (RGB)"));
    image_free(&im);
    image_alloc(&im, 1, 4, 4);
    snprintf(path, sizeof path, "%s/no/such/dir/x.png", dir);
    assert_int_equal(image_write_png(&im, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "directory exists"));
    assert_null(strchr(err.msg, '\n'));
    image_free(&im);
    support_rm_rf(dir);
}

/* A 2 x 3 grid of 4 x 5 cells with 2 pixels of padding: each cell where it belongs, white
 * between and around, an empty cell white; cells of different sizes are an error. */
static void test_grid(void **state)
{
    (void)state;
    char dir[256], path[512];
    assert_int_equal(support_make_tmpdir(dir, sizeof dir, "test_image"), 0);
    snprintf(path, sizeof path, "%s/grid.png", dir);
    enum { R = 2, C = 3, h = 4, w = 5, pad = 2 };
    struct image cells[R * C];
    for (int i = 0; i < R * C; i++) {
        image_alloc(&cells[i], 3, h, w);
        for (int k = 0; k < 3 * h * w; k++)
            cells[i].v[k] = (float)((i * 40 + k) % 200) / 255.0f;
    }
    image_free(&cells[4]); /* row 1, column 1 left empty */
    struct rv_error err;
    assert_int_equal(image_write_grid_png(path, cells, R, C, pad, &err), 0);
    struct image g;
    assert_int_equal(image_read_png(&g, path, 0, &err), 0);
    assert_int_equal(g.c, 3);
    assert_int_equal(g.h, R * h + (R + 1) * pad);
    assert_int_equal(g.w, C * w + (C + 1) * pad);
    int inside = 0, white = 0;
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < g.h; y++)
            for (int x = 0; x < g.w; x++) {
                int r = (y - pad) / (h + pad), q = (x - pad) / (w + pad);
                int cy = (y - pad) % (h + pad), cx = (x - pad) % (w + pad);
                if (y >= pad && x >= pad && cy < h && cx < w && r * C + q != 4) {
                    assert_true(at(&g, k, y, x) == at(&cells[r * C + q], k, cy, cx));
                    inside++;
                } else {
                    assert_true(at(&g, k, y, x) == 1.0f);
                    white++;
                }
            }
    assert_int_equal(inside, 3 * 5 * h * w);
    image_free(&g);
    image_alloc(&g, 3, h + 1, w);
    struct image mixed[2] = {cells[0], g};
    assert_int_equal(image_write_grid_png(path, mixed, 1, 2, pad, &err), -1);
    assert_non_null(strstr(err.msg, "give cells of one size"));
    struct image none[2] = {{0}, {0}};
    assert_int_equal(image_write_grid_png(path, none, 1, 2, pad, &err), -1);
    assert_non_null(strstr(err.msg, "every grid cell is empty"));
    image_free(&g);
    for (int i = 0; i < R * C; i++)
        image_free(&cells[i]);
    support_rm_rf(dir);
}

/* ---- measurements ---- */

/* Two fixed 12 x 10 images (rows of 10) whose values are exact in float. */
enum { MH = 12, MW = 10 };
static void metric_images(float *a, float *b)
{
    for (int y = 0; y < MH; y++)
        for (int x = 0; x < MW; x++) {
            a[y * MW + x] = (float)((x * 7 + y * 13) % 17) / 16.0f;
            b[y * MW + x] = (float)((x * 5 + y * 3 + x * y) % 11) / 10.0f;
        }
}

/* Reference values: skimage 0.19.3 / numpy on float64 copies of these images
 * (tests/tools/image_reference.py prints them; tests/image.test.sh checks they still agree where
 * scikit-image is installed). */
#define REF_PSNR 7.84587594020678
#define REF_SSIM7 0.18606371550575587
#define REF_SSIM3_R2 0.15652920111512847
#define REF_SHARE_A_025 0.9071284472905633
#define REF_SHARE_B_01 0.8957167632934376
#define REF_SHARE_ODD_025 0.943336793713884
#define REF_RADIAL_A {0.0030902785809380994, 0.02492619517346055, 0.01492352117106123, 0.04588930870438479, 0.2600710394011578}
#define REF_RADIAL_ODD {0.011426595433298197, 0.08373031744751516, 0.12911002424624585}
#define REF_SPECTRUM_DIST 0.6306696902724414
#define REF_W1_11 0.03333333333333334
#define REF_W1_256 0.03761437908496733
#define REF_W1_8BIT 0.03761437908496733

static void test_psnr_ssim_reference(void **state)
{
    (void)state;
    float a[MH * MW], b[MH * MW];
    metric_images(a, b);
    assert_true(fabs(image_psnr(a, b, MH * MW, 1.0) - REF_PSNR) < 1e-9);
    assert_true(fabs(image_ssim(a, b, MH, MW, 7, 1.0) - REF_SSIM7) < 1e-9);
    assert_true(fabs(image_ssim(a, b, MH, MW, 3, 2.0) - REF_SSIM3_R2) < 1e-9);
    assert_true(image_ssim(a, a, MH, MW, 7, 1.0) == 1.0);
    assert_true(isinf(image_psnr(a, a, MH * MW, 1.0)));
}

/* FFTW in single precision against numpy's FFT in double: agreement to ~1e-6 relative. */
static void test_spectra_reference(void **state)
{
    (void)state;
    float a[MH * MW], b[MH * MW], a97[9 * 7], b97[9 * 7];
    metric_images(a, b);
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 7; x++) {
            a97[y * 7 + x] = a[y * MW + x];
            b97[y * 7 + x] = b[y * MW + x];
        }
    assert_true(fabs(image_spectral_share_above(a, MH, MW, IMAGE_NYQUIST_X2) - REF_SHARE_A_025) < 1e-6);
    assert_true(fabs(image_spectral_share_above(b, MH, MW, 0.1) - REF_SHARE_B_01) < 1e-6);
    assert_true(fabs(image_spectral_share_above(a97, 9, 7, 0.25) - REF_SHARE_ODD_025) < 1e-6);
    assert_true(image_spectral_share_above(a, MH, MW, 0.5) == 0.0);
    float flat[16];
    for (int i = 0; i < 16; i++)
        flat[i] = 0.375f;
    assert_true(image_spectral_share_above(flat, 4, 4, 0.1) == 0.0); /* constant: no energy */

    static const double ref_a[5] = REF_RADIAL_A, ref_odd[3] = REF_RADIAL_ODD;
    double ra[5], rb[5], rodd[3];
    image_radial_spectrum(ra, 5, a, MH, MW);
    image_radial_spectrum(rb, 5, b, MH, MW);
    image_radial_spectrum(rodd, 3, b97, 9, 7);
    for (int k = 0; k < 5; k++)
        assert_true(fabs(ra[k] - ref_a[k]) < 1e-6 * (1 + ref_a[k]));
    for (int k = 0; k < 3; k++)
        assert_true(fabs(rodd[k] - ref_odd[k]) < 1e-6 * (1 + ref_odd[k]));
    assert_true(fabs(image_spectrum_distance(ra, rb, 5) - REF_SPECTRUM_DIST) < 1e-5);
    assert_true(image_spectrum_distance(ra, ra, 5) == 0.0);
}

static void test_w1_reference(void **state)
{
    (void)state;
    float a[MH * MW], b[MH * MW], qa[MH * MW], qb[MH * MW];
    metric_images(a, b);
    assert_true(fabs(image_w1_gray(a, MH * MW, b, MH * MW, 11) - REF_W1_11) < 1e-12);
    assert_true(fabs(image_w1_gray(a, MH * MW, b, MH * MW, 256) - REF_W1_256) < 1e-12);
    for (int i = 0; i < MH * MW; i++) {
        qa[i] = (float)(round(a[i] * 255.0) / 255.0);
        qb[i] = (float)(round(b[i] * 255.0) / 255.0);
    }
    assert_true(fabs(image_w1_gray(qa, MH * MW, qb, MH * MW, 256) - REF_W1_8BIT) < 1e-12);
    assert_true(image_w1_gray(a, MH * MW, a, MH * MW, 256) == 0.0);
    /* all mass at 0 against all at 1: the whole range; sizes may differ */
    const float zeros[3] = {0, -1, NAN}, ones[2] = {1, 7};
    assert_true(fabs(image_w1_gray(zeros, 3, ones, 2, 256) - 1.0) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_as_stored),
        cmocka_unit_test(test_read_converted),
        cmocka_unit_test(test_read_palette_and_low_bits),
        cmocka_unit_test(test_read_mem),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_write_round_trip),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_psnr_ssim_reference),
        cmocka_unit_test(test_spectra_reference),
        cmocka_unit_test(test_w1_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
