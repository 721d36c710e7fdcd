/* CIFAR-10, binary version: data_batch_1.bin … data_batch_5.bin and test_batch.bin.
 *
 * A record is 1 label byte then 3072 pixel bytes: 1024 red, 1024 green, 1024 blue, each plane
 * row-major 32x32. That is already our (c, h, w) order, so a record's pixels are copied as they
 * are. The files carry no header, so the size (a multiple of 3073) is the only structural check;
 * a batch may hold any number of records (10000 in the real set).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data.h"

#define CIFAR_SIDE 32
#define CIFAR_CHANNELS 3
#define CIFAR_CLASSES 10
#define CIFAR_PIXELS (CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_TRAIN_FILES 5

static const char CIFAR_LAYOUT[] =
    "set data.path to the cifar-10-batches-bin directory of the CIFAR-10 binary version "
    "(cifar-10-binary.tar.gz), which holds data_batch_1.bin ... data_batch_5.bin and "
    "test_batch.bin";

/* Number of records in a batch file, after checking it exists and has a whole number of them. */
static int batch_records(const char *path, long *records, struct rv_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return rv_fail(err, "%s: missing; %s", path, CIFAR_LAYOUT);
        return rv_fail(err, "%s: cannot read (%s); %s", path, strerror(errno), CIFAR_LAYOUT);
    }
    if (!S_ISREG(st.st_mode))
        return rv_fail(err, "%s: not a regular file; %s", path, CIFAR_LAYOUT);
    if (st.st_size == 0 || st.st_size % CIFAR_RECORD != 0)
        return rv_fail(err, "%s: truncated or not a CIFAR-10 binary batch (%lld bytes is not a "
                            "positive multiple of the %d-byte record); download the binary "
                            "version again and unpack it unchanged",
                       path, (long long)st.st_size, CIFAR_RECORD);
    *records = (long)(st.st_size / CIFAR_RECORD);
    return 0;
}

/* Reads `records` records of path into d starting at sample `first`. */
static int read_batch(struct dataset *d, int first, long records, const char *path,
                      struct rv_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rv_fail(err, "%s: cannot open (%s); %s", path, strerror(errno), CIFAR_LAYOUT);
    unsigned char rec[CIFAR_RECORD];
    for (long r = 0; r < records; r++) {
        if (fread(rec, 1, CIFAR_RECORD, f) != CIFAR_RECORD) {
            fclose(f);
            return rv_fail(err, "%s: read failed at record %ld (file changed while reading?); "
                                "check the file and try again", path, r);
        }
        if (rec[0] >= CIFAR_CLASSES) {
            fclose(f);
            return rv_fail(err, "%s: label %d of record %ld is out of range (expected 0..%d): "
                                "not a CIFAR-10 binary batch; %s",
                           path, rec[0], r, CIFAR_CLASSES - 1, CIFAR_LAYOUT);
        }
        size_t i = (size_t)first + (size_t)r;
        d->labels[i] = rec[0];
        memcpy(d->pixels + i * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
    }
    fclose(f);
    return 0;
}

/* Loads the named batch files, in order, into one data set. */
static int load_files(struct dataset *d, const char *dir, const char *const *names, int nfiles,
                      struct rv_error *err)
{
    char paths[CIFAR_TRAIN_FILES][1024];
    long records[CIFAR_TRAIN_FILES] = {0}, total = 0; /* zeroed only to quiet gcc 12 (-Wmaybe-uninitialized) */
    REVIVE_ASSERT(nfiles <= CIFAR_TRAIN_FILES);
    memset(d, 0, sizeof *d);

    /* Check every file before reading any, so a missing last batch fails fast. */
    for (int k = 0; k < nfiles; k++) {
        snprintf(paths[k], sizeof paths[k], "%s/%s", dir, names[k]);
        if (batch_records(paths[k], &records[k], err))
            return -1;
        total += records[k];
        if (total > 10000000L)
            return rv_fail(err, "%s: implausibly many records (%ld in all); %s",
                           paths[k], total, CIFAR_LAYOUT);
    }

    d->n = (int)total;
    d->c = CIFAR_CHANNELS;
    d->h = d->w = CIFAR_SIDE;
    d->classes = CIFAR_CLASSES;
    d->pixels = rv_malloc((size_t)total * CIFAR_PIXELS);
    d->labels = rv_malloc((size_t)total);
    int first = 0;
    for (int k = 0; k < nfiles; k++) {
        if (read_batch(d, first, records[k], paths[k], err)) {
            dataset_free(d);
            return -1;
        }
        first += (int)records[k];
    }
    return 0;
}

int data_load_cifar10(struct dataset *train, struct dataset *test, const char *dir,
                      struct rv_error *err)
{
    static const char *const train_names[CIFAR_TRAIN_FILES] = {
        "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
        "data_batch_5.bin",
    };
    static const char *const test_names[1] = {"test_batch.bin"};
    memset(test, 0, sizeof *test);
    if (load_files(train, dir, train_names, CIFAR_TRAIN_FILES, err))
        return -1;
    if (load_files(test, dir, test_names, 1, err)) {
        dataset_free(train);
        return -1;
    }
    data_set_normalization(train, test);
    return 0;
}
