/* OpenBLAS kernel choice on CPUs newer than the OpenBLAS release (see blas_kernels.h). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas_kernels.h"

struct cpu_vector_units cpu_vector_units_detect(void)
{
    struct cpu_vector_units u = {false, false};
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    u.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    u.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
    return u;
}

/* OpenBLAS's x86 cores that use neither AVX2 nor AVX-512: what it falls back to, or what it
 * rightly picks on an old CPU (then the CPU lacks the units and nothing changes). */
static const char *const cores_without_avx2[] = {
    "Prescott", "Core2",     "Penryn",    "Dunnington", "Nehalem", "Sandybridge", "Atom",
    "Katmai",   "Coppermine", "Northwood", "Banias",    "Athlon",  "Opteron",     "Opteron_SSE3",
    "Barcelona", "Bobcat",   "Bulldozer", "Piledriver", "Steamroller", "Excavator",
};

const char *blas_kernels_better_core(const char *chosen, struct cpu_vector_units units)
{
    if (!chosen)
        return NULL;
    bool fallback = false;
    for (size_t i = 0; i < sizeof cores_without_avx2 / sizeof *cores_without_avx2; i++)
        if (strcmp(chosen, cores_without_avx2[i]) == 0)
            fallback = true;
    if (!fallback)
        return NULL;
    if (units.avx512)
        return "SkylakeX";
    if (units.avx2_fma)
        return "Haswell";
    return NULL;
}

void blas_kernels_reexec(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE"))
        return;
    const char *core = blas_kernels_better_core(openblas_get_corename(), cpu_vector_units_detect());
    if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* the exec failed: go on as we were */
}
