/* OpenBLAS kernel choice (src/engine/blas_kernels.c): a fallback core on a CPU with wider vector units
 * is replaced; a real choice, or a CPU without those units, is left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "blas_kernels.h"

static const struct cpu_vector_units none = {false, false}, avx2 = {true, false},
                                     avx512 = {true, true};

static void test_fallback_is_replaced_by_the_widest_units(void **state)
{
    (void)state;
    assert_string_equal(blas_kernels_better_core("Prescott", avx512), "SkylakeX");
    assert_string_equal(blas_kernels_better_core("Prescott", avx2), "Haswell");
    assert_string_equal(blas_kernels_better_core("Nehalem", avx2), "Haswell");
    assert_string_equal(blas_kernels_better_core("Sandybridge", avx512), "SkylakeX");
}

static void test_real_choices_and_old_cpus_are_kept(void **state)
{
    (void)state;
    assert_null(blas_kernels_better_core("Prescott", none));
    assert_null(blas_kernels_better_core("Haswell", avx2));
    assert_null(blas_kernels_better_core("Haswell", avx512)); /* OpenBLAS's own choice stands */
    assert_null(blas_kernels_better_core("SkylakeX", avx512));
    assert_null(blas_kernels_better_core("Zen", avx2));
    assert_null(blas_kernels_better_core("Cooperlake", avx512));
    assert_null(blas_kernels_better_core(NULL, avx512));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fallback_is_replaced_by_the_widest_units),
        cmocka_unit_test(test_real_choices_and_old_cpus_are_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
