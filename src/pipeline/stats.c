/* Filter-revival statistics (see stats.h for the definitions). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "stats.h"

int stats_nfilters(const struct model *m)
{
    int n = 0;
    for (int u = 0; u < m->nunits; u++)
        n += m->units[u].channels;
    return n;
}

int stats_unit_offset(const struct model *m, int unit)
{
    int n = 0;
    for (int u = 0; u < unit; u++)
        n += m->units[u].channels;
    return n;
}

struct stats_threshold stats_threshold_of(const struct config *c)
{
    return (struct stats_threshold){.tau = c->threshold, .mode = c->threshold_mode};
}

void stats_threshold_text(char *buf, size_t size, struct stats_threshold t)
{
    snprintf(buf, size, "%g%s", t.tau, t.mode == THRESHOLD_RELATIVE ? "·max" : "");
}

int stats_disabled(uint8_t *out, const float *gamma, int n, struct stats_threshold t)
{
    double cut = t.tau;
    if (t.mode == THRESHOLD_RELATIVE) {
        double top = 0.0;
        for (int c = 0; c < n; c++)
            top = fmax(top, fabs((double)gamma[c]));
        cut = t.tau * top;
    }
    int count = 0;
    for (int c = 0; c < n; c++)
        count += out[c] = fabsf(gamma[c]) < cut; /* float |γ| against double τ, as ever */
    return count;
}

/* γ of unit u in m: its channels' values, contiguous. */
static const float *unit_gamma(const struct model *m, int u)
{
    return m->values + m->params[m->units[u].gamma].offset;
}

int stats_model_disabled(uint8_t *out, const struct model *m, struct stats_threshold t)
{
    int count = 0, f = 0;
    for (int u = 0; u < m->nunits; u++) {
        int n = m->units[u].channels;
        count += stats_disabled(out + f, unit_gamma(m, u), n, t);
        f += n;
    }
    return count;
}

void stats_record_disabled(uint8_t *out, const struct stage_record *rec, const struct model *m,
                           struct stats_threshold t)
{
    REVIVE_ASSERT(rec->nfilters == stats_nfilters(m));
    for (int u = 0, f = 0; u < m->nunits; u++) {
        int n = m->units[u].channels;
        stats_disabled(out + f, rec->gamma + f, n, t);
        f += n;
    }
}

void stats_record(struct stage_record *rec, const struct model *m, int stage, struct stats_threshold t,
                  const uint8_t *prev_disabled)
{
    memset(rec, 0, sizeof *rec);
    rec->stage = stage;
    rec->threshold = t.tau;
    rec->acc_start = rec->acc_start_recal = rec->acc_end = rec->acc_clamped = -1.0;
    rec->nfilters = stats_nfilters(m);
    rec->gamma = rv_malloc((size_t)rec->nfilters * sizeof(float));
    rec->disabled = rv_calloc((size_t)rec->nfilters, 1);
    rec->reinit = rv_calloc((size_t)rec->nfilters, 1);
    int f = 0;
    for (int u = 0; u < m->nunits; u++) {
        int n = m->units[u].channels;
        memcpy(rec->gamma + f, unit_gamma(m, u), (size_t)n * sizeof(float));
        f += n;
    }
    stats_model_disabled(rec->disabled, m, t);
    if (prev_disabled)
        memcpy(rec->reinit, prev_disabled, (size_t)rec->nfilters);
}

void stats_free(struct stage_record *rec)
{
    free(rec->gamma);
    free(rec->disabled);
    free(rec->reinit);
    rec->gamma = NULL;
    rec->disabled = rec->reinit = NULL;
}

struct filter_counts stats_count(const struct stage_record *rec, int first, int count)
{
    struct filter_counts c = {0};
    for (int f = first; f < first + count; f++) {
        int d = rec->disabled[f], r = rec->reinit[f];
        c.filters++;
        c.disabled += d;
        c.reinit += r;
        c.revived += r && !d;
        c.died_again += r && d;
        c.newly_disabled += !r && d;
    }
    return c;
}

/* Bins of log10|γ|: bin 0 is ≤ −6 (γ = 0 included), bins 1 … 13 are half-decades up to 0.5
 * (|γ| ≈ 3.16), bin 14 is everything above; the upper edges are −6, −5.5, …, 0.5, +∞. Healthy
 * filters (|γ| ~ 0.1 … 1) spread over several bins, dead ones (< 0.01) over the lower ones. */
double stats_hist_edge(int i)
{
    return i == STATS_HIST_BINS - 1 ? INFINITY : -6.0 + 0.5 * i;
}

void stats_histogram(const struct stage_record *rec, int first, int count, int *bins)
{
    memset(bins, 0, STATS_HIST_BINS * sizeof *bins);
    for (int f = first; f < first + count; f++) {
        double a = fabs((double)rec->gamma[f]);
        double l = a > 0 ? log10(a) : -INFINITY;
        int b = 0;
        while (b < STATS_HIST_BINS - 1 && l > stats_hist_edge(b))
            b++;
        bins[b]++;
    }
}

const double STATS_GAMMA_QUANTILES[STATS_GAMMA_NQ] = {0.1, 0.5, 0.9};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void stats_gamma_summary(const struct model *m, struct stats_threshold t, double *below, double *q)
{
    int n = stats_nfilters(m), f = 0;
    double *a = rv_malloc((size_t)(n ? n : 1) * sizeof *a);
    uint8_t *flags = rv_malloc((size_t)(n ? n : 1));
    int off = stats_model_disabled(flags, m, t);
    free(flags);
    for (int u = 0; u < m->nunits; u++) {
        const struct param *g = &m->params[m->units[u].gamma];
        for (size_t c = 0; c < g->count; c++, f++)
            a[f] = fabs((double)m->values[g->offset + c]);
    }
    qsort(a, (size_t)n, sizeof *a, cmp_double);
    *below = n ? (double)off / n : 0.0;
    for (int i = 0; i < STATS_GAMMA_NQ; i++) {
        double pos = STATS_GAMMA_QUANTILES[i] * (n - 1);
        int lo = (int)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
        q[i] = n ? a[lo] + (pos - lo) * (a[hi] - a[lo]) : NAN;
    }
    free(a);
}
