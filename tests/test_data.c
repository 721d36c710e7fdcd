/* Data sets: loaders on fake files whose pixels encode the sample index, every loader error
 * path, epoch order, normalization and augmentation asserted exactly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "data.h"
#include "rng.h"
#include "run.h"
#include "support.h"

#define REAL_FMNIST "/usr/share/datasets/fashion-mnist"

struct tmp {
    char dir[SUPPORT_DIR_LEN]; /* first: support_dir_setup */
};

static int setup_tmp(void **state)
{
    if (support_dir_setup(state, sizeof(struct tmp), "test_data"))
        return -1;
    return 0;
}

/* ---- Fashion-MNIST fakes ---- */

static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* Writes a file, gzip-compressed or plain, holding the bytes given. */
static void write_file(const char *dir, const char *name, int gz, const unsigned char *bytes,
                       size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, gz ? ".gz" : "");
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (len)
            assert_int_equal(gzwrite(f, bytes, (unsigned)len), (int)len);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(bytes, 1, len, f), len);
        fclose(f);
    }
}

/* Sample i of a split has every pixel (i + base) % 251 and label i % 10. `written` images are
 * stored after a header that claims `claimed`. */
static void write_images(const char *dir, const char *name, int gz, uint32_t magic,
                         uint32_t claimed, int written, uint32_t rows, uint32_t cols, int base)
{
    size_t plane = (size_t)rows * cols, len = 16 + (size_t)written * plane;
    unsigned char *b = malloc(len);
    put_be32(b, magic);
    put_be32(b + 4, claimed);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    for (int i = 0; i < written; i++)
        memset(b + 16 + (size_t)i * plane, (i + base) % 251, plane);
    write_file(dir, name, gz, b, len);
    free(b);
}

static void write_labels(const char *dir, const char *name, int gz, uint32_t magic, int n,
                         int bad_at)
{
    unsigned char *b = malloc(8 + (size_t)n);
    put_be32(b, magic);
    put_be32(b + 4, (uint32_t)n);
    for (int i = 0; i < n; i++)
        b[8 + i] = (unsigned char)(i == bad_at ? 10 : i % 10);
    write_file(dir, name, gz, b, 8 + (size_t)n);
    free(b);
}

enum { FM_TRAIN = 30, FM_TEST = 12, FM_TEST_BASE = 100 };

static void write_fmnist(const char *dir, int gz)
{
    write_images(dir, "train-images-idx3-ubyte", gz, 2051, FM_TRAIN, FM_TRAIN, 28, 28, 0);
    write_labels(dir, "train-labels-idx1-ubyte", gz, 2049, FM_TRAIN, -1);
    write_images(dir, "t10k-images-idx3-ubyte", gz, 2051, FM_TEST, FM_TEST, 28, 28, FM_TEST_BASE);
    write_labels(dir, "t10k-labels-idx1-ubyte", gz, 2049, FM_TEST, -1);
}

static void check_fmnist_split(const struct dataset *d, int n, int base)
{
    assert_int_equal(d->n, n);
    assert_int_equal(d->c, 1);
    assert_int_equal(d->h, 28);
    assert_int_equal(d->w, 28);
    assert_int_equal(d->classes, 10);
    for (int i = 0; i < n; i++) {
        assert_int_equal(d->labels[i], i % 10);
        for (int k = 0; k < 28 * 28; k++)
            assert_int_equal(d->pixels[(size_t)i * 784 + k], (i + base) % 251);
    }
}

static void fmnist_loads_exactly(void **state)
{
    struct tmp *t = *state;
    write_fmnist(t->dir, 1);
    struct dataset tr, te;
    struct rv_error err = {{0}};
    assert_int_equal(data_load(&tr, &te, DATASET_FASHION_MNIST, t->dir, &err), 0);
    check_fmnist_split(&tr, FM_TRAIN, 0);
    check_fmnist_split(&te, FM_TEST, FM_TEST_BASE);
    /* Pixels are i/255 for i < 30 over whole images: mean = 14.5/255, var = (30^2-1)/12/255^2. */
    assert_float_equal(tr.mean[0], 14.5 / 255.0, 1e-7);
    assert_float_equal(tr.std[0], sqrt((900.0 - 1.0) / 12.0) / 255.0, 1e-7);
    assert_true(te.mean[0] == tr.mean[0] && te.std[0] == tr.std[0]);
    dataset_free(&tr);
    dataset_free(&te);
    assert_null(tr.pixels);
}

static void fmnist_plain_files_accepted(void **state)
{
    struct tmp *t = *state;
    write_fmnist(t->dir, 0);
    struct dataset tr, te;
    struct rv_error err = {{0}};
    assert_int_equal(data_load_fashion_mnist(&tr, &te, t->dir, &err), 0);
    check_fmnist_split(&tr, FM_TRAIN, 0);
    check_fmnist_split(&te, FM_TEST, FM_TEST_BASE);
    dataset_free(&tr);
    dataset_free(&te);
}

/* Loading must fail with a message holding every one of the given fragments. */
static void expect_fmnist_error(const char *dir, int nfrag, ...)
{
    struct dataset tr, te;
    struct rv_error err = {{0}};
    assert_int_equal(data_load_fashion_mnist(&tr, &te, dir, &err), -1);
    assert_null(tr.pixels);
    assert_null(te.pixels);
    assert_null(strchr(err.msg, '\n'));
    va_list ap;
    va_start(ap, nfrag);
    for (int k = 0; k < nfrag; k++) {
        const char *frag = va_arg(ap, const char *);
        if (!strstr(err.msg, frag))
            fail_msg("message \"%s\" lacks \"%s\"", err.msg, frag);
    }
    va_end(ap);
}

static void fmnist_missing_files(void **state)
{
    struct tmp *t = *state;
    char want[256];
    snprintf(want, sizeof want, "%s/train-images-idx3-ubyte.gz: missing", t->dir);
    expect_fmnist_error(t->dir, 3, want, "dataset-fashion-mnist", "data.path");
    write_fmnist(t->dir, 1);
    char p[256];
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", t->dir);
    unlink(p);
    snprintf(want, sizeof want, "%s/t10k-labels-idx1-ubyte.gz: missing", t->dir);
    expect_fmnist_error(t->dir, 1, want);
}

static void fmnist_wrong_magic(void **state)
{
    struct tmp *t = *state;
    write_fmnist(t->dir, 1);
    write_images(t->dir, "train-images-idx3-ubyte", 1, 1234, FM_TRAIN, FM_TRAIN, 28, 28, 0);
    expect_fmnist_error(t->dir, 3, "train-images-idx3-ubyte.gz: not an IDX image file",
                        "magic 1234, expected 2051", "data.path");
    write_fmnist(t->dir, 1);
    write_labels(t->dir, "t10k-labels-idx1-ubyte", 1, 2051, FM_TEST, -1);
    expect_fmnist_error(t->dir, 2, "t10k-labels-idx1-ubyte.gz: not an IDX label file",
                        "magic 2051, expected 2049");
}

static void fmnist_wrong_dims(void **state)
{
    struct tmp *t = *state;
    write_fmnist(t->dir, 1);
    write_images(t->dir, "t10k-images-idx3-ubyte", 1, 2051, FM_TEST, FM_TEST, 32, 28, 0);
    expect_fmnist_error(t->dir, 2, "t10k-images-idx3-ubyte.gz", "32x28, expected 28x28");
}

static void fmnist_truncated(void **state)
{
    struct tmp *t = *state;
    write_fmnist(t->dir, 1);
    write_images(t->dir, "train-images-idx3-ubyte", 1, 2051, FM_TRAIN, FM_TRAIN - 1, 28, 28, 0);
    expect_fmnist_error(t->dir, 2, "train-images-idx3-ubyte.gz: truncated",
                        "after 22736 of 23520 bytes");

    /* A gzip stream cut short is caught too, whether zlib calls it an early end or bad data. */
    write_fmnist(t->dir, 1);
    char p[256];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", t->dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(truncate(p, st.st_size / 2), 0);
    struct dataset tr, te;
    struct rv_error err = {{0}};
    assert_int_equal(data_load_fashion_mnist(&tr, &te, t->dir, &err), -1);
    assert_non_null(strstr(err.msg, "train-images-idx3-ubyte.gz"));
    assert_true(strstr(err.msg, "truncated") || strstr(err.msg, "corrupt"));
}

static void fmnist_count_mismatch(void **state)
{
    struct tmp *t = *state;
    write_fmnist(t->dir, 1);
    write_labels(t->dir, "train-labels-idx1-ubyte", 1, 2049, FM_TRAIN - 1, -1);
    expect_fmnist_error(t->dir, 2, "train-labels-idx1-ubyte.gz: 29 labels but",
                        "train-images-idx3-ubyte.gz has 30 images");
}

static void fmnist_label_out_of_range(void **state)
{
    struct tmp *t = *state;
    write_fmnist(t->dir, 1);
    write_labels(t->dir, "t10k-labels-idx1-ubyte", 1, 2049, FM_TEST, 5);
    expect_fmnist_error(t->dir, 2, "t10k-labels-idx1-ubyte.gz: label 10 of sample 5",
                        "out of range");
}

static void fmnist_real_data(void **state)
{
    (void)state;
    struct stat st;
    if (stat(REAL_FMNIST "/train-images-idx3-ubyte.gz", &st) != 0)
        skip();
    struct dataset tr, te;
    struct rv_error err = {{0}};
    if (data_load(&tr, &te, DATASET_FASHION_MNIST, REAL_FMNIST, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(tr.n, 60000);
    assert_int_equal(te.n, 10000);
    int count[10] = {0}, tcount[10] = {0};
    for (int i = 0; i < tr.n; i++)
        count[tr.labels[i]]++;
    for (int i = 0; i < te.n; i++)
        tcount[te.labels[i]]++;
    for (int k = 0; k < 10; k++) {
        assert_int_equal(count[k], 6000);
        assert_int_equal(tcount[k], 1000);
    }
    /* The commonly quoted Fashion-MNIST statistics: mean 0.2860, std 0.3530. */
    assert_float_equal(tr.mean[0], 0.2860, 5e-4);
    assert_float_equal(tr.std[0], 0.3530, 5e-4);
    dataset_free(&tr);
    dataset_free(&te);
}

/* ---- CIFAR-10 fakes ---- */

enum { CIFAR_REC = 3073, CIFAR_TEST_BASE = 1000 };
static const int cifar_batch_sizes[5] = {3, 2, 1, 2, 3};

/* Global sample g has pixel k = (13 g + k) % 251 and label g % 10. */
static void write_cifar(const char *dir, const char *name, int first, int n, int bad_label_at)
{
    unsigned char *b = malloc((size_t)n * CIFAR_REC);
    for (int r = 0; r < n; r++) {
        int g = first + r;
        unsigned char *rec = b + (size_t)r * CIFAR_REC;
        rec[0] = (unsigned char)(r == bad_label_at ? 10 : g % 10);
        for (int k = 0; k < 3072; k++)
            rec[1 + k] = (unsigned char)((13 * g + k) % 251);
    }
    write_file(dir, name, 0, b, (size_t)n * CIFAR_REC);
    free(b);
}

static void write_cifar_all(const char *dir)
{
    int first = 0;
    for (int k = 0; k < 5; k++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", k + 1);
        write_cifar(dir, name, first, cifar_batch_sizes[k], -1);
        first += cifar_batch_sizes[k];
    }
    write_cifar(dir, "test_batch.bin", CIFAR_TEST_BASE, 4, -1);
}

static void check_cifar_split(const struct dataset *d, int n, int base)
{
    assert_int_equal(d->n, n);
    assert_int_equal(d->c, 3);
    assert_int_equal(d->h, 32);
    assert_int_equal(d->w, 32);
    assert_int_equal(d->classes, 10);
    for (int i = 0; i < n; i++) {
        int g = base + i;
        assert_int_equal(d->labels[i], g % 10);
        for (int k = 0; k < 3072; k++)
            assert_int_equal(d->pixels[(size_t)i * 3072 + k], (13 * g + k) % 251);
    }
}

static void cifar_loads_in_order(void **state)
{
    struct tmp *t = *state;
    write_cifar_all(t->dir);
    struct dataset tr, te;
    struct rv_error err = {{0}};
    if (data_load(&tr, &te, DATASET_CIFAR10, t->dir, &err))
        fail_msg("%s", err.msg);
    check_cifar_split(&tr, 11, 0);
    check_cifar_split(&te, 4, CIFAR_TEST_BASE);
    for (int ch = 0; ch < 3; ch++) {
        assert_true(tr.mean[ch] > 0.0f && tr.mean[ch] < 1.0f);
        assert_true(te.mean[ch] == tr.mean[ch] && te.std[ch] == tr.std[ch]);
    }
    /* Channels hold different planes, so their statistics differ. */
    assert_true(tr.mean[0] != tr.mean[1]);
    dataset_free(&tr);
    dataset_free(&te);
}

static void expect_cifar_error(const char *dir, const char *frag1, const char *frag2)
{
    struct dataset tr, te;
    struct rv_error err = {{0}};
    assert_int_equal(data_load_cifar10(&tr, &te, dir, &err), -1);
    assert_null(tr.pixels);
    assert_null(te.pixels);
    if (!strstr(err.msg, frag1) || !strstr(err.msg, frag2))
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", err.msg, frag1, frag2);
}

static void cifar_wrong_size(void **state)
{
    struct tmp *t = *state;
    write_cifar_all(t->dir);
    char p[256];
    snprintf(p, sizeof p, "%s/data_batch_3.bin", t->dir);
    assert_int_equal(truncate(p, CIFAR_REC - 5), 0);
    expect_cifar_error(t->dir, "data_batch_3.bin: truncated or not a CIFAR-10 binary batch",
                       "3068 bytes");
    assert_int_equal(truncate(p, 0), 0);
    expect_cifar_error(t->dir, "data_batch_3.bin: truncated", "0 bytes");
}

static void cifar_missing_batch(void **state)
{
    struct tmp *t = *state;
    write_cifar_all(t->dir);
    char p[256], want[300];
    snprintf(p, sizeof p, "%s/data_batch_4.bin", t->dir);
    unlink(p);
    snprintf(want, sizeof want, "%s: missing", p);
    expect_cifar_error(t->dir, want, "cifar-10-batches-bin");
    write_cifar_all(t->dir);
    snprintf(p, sizeof p, "%s/test_batch.bin", t->dir);
    unlink(p);
    snprintf(want, sizeof want, "%s: missing", p);
    expect_cifar_error(t->dir, want, "data.path");
}

static void cifar_label_out_of_range(void **state)
{
    struct tmp *t = *state;
    write_cifar_all(t->dir);
    write_cifar(t->dir, "data_batch_2.bin", 3, 2, 1);
    expect_cifar_error(t->dir, "data_batch_2.bin: label 10 of record 1", "out of range");
}

static void load_unknown_kind(void **state)
{
    (void)state;
    struct dataset tr, te;
    struct rv_error err = {{0}};
    assert_int_equal(data_load(&tr, &te, DATASET_SYNTHETIC, "/nonexistent", &err), -1);
    assert_non_null(strstr(err.msg, "'synthetic' is not loaded"));
    assert_non_null(strstr(err.msg, "fashion_mnist or cifar10"));
}

/* ---- epoch order ---- */

static void epoch_order_is_a_seeded_permutation(void **state)
{
    (void)state;
    enum { N = 1000 };
    int a[N], b[N], c[N], d[N];
    data_epoch_order(a, N, 42, 0);
    data_epoch_order(b, N, 42, 1);
    data_epoch_order(c, N, 42, 0);
    data_epoch_order(d, N, 43, 0);
    char seen[N] = {0};
    for (int i = 0; i < N; i++) {
        assert_true(a[i] >= 0 && a[i] < N);
        assert_false(seen[a[i]]);
        seen[a[i]] = 1;
    }
    assert_memory_equal(a, c, sizeof a);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, d, sizeof a);
    int fixed = 0;
    for (int i = 0; i < N; i++)
        fixed += a[i] == i;
    assert_true(fixed < 10); /* a uniform permutation fixes ~1 point */

    /* Fisher–Yates written out: the last position draws from all n first. */
    int e[3];
    data_epoch_order(e, 3, 7, 5);
    int ref[3] = {0, 1, 2};
    uint64_t s = rng_stream(RNG_SHUFFLE, 5, 0, 0);
    for (int i = 2; i > 0; i--) {
        int j = (int)rng_below(7, s, (uint64_t)i, (uint32_t)i + 1), tmp = ref[i];
        ref[i] = ref[j];
        ref[j] = tmp;
    }
    assert_memory_equal(e, ref, sizeof e);
    int one = -1;
    data_epoch_order(&one, 1, 7, 0);
    assert_int_equal(one, 0);
}

/* ---- normalization and batches ---- */

enum { AN = 4, AC = 2, AH = 5, AW = 6 };

/* Every pixel distinct and non-zero: (1 + x + 6 y + 30 ch + 60 i), at most 240. */
static struct dataset aug_set(void)
{
    struct dataset d = {.n = AN, .c = AC, .h = AH, .w = AW, .classes = 10};
    d.pixels = malloc(AN * AC * AH * AW);
    d.labels = malloc(AN);
    for (int i = 0; i < AN; i++) {
        d.labels[i] = (uint8_t)(9 - i);
        for (int ch = 0; ch < AC; ch++)
            for (int y = 0; y < AH; y++)
                for (int x = 0; x < AW; x++)
                    d.pixels[((i * AC + ch) * AH + y) * AW + x] =
                        (uint8_t)(1 + x + 6 * y + 30 * ch + 60 * i);
    }
    data_set_normalization(&d, NULL);
    return d;
}

static float norm(const struct dataset *d, int ch, int p)
{
    return (float)(((double)p / 255.0 - (double)d->mean[ch]) / (double)d->std[ch]);
}

/* The augmented value at (ch, y, x) of sample i, computed from the rules in batch.c. */
static float expected_aug(const struct dataset *d, int i, int ch, int y, int x, int pad,
                          bool flip_on, uint64_t seed, int epoch)
{
    uint64_t s = rng_stream(RNG_AUGMENT, (uint64_t)epoch, (uint64_t)i, 0);
    int dy = (int)rng_below(seed, s, 0, (uint32_t)(2 * pad + 1));
    int dx = (int)rng_below(seed, s, 1, (uint32_t)(2 * pad + 1));
    bool flip = flip_on && rng_uniform(seed, s, 2) < 0.5f;
    int xc = flip ? AW - 1 - x : x;                  /* flip the crop ... */
    int sy = y + dy - pad, sx = xc + dx - pad;       /* ... taken from the padded image */
    if (sy < 0 || sy >= AH || sx < 0 || sx >= AW)
        return (float)(-(double)d->mean[ch] / (double)d->std[ch]);
    return norm(d, ch, d->pixels[((i * AC + ch) * AH + sy) * AW + sx]);
}

static void normalization_hand_check(void **state)
{
    (void)state;
    /* Two 2-channel 1x2 images. Channel 0: {0,255},{255,255} -> mean 3/4, var 3/4 - 9/16.
     * Channel 1: {51,51},{51,51} is constant -> std falls back to 1. */
    uint8_t px[8] = {0, 255, 51, 51, 255, 255, 51, 51}, lab[2] = {0, 1};
    struct dataset d = {.n = 2, .c = 2, .h = 1, .w = 2, .classes = 2, .pixels = px, .labels = lab};
    struct dataset t = {0};
    data_set_normalization(&d, &t);
    assert_true(d.mean[0] == 0.75f);
    assert_true(d.std[0] == (float)sqrt(0.1875));
    assert_true(d.mean[1] == 0.2f);
    assert_true(d.std[1] == 1.0f);
    assert_true(t.mean[0] == 0.75f && t.std[0] == d.std[0] && t.mean[1] == 0.2f);

    float x[4];
    int y[1], idx[1] = {0};
    data_make_batch(x, y, &d, idx, 1, NULL, 1, 0);
    assert_float_equal(x[0], -0.75 / sqrt(0.1875), 1e-6);
    assert_float_equal(x[1], 0.25 / sqrt(0.1875), 1e-6);
    assert_float_equal(x[2], 0.0, 1e-7);
    assert_int_equal(y[0], 0);
}

static void batch_without_augment_is_normalized_pixels(void **state)
{
    (void)state;
    struct dataset d = aug_set();
    int idx[3] = {3, 0, 2}, y[3], y2[3];
    float x[3 * AC * AH * AW], x2[3 * AC * AH * AW];
    struct augment none = {.crop_pad = 0, .flip = false};
    data_make_batch(x, y, &d, idx, 3, NULL, 9, 0);
    data_make_batch(x2, y2, &d, idx, 3, &none, 9, 4);
    for (int b = 0; b < 3; b++) {
        assert_int_equal(y[b], 9 - idx[b]);
        for (int k = 0; k < AC * AH * AW; k++) {
            int ch = k / (AH * AW);
            assert_true(x[b * AC * AH * AW + k] == norm(&d, ch, d.pixels[idx[b] * AC * AH * AW + k]));
        }
    }
    assert_memory_equal(x, x2, sizeof x);
    assert_memory_equal(y, y2, sizeof y);
    dataset_free(&d);
}

/* Checks a whole batch of all samples against expected_aug over several epochs, and returns
 * how many (sample, epoch) pairs drew a flip and how many a non-zero shift. */
static void check_aug(int pad, bool flip, int *flips, int *shifts)
{
    struct dataset d = aug_set();
    struct augment aug = {.crop_pad = pad, .flip = flip};
    int idx[AN] = {0, 1, 2, 3}, y[AN];
    float x[AN * AC * AH * AW];
    const uint64_t seed = 1234;
    *flips = *shifts = 0;
    for (int epoch = 0; epoch < 16; epoch++) {
        data_make_batch(x, y, &d, idx, AN, &aug, seed, epoch);
        for (int i = 0; i < AN; i++) {
            uint64_t s = rng_stream(RNG_AUGMENT, (uint64_t)epoch, (uint64_t)i, 0);
            *flips += flip && rng_uniform(seed, s, 2) < 0.5f;
            *shifts += rng_below(seed, s, 0, 2 * pad + 1) != (uint32_t)pad
                    || rng_below(seed, s, 1, 2 * pad + 1) != (uint32_t)pad;
            for (int ch = 0; ch < AC; ch++)
                for (int yy = 0; yy < AH; yy++)
                    for (int xx = 0; xx < AW; xx++) {
                        float got = x[((i * AC + ch) * AH + yy) * AW + xx];
                        float want = expected_aug(&d, i, ch, yy, xx, pad, flip, seed, epoch);
                        if (got != want)
                            fail_msg("pad %d flip %d epoch %d sample %d (%d,%d,%d): %g != %g",
                                     pad, flip, epoch, i, ch, yy, xx, got, want);
                    }
        }
    }
    dataset_free(&d);
}

static void flip_mirrors_exactly(void **state)
{
    (void)state;
    int flips, shifts;
    check_aug(0, true, &flips, &shifts);
    assert_true(flips > 0 && flips < 64); /* both cases were exercised */
    assert_int_equal(shifts, 0);

    /* Spelled out for one flipped sample: column x holds the source column w-1-x. */
    struct dataset d = aug_set();
    struct augment aug = {.crop_pad = 0, .flip = true};
    int epoch = 0, i = 1;
    while (rng_uniform(5, rng_stream(RNG_AUGMENT, (uint64_t)epoch, (uint64_t)i, 0), 2) >= 0.5f)
        epoch++;
    float x[AC * AH * AW];
    int y;
    data_make_batch(x, &y, &d, &i, 1, &aug, 5, epoch);
    for (int ch = 0; ch < AC; ch++)
        for (int yy = 0; yy < AH; yy++)
            for (int xx = 0; xx < AW; xx++)
                assert_true(x[(ch * AH + yy) * AW + xx]
                            == norm(&d, ch, 1 + (AW - 1 - xx) + 6 * yy + 30 * ch + 60 * 1));
    dataset_free(&d);
}

static void crop_shifts_exactly(void **state)
{
    (void)state;
    int flips, shifts;
    check_aug(2, false, &flips, &shifts);
    assert_int_equal(flips, 0);
    assert_true(shifts > 0);
    check_aug(1, true, &flips, &shifts);
    assert_true(flips > 0 && shifts > 0);

    /* Spelled out: a draw with dy = dx = 0 in the padded image (pad 2) moves the image down
     * and right by 2, so row 0..1 and column 0..1 are padding, and (2,2) is source (0,0). */
    struct dataset d = aug_set();
    struct augment aug = {.crop_pad = 2, .flip = false};
    int i = 2, epoch = 0;
    for (;; epoch++) {
        uint64_t s = rng_stream(RNG_AUGMENT, (uint64_t)epoch, (uint64_t)i, 0);
        if (rng_below(8, s, 0, 5) == 0 && rng_below(8, s, 1, 5) == 0)
            break;
    }
    float x[AC * AH * AW];
    int y;
    data_make_batch(x, &y, &d, &i, 1, &aug, 8, epoch);
    float padv = (float)(-(double)d.mean[1] / (double)d.std[1]);
    assert_true(x[(1 * AH + 0) * AW + 3] == padv);
    assert_true(x[(1 * AH + 3) * AW + 1] == padv);
    assert_true(x[(1 * AH + 2) * AW + 2] == norm(&d, 1, 1 + 30 + 120));
    assert_true(x[(1 * AH + 4) * AW + 5] == norm(&d, 1, 1 + 3 + 12 + 30 + 120));
    dataset_free(&d);
}

static void same_sample_same_augmentation(void **state)
{
    (void)state;
    struct dataset d = aug_set();
    struct augment aug = {.crop_pad = 3, .flip = true};
    enum { S = AC * AH * AW };
    int idx[5] = {2, 0, 2, 3, 2}, y[5];
    float x[5 * S], alone[S];
    int one = 2, y1;
    for (int epoch = 0; epoch < 8; epoch++) {
        data_make_batch(x, y, &d, idx, 5, &aug, 77, epoch);
        data_make_batch(alone, &y1, &d, &one, 1, &aug, 77, epoch);
        assert_memory_equal(x, x + 2 * S, S * sizeof *x);
        assert_memory_equal(x, x + 4 * S, S * sizeof *x);
        assert_memory_equal(x, alone, sizeof alone);
        assert_int_equal(y[0], 7);
        assert_int_equal(y[4], 7);
        assert_int_equal(y1, 7);
    }
    dataset_free(&d);
}

static void truncate_keeps_prefix(void **state)
{
    (void)state;
    struct dataset d = aug_set();
    float mean0 = d.mean[0], std1 = d.std[1];
    dataset_truncate(&d, 0);
    assert_int_equal(d.n, AN);
    dataset_truncate(&d, AN + 3);
    assert_int_equal(d.n, AN);
    dataset_truncate(&d, 2);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.pixels[AC * AH * AW + 5], 1 + 5 + 60);
    assert_int_equal(d.labels[1], 8);
    assert_true(d.mean[0] == mean0 && d.std[1] == std1);
    dataset_free(&d);
    assert_int_equal(d.n, 0);
}

/* ---- synthetic ---- */

static void synthetic_is_seeded_and_learnable(void **state)
{
    (void)state;
    enum { NTR = 200, NTE = 100, C = 3, HW = 8, K = 10, P = C * HW * HW };
    struct dataset tr, te, tr2, te2, tr3, te3;
    data_synthetic(&tr, &te, NTR, NTE, C, HW, K, 5);
    data_synthetic(&tr2, &te2, NTR, NTE, C, HW, K, 5);
    data_synthetic(&tr3, &te3, NTR, NTE, C, HW, K, 6);
    assert_int_equal(tr.n, NTR);
    assert_int_equal(te.n, NTE);
    assert_int_equal(tr.c, C);
    assert_int_equal(tr.h, HW);
    assert_int_equal(tr.w, HW);
    assert_int_equal(tr.classes, K);
    assert_memory_equal(tr.pixels, tr2.pixels, (size_t)NTR * P);
    assert_memory_equal(te.pixels, te2.pixels, (size_t)NTE * P);
    assert_memory_not_equal(tr.pixels, tr3.pixels, (size_t)NTR * P);
    assert_memory_not_equal(tr.pixels, te.pixels, (size_t)NTE * P); /* splits differ */
    for (int i = 0; i < NTR; i++)
        assert_int_equal(tr.labels[i], i % K);
    for (int i = 0; i < NTE; i++)
        assert_int_equal(te.labels[i], i % K);
    for (int ch = 0; ch < C; ch++) {
        assert_true(tr.mean[ch] > 0.1f && tr.mean[ch] < 0.9f && tr.std[ch] > 0.05f);
        assert_true(te.mean[ch] == tr.mean[ch]);
    }

    /* Learnable: nearest class mean of the training set classifies the test set. */
    static double centre[K][P];
    memset(centre, 0, sizeof centre);
    for (int i = 0; i < NTR; i++)
        for (int k = 0; k < P; k++)
            centre[tr.labels[i]][k] += tr.pixels[(size_t)i * P + k] / (double)(NTR / K);
    int correct = 0;
    for (int i = 0; i < NTE; i++) {
        int best = -1;
        double bestd = INFINITY;
        for (int c = 0; c < K; c++) {
            double dist = 0;
            for (int k = 0; k < P; k++) {
                double e = te.pixels[(size_t)i * P + k] - centre[c][k];
                dist += e * e;
            }
            if (dist < bestd) {
                bestd = dist;
                best = c;
            }
        }
        correct += best == te.labels[i];
    }
    assert_true(correct >= NTE * 95 / 100);
    /* Samples of one class are not copies of each other: the noise is there. */
    int differ = 0;
    for (int i = K; i < NTR; i++)
        differ += memcmp(tr.pixels + (size_t)i * P, tr.pixels + (size_t)(i - K) * P, P) != 0;
    assert_int_equal(differ, NTR - K);

    dataset_free(&tr);
    dataset_free(&te);
    dataset_free(&tr2);
    dataset_free(&te2);
    dataset_free(&tr3);
    dataset_free(&te3);
}

/* ---- label noise ---- */

/* data.label_noise: exactly round(p·n) labels change, each to another class, chosen and drawn by
 * the seed alone; nested as p grows; the same call gives the same labels. */
static void label_noise_exact_and_seeded(void **state)
{
    (void)state;
    enum { N = 1001, K = 10 };
    struct dataset tr, te, a, b;
    data_synthetic(&tr, &te, N, 8, 1, 4, K, 1);
    data_synthetic(&a, &te, N, 8, 1, 4, K, 1);
    data_synthetic(&b, &te, N, 8, 1, 4, K, 1);
    dataset_free(&te);
    const double ps[] = {0.0, 0.1, 0.25, 0.3, 1.0};
    const int want[] = {0, 100, 250, 300, 1001}; /* 100.1, 250.25, 300.3 */
    uint8_t prev[N];
    memcpy(prev, tr.labels, N);
    int hist[K] = {0};
    for (int t = 0; t < 5; t++) {
        memcpy(a.labels, tr.labels, N);
        assert_int_equal(data_label_noise(&a, ps[t], 77), want[t]);
        int changed = 0;
        for (int i = 0; i < N; i++) {
            assert_true(a.labels[i] < K);
            changed += a.labels[i] != tr.labels[i];
            /* nested: an image replaced at a smaller p is replaced here, with the same label */
            if (prev[i] != tr.labels[i])
                assert_int_equal(a.labels[i], prev[i]);
            if (t == 4)
                hist[(a.labels[i] - tr.labels[i] + K) % K]++;
        }
        assert_int_equal(changed, want[t]);
        memcpy(prev, a.labels, N);
    }
    /* p = 1: every label moved by 1 … K−1, each offset about N/(K−1) = 111 times */
    assert_int_equal(hist[0], 0);
    for (int k = 1; k < K; k++)
        assert_true(hist[k] > 111 - 40 && hist[k] < 111 + 40);
    /* the same seed: the same labels; another seed: other images */
    memcpy(a.labels, tr.labels, N);
    memcpy(b.labels, tr.labels, N);
    data_label_noise(&a, 0.25, 77);
    data_label_noise(&b, 0.25, 77);
    assert_memory_equal(a.labels, b.labels, N);
    memcpy(b.labels, tr.labels, N);
    data_label_noise(&b, 0.25, 78);
    assert_memory_not_equal(a.labels, b.labels, N);
    dataset_free(&tr);
    dataset_free(&a);
    dataset_free(&b);
}

/* Applied at load by run_open to the training set only, after data.train_limit. */
static void label_noise_at_load(void **state)
{
    (void)state;
    struct comm comm = COMM_SELF_INIT;
    struct config c;
    config_defaults(&c);
    c.dataset = DATASET_SYNTHETIC;
    c.depth = 8;
    c.batch_size = 32;
    c.synthetic_train = 300;
    c.train_limit = 250;
    c.synthetic_test = 64;
    c.threads = 1;
    c.seed = 4;
    c.label_noise = 0.2;
    struct rv_error err = {{0}};
    struct run r;
    if (run_open(&r, &c, &comm, &err))
        fail_msg("%s", err.msg);
    int changed = 0;
    assert_int_equal(r.train.n, 250);
    for (int i = 0; i < r.train.n; i++)
        changed += r.train.labels[i] != i % c.synthetic_classes; /* synthetic: label i mod K */
    assert_int_equal(changed, 50);
    assert_int_equal(r.test.n, 64);
    for (int i = 0; i < r.test.n; i++)
        assert_int_equal(r.test.labels[i], i % c.synthetic_classes);
    run_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fmnist_loads_exactly, setup_tmp, support_dir_teardown),
        cmocka_unit_test_setup_teardown(fmnist_plain_files_accepted, setup_tmp, support_dir_teardown),
        cmocka_unit_test_setup_teardown(fmnist_missing_files, setup_tmp, support_dir_teardown),
        cmocka_unit_test_setup_teardown(fmnist_wrong_magic, setup_tmp, support_dir_teardown),
        cmocka_unit_test_setup_teardown(fmnist_wrong_dims, setup_tmp, support_dir_teardown),
        cmocka_unit_test_setup_teardown(fmnist_truncated, setup_tmp, support_dir_teardown),
        cmocka_unit_test_setup_teardown(fmnist_count_mismatch, setup_tmp, support_dir_teardown),
        cmocka_unit_test_setup_teardown(fmnist_label_out_of_range, setup_tmp, support_dir_teardown),
        cmocka_unit_test(fmnist_real_data),
        cmocka_unit_test_setup_teardown(cifar_loads_in_order, setup_tmp, support_dir_teardown),
        cmocka_unit_test_setup_teardown(cifar_wrong_size, setup_tmp, support_dir_teardown),
        cmocka_unit_test_setup_teardown(cifar_missing_batch, setup_tmp, support_dir_teardown),
        cmocka_unit_test_setup_teardown(cifar_label_out_of_range, setup_tmp, support_dir_teardown),
        cmocka_unit_test(load_unknown_kind),
        cmocka_unit_test(epoch_order_is_a_seeded_permutation),
        cmocka_unit_test(normalization_hand_check),
        cmocka_unit_test(batch_without_augment_is_normalized_pixels),
        cmocka_unit_test(flip_mirrors_exactly),
        cmocka_unit_test(crop_shifts_exactly),
        cmocka_unit_test(same_sample_same_augmentation),
        cmocka_unit_test(truncate_keeps_prefix),
        cmocka_unit_test(synthetic_is_seeded_and_learnable),
        cmocka_unit_test(label_noise_exact_and_seeded),
        cmocka_unit_test(label_noise_at_load),
    };
    return cmocka_run_group_tests(tests, 0, NULL);
}
