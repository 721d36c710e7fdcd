/* The transition between stages: re-initialize the disabled filters.
 *
 * Filter c of a unit is row c of its conv weight (in_c·k·k values, filter_weights below) with
 * γ_c, β_c. Its conv weights follow pipeline.reinit_weights:
 *   fresh       the initial distribution, N(0, 2/fan_in) (a Mixer's: its truncated LeCun normal;
 *               model_init_draw) (times pipeline.reinit_weight_scale),
 *               under a stream keyed by (stage, param, filter): the same on any number of ranks
 *               and after a resume;
 *   orthogonal  that same draw d, minus its projection on the span of the unit's live rows (those
 *               not re-initialized now), rescaled to ‖d‖ (RePr). Gram–Schmidt in double, twice
 *               ("twice is enough"), in filter order; so a function of (seed, stage, param,
 *               filter) and the live weights only. Where the live rows span all fan_in dimensions
 *               (the stem, 1×1 shortcuts: fewer inputs than live filters) no direction is left:
 *               the filter gets the plain draw d, and is counted;
 *   keep        the trained weights, and the BN running statistics that describe their output.
 * γ_c follows pipeline.reinit_gamma, β_c pipeline.reinit_beta (their initial values come from
 * their init stream, index c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "stages.h"

const struct reinit_options reinit_defaults = {
    .gamma = REINIT_GAMMA_INITIAL, .gamma_value = 0.0, .beta = REINIT_BETA_INITIAL,
    .weights = REINIT_WEIGHTS_FRESH, .weight_scale = 1.0,
};

struct reinit_options reinit_options_of(const struct config *c)
{
    return (struct reinit_options){.gamma = c->reinit_gamma, .gamma_value = c->reinit_gamma_value,
                                   .beta = c->reinit_beta, .weights = c->reinit_weights,
                                   .weight_scale = c->reinit_weight_scale};
}

/* Filter c's weights: element i at values[offset + i·stride], i < n. The one place that reads a
 * filter's layout, which the unit declares (model.h: a conv's row c, or any strided slice). */
struct filter_weights {
    size_t offset, stride, n;
};

static struct filter_weights filter_weights(const struct model *m, const struct unit *un, int c)
{
    const struct param *w = &m->params[un->w];
    return (struct filter_weights){.offset = w->offset + (size_t)c * un->row_stride,
                                   .stride = un->elem_stride, .n = un->filter_len};
}

static int unit_channels(const struct unit *un)
{
    return un->channels;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median |γ| of a unit's n filters (the mean of the middle two for even n, as numpy's). */
static double median_abs(const float *gamma, int n)
{
    double *a = rv_malloc((size_t)n * sizeof *a);
    for (int c = 0; c < n; c++)
        a[c] = fabs((double)gamma[c]);
    qsort(a, (size_t)n, sizeof *a, cmp_double);
    double med = n % 2 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
    free(a);
    return med;
}

static float new_gamma(const struct model *m, uint64_t seed, int stage, const struct unit *un, int c,
                       float old, double median, const struct reinit_options *o)
{
    switch (o->gamma) {
    case REINIT_GAMMA_FRESH:
        /* γ = 1 has no distribution to draw from again: fresh is initial there. */
        if (!m->spec.gamma_one) {
            uint64_t stream = rng_stream(RNG_REINIT, (uint64_t)stage, (uint64_t)un->gamma, (uint64_t)c);
            return rng_uniform(seed, stream, 0);
        }
        break;
    case REINIT_GAMMA_ZERO: return 0.0f;
    case REINIT_GAMMA_VALUE: return (float)o->gamma_value;
    /* The old sign: with the weights kept, the filter's feature keeps its direction; γ = 0
     * (no sign) gets +median. */
    case REINIT_GAMMA_MEDIAN: return (float)(old < 0.0f ? -median : median);
    case REINIT_GAMMA_INITIAL:
    case REINIT_GAMMA_COUNT: break;
    }
    return model_init_value(m, seed, un->gamma, (size_t)c);
}

/* The fresh draw of filter c (float, as the fresh variant writes it). */
static void fresh_draw(float *d, const struct model *m, uint64_t seed, int stage,
                       const struct unit *un, int c, size_t n, const struct reinit_options *o)
{
    /* the weights' fan-in: a conv row's length n; a Mixer column's, its conv's in_c */
    const struct param *w = &m->params[un->w];
    size_t fan_in = w->count / (size_t)w->dims[0];
    uint64_t stream = rng_stream(RNG_REINIT, (uint64_t)stage, (uint64_t)un->w, (uint64_t)c);
    for (size_t i = 0; i < n; i++) {
        /* scale 1 leaves the draw's bits exactly as before the factor existed */
        float v = model_init_draw(m, seed, stream, un->w, fan_in, i);
        d[i] = o->weight_scale == 1.0 ? v : (float)(v * o->weight_scale);
    }
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* v minus its projection on the orthonormal rows q[0..k), twice. */
static void project_out(double *v, const double *q, int k, size_t n)
{
    for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j < k; j++) {
            double p = dot(q + (size_t)j * n, v, n);
            for (size_t i = 0; i < n; i++)
                v[i] -= p * q[(size_t)j * n + i];
        }
}

/* A vector whose remainder is below this share of its norm lies in the span. */
#define REINIT_SPAN_TOL 1e-6

/* An orthonormal basis (rows of q, n wide) of the unit's live filters' weights; returns its
 * size, at most n. */
static int live_basis(double *q, const struct model *m, const struct unit *un, const uint8_t *which, size_t n)
{
    int k = 0;
    for (int c = 0; c < unit_channels(un) && (size_t)k < n; c++) {
        if (which[c])
            continue;
        struct filter_weights fw = filter_weights(m, un, c);
        double *v = q + (size_t)k * n;
        for (size_t i = 0; i < n; i++)
            v[i] = m->values[fw.offset + i * fw.stride];
        double before = sqrt(dot(v, v, n));
        project_out(v, q, k, n);
        double after = sqrt(dot(v, v, n));
        if (after <= REINIT_SPAN_TOL * before || after == 0.0)
            continue; /* dependent on the rows before it (or zero) */
        for (size_t i = 0; i < n; i++)
            v[i] /= after;
        k++;
    }
    return k;
}

/* d made orthogonal to the k basis rows and rescaled to its own norm; false (d unchanged) when
 * nothing is left of it (k = n, the live rows span the space). */
static bool orthogonalize(float *d, const double *q, int k, size_t n, double *v)
{
    if ((size_t)k >= n)
        return false;
    for (size_t i = 0; i < n; i++)
        v[i] = d[i];
    double norm = sqrt(dot(v, v, n));
    project_out(v, q, k, n);
    double rest = sqrt(dot(v, v, n));
    if (rest <= REINIT_SPAN_TOL * norm || rest == 0.0)
        return false;
    for (size_t i = 0; i < n; i++)
        d[i] = (float)(v[i] * (norm / rest));
    return true;
}

int reinit_filters(struct model *m, uint64_t seed, int stage, const uint8_t *which,
                   const struct reinit_options *o, int *not_orthogonal)
{
    int f = 0, count = 0, spanned = 0;
    for (int u = 0; u < m->nunits; f += unit_channels(&m->units[u]), u++) {
        const struct unit *un = &m->units[u];
        const int channels = unit_channels(un);
        const uint8_t *flags = which + f;
        int flagged = 0;
        for (int c = 0; c < channels; c++)
            flagged += flags[c];
        if (!flagged)
            continue;
        float *gamma = m->values + m->params[un->gamma].offset;
        double median = o->gamma == REINIT_GAMMA_MEDIAN ? median_abs(gamma, channels) : 0.0;
        size_t n = filter_weights(m, un, 0).n;
        float *draw = rv_malloc(n * sizeof *draw);
        double *basis = NULL, *scratch = NULL;
        int rank = 0;
        if (o->weights == REINIT_WEIGHTS_ORTHOGONAL) {
            size_t rows = (size_t)(channels - flagged) < n ? (size_t)(channels - flagged) : n;
            basis = rv_malloc((rows ? rows : 1) * n * sizeof *basis);
            scratch = rv_malloc(n * sizeof *scratch);
            rank = live_basis(basis, m, un, flags, n);
        }
        for (int c = 0; c < channels; c++) {
            if (!flags[c])
                continue;
            count++;
            struct filter_weights fw = filter_weights(m, un, c);
            if (o->weights != REINIT_WEIGHTS_KEEP) {
                fresh_draw(draw, m, seed, stage, un, c, n, o);
                if (o->weights == REINIT_WEIGHTS_ORTHOGONAL && !orthogonalize(draw, basis, rank, n, scratch))
                    spanned++;
                for (size_t i = 0; i < n; i++)
                    m->values[fw.offset + i * fw.stride] = draw[i];
                /* new weights: the running statistics of the old ones mean nothing (a
                 * LayerNorm unit has none) */
                if (!un->layernorm) {
                    m->running_stats[un->running + (size_t)c] = 0.0f;
                    m->running_stats[un->running + (size_t)channels + (size_t)c] = 1.0f;
                }
            }
            for (size_t i = 0; i < n; i++) {
                m->momentum[fw.offset + i * fw.stride] = 0.0f;
                if (m->moment2) /* AdamW's second moment */
                    m->moment2[fw.offset + i * fw.stride] = 0.0f;
            }
            size_t b = m->params[un->beta].offset + (size_t)c;
            gamma[c] = new_gamma(m, seed, stage, un, c, gamma[c], median, o);
            if (o->beta == REINIT_BETA_INITIAL)
                m->values[b] = model_init_value(m, seed, un->beta, (size_t)c);
            m->momentum[m->params[un->gamma].offset + (size_t)c] = m->momentum[b] = 0.0f;
            if (m->moment2)
                m->moment2[m->params[un->gamma].offset + (size_t)c] = m->moment2[b] = 0.0f;
        }
        free(draw);
        free(basis);
        free(scratch);
    }
    if (not_orthogonal)
        *not_orthogonal = spanned;
    return count;
}
