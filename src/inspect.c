/* pipeline inspect (see inspect.h): the /stats group of a checkpoint read back into
 * struct stage_record, then printed. Reading checks everything it relies on, so a damaged or
 * foreign file gives one clear line instead of nonsense numbers. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "h5io.h"
#include "inspect.h"
#include "stats.h"

static const char usage_line[] = "pipeline inspect FILE [--layers] [--format table|csv|json] [--stage K]";

enum format { FORMAT_TABLE, FORMAT_CSV, FORMAT_JSON };

struct options {
    const char *file;
    enum format format;
    int layers;
    int stage; /* −1: every stage */
};

/* What inspect knows about a checkpoint: the units and one record per finished stage. */
struct insp {
    const char *path;
    int nunits, nfilters, nstages;
    char *unit_text;   /* the "units" string, cut at its newlines */
    char **unit;       /* (nunits) names, pointing into unit_text */
    int *first, *count; /* (nunits) filter range of each unit */
    struct stage_record *rec; /* (nstages) */
};

/* ---- reading ---------------------------------------------------------------------------- */


static int load_units(struct insp *d, struct h5in *f, struct rv_error *err)
{
    int ndim;
    size_t dims[H5IO_MAX_DIMS];
    if (h5in_string(f, "stats/units", &d->unit_text, err) ||
        h5in_shape(f, "stats/filters_per_unit", &ndim, dims, err))
        return -1;
    if (ndim != 1 || dims[0] < 1 || dims[0] > 100000)
        return rv_fail(err, "%s: stats/filters_per_unit must be a list of 1 to 100000 counts; the file "
                       "is damaged", d->path);
    d->nunits = (int)dims[0];
    int64_t *per = rv_malloc(dims[0] * sizeof *per);
    d->unit = rv_calloc(dims[0], sizeof *d->unit);
    d->first = rv_malloc(dims[0] * sizeof *d->first);
    d->count = rv_malloc(dims[0] * sizeof *d->count);
    int rc = h5in_int64s(f, "stats/filters_per_unit", per, 1, dims, err);
    /* one name per line; the last line ends in '\n' */
    int names = 0;
    for (char *p = d->unit_text; !rc && *p; names++) {
        char *nl = strchr(p, '\n');
        if (names < d->nunits)
            d->unit[names] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    if (!rc && names != d->nunits)
        rc = rv_fail(err, "%s: stats/units names %d units but stats/filters_per_unit counts %d; "
                     "the file is damaged", d->path, names, d->nunits);
    int64_t total = 0;
    for (int u = 0; u < d->nunits && !rc; u++) {
        if (per[u] < 1 || per[u] > 1000000)
            rc = rv_fail(err, "%s: stats/filters_per_unit[%d] = %lld; the file is damaged", d->path, u,
                         (long long)per[u]);
        d->first[u] = (int)total;
        d->count[u] = (int)per[u];
        total += per[u];
    }
    if (!rc && total > 100000000)
        rc = rv_fail(err, "%s: stats/filters_per_unit adds up to %lld filters; the file is damaged",
                     d->path, (long long)total);
    d->nfilters = (int)total;
    free(per);
    return rc;
}

/* Reads stage k's record. The flags write_record derives from disabled (d) and reinit (r),
 * revived = r∧¬d, died_again = r∧d, newly_disabled = ¬r∧d, are checked against them: stored ones
 * that disagree mean a damaged file. */
static int load_stage(struct insp *d, struct h5in *f, int k, struct rv_error *err)
{
    static const char *names[6] = {"gamma", "disabled", "reinit", "revived", "died_again", "newly_disabled"};
    struct stage_record *rec = &d->rec[k];
    char g[64], name[96], *kind = NULL;
    snprintf(g, sizeof g, "stats/stage-%02d", k);
    rec->stage = k;
    rec->nfilters = d->nfilters;
    size_t n = (size_t)d->nfilters;
    rec->gamma = rv_malloc(n * sizeof *rec->gamma);
    rec->disabled = rv_malloc(n);
    rec->reinit = rv_malloc(n);
    int64_t trainable = 0;
    int rc = h5in_attr_string(f, g, "kind", &kind, err) ||
             h5in_attr_double(f, g, "fraction", &rec->fraction, err) ||
             h5in_attr_int(f, g, "trainable", &trainable, err) ||
             h5in_attr_double(f, g, "threshold", &rec->threshold, err) ||
             h5in_attr_double(f, g, "acc_start", &rec->acc_start, err) ||
             h5in_attr_double(f, g, "acc_end", &rec->acc_end, err) ||
             h5in_attr_double(f, g, "acc_clamped", &rec->acc_clamped, err);
    snprintf(rec->kind, sizeof rec->kind, "%s", kind ? kind : "");
    free(kind);
    rec->trainable = trainable > 0 ? (size_t)trainable : 0;
    uint8_t *v = rv_malloc(n), *dst[3] = {rec->disabled, rec->reinit, v};
    for (int j = 0; j < 6 && !rc; j++) {
        snprintf(name, sizeof name, "%s/%s", g, names[j]);
        rc = j == 0 ? h5in_floats(f, name, rec->gamma, 1, &n, err)
                    : h5in_bytes(f, name, dst[j < 3 ? j - 1 : 2], 1, &n, err);
        for (size_t i = 0; i < n && !rc && j >= 3; i++) {
            int dis = rec->disabled[i] != 0, re = rec->reinit[i] != 0;
            int want = j == 3 ? re && !dis : j == 4 ? re && dis : !re && dis;
            if ((v[i] != 0) != want)
                rc = rv_fail(err, "%s: %s[%zu] disagrees with disabled and reinit; the file is damaged",
                             d->path, name, i);
        }
    }
    free(v);
    return rc ? -1 : 0;
}

static void insp_free(struct insp *d)
{
    for (int k = 0; d->rec && k < d->nstages; k++)
        stats_free(&d->rec[k]);
    free(d->rec);
    free(d->unit_text);
    free(d->unit);
    free(d->first);
    free(d->count);
    memset(d, 0, sizeof *d);
}

static int insp_load(struct insp *d, const char *path, struct rv_error *err)
{
    memset(d, 0, sizeof *d);
    d->path = path;
    struct h5in *f = h5in_open(path, err);
    if (!f)
        return -1;
    int64_t nstages = 0;
    int rc = checkpoint_check_format(f, err);
    if (!rc && !h5in_exists(f, "stats"))
        rc = rv_fail(err, "%s: no /stats group (written by an older revive?); inspect a stage-KK.h5 "
                     "of a run made with this one", path);
    if (!rc)
        rc = h5in_attr_int(f, "stats", "nstages", &nstages, err);
    if (!rc && nstages == 0)
        rc = rv_fail(err, "%s: no stage has finished yet; inspect a stage-KK.h5", path);
    if (!rc && (nstages < 0 || nstages > 1000))
        rc = rv_fail(err, "%s: stats attribute nstages = %lld; the file is damaged", path,
                     (long long)nstages);
    if (!rc)
        rc = load_units(d, f, err);
    if (!rc) {
        d->rec = rv_calloc((size_t)nstages, sizeof *d->rec);
        d->nstages = (int)nstages;
    }
    for (int k = 0; k < d->nstages && !rc; k++)
        rc = load_stage(d, f, k, err);
    h5in_close(f);
    if (rc)
        insp_free(d);
    return rc ? -1 : 0;
}

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
    if (strcmp(r->kind, "bn") == 0)
        snprintf(buf, cap, "BN only");
    else if (strcmp(r->kind, "conv_fraction") == 0)
        snprintf(buf, cap, "BN+%g%%", 100.0 * r->fraction);
    else if (strcmp(r->kind, "bn_output") == 0)
        snprintf(buf, cap, "BN+output");
    else if (strcmp(r->kind, "output") == 0)
        snprintf(buf, cap, "output only");
    else
        snprintf(buf, cap, "%s", r->kind);
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

static void print_stage_table(FILE *out, const struct insp *d, int k0, int k1)
{
    static const char *head[] = {"stage", "kind", "trainable", "acc re-init", "acc end", "clamped", "Δclamp",
                                 "disabled", "re-init", "revived", "died again", "newly disabled"};
    struct table t;
    table_init(&t, k1 - k0 + 1, 12);
    table_head(&t, head);
    double worst = -1.0;
    int worst_k = k0, same_tau = 1;
    for (int k = k0; k < k1; k++) {
        const struct stage_record *r = &d->rec[k];
        struct filter_counts c = stats_count(r, 0, r->nfilters);
        double delta = 100.0 * (r->acc_clamped - r->acc_end);
        snprintf(cell(&t, 0), CELL, "%d", k);
        kind_label(cell(&t, 1), CELL, r);
        snprintf(cell(&t, 2), CELL, "%zu", r->trainable);
        if (r->acc_start < 0)
            snprintf(cell(&t, 3), CELL, "-");
        else
            snprintf(cell(&t, 3), CELL, "%.2f%%", 100.0 * r->acc_start);
        snprintf(cell(&t, 4), CELL, "%.2f%%", 100.0 * r->acc_end);
        snprintf(cell(&t, 5), CELL, "%.2f%%", 100.0 * r->acc_clamped);
        snprintf(cell(&t, 6), CELL, "%+.2f", delta);
        snprintf(cell(&t, 7), CELL, "%d (%.1f%%)", c.disabled, 100.0 * share(c.disabled, c.filters));
        const int v[4] = {c.reinit, c.revived, c.died_again, c.newly_disabled};
        for (int i = 0; i < 4; i++)
            snprintf(cell(&t, 8 + i), CELL, "%d", v[i]);
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
    fprintf(out, "\nclamping |γ| < %s to 0 changed accuracy by at most %.2f points (stage %d)\n", tau,
            worst, worst_k);
    print_hist(out, &d->rec[k1 - 1]);
}

static void print_layer_tables(FILE *out, const struct insp *d, int k0, int k1)
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

static void print_csv(FILE *out, const struct insp *d, int k0, int k1, int layers)
{
    if (layers)
        fputs("stage,kind,fraction,threshold,unit,filters,disabled,reinit,revived,died_again,"
              "newly_disabled,disabled_share\n", out);
    else
        fputs("stage,kind,fraction,trainable,threshold,acc_start,acc_end,acc_clamped,delta_clamped,"
              "filters,disabled,disabled_share,reinit,revived,died_again,newly_disabled\n", out);
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
                const double acc[4] = {r->acc_start, r->acc_end, r->acc_clamped, r->acc_clamped - r->acc_end};
                for (int i = 0; i < 4; i++) {
                    fputc(',', out);
                    num(out, acc[i], i < 3, "");
                }
                fprintf(out, ",%d,%d,", c.filters, c.disabled);
                num(out, share(c.disabled, c.filters), 0, "");
                fprintf(out, ",%d,%d,%d,%d", c.reinit, c.revived, c.died_again, c.newly_disabled);
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

static void print_json(FILE *out, const struct insp *d, int k0, int k1)
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
        const char *keys[] = {"fraction", "threshold", "acc_start", "acc_end", "acc_clamped", "delta_clamped"};
        const double vals[] = {r->fraction, r->threshold, r->acc_start, r->acc_end, r->acc_clamped,
                               r->acc_clamped - r->acc_end};
        for (int i = 0; i < 6; i++) {
            fprintf(out, ", \"%s\": ", keys[i]);
            num(out, vals[i], i >= 2 && i <= 4, "null");
        }
        fprintf(out, ", \"trainable\": %zu,\n   ", r->trainable);
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
    fputs("]}\n", out);
}

/* ---- command line ----------------------------------------------------------------------- */

/* 0, or 2 with err set; *help set for -h/--help. */
static int parse_args(struct options *o, int *help, int argc, char **argv, struct rv_error *err)
{
    *o = (struct options){.format = FORMAT_TABLE, .stage = -1};
    *help = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            *help = 1;
            return 0;
        }
        if (strcmp(a, "--layers") == 0) {
            o->layers = 1;
            continue;
        }
        int is_format = strncmp(a, "--format", 8) == 0 && (a[8] == '\0' || a[8] == '=');
        int is_stage = strncmp(a, "--stage", 7) == 0 && (a[7] == '\0' || a[7] == '=');
        if (is_format || is_stage) {
            const char *eq = strchr(a, '=');
            v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!v)
                return rv_fail(err, "%s needs a value (usage: %s)", a, usage_line), 2;
        }
        if (is_format) {
            static const char *names[] = {[FORMAT_TABLE] = "table", [FORMAT_CSV] = "csv", [FORMAT_JSON] = "json"};
            int j = FORMAT_JSON;
            while (j >= 0 && strcmp(v, names[j]) != 0)
                j--;
            if (j < 0)
                return rv_fail(err, "--format '%s': expected table, csv or json", v), 2;
            o->format = (enum format)j;
        } else if (is_stage) {
            char *end;
            errno = 0;
            long k = strtol(v, &end, 10);
            if (end == v || *end || errno || k < 0 || k > 1000)
                return rv_fail(err, "--stage '%s': expected a stage number (0, 1, …)", v), 2;
            o->stage = (int)k;
        } else if (a[0] == '-' && a[1] != '\0') {
            return rv_fail(err, "unknown option '%s' (usage: %s)", a, usage_line), 2;
        } else if (o->file) {
            return rv_fail(err, "unexpected argument '%s': give one checkpoint file (usage: %s)", a,
                           usage_line), 2;
        } else {
            o->file = a;
        }
    }
    if (!o->file)
        return rv_fail(err, "needs a checkpoint file (usage: %s)", usage_line), 2;
    return 0;
}

int inspect_run(FILE *out, FILE *errs, int argc, char **argv)
{
    struct rv_error err = {{0}};
    struct options o;
    int help;
    int rc = parse_args(&o, &help, argc, argv, &err);
    if (rc == 0 && help) {
        fprintf(out, "usage: %s\n"
                "  the filter-revival statistics of every finished stage in a checkpoint\n"
                "  --layers        one row per unit (conv + BN) and stage\n"
                "  --format F      table (default), csv (accuracies as fractions 0..1) or json\n"
                "  --stage K       only stage K\n", usage_line);
        return 0;
    }
    if (rc) {
        fprintf(errs, "pipeline inspect: %s\n", err.msg);
        return rc;
    }
    struct insp d;
    if (insp_load(&d, o.file, &err)) {
        fprintf(errs, "pipeline inspect: %s\n", err.msg);
        return 1;
    }
    if (o.stage >= d.nstages) {
        if (d.nstages == 1)
            fprintf(errs, "pipeline inspect: --stage %d: %s has finished stage 0 only\n", o.stage, o.file);
        else
            fprintf(errs, "pipeline inspect: --stage %d: %s has finished stages 0 to %d\n", o.stage,
                    o.file, d.nstages - 1);
        insp_free(&d);
        return 1;
    }
    int k0 = o.stage < 0 ? 0 : o.stage, k1 = o.stage < 0 ? d.nstages : o.stage + 1;
    if (o.format == FORMAT_CSV)
        print_csv(out, &d, k0, k1, o.layers);
    else if (o.format == FORMAT_JSON)
        print_json(out, &d, k0, k1);
    else if (o.layers)
        print_layer_tables(out, &d, k0, k1);
    else
        print_stage_table(out, &d, k0, k1);
    insp_free(&d);
    return fflush(out) == 0 ? 0 : 1;
}

int inspect_main(int argc, char **argv)
{
    return inspect_run(stdout, stderr, argc, argv);
}
