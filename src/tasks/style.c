/* pipeline style CONFIG [--set section.key=value]... [--out DIR]: texture synthesis and style
 * transfer by optimizing the image (Gatys et al. 2016) through a frozen network, with the Gram
 * and content losses and the SWAG transform of include/style_loss.h, by L-BFGS (as
 * torch.optim.LBFGS, the reference's optimizer) or Adam. Writes DIR/style.png and DIR/style.json
 * (the settings, the loss history and the result). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "json.h"
#include "lbfgs.h"
#include "rng.h"
#include "style_task.h"

struct history {
    long evaluation;
    double loss, style, content;
};

struct progress {
    struct style_setup *s;
    struct history *rows;
    int nrows, cap;
    double style, content;        /* the last evaluation's parts */
};

static void parts(const struct style_setup *s, double *style, double *content)
{
    *style = *content = 0.0;
    for (int i = 0; i < s->nterms; i++) {
        *style += s->term[i].parts[0];
        *content += s->term[i].parts[1];
    }
}

/* One evaluation of the loss and its gradient: the optimizers' function. */
static double evaluate(void *ctx, const float *x, float *grad)
{
    struct progress *p = ctx;
    double loss = style_evaluate(p->s, x, grad);
    parts(p->s, &p->style, &p->content);
    long e = p->s->evaluations;
    if ((e == 1 || e % p->s->cfg->style_log_every == 0) && p->nrows < p->cap) {
        p->rows[p->nrows++] = (struct history){e, loss, p->style, p->content};
        printf("style: evaluation %ld loss %.6g (style %.6g, content %.6g)\n", e, loss, p->style,
               p->content);
        fflush(stdout);
    }
    return loss;
}

/* L-BFGS steps (torch's optimizer.step(closure), up to max_iter iterations each) until the
 * budget of evaluations is spent or a tolerance stops it; the last step's iterations are cut to
 * what the budget leaves. */
static void run_lbfgs(struct progress *p, float *x, size_t n, long *iterations, bool *converged)
{
    const struct config *cfg = p->s->cfg;
    struct lbfgs_options opt = lbfgs_defaults();
    opt.lr = cfg->style_lr > 0 ? cfg->style_lr : 1.0;
    opt.history = cfg->style_history;
    opt.max_iter = cfg->style_max_iter;
    opt.max_eval = opt.max_iter * 5 / 4;
    struct lbfgs o;
    lbfgs_init(&o, n, &opt);
    long budget = cfg->style_evaluations;
    while (o.func_evals < budget && !o.converged) {
        long left = budget - o.func_evals;
        if (left < o.opt.max_eval) {
            o.opt.max_eval = (int)left;
            o.opt.max_iter = o.opt.max_iter < (int)left ? o.opt.max_iter : (int)left;
        }
        lbfgs_step(&o, x, evaluate, p);
    }
    *iterations = o.n_iter;
    *converged = o.converged;
    lbfgs_free(&o);
}

/* Adam (torch.optim.Adam's update: β 0.9, 0.999, eps 1e-8 outside the square root, bias-corrected),
 * one evaluation a step. */
static void run_adam(struct progress *p, float *x, size_t n, long *iterations)
{
    const struct config *cfg = p->s->cfg;
    double lr = cfg->style_lr > 0 ? cfg->style_lr : 0.02, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    float *g = rv_calloc(n, sizeof(float)), *m1 = rv_calloc(n, sizeof(float)),
          *m2 = rv_calloc(n, sizeof(float));
    for (long t = 1; t <= cfg->style_evaluations; t++) {
        evaluate(p, x, g);
        double c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
        for (size_t i = 0; i < n; i++) {
            m1[i] = (float)(b1 * m1[i] + (1.0 - b1) * g[i]);
            m2[i] = (float)(b2 * m2[i] + (1.0 - b2) * (double)g[i] * g[i]);
            x[i] -= (float)(lr * (m1[i] / c1) / (sqrt(m2[i] / c2) + eps));
        }
        *iterations = t;
    }
    free(g);
    free(m1);
    free(m2);
}

static void write_json(FILE *f, const struct style_setup *s, const char *config_path,
                       const char *png, const struct progress *p, double loss_start, double loss,
                       double style, double content, long iterations, bool converged,
                       double seconds)
{
    const struct config *cfg = s->cfg;
    fputs("{\"command\": \"style\", \"config\": ", f);
    json_string(f, config_path);
    fputs(", \"mode\": ", f);
    json_string(f, CHOICE_NAME(style_mode_names, cfg->style_mode));
    fputs(", \"network\": ", f);
    json_string(f, s->describe);
    fprintf(f, ", \"input\": [%d, %d, %d], \"style_image\": ", s->c, s->h, s->w);
    json_string(f, cfg->style_image);
    fputs(", \"content_image\": ", f);
    json_string(f, cfg->style_mode == STYLE_TRANSFER ? cfg->content_image : "");
    fputs(", \"optimizer\": ", f);
    json_string(f, CHOICE_NAME(style_optimizer_names, cfg->style_optimizer));
    fputs(", \"swag\": ", f);
    json_string(f, swag_names[cfg->swag]);
    fputs(", \"swag_alpha\": ", f);
    json_number(f, cfg->swag_alpha);
    fputs(", \"style_weight\": ", f);
    json_number(f, cfg->style_weight);
    fputs(", \"content_weight\": ", f);
    json_number(f, cfg->content_weight);
    fputs(",\n \"taps\": [", f);
    for (int i = 0; i < s->nterms; i++) {
        fputs(i ? ", " : "", f);
        fputs("{\"name\": ", f);
        json_string(f, s->tap_name[i]);
        fprintf(f, ", \"style\": %s, \"content\": %s, \"swag\": ", s->has_style[i] ? "true" : "false",
                s->has_content[i] ? "true" : "false");
        json_string(f, swag_names[s->term[i].swag]);
        fputs(", \"style_loss\": ", f);
        json_number(f, s->term[i].parts[0]);
        fputs(", \"content_loss\": ", f);
        json_number(f, s->term[i].parts[1]);
        fputs("}", f);
    }
    fprintf(f, "],\n \"evaluations\": %ld, \"iterations\": %ld, \"converged\": %s, \"loss_start\": ",
            s->evaluations, iterations, converged ? "true" : "false");
    json_number(f, loss_start);
    fputs(", \"loss\": ", f);
    json_number(f, loss);
    fputs(", \"style_loss\": ", f);
    json_number(f, style);
    fputs(", \"content_loss\": ", f);
    json_number(f, content);
    fputs(", \"seconds\": ", f);
    json_number(f, seconds);
    fputs(", \"output\": ", f);
    json_string(f, png);
    fputs(",\n \"history\": [", f);
    for (int i = 0; i < p->nrows; i++) {
        fprintf(f, "%s{\"evaluation\": %ld, \"loss\": ", i ? ", " : "", p->rows[i].evaluation);
        json_number(f, p->rows[i].loss);
        fputs(", \"style\": ", f);
        json_number(f, p->rows[i].style);
        fputs(", \"content\": ", f);
        json_number(f, p->rows[i].content);
        fputs("}", f);
    }
    fputs("],\n \"config_ini\": ", f);
    char *ini = config_to_ini(cfg);
    json_string(f, ini);
    free(ini);
    fputs("}\n", f);
}

static int command_style(const struct cli_args *a)
{
    struct rv_error err = {{0}};
    struct config cfg;
    struct style_setup s;
    char dir[2 * CONFIG_MAX_STRING + 8];
    if (style_command_open(&cfg, &s, dir, sizeof dir, a))
        return 1;
    printf("style: %s %dx%dx%d, %s, %s, swag %s on %s; %d evaluations at most -> %s\n",
           CHOICE_NAME(style_mode_names, cfg.style_mode), s.c, s.h, s.w, s.describe,
           CHOICE_NAME(style_optimizer_names, cfg.style_optimizer), swag_names[cfg.swag],
           cfg.swag_taps[0] ? cfg.swag_taps : "no taps", cfg.style_evaluations, dir);
    size_t n = (size_t)s.c * s.h * s.w;
    float *x = rv_malloc(n * sizeof(float)), *pixels = rv_malloc(n * sizeof(float));
    if (cfg.style_mode == STYLE_TRANSFER) {
        memcpy(pixels, s.content.v, n * sizeof(float));
    } else {
        uint64_t stream = rng_stream(RNG_STYLE, 0, 0, 0);
        for (size_t i = 0; i < n; i++)
            pixels[i] = rng_uniform((uint64_t)cfg.style_seed, stream, i);
    }
    style_normalize_image(&s, x, pixels);
    struct progress p = {.s = &s, .cap = (int)(cfg.style_evaluations / cfg.style_log_every) + 2};
    p.rows = rv_calloc((size_t)p.cap, sizeof *p.rows);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long iterations = 0;
    bool converged = false;
    s.evaluations = 0;
    if (cfg.style_optimizer == STYLE_LBFGS)
        run_lbfgs(&p, x, n, &iterations, &converged);
    else
        run_adam(&p, x, n, &iterations);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double loss_start = p.nrows ? p.rows[0].loss : NAN;
    /* the result's loss, not counted as an evaluation */
    long used = s.evaluations;
    double loss = style_evaluate(&s, x, NULL), style, content;
    s.evaluations = used;
    parts(&s, &style, &content);

    char png[sizeof dir + 32], json[sizeof dir + 32];
    snprintf(png, sizeof png, "%s/style.png", dir);
    snprintf(json, sizeof json, "%s/style.json", dir);
    style_pixels(&s, pixels, x);
    struct image out = {.c = s.c, .h = s.h, .w = s.w, .v = pixels};
    int rc = image_write_png(&out, png, &err);
    if (rc == 0) {
        FILE *f = fopen(json, "w");
        if (!f) {
            rc = rv_fail(&err, "style: cannot write %s", json);
        } else {
            write_json(f, &s, a->operand[0], png, &p, loss_start, loss, style, content, iterations,
                       converged, seconds);
            if (fclose(f) != 0)
                rc = rv_fail(&err, "style: cannot write %s (disk full?)", json);
        }
    }
    if (rc == 0)
        printf("style: %ld evaluations, %ld iterations%s, loss %.6g (style %.6g, content %.6g), "
               "%.1f s -> %s\n", s.evaluations, iterations, converged ? " (converged)" : "", loss,
               style, content, seconds, png);
    else
        fprintf(stderr, "pipeline: %s\n", err.msg);
    free(x);
    free(pixels);
    free(p.rows);
    style_setup_close(&s);
    return rc ? 1 : 0;
}

static const struct cli_option *const style_options[] = {&cli_set, &cli_out, NULL};

const struct cli_command style_command = {
    "style", "CONFIG", 1, 1, "a config with a [style] section: pipeline style configs/texture.ini",
    style_options, "texture synthesis or style transfer by optimizing the image ([style] keys)",
    .main = command_style};
