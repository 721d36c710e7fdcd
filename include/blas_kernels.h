/* Choosing OpenBLAS's kernels when OpenBLAS does not know the CPU.
 *
 * OpenBLAS picks its kernels once, when the library loads, from the CPU's model number. A
 * release older than the CPU (Debian 12 ships 0.3.21; Sapphire Rapids arrived in 0.3.22) does not
 * find the model and falls back to "Prescott", its SSE3 kernels: on a CPU with AVX-512, sgemm then
 * runs at 14 instead of 87-112 GFLOP/s a thread (docs/BENCHMARKS.md). OpenBLAS reads
 * OPENBLAS_CORETYPE only at load time, so the fix is to set it and start the program again:
 *
 *   int main(int argc, char **argv) { blas_kernels_reexec(argv); ...           first statement
 *
 * A user's own OPENBLAS_CORETYPE is always kept (that is also how to ask for another kernel, for
 * example to reproduce the bits of a run made with other kernels: the core is in /provenance). */
#ifndef REVIVE_BLAS_KERNELS_H
#define REVIVE_BLAS_KERNELS_H

#include <stdbool.h>

struct cpu_vector_units {
    bool avx2_fma;   /* AVX2 and FMA, usable by the OS */
    bool avx512;     /* AVX-512 F, BW, DQ and VL, usable by the OS */
};

/* What this CPU has (gcc's __builtin_cpu_supports, which also asks the OS via XGETBV). */
struct cpu_vector_units cpu_vector_units_detect(void);

/* The core to force instead of `chosen` on a CPU with `units`, or NULL to keep `chosen`: a core
 * without AVX2 (a fallback) on a CPU with AVX-512 becomes SkylakeX, on one with AVX2 and FMA
 * Haswell. Pure, for the tests. */
const char *blas_kernels_better_core(const char *chosen, struct cpu_vector_units units);

/* When OPENBLAS_CORETYPE is unset and blas_kernels_better_core() names a core: sets it and
 * execv()s this program again with the same arguments (same process, so mpirun is unaffected).
 * Returns when nothing is to be done or the exec failed (the run then goes on, slower). */
void blas_kernels_reexec(char **argv);

#endif
