/* pipeline style-stats CONFIG [--set section.key=value]... [--out DIR]: the mechanism behind SWAG
 * (Wang, Li & Vasconcelos 2021), measured. The network and image of `pipeline style` (the [style]
 * keys: style_image through the frozen network); for each tap of style.style_taps (and
 * content_taps in transfer mode) and each SWAG form, of the tap's features F = T(X):
 *   max          the largest entry of F (of X itself for none: the peak activation)
 *   entropy      −Σ p ln p of p = |F| / Σ|F| over the C·H·W entries (the normalized activations);
 *                entropy_ratio = entropy / ln(C·H·W), 1 for a flat map
 *   gram_entropy the same of the Gram matrix G = F Fᵀ / (C·H·W) over its C² entries;
 *                gram_entropy_ratio = gram_entropy / ln(C²)
 * A softmax's output is itself a distribution, so its entropy is its own; scale leaves the
 * normalized entropies as none's (p is scale-free) and multiplies max by α. Writes
 * DIR/style-stats.json and a table on stdout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "style_task.h"

static double entropy_abs(const float *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += fabs((double)v[i]);
    if (s == 0.0)
        return 0.0;
    double h = 0.0;
    for (size_t i = 0; i < n; i++) {
        double p = fabs((double)v[i]) / s;
        if (p > 0.0)
            h -= p * log(p);
    }
    return h;
}

void style_tap_stats(struct tap_stats *st, const float *x, int c, int hw, enum swag_form form,
                     float alpha, float *f, float *g)
{
    size_t n = (size_t)c * hw, cc = (size_t)c * c;
    style_transform(f, x, c, hw, form, alpha);
    double mx = -INFINITY;
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, f[i]);
    style_gram(g, f, c, hw);
    st->max = mx;
    st->entropy = entropy_abs(f, n);
    st->entropy_ratio = n > 1 ? st->entropy / log((double)n) : 0.0;
    st->gram_entropy = entropy_abs(g, cc);
    st->gram_entropy_ratio = cc > 1 ? st->gram_entropy / log((double)cc) : 0.0;
}

static void put(FILE *f, const char *key, double v, bool comma)
{
    fprintf(f, "\"%s\": ", key);
    json_number(f, v);
    if (comma)
        fputs(", ", f);
}

static int command_style_stats(const struct cli_args *a)
{
    struct config cfg;
    struct style_setup s;
    char dir[2 * CONFIG_MAX_STRING + 8];
    if (style_command_open(&cfg, &s, dir, sizeof dir, a))
        return 1;
    /* the style image's features (style_setup_open's last forward may be the content image's) */
    size_t n = (size_t)s.c * s.h * s.w;
    float *x = rv_malloc(n * sizeof(float));
    style_normalize_image(&s, x, s.style.v);
    model_forward(&s.m, x, 1, false, NULL);

    char path[sizeof dir + 32];
    snprintf(path, sizeof path, "%s/style-stats.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "pipeline: style-stats: cannot write %s\n", path);
        free(x);
        style_setup_close(&s);
        return 1;
    }
    fputs("{\"command\": \"style-stats\", \"config\": ", f);
    json_string(f, a->operand[0]);
    fputs(", \"network\": ", f);
    json_string(f, s.describe);
    fputs(", \"image\": ", f);
    json_string(f, cfg.style_image);
    fprintf(f, ", \"input\": [%d, %d, %d], \"swag_alpha\": ", s.c, s.h, s.w);
    json_number(f, cfg.swag_alpha);
    fputs(",\n \"taps\": [", f);
    printf("style-stats: %s, %s %dx%dx%d\n%-12s %-17s %12s %9s %9s\n", s.describe, cfg.style_image,
           s.c, s.h, s.w, "tap", "form", "max", "entropy/", "gram/");
    for (int i = 0; i < s.nterms; i++) {
        const struct tensor *t = &s.m.tensors[s.term[i].tap];
        int c = t->c, hw = t->h * t->w;
        fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
        json_string(f, s.tap_name[i]);
        fprintf(f, ", \"c\": %d, \"h\": %d, \"w\": %d, \"forms\": {", c, t->h, t->w);
        for (int form = 0; form < SWAG_COUNT; form++) {
            struct tap_stats st;
            style_tap_stats(&st, t->v, c, hw, (enum swag_form)form, (float)cfg.swag_alpha,
                            s.term[i].f, s.term[i].g);
            fprintf(f, "%s\"%s\": {", form ? ", " : "", swag_names[form]);
            put(f, "max", st.max, true);
            put(f, "entropy", st.entropy, true);
            put(f, "entropy_ratio", st.entropy_ratio, true);
            put(f, "gram_entropy", st.gram_entropy, true);
            put(f, "gram_entropy_ratio", st.gram_entropy_ratio, false);
            fputs("}", f);
            printf("%-12s %-17s %12.5g %9.4f %9.4f\n", form ? "" : s.tap_name[i], swag_names[form],
                   st.max, st.entropy_ratio, st.gram_entropy_ratio);
        }
        fputs("}}", f);
    }
    fputs("\n]}\n", f);
    int rc = fclose(f) != 0;
    if (rc)
        fprintf(stderr, "pipeline: style-stats: cannot write %s (disk full?)\n", path);
    else
        printf("style-stats: -> %s\n", path);
    free(x);
    style_setup_close(&s);
    return rc;
}

static const struct cli_option *const stats_options[] = {&cli_set, &cli_out, NULL};

const struct cli_command style_stats_command = {
    "style-stats", "CONFIG", 1, 1, "a config with a [style] section: pipeline style-stats configs/texture.ini",
    stats_options, "per tap: largest activation, entropy of the normalized activations and of the "
    "Gram matrix, for each SWAG form ([style] keys)", .main = command_style_stats};
