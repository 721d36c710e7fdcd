/* Fashion-MNIST from its four gzip IDX files.
 *
 * IDX layout (all integers big-endian): images are magic 2051, count, rows, cols, then
 * count*rows*cols bytes; labels are magic 2049, count, then count bytes. zlib's gzread reads
 * uncompressed files transparently, so the plain files (names without .gz) are accepted by
 * trying that name when the .gz is absent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data.h"

#define FMNIST_SIDE 28
#define FMNIST_CLASSES 10
#define IDX_IMAGES_MAGIC 2051u
#define IDX_LABELS_MAGIC 2049u
/* A header promising more than this is not Fashion-MNIST (70000 samples in all); refusing it
 * keeps a corrupt count from asking for gigabytes. */
#define FMNIST_MAX_COUNT 10000000u

static const char FMNIST_FIX[] =
    "point data.path at the directory holding the Fashion-MNIST .gz files";

struct idx_file {
    gzFile gz;
    char path[1024]; /* the name actually opened, for messages */
};

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Opens dir/name.gz, or dir/name when only the uncompressed file is there. */
static int idx_open(struct idx_file *f, const char *dir, const char *name, struct rv_error *err)
{
    char gz_path[1024];
    snprintf(gz_path, sizeof gz_path, "%s/%s.gz", dir, name);
    snprintf(f->path, sizeof f->path, "%s", gz_path);
    if (!file_exists(gz_path)) {
        char plain[1024];
        snprintf(plain, sizeof plain, "%s/%s", dir, name);
        if (!file_exists(plain))
            return rv_fail(err, "%s: missing; install the Debian package dataset-fashion-mnist "
                                "or set data.path", gz_path);
        snprintf(f->path, sizeof f->path, "%s", plain);
    }
    f->gz = gzopen(f->path, "rb");
    if (!f->gz)
        return rv_fail(err, "%s: cannot open (%s); check its permissions or set data.path",
                       f->path, strerror(errno));
    return 0;
}

/* Reads exactly len bytes. Fewer means the file ends before its header's promise. */
static int idx_read(struct idx_file *f, void *buf, size_t len, const char *what,
                    struct rv_error *err)
{
    unsigned char *p = buf;
    size_t done = 0;
    while (done < len) {
        size_t chunk = len - done;
        if (chunk > (1u << 30))
            chunk = 1u << 30; /* gzread takes an unsigned int */
        int got = gzread(f->gz, p + done, (unsigned)chunk);
        if (got < 0) {
            int code = 0;
            const char *msg = gzerror(f->gz, &code);
            return rv_fail(err, "%s: corrupt gzip data while reading %s (%s); download the file "
                                "again or reinstall dataset-fashion-mnist", f->path, what, msg);
        }
        if (got == 0)
            return rv_fail(err, "%s: truncated: %s ends after %zu of %zu bytes; download the "
                                "file again or reinstall dataset-fashion-mnist",
                           f->path, what, done, len);
        done += (size_t)got;
    }
    return 0;
}

static int idx_read_header(struct idx_file *f, uint32_t *words, int count, struct rv_error *err)
{
    unsigned char b[16];
    if (idx_read(f, b, (size_t)count * 4, "the header", err))
        return -1;
    for (int i = 0; i < count; i++)
        words[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16
                 | (uint32_t)b[4 * i + 2] << 8 | (uint32_t)b[4 * i + 3];
    return 0;
}

/* Loads one images/labels pair into d. On failure d holds nothing. */
static int load_split(struct dataset *d, const char *dir, const char *images_name,
                      const char *labels_name, struct rv_error *err)
{
    struct idx_file img = {0}, lab = {0};
    uint32_t ih[4], lh[2];
    memset(d, 0, sizeof *d);

    if (idx_open(&img, dir, images_name, err))
        return -1;
    if (idx_open(&lab, dir, labels_name, err))
        goto fail;

    if (idx_read_header(&img, ih, 4, err))
        goto fail;
    if (ih[0] != IDX_IMAGES_MAGIC) {
        rv_fail(err, "%s: not an IDX image file (magic %u, expected %u); %s",
                img.path, ih[0], IDX_IMAGES_MAGIC, FMNIST_FIX);
        goto fail;
    }
    if (ih[2] != FMNIST_SIDE || ih[3] != FMNIST_SIDE) {
        rv_fail(err, "%s: images are %ux%u, expected %dx%d; %s",
                img.path, ih[2], ih[3], FMNIST_SIDE, FMNIST_SIDE, FMNIST_FIX);
        goto fail;
    }
    if (ih[1] == 0 || ih[1] > FMNIST_MAX_COUNT) {
        rv_fail(err, "%s: header claims %u images, expected 1 to %u; %s",
                img.path, ih[1], FMNIST_MAX_COUNT, FMNIST_FIX);
        goto fail;
    }

    if (idx_read_header(&lab, lh, 2, err))
        goto fail;
    if (lh[0] != IDX_LABELS_MAGIC) {
        rv_fail(err, "%s: not an IDX label file (magic %u, expected %u); %s",
                lab.path, lh[0], IDX_LABELS_MAGIC, FMNIST_FIX);
        goto fail;
    }
    if (lh[1] != ih[1]) {
        rv_fail(err, "%s: %u labels but %s has %u images; the files come from different "
                     "sets: %s", lab.path, lh[1], img.path, ih[1], FMNIST_FIX);
        goto fail;
    }

    d->n = (int)ih[1];
    d->c = 1;
    d->h = d->w = FMNIST_SIDE;
    d->classes = FMNIST_CLASSES;
    size_t npix = (size_t)d->n * FMNIST_SIDE * FMNIST_SIDE;
    d->pixels = rv_malloc(npix);
    d->labels = rv_malloc((size_t)d->n);
    if (idx_read(&img, d->pixels, npix, "the pixel data", err))
        goto fail;
    if (idx_read(&lab, d->labels, (size_t)d->n, "the label data", err))
        goto fail;
    for (int i = 0; i < d->n; i++) {
        if (d->labels[i] >= FMNIST_CLASSES) {
            rv_fail(err, "%s: label %d of sample %d is out of range (expected 0..%d); %s",
                    lab.path, d->labels[i], i, FMNIST_CLASSES - 1, FMNIST_FIX);
            goto fail;
        }
    }
    gzclose(img.gz);
    gzclose(lab.gz);
    return 0;

fail:
    if (img.gz)
        gzclose(img.gz);
    if (lab.gz)
        gzclose(lab.gz);
    dataset_free(d);
    return -1;
}

int data_load_fashion_mnist(struct dataset *train, struct dataset *test, const char *dir,
                            struct rv_error *err)
{
    memset(test, 0, sizeof *test);
    if (load_split(train, dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", err))
        return -1;
    if (load_split(test, dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", err)) {
        dataset_free(train);
        return -1;
    }
    data_set_normalization(train, test);
    return 0;
}
