/* PNG in and out with libpng (include/image.h says what is read and written, and the bounds).
 *
 * libpng reports an error by calling our error function, which must not return: it records the
 * message and longjmps back to the setjmp in decode() or encode(). Everything those functions
 * change after their setjmp lives in the caller's struct png_job (reached through a pointer), not
 * in their own locals, so nothing is left indeterminate by the jump (C11 7.13.2.1), and the
 * caller frees what was allocated whichever way decode or encode returned. */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

struct png_job {
    const char *name;              /* the file, for messages */
    FILE *f;                       /* reading from or writing to a file, or */
    const unsigned char *mem;      /* reading from memory: mem[0 .. n), next byte at pos */
    size_t n, pos;
    png_structp png;
    png_infop info;
    unsigned char *pixels;         /* decoded rows, interleaved, rowbytes each */
    png_bytep *rows;
    unsigned char head[24];        /* the signature and IHDR's width and height, read first */
    size_t head_n, head_pos;       /* served to libpng before the rest */
    png_uint_32 w, h;
    int channels, bits;            /* after libpng's transformations: 1..4 channels, 8 or 16 bits */
    char why[200];                 /* libpng's message */
};

static void on_error(png_structp png, png_const_charp msg)
{
    struct png_job *j = png_get_error_ptr(png);
    snprintf(j->why, sizeof j->why, "%s", msg ? msg : "unknown error");
    for (char *p = j->why; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    png_longjmp(png, 1);
}

/* Warnings (an unknown ancillary chunk, a bad ancillary CRC: libpng skips those) are not ours to print. */
static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void read_bytes(png_structp png, png_bytep out, size_t n)
{
    struct png_job *j = png_get_io_ptr(png);
    if (j->head_pos < j->head_n) {
        size_t k = j->head_n - j->head_pos < n ? j->head_n - j->head_pos : n;
        memcpy(out, j->head + j->head_pos, k);
        j->head_pos += k;
        out += k;
        n -= k;
        if (n == 0)
            return;
    }
    if (j->f) {
        if (fread(out, 1, n, j->f) != n)
            png_error(png, ferror(j->f) ? "read error" : "unexpected end of file");
        return;
    }
    if (n > j->n - j->pos)
        png_error(png, "unexpected end of file");
    memcpy(out, j->mem + j->pos, n);
    j->pos += n;
}

/* Decodes the PNG (its first bytes in j->head, the signature checked) into j->pixels: palette → RGB, tRNS → alpha,
 * gray below 8 bits → 8 bits, interlacing undone. -1 on any error (j->why or j->too_large). */
static int decode(struct png_job *j)
{
    if (setjmp(png_jmpbuf(j->png)))
        return -1;
    png_set_read_fn(j->png, j, read_bytes);
    png_set_sig_bytes(j->png, 8);
    png_set_user_limits(j->png, IMAGE_MAX_SIDE, IMAGE_MAX_SIDE); /* read_png checked; a second guard */
    png_read_info(j->png, j->info);
    j->w = png_get_image_width(j->png, j->info);
    j->h = png_get_image_height(j->png, j->info);
    if ((long)j->w * (long)j->h > IMAGE_MAX_PIXELS)
        png_error(j->png, "image larger than the bounds");
    int type = png_get_color_type(j->png, j->info);
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(j->png);
    if (type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(j->png, j->info) < 8)
        png_set_expand_gray_1_2_4_to_8(j->png);
    if (png_get_valid(j->png, j->info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(j->png);
    png_set_interlace_handling(j->png);
    png_read_update_info(j->png, j->info);
    j->channels = png_get_channels(j->png, j->info);
    j->bits = png_get_bit_depth(j->png, j->info);
    if (j->channels < 1 || j->channels > 4 || (j->bits != 8 && j->bits != 16))
        png_error(j->png, "unsupported channel count or bit depth after expansion");
    size_t rowbytes = png_get_rowbytes(j->png, j->info);
    if (rowbytes != (size_t)j->w * (size_t)j->channels * (size_t)(j->bits / 8))
        png_error(j->png, "unexpected row size");
    j->pixels = malloc(rowbytes * j->h);
    j->rows = malloc(sizeof *j->rows * j->h);
    if (!j->pixels || !j->rows)
        png_error(j->png, "out of memory");
    for (png_uint_32 y = 0; y < j->h; y++)
        j->rows[y] = j->pixels + rowbytes * y;
    png_read_image(j->png, j->rows);
    png_read_end(j->png, NULL);
    return 0;
}

/* Sample k of pixel i (interleaved, j->channels a pixel) as a value in [0, 1]. */
static double sample(const struct png_job *j, size_t i, int k)
{
    size_t at = i * (size_t)j->channels + (size_t)k;
    if (j->bits == 16)
        return (double)(((unsigned)j->pixels[2 * at] << 8) | j->pixels[2 * at + 1]) / 65535.0;
    return (double)j->pixels[at] / 255.0;
}

/* j's pixels as want_c planar channels (include/image.h: rgb2gray's weights, alpha dropped). */
static void to_planes(struct image *im, const struct png_job *j, int want_c)
{
    int color = j->channels >= 3 ? 3 : 1;
    int c = want_c ? want_c : j->channels;
    image_alloc(im, c, (int)j->h, (int)j->w);
    size_t plane = (size_t)j->h * j->w;
    for (size_t i = 0; i < plane; i++) {
        if (want_c == 0) {
            for (int k = 0; k < c; k++)
                im->v[k * plane + i] = (float)sample(j, i, k);
        } else if (want_c == 1) {
            im->v[i] = (float)(color == 1 ? sample(j, i, 0)
                                          : IMAGE_GRAY_R * sample(j, i, 0) + IMAGE_GRAY_G * sample(j, i, 1) +
                                                IMAGE_GRAY_B * sample(j, i, 2));
        } else {
            for (int k = 0; k < 3; k++)
                im->v[k * plane + i] = (float)sample(j, i, color == 1 ? 0 : k);
        }
    }
}

/* Reads from j->f or j->mem (set by the caller); closes nothing. */
static int read_png(struct image *im, struct png_job *j, int want_c, struct rv_error *err)
{
    *im = (struct image){0};
    if (want_c != 0 && want_c != 1 && want_c != 3)
        return rv_fail(err, "%s: cannot read as %d channels; ask for 0 (as stored), 1 (gray) or 3 (RGB)",
                       j->name, want_c);
    /* The signature, then the first chunk's length and type and IHDR's width and height (a PNG
     * starts with IHDR), checked against the bounds before libpng allocates anything. */
    size_t got;
    if (j->f) {
        got = fread(j->head, 1, sizeof j->head, j->f);
        if (got < sizeof j->head && ferror(j->f))
            return rv_fail(err, "%s: cannot read (%s); check the file", j->name, strerror(errno));
    } else {
        got = j->n < sizeof j->head ? j->n : sizeof j->head;
        memcpy(j->head, j->mem, got);
        j->pos = got;
    }
    j->head_n = got;
    if (got < 8 || png_sig_cmp(j->head, 0, 8) != 0)
        return rv_fail(err, "%s: not a PNG file (%s); convert it to PNG first", j->name,
                       got == 0 ? "it is empty" : "it does not start with the PNG signature");
    if (got == sizeof j->head && memcmp(j->head + 12, "IHDR", 4) == 0) {
        j->w = png_get_uint_32(j->head + 16);
        j->h = png_get_uint_32(j->head + 20);
        if (j->w > IMAGE_MAX_SIDE || j->h > IMAGE_MAX_SIDE || (long)j->w * (long)j->h > IMAGE_MAX_PIXELS)
            return rv_fail(err, "%s: %lu x %lu pixels is more than revive reads (each side at most %d, "
                                "at most %ld pixels); scale the image down first",
                           j->name, (unsigned long)j->w, (unsigned long)j->h, IMAGE_MAX_SIDE,
                           IMAGE_MAX_PIXELS);
    }
    j->head_pos = 8;
    j->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, j, on_error, on_warning);
    j->info = j->png ? png_create_info_struct(j->png) : NULL;
    int rc = -1;
    if (!j->png || !j->info)
        rv_fail(err, "%s: out of memory starting libpng", j->name);
    else if (decode(j) != 0)
        rv_fail(err, "%s: damaged or truncated PNG (libpng: %s); re-export or copy the file again",
                j->name, j->why);
    else {
        to_planes(im, j, want_c);
        rc = 0;
    }
    png_destroy_read_struct(j->png ? &j->png : NULL, j->info ? &j->info : NULL, NULL);
    free(j->pixels);
    free(j->rows);
    return rc;
}

int image_read_png(struct image *im, const char *path, int want_c, struct rv_error *err)
{
    *im = (struct image){0};
    struct png_job j = {.name = path};
    j.f = fopen(path, "rb");
    if (!j.f)
        return rv_fail(err, "%s: cannot open (%s); check the path", path, strerror(errno));
    int rc = read_png(im, &j, want_c, err);
    fclose(j.f);
    return rc;
}

int image_read_png_mem(struct image *im, const void *data, size_t n, const char *name, int want_c,
                       struct rv_error *err)
{
    struct png_job j = {.name = name, .mem = data, .n = n};
    return read_png(im, &j, want_c, err);
}

/* ---- writing ---- */

static unsigned char to_byte(float v)
{
    if (!(v > 0.0f)) /* NaN too */
        return 0;
    if (v >= 1.0f)
        return 255;
    return (unsigned char)floorf(v * 255.0f + 0.5f);
}

/* Encodes w × h pixels of c (1 or 3) interleaved bytes to j->f. -1 on any error (j->why). */
static int encode(struct png_job *j, const unsigned char *pix, int w, int h, int c)
{
    if (setjmp(png_jmpbuf(j->png)))
        return -1;
    png_init_io(j->png, j->f);
    png_set_IHDR(j->png, j->info, (png_uint_32)w, (png_uint_32)h, 8,
                 c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(j->png, j->info);
    for (int y = 0; y < h; y++)
        png_write_row(j->png, pix + (size_t)y * w * c);
    png_write_end(j->png, NULL);
    return 0;
}

int image_write_png(const struct image *im, const char *path, struct rv_error *err)
{
    if (im->c != 1 && im->c != 3)
        return rv_fail(err, "%s: cannot write a %d-channel image as PNG; give 1 (gray) or 3 (RGB) channels",
                       path, im->c);
    if (!im->v || im->h < 1 || im->w < 1 || im->h > IMAGE_MAX_SIDE || im->w > IMAGE_MAX_SIDE ||
        (long)im->h * im->w > IMAGE_MAX_PIXELS)
        return rv_fail(err, "%s: cannot write a %d x %d image; each side 1..%d, at most %ld pixels",
                       path, im->w, im->h, IMAGE_MAX_SIDE, IMAGE_MAX_PIXELS);
    size_t plane = (size_t)im->h * im->w;
    unsigned char *pix = rv_malloc(plane * im->c);
    for (size_t i = 0; i < plane; i++)
        for (int k = 0; k < im->c; k++)
            pix[i * im->c + k] = to_byte(im->v[k * plane + i]);

    size_t len = strlen(path);
    char *tmp = rv_malloc(len + 5);
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);
    struct png_job j = {.name = path};
    int rc = -1;
    j.f = fopen(tmp, "wb");
    if (!j.f) {
        rv_fail(err, "%s: cannot write (%s); check that its directory exists and is writable", path,
                strerror(errno));
        goto out;
    }
    j.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &j, on_error, on_warning);
    j.info = j.png ? png_create_info_struct(j.png) : NULL;
    if (!j.png || !j.info)
        rv_fail(err, "%s: out of memory starting libpng", path);
    else if (encode(&j, pix, im->w, im->h, im->c) != 0)
        rv_fail(err, "%s: cannot write (libpng: %s); check the free space", path, j.why);
    else
        rc = 0;
    png_destroy_write_struct(j.png ? &j.png : NULL, j.info ? &j.info : NULL);
    if (fclose(j.f) != 0 && rc == 0)
        rc = rv_fail(err, "%s: cannot write (%s); check the free space", path, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = rv_fail(err, "%s: cannot rename %s to it (%s); check the directory's permissions", path, tmp,
                     strerror(errno));
    if (rc != 0)
        remove(tmp);
out:
    free(tmp);
    free(pix);
    return rc;
}

int image_write_grid_png(const char *path, const struct image *cells, int rows, int cols, int pad,
                         struct rv_error *err)
{
    if (rows < 1 || cols < 1 || pad < 0)
        return rv_fail(err, "%s: a grid of %d x %d cells with padding %d; give at least one row and "
                            "column and padding >= 0", path, rows, cols, pad);
    const struct image *first = NULL;
    for (int i = 0; i < rows * cols; i++) {
        const struct image *e = &cells[i];
        if (!e->v)
            continue;
        if (!first)
            first = e;
        else if (e->c != first->c || e->h != first->h || e->w != first->w)
            return rv_fail(err, "%s: grid cell %d (row %d, column %d) is %d x %d pixels with %d channels, cell "
                                "%d is %d x %d with %d; give cells of one size",
                           path, i, i / cols, i % cols, e->w, e->h, e->c, (int)(first - cells), first->w,
                           first->h, first->c);
    }
    if (!first)
        return rv_fail(err, "%s: every grid cell is empty; give at least one image", path);
    int c = first->c, h = first->h, w = first->w;
    if (c != 1 && c != 3)
        return rv_fail(err, "%s: cannot write %d-channel cells as PNG; give 1 (gray) or 3 (RGB) channels",
                       path, c);
    long gh = (long)rows * h + (long)(rows + 1) * pad, gw = (long)cols * w + (long)(cols + 1) * pad;
    if (h < 1 || w < 1 || gh > IMAGE_MAX_SIDE || gw > IMAGE_MAX_SIDE || gh * gw > IMAGE_MAX_PIXELS)
        return rv_fail(err, "%s: a %ld x %ld grid is more than revive writes (each side at most %d, at most "
                            "%ld pixels); use fewer or smaller cells",
                       path, gw, gh, IMAGE_MAX_SIDE, IMAGE_MAX_PIXELS);
    struct image g;
    image_alloc(&g, c, (int)gh, (int)gw);
    for (size_t i = 0; i < (size_t)c * gh * gw; i++)
        g.v[i] = 1.0f;
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < cols; q++) {
            const struct image *e = &cells[r * cols + q];
            if (!e->v)
                continue;
            long y0 = pad + (long)r * (h + pad), x0 = pad + (long)q * (w + pad);
            for (int k = 0; k < c; k++)
                for (int y = 0; y < h; y++)
                    memcpy(g.v + ((size_t)k * gh + y0 + y) * gw + x0, e->v + ((size_t)k * h + y) * w,
                           sizeof(float) * w);
        }
    int rc = image_write_png(&g, path, err);
    image_free(&g);
    return rc;
}

void image_convert(struct image *out, const struct image *in, int want_c)
{
    REVIVE_ASSERT((want_c == 1 || want_c == 3) && in->c >= 1 && in->c <= 4 && in->v);
    image_alloc(out, want_c, in->h, in->w);
    size_t plane = (size_t)in->h * in->w;
    const float *r = in->v, *g = in->v + (in->c >= 3 ? plane : 0), *b = in->v + (in->c >= 3 ? 2 * plane : 0);
    for (size_t i = 0; i < plane; i++) {
        if (want_c == 1)
            out->v[i] = in->c >= 3 ? (float)(IMAGE_GRAY_R * r[i] + IMAGE_GRAY_G * g[i] + IMAGE_GRAY_B * b[i])
                                   : r[i];
        else
            for (int k = 0; k < 3; k++)
                out->v[k * plane + i] = (k == 0 ? r : k == 1 ? g : b)[i];
    }
}

void image_alloc(struct image *im, int c, int h, int w)
{
    REVIVE_ASSERT(c >= 1 && h >= 1 && w >= 1 && h <= IMAGE_MAX_SIDE && w <= IMAGE_MAX_SIDE);
    REVIVE_ASSERT((long)h * w <= IMAGE_MAX_PIXELS);
    *im = (struct image){.c = c, .h = h, .w = w};
    im->v = rv_calloc((size_t)c * h * w, sizeof(float));
}

void image_free(struct image *im)
{
    free(im->v);
    *im = (struct image){0};
}
