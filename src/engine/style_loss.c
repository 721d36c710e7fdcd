/* Gram style loss, content loss and the SWAG transform (include/style_loss.h has the maths). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "style_loss.h"

const char *const swag_names[SWAG_COUNT] = {
    [SWAG_NONE] = "none", [SWAG_SOFTMAX_ALL] = "softmax_all",
    [SWAG_SOFTMAX_CHANNELS] = "softmax_channels", [SWAG_SCALE] = "scale",
};

/* s = softmax(x) over count entries spaced stride apart; the sum in double. */
static void softmax_strided(float *s, const float *x, size_t count, size_t stride)
{
    float mx = -INFINITY;
    for (size_t i = 0; i < count; i++)
        mx = fmaxf(mx, x[i * stride]);
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) {
        s[i * stride] = expf(x[i * stride] - mx);
        sum += s[i * stride];
    }
    float inv = (float)(1.0 / sum);
    for (size_t i = 0; i < count; i++)
        s[i * stride] *= inv;
}

/* dx = s ⊙ (ds − Σ s ⊙ ds) over one softmax group. */
static void softmax_strided_backward(float *dx, const float *ds, const float *s, size_t count,
                                     size_t stride)
{
    double dot = 0.0;
    for (size_t i = 0; i < count; i++)
        dot += (double)s[i * stride] * ds[i * stride];
    for (size_t i = 0; i < count; i++)
        dx[i * stride] = (float)(s[i * stride] * (ds[i * stride] - dot));
}

void style_transform(float *f, const float *x, int c, int hw, enum swag_form swag, float alpha)
{
    size_t count = (size_t)c * hw;
    switch (swag) {
    case SWAG_NONE:
        memcpy(f, x, count * sizeof(float));
        return;
    case SWAG_SCALE:
        for (size_t i = 0; i < count; i++)
            f[i] = alpha * x[i];
        return;
    case SWAG_SOFTMAX_ALL:
        softmax_strided(f, x, count, 1);
        return;
    case SWAG_SOFTMAX_CHANNELS:
        for (int p = 0; p < hw; p++)
            softmax_strided(f + p, x + p, (size_t)c, (size_t)hw);
        return;
    case SWAG_COUNT:
        break;
    }
    REVIVE_ASSERT(!"swag form");
}

void style_transform_backward(float *dx, const float *df, const float *f, int c, int hw,
                              enum swag_form swag, float alpha)
{
    size_t count = (size_t)c * hw;
    switch (swag) {
    case SWAG_NONE:
        memcpy(dx, df, count * sizeof(float));
        return;
    case SWAG_SCALE:
        for (size_t i = 0; i < count; i++)
            dx[i] = alpha * df[i];
        return;
    case SWAG_SOFTMAX_ALL:
        softmax_strided_backward(dx, df, f, count, 1);
        return;
    case SWAG_SOFTMAX_CHANNELS:
        for (int p = 0; p < hw; p++)
            softmax_strided_backward(dx + p, df + p, f + p, (size_t)c, (size_t)hw);
        return;
    case SWAG_COUNT:
        break;
    }
    REVIVE_ASSERT(!"swag form");
}

void style_gram(float *g, const float *f, int c, int hw)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c, c, hw, 1.0f / ((float)c * (float)hw),
                f, hw, f, hw, 0.0f, g, c);
}

int style_term_init(struct style_term *t, const struct model *m, const char *layer,
                    enum swag_form swag, float alpha, struct rv_error *err)
{
    int id = model_tap(m, layer);
    if (id < 0)
        return rv_fail(err, "style: '%s' is not a tap of this network (list it in spec.taps)",
                       layer);
    const struct tensor *x = &m->tensors[id];
    size_t c = (size_t)x->c, hw = (size_t)x->h * x->w;
    *t = (struct style_term){.tap = id, .c = x->c, .hw = (int)hw, .swag = swag, .alpha = alpha};
    t->gram = rv_calloc(c * c, sizeof(float));
    t->g = rv_calloc(c * c, sizeof(float));
    t->content = rv_calloc((size_t)(m->max_batch > 0 ? m->max_batch : 1) * c * hw, sizeof(float));
    t->f = rv_calloc(c * hw, sizeof(float));
    t->df = rv_calloc(c * hw, sizeof(float));
    t->parts = rv_calloc(2, sizeof(double));
    return 0;
}

void style_term_free(struct style_term *t)
{
    free(t->gram);
    free(t->g);
    free(t->content);
    free(t->f);
    free(t->df);
    free(t->parts);
    memset(t, 0, sizeof *t);
}

void style_term_capture_gram(struct style_term *t, const struct model *m)
{
    style_transform(t->f, m->tensors[t->tap].v, t->c, t->hw, t->swag, t->alpha);
    style_gram(t->gram, t->f, t->c, t->hw);
}

void style_term_capture_content(struct style_term *t, const struct model *m, int n)
{
    size_t per = (size_t)t->c * t->hw;
    for (int i = 0; i < n; i++)
        style_transform(t->content + i * per, m->tensors[t->tap].v + i * per, t->c, t->hw,
                        t->swag, t->alpha);
}

static double style_apply(const struct loss *l, struct model *m, int n, int scale_n,
                          const void *target)
{
    const struct style_term *t = target;
    const struct tensor *x = &m->tensors[t->tap];
    REVIVE_ASSERT(l->tap[0] == t->tap);
    int c = t->c, hw = t->hw;
    size_t per = (size_t)c * hw, cc = (size_t)c * c;
    double cd = (double)c * hw, sum_s = 0.0, sum_c = 0.0;
    for (int i = 0; i < n; i++) {
        style_transform(t->f, x->v + i * per, c, hw, t->swag, t->alpha);
        memset(t->df, 0, per * sizeof(float));
        if (t->style_weight != 0.0) {
            style_gram(t->g, t->f, c, hw);
            double s = 0.0, k = 2.0 * t->style_weight / ((double)c * c);
            for (size_t j = 0; j < cc; j++) {
                double d = (double)t->g[j] - t->gram[j];
                s += d * d;
                t->g[j] = (float)(k * d); /* now dL/dG */
            }
            sum_s += t->style_weight * s / ((double)c * c);
            /* dF = 2 dG F / (C·hw) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c, hw, c, (float)(2.0 / cd),
                        t->g, c, t->f, hw, 0.0f, t->df, hw);
        }
        if (t->content_weight != 0.0) {
            const float *p = t->content + i * per;
            double s = 0.0, k = 2.0 * t->content_weight / cd;
            for (size_t j = 0; j < per; j++) {
                double d = (double)t->f[j] - p[j];
                s += d * d;
                t->df[j] += (float)(k * d);
            }
            sum_c += t->content_weight * s / cd;
        }
        if (x->g) {
            float *dx = x->g + i * per;
            style_transform_backward(dx, t->df, t->f, c, hw, t->swag, t->alpha);
            float inv = 1.0f / (float)scale_n;
            if (scale_n != 1)
                for (size_t j = 0; j < per; j++)
                    dx[j] *= inv;
        }
    }
    t->parts[0] = sum_s;
    t->parts[1] = sum_c;
    return sum_s + sum_c;
}

void loss_style(struct loss *l, const struct style_term *t)
{
    *l = (struct loss){.apply = style_apply, .ntaps = 1, .tap = {t->tap}};
}
