/* The counter-based generator: a pure function of (seed, stream, index), with sane statistics. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rng.h"

#define RNG_PINNED 0x0c30915f7a72f62eULL

static void test_pure_function(void **state)
{
    (void)state;
    uint64_t s = rng_stream(RNG_INIT, 3, 0, 0);
    assert_true(rng_u64(1, s, 42) == rng_u64(1, s, 42));
    assert_true(rng_u64(1, s, 42) != rng_u64(1, s, 43));
    assert_true(rng_u64(1, s, 42) != rng_u64(2, s, 42));
    assert_true(rng_stream(RNG_INIT, 3, 0, 0) != rng_stream(RNG_REINIT, 3, 0, 0));
    assert_true(rng_stream(RNG_AUGMENT, 1, 2, 0) != rng_stream(RNG_AUGMENT, 2, 1, 0));


    /* Pinned: a change of the generator would silently change every published number. */
    assert_true(rng_u64(0, 0, 0) == RNG_PINNED);
}

static void test_uniform_and_normal_moments(void **state)
{
    (void)state;
    const int n = 200000;
    double su = 0, sn = 0, sn2 = 0, sn4 = 0;
    uint64_t s = rng_stream(RNG_TEST, 1, 0, 0);
    for (int i = 0; i < n; i++) {
        float u = rng_uniform(5, s, i);
        assert_true(u >= 0.0f && u < 1.0f);
        su += u;
        double z = rng_normal(5, s, i);
        sn += z;
        sn2 += z * z;
        sn4 += z * z * z * z;
    }
    assert_true(fabs(su / n - 0.5) < 0.005);
    assert_true(fabs(sn / n) < 0.01);
    assert_true(fabs(sn2 / n - 1.0) < 0.015);
    assert_true(fabs(sn4 / n - 3.0) < 0.1);
}

static void test_below_is_in_range_and_covers(void **state)
{
    (void)state;
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint32_t v = rng_below(1, 2, i, 7);
        assert_true(v < 7);
        seen[v]++;
    }
    for (int k = 0; k < 7; k++)
        assert_true(seen[k] > 850 && seen[k] < 1150);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pure_function),
        cmocka_unit_test(test_uniform_and_normal_moments),
        cmocka_unit_test(test_below_is_in_range_and_covers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
