/* The batch iterator training, recalibration and evaluation walk (src/pipeline/batches.c):
 *   - a global batch split over 1…5 ranks: the shares, in rank order, are exactly the one-rank
 *     batch (same images, same augmentation), their sizes differ by at most one, and every rank
 *     knows the global size; the last batch is short;
 *   - the order of a pass is data_epoch_order keyed by the pass;
 *   - a shard: the ranks' chunks, in rank order, are the whole set in order, none larger than B. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "batches.h"

enum { N = 23, B = 8, SEED = 5 };

static void make_data(struct dataset *train, struct dataset *test)
{
    data_synthetic(train, test, N, N, 1, 4, 3, SEED);
}

static void test_global_batches_split_over_ranks(void **state)
{
    (void)state;
    struct dataset train, test;
    make_data(&train, &test);
    const struct augment aug = {.crop_pad = 1, .flip = true};
    const size_t image = (size_t)train.c * train.h * train.w;
    struct batches one;
    batches_open(&one, &train, B, 0, 1, &aug, SEED);
    batches_order(&one, 7);
    assert_int_equal(one.count, 3); /* 8, 8, 7 */
    for (int ranks = 1; ranks <= 5; ranks++) {
        struct batches b[5];
        for (int k = 0; k < ranks; k++) {
            batches_open(&b[k], &train, B, k, ranks, &aug, SEED);
            batches_order(&b[k], 7);
            assert_int_equal(b[k].count, one.count);
        }
        for (long j = 0; j < one.count; j++) {
            batches_load(&one, j);
            assert_int_equal(one.n, j < 2 ? B : N - 2 * B);
            int at = 0, smallest = B, largest = 0;
            for (int k = 0; k < ranks; k++) {
                batches_load(&b[k], j);
                assert_int_equal(b[k].global, one.n);
                assert_true(b[k].n <= b[k].cap);
                assert_memory_equal(b[k].y, one.y + at, (size_t)b[k].n * sizeof(int));
                assert_memory_equal(b[k].x, one.x + (size_t)at * image, (size_t)b[k].n * image * sizeof(float));
                at += b[k].n;
                smallest = b[k].n < smallest ? b[k].n : smallest;
                largest = b[k].n > largest ? b[k].n : largest;
            }
            assert_int_equal(at, one.n);
            assert_true(largest - smallest <= 1);
        }
        for (int k = 0; k < ranks; k++)
            batches_close(&b[k]);
    }
    batches_close(&one);
    dataset_free(&train);
    dataset_free(&test);
}

static void test_order_is_the_pass_key(void **state)
{
    (void)state;
    struct dataset train, test;
    make_data(&train, &test);
    struct batches b;
    batches_open(&b, &train, B, 0, 1, NULL, SEED);
    for (int i = 0; i < N; i++)
        assert_int_equal(b.order[i], i); /* before batches_order: as stored */
    int want[N];
    data_epoch_order(want, N, SEED, -3);
    batches_order(&b, -3);
    assert_memory_equal(b.order, want, sizeof want);
    /* No augmentation: the images are the data set's, normalized. */
    float x[B * 16];
    int y[B];
    batches_load(&b, 1);
    data_make_batch(x, y, &train, want + B, B, NULL, 0, 0);
    assert_memory_equal(b.x, x, sizeof x);
    assert_memory_equal(b.y, y, sizeof y);
    batches_close(&b);
    dataset_free(&train);
    dataset_free(&test);
}

static void test_shards_cover_the_set_in_order(void **state)
{
    (void)state;
    struct dataset train, test;
    make_data(&train, &test);
    int all[N];
    for (int i = 0; i < N; i++)
        all[i] = i;
    const size_t image = (size_t)test.c * test.h * test.w;
    float *x = malloc((size_t)N * image * sizeof *x);
    int y[N];
    data_make_batch(x, y, &test, all, N, NULL, 0, 0);
    for (int ranks = 1; ranks <= 4; ranks++) {
        int at = 0;
        for (int k = 0; k < ranks; k++) {
            struct batches b;
            batches_open_shard(&b, &test, 3, k, ranks);
            for (long j = 0; j < b.count; j++) {
                batches_load(&b, j);
                assert_true(b.n >= 1 && b.n <= 3);
                assert_int_equal(b.global, b.n);
                assert_memory_equal(b.y, y + at, (size_t)b.n * sizeof(int));
                assert_memory_equal(b.x, x + (size_t)at * image, (size_t)b.n * image * sizeof(float));
                at += b.n;
            }
            batches_close(&b);
        }
        assert_int_equal(at, N);
    }
    free(x);
    dataset_free(&train);
    dataset_free(&test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_global_batches_split_over_ranks),
        cmocka_unit_test(test_order_is_the_pass_key),
        cmocka_unit_test(test_shards_cover_the_set_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
