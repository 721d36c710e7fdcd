/* pipeline inspect's output (see inspect.h): the stage table with its log10|γ| histogram, the
 * per-unit tables, CSV and JSON, all from the records src/cli/inspect.c read. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "inspect_internal.h"

/* ---- formatting helpers ----------------------------------------------------------------- */

/* The shortest %g that reads back as v, so CSV/JSON hold 0.05, not 0.050000000000000003. */
static void fmt_num(char *buf, size_t cap, double v)
{
    for (int p = 15; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void kind_label(char *buf, size_t cap, const struct stage_record *r)
{
    switch (CHOICE_INDEX(stage_kind_names, r->kind)) {
    case STAGE_BN: snprintf(buf, cap, "BN only"); break;
    case STAGE_CONV_FRACTION: snprintf(buf, cap, "BN+%g%%", 100.0 * r->fraction); break;
    case STAGE_BN_OUTPUT: snprintf(buf, cap, "BN+output"); break;
    case STAGE_OUTPUT: snprintf(buf, cap, "output only"); break;
    default: snprintf(buf, cap, "%s", r->kind); break;
    }
}

static double share(int part, int whole)
{
    return whole > 0 ? (double)part / whole : 0.0;
}

/* A table of short strings printed with columns as wide as their widest cell; columns whose bit
 * is set in left_mask are left-aligned. Widths count UTF-8 characters, not bytes (γ, τ, Δ). */
enum { CELL = 64 };
struct table {
    int nrows, ncols, row;
    char *cells; /* (nrows, ncols, CELL) */
};

static void table_init(struct table *t, int nrows, int ncols)
{
    t->nrows = nrows;
    t->ncols = ncols;
    t->row = 0;
    t->cells = rv_calloc((size_t)nrows * ncols * CELL, 1);
}

/* Cell c of the row being filled (t->row; the caller moves on with t->row++). */
static char *cell(struct table *t, int c)
{
    REVIVE_ASSERT(t->row < t->nrows && c < t->ncols);
    return t->cells + ((size_t)t->row * t->ncols + c) * CELL;
}

static void table_head(struct table *t, const char *const *head)
{
    for (int c = 0; c < t->ncols; c++)
        snprintf(cell(t, c), CELL, "%s", head[c]);
    t->row++;
}

static int utf8_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void table_print(FILE *out, struct table *t, const char *indent, unsigned left_mask)
{
    int *w = rv_calloc((size_t)t->ncols, sizeof *w);
    for (int r = 0; r < t->row; r++)
        for (int c = 0; c < t->ncols; c++) {
            int x = utf8_width(t->cells + ((size_t)r * t->ncols + c) * CELL);
            w[c] = x > w[c] ? x : w[c];
        }
    for (int r = 0; r < t->row; r++) {
        fputs(indent, out);
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells + ((size_t)r * t->ncols + c) * CELL;
            int pad = w[c] - utf8_width(s), last = c == t->ncols - 1;
            if (left_mask >> c & 1u)
                fprintf(out, "%s%*s", s, last ? 0 : pad, "");
            else
                fprintf(out, "%*s%s", pad, "", s);
            fputs(last ? "\n" : "  ", out);
        }
    }
    free(w);
    free(t->cells);
}

/* ---- human-readable output -------------------------------------------------------------- */

static void print_hist(FILE *out, const struct stage_record *r)
{
    int bins[STATS_HIST_BINS], lo = -1, hi = -1, max = 0;
    stats_histogram(r, 0, r->nfilters, bins);
    for (int b = 0; b < STATS_HIST_BINS; b++)
        if (bins[b]) {
            lo = lo < 0 ? b : lo;
            hi = b;
            max = bins[b] > max ? bins[b] : max;
        }
    fprintf(out, "\nlog10|γ| at the end of stage %d (%d filters; τ = %g, log10 τ = %.2f):\n", r->stage,
            r->nfilters, r->threshold, log10(r->threshold));
    for (int b = lo; b >= 0 && b <= hi; b++) {
        char label[32];
        if (b == 0)
            snprintf(label, sizeof label, "≤ %.1f", stats_hist_edge(0));
        else if (b == STATS_HIST_BINS - 1)
            snprintf(label, sizeof label, "> %.1f", stats_hist_edge(b - 1));
        else
            snprintf(label, sizeof label, "(%.1f, %.1f]", stats_hist_edge(b - 1), stats_hist_edge(b));
        int bar = (int)ceil(30.0 * bins[b] / max); /* any non-empty bin shows at least one # */
        fprintf(out, "  %12s  %-30.*s %5d\n", label, bar, "##############################", bins[b]);
    }
}

void inspect_print_table(FILE *out, const struct insp *d, int k0, int k1)
{
    static const char *head[] = {"stage", "kind", "trainable", "acc re-init", "acc recal", "acc end", "clamped",
                                 "Δclamp", "disabled", "re-init", "revived", "died again", "newly disabled"};
    struct table t;
    table_init(&t, k1 - k0 + 1, 13);
    table_head(&t, head);
    double worst = -1.0;
    int worst_k = k0, same_tau = 1, control = 0;
    for (int k = k0; k < k1; k++) {
        const struct stage_record *r = &d->rec[k];
        struct filter_counts c = stats_count(r, 0, r->nfilters);
        double delta = 100.0 * (r->acc_clamped - r->acc_end);
        snprintf(cell(&t, 0), CELL, "%d", k);
        kind_label(cell(&t, 1), CELL, r);
        snprintf(cell(&t, 2), CELL, "%zu", r->trainable);
        const double start[2] = {r->acc_start, r->acc_start_recal};
        for (int i = 0; i < 2; i++) {
            if (start[i] < 0)
                snprintf(cell(&t, 3 + i), CELL, "-");
            else
                snprintf(cell(&t, 3 + i), CELL, "%.2f%%", 100.0 * start[i]);
        }
        snprintf(cell(&t, 5), CELL, "%.2f%%", 100.0 * r->acc_end);
        snprintf(cell(&t, 6), CELL, "%.2f%%", 100.0 * r->acc_clamped);
        snprintf(cell(&t, 7), CELL, "%+.2f", delta);
        snprintf(cell(&t, 8), CELL, "%d (%.1f%%)", c.disabled, 100.0 * share(c.disabled, c.filters));
        const int v[4] = {c.reinit, c.revived, c.died_again, c.newly_disabled};
        for (int i = 0; i < 4; i++)
            snprintf(cell(&t, 9 + i), CELL, "%d", v[i]);
        /* flagged but left alone: pipeline.reinit = false (the control) */
        if (r->reinit_applied != c.reinit)
            snprintf(cell(&t, 9), CELL, "%d*", c.reinit);
        control = control || r->reinit_applied != c.reinit;
        t.row++;
        if (fabs(delta) > worst) {
            worst = fabs(delta);
            worst_k = k;
        }
        same_tau = same_tau && r->threshold == d->rec[k0].threshold;
    }
    table_print(out, &t, "", 1u << 1);
    char tau[32];
    if (same_tau)
        snprintf(tau, sizeof tau, "%g", d->rec[k0].threshold);
    else
        snprintf(tau, sizeof tau, "τ");
    if (control)
        fprintf(out, "\n* flagged (disabled at the previous stage end) but not re-initialized: "
                "pipeline.reinit = false, the control; revived = recovered on its own\n");
    fprintf(out, "\nclamping |γ| < %s to 0 changed accuracy by at most %.2f points (stage %d)\n", tau,
            worst, worst_k);
    print_hist(out, &d->rec[k1 - 1]);
    fprintf(out, "\nprovenance: %d process start%s wrote this run%s\n", d->nprov,
            d->nprov == 1 ? "" : "s", d->nprov ? ", oldest first:" : " (none recorded: an older revive)");
    for (int i = 0; i < d->nprov; i++) {
        fprintf(out, "  %d: ", i);
        provenance_print(out, &d->prov[i]);
    }
}

void inspect_print_layers(FILE *out, const struct insp *d, int k0, int k1)
{
    static const char *head[] = {"unit", "filters", "disabled", "re-init", "revived", "died again",
                                 "newly disabled", "share |γ|<τ"};
    for (int k = k0; k < k1; k++) {
        const struct stage_record *r = &d->rec[k];
        char label[CELL];
        kind_label(label, sizeof label, r);
        fprintf(out, "%sstage %d (%s), τ = %g:\n", k > k0 ? "\n" : "", k, label, r->threshold);
        struct table t;
        table_init(&t, d->nunits + 2, 8);
        table_head(&t, head);
        for (int u = 0; u <= d->nunits; u++) {
            int first = u < d->nunits ? d->first[u] : 0, count = u < d->nunits ? d->count[u] : r->nfilters;
            struct filter_counts c = stats_count(r, first, count);
            snprintf(cell(&t, 0), CELL, "%s", u < d->nunits ? d->unit[u] : "total");
            const int v[6] = {c.filters, c.disabled, c.reinit, c.revived, c.died_again, c.newly_disabled};
            for (int i = 0; i < 6; i++)
                snprintf(cell(&t, 1 + i), CELL, "%d", v[i]);
            /* |γ| < τ is what "disabled" means (stats.h) */
            snprintf(cell(&t, 7), CELL, "%.1f%%", 100.0 * share(c.disabled, count));
            t.row++;
        }
        table_print(out, &t, "  ", 1u);
    }
}

/* ---- CSV and JSON ----------------------------------------------------------------------- */

/* A CSV field: quoted (with "" for ") when it holds a comma, quote or line break. */
static void csv_text(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void json_text(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

/* A number; "none" is printed for a missing accuracy (< 0) or a non-finite value. */
static void num(FILE *out, double v, int accuracy, const char *none)
{
    char buf[40];
    if ((accuracy && v < 0) || !isfinite(v)) {
        fputs(none, out);
        return;
    }
    fmt_num(buf, sizeof buf, v);
    fputs(buf, out);
}

void inspect_print_csv(FILE *out, const struct insp *d, int k0, int k1, int layers)
{
    if (layers)
        fputs("stage,kind,fraction,threshold,unit,filters,disabled,reinit,revived,died_again,"
              "newly_disabled,disabled_share\n", out);
    else
        fputs("stage,kind,fraction,trainable,threshold,acc_start,acc_start_recal,acc_end,acc_clamped,"
              "delta_clamped,filters,disabled,disabled_share,reinit,reinit_applied,revived,died_again,"
              "newly_disabled\n", out);
    for (int k = k0; k < k1; k++) {
        const struct stage_record *r = &d->rec[k];
        for (int u = 0; u < (layers ? d->nunits : 1); u++) {
            int first = layers ? d->first[u] : 0, count = layers ? d->count[u] : r->nfilters;
            struct filter_counts c = stats_count(r, first, count);
            fprintf(out, "%d,", k);
            csv_text(out, r->kind);
            fputc(',', out);
            num(out, r->fraction, 0, "");
            if (!layers)
                fprintf(out, ",%zu", r->trainable);
            fputc(',', out);
            num(out, r->threshold, 0, "");
            if (layers) {
                fputc(',', out);
                csv_text(out, d->unit[u]);
                fprintf(out, ",%d,%d,%d,%d,%d,%d,", c.filters, c.disabled, c.reinit, c.revived,
                        c.died_again, c.newly_disabled);
                num(out, share(c.disabled, count), 0, "");
            } else {
                const double acc[5] = {r->acc_start, r->acc_start_recal, r->acc_end, r->acc_clamped,
                                       r->acc_clamped - r->acc_end};
                for (int i = 0; i < 5; i++) {
                    fputc(',', out);
                    num(out, acc[i], i < 4, "");
                }
                fprintf(out, ",%d,%d,", c.filters, c.disabled);
                num(out, share(c.disabled, c.filters), 0, "");
                fprintf(out, ",%d,%d,%d,%d,%d", c.reinit, r->reinit_applied, c.revived, c.died_again,
                        c.newly_disabled);
            }
            fputc('\n', out);
        }
    }
}

static void json_counts(FILE *out, const struct filter_counts *c)
{
    fprintf(out, "\"filters\": %d, \"disabled\": %d, \"reinit\": %d, \"revived\": %d, "
            "\"died_again\": %d, \"newly_disabled\": %d", c->filters, c->disabled, c->reinit,
            c->revived, c->died_again, c->newly_disabled);
}

void inspect_print_json(FILE *out, const struct insp *d, int k0, int k1)
{
    fputs("{\"file\": ", out);
    json_text(out, d->path);
    fputs(",\n \"stages\": [", out);
    for (int k = k0; k < k1; k++) {
        const struct stage_record *r = &d->rec[k];
        struct filter_counts c = stats_count(r, 0, r->nfilters);
        char label[CELL];
        kind_label(label, sizeof label, r);
        fprintf(out, "%s\n  {\"stage\": %d, \"kind\": ", k > k0 ? "," : "", k);
        json_text(out, r->kind);
        fputs(", \"label\": ", out);
        json_text(out, label);
        const char *keys[] = {"fraction", "threshold", "acc_start", "acc_start_recal", "acc_end", "acc_clamped",
                              "delta_clamped"};
        const double vals[] = {r->fraction, r->threshold, r->acc_start, r->acc_start_recal, r->acc_end,
                               r->acc_clamped, r->acc_clamped - r->acc_end};
        for (int i = 0; i < 7; i++) {
            fprintf(out, ", \"%s\": ", keys[i]);
            num(out, vals[i], i >= 2 && i <= 5, "null");
        }
        fprintf(out, ", \"trainable\": %zu, \"reinit_applied\": %d,\n   ", r->trainable, r->reinit_applied);
        json_counts(out, &c);
        fputs(", \"disabled_share\": ", out);
        num(out, share(c.disabled, c.filters), 0, "null");
        /* upper edges; the last bin has none (+∞), so null */
        int bins[STATS_HIST_BINS];
        stats_histogram(r, 0, r->nfilters, bins);
        fputs(",\n   \"log10_abs_gamma_hist\": {\"upper_edges\": [", out);
        for (int b = 0; b < STATS_HIST_BINS; b++) {
            fputs(b ? ", " : "", out);
            num(out, stats_hist_edge(b), 0, "null");
        }
        fputs("], \"counts\": [", out);
        for (int b = 0; b < STATS_HIST_BINS; b++)
            fprintf(out, "%s%d", b ? ", " : "", bins[b]);
        fputs("]},\n   \"layers\": [", out);
        for (int u = 0; u < d->nunits; u++) {
            struct filter_counts cu = stats_count(r, d->first[u], d->count[u]);
            fprintf(out, "%s\n    {\"unit\": ", u ? "," : "");
            json_text(out, d->unit[u]);
            fputs(", ", out);
            json_counts(out, &cu);
            fputs(", \"disabled_share\": ", out);
            num(out, share(cu.disabled, cu.filters), 0, "null");
            fputc('}', out);
        }
        fputs("]}", out);
    }
    fputs("],\n \"provenance\": [", out);
    for (int i = 0; i < d->nprov; i++) {
        const struct provenance *p = &d->prov[i];
        const char *keys[] = {"revive_version", "commit", "openblas_core", "openblas_config",
                              "hdf5_version", "mpi_version", "host", "started", "command"};
        const char *vals[] = {p->version, p->commit, p->openblas_core, p->openblas_config,
                              p->hdf5_version, p->mpi_version, p->host, p->started, p->command};
        fprintf(out, "%s\n  {\"ranks\": %d, \"threads\": %d", i ? "," : "", p->ranks, p->threads);
        for (int j = 0; j < 9; j++) {
            fprintf(out, ", \"%s\": ", keys[j]);
            json_text(out, vals[j]);
        }
        fputc('}', out);
    }
    fputs("]}\n", out);
}
