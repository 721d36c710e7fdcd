#include <math.h>

#include "rng.h"

/* SplitMix64's finalizer: a bijection on 64 bits with full avalanche. Hashing the counter
 * (rather than stepping a state) is what makes a value a function of its key alone. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rng_stream(enum rng_purpose purpose, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = mix64((uint64_t)purpose * 0x9e3779b97f4a7c15ULL);
    h = mix64(h ^ (a + 0x632be59bd9b4e019ULL));
    h = mix64(h ^ (b + 0x8cb92ba72f3d8dd7ULL));
    h = mix64(h ^ (c + 0xd6e8feb86659fd93ULL));
    return h;
}

uint64_t rng_u64(uint64_t seed, uint64_t stream, uint64_t index)
{
    /* Two rounds: the first separates (seed, stream), the second walks the index. */
    uint64_t key = mix64(seed ^ mix64(stream + 0x9e3779b97f4a7c15ULL));
    return mix64(key + index * 0x9e3779b97f4a7c15ULL + 0x7f4a7c159e3779b9ULL);
}

float rng_uniform(uint64_t seed, uint64_t stream, uint64_t index)
{
    return (float)(rng_u64(seed, stream, index) >> 40) * (1.0f / 16777216.0f);
}

double rng_uniform_double(uint64_t seed, uint64_t stream, uint64_t index)
{
    return (double)(rng_u64(seed, stream, index) >> 11) * (1.0 / 9007199254740992.0);
}

float rng_normal(uint64_t seed, uint64_t stream, uint64_t index)
{
    double u1 = rng_uniform_double(seed, stream, 2 * index);
    double u2 = rng_uniform_double(seed, stream, 2 * index + 1);
    double r = sqrt(-2.0 * log(1.0 - u1)); /* 1-u1 in (0,1]: never log(0) */
    return (float)(r * cos(6.283185307179586 * u2));
}

uint32_t rng_below(uint64_t seed, uint64_t stream, uint64_t index, uint32_t bound)
{
    /* Lemire's multiply-shift; the bias is < bound / 2^32, negligible for our sizes. */
    uint64_t r = rng_u64(seed, stream, index) >> 32;
    return (uint32_t)((r * bound) >> 32);
}
