/* MLP-Mixer (Tolstikhin et al. 2021; google-research/vision_transformer, models_mixer.py):
 *
 *   stem        P×P conv of stride P to C channels (with bias): S = (H/P)·(W/P) tokens
 *   N × block   x += TokenMix(LayerNorm(x)),  TokenMix = Dense_S→D_S, GELU, Dense_D_S→S
 *                                             (over each channel's tokens, shared by channels)
 *               x += ChannelMix(LayerNorm(x)), ChannelMix = Dense_C→D_C, GELU, Dense_D_C→C
 *                                             (over each token's channels: 1×1 convs with bias)
 *   head        LayerNorm, mean over tokens, Dense C→classes
 *
 * No position embedding, no class token. In NCHW an image is (C, S) row-major, so the token
 * Dense is a linear layer on N·C rows (model_add_token_dense) and the channel Dense a 1×1 conv.
 *
 * Init, the reference's: every kernel LeCun normal truncated at ±2σ (INIT_LECUN), every bias 0,
 * LayerNorm γ = 1 and β = 0 (ε = 1e-6). The reference's head starts at zero; a zero head that
 * stays frozen (norm-only, per_channel, …) would keep every logit at its bias, so the head
 * starts at zero only when the first stage trains it (spec.mixer.zero_head), else it is drawn
 * like the other kernels.
 *
 * The unit: channel c of the LayerNorm before a channel-mixing MLP ("blockK.norm2"): γ_c, β_c,
 * and as its filter the weights that read that channel, column c of the MLP's first Dense
 * ("blockK.mlp_channels.fc1", (D_C, C, 1, 1)). No running statistics (model.h, struct unit).
 * The block's first LayerNorm and the final one are γ, β without a unit: they train with the
 * norm parameters but no filter belongs to them (the token MLP reads all channels alike). */
#include <stdio.h>

#include "models.h"

int mixer_check(const struct model_spec *s, struct rv_error *err)
{
    const struct model_mixer *x = &s->mixer;
    if (model_check_common(s, false, false, false, err))
        return -1;
    if (s->width != 1)
        return rv_fail(err, "model.width = %d is not read by mixer; its sizes are model.hidden, "
                       "model.tokens_mlp and model.channels_mlp (set model.width = 1)", s->width);
    if (x->patch < 1 || x->hidden < 1 || x->tokens_mlp < 1 || x->channels_mlp < 1 || x->blocks < 1)
        return rv_fail(err, "mixer: model.patch, hidden, tokens_mlp, channels_mlp and blocks must "
                       "be at least 1 (they are %d, %d, %d, %d, %d)", x->patch, x->hidden,
                       x->tokens_mlp, x->channels_mlp, x->blocks);
    if (s->in_h && (s->in_h % x->patch || s->in_w % x->patch))
        return rv_fail(err, "model.patch = %d does not divide the %dx%d input into patches: use a "
                       "divisor of both sides (for 28x28: 2, 4, 7, 14)", x->patch, s->in_h, s->in_w);
    return 0;
}

void mixer_describe(char *buf, size_t size, const struct model_spec *s)
{
    const struct model_mixer *x = &s->mixer;
    snprintf(buf, size, "MLP-Mixer patch %d, C %d, D_S %d, D_C %d, %d blocks", x->patch,
             x->hidden, x->tokens_mlp, x->channels_mlp, x->blocks);
}

/* Dense D → GELU → Dense back, over the tokens (token) or over the channels (1×1 convs). */
static int mlp(struct model *m, const char *name, int x, int width, bool token)
{
    char n1[48], n2[48], ng[48];
    snprintf(n1, sizeof n1, "%s.fc1", name);
    snprintf(ng, sizeof ng, "%s.gelu", name);
    snprintf(n2, sizeof n2, "%s.fc2", name);
    const struct tensor t = m->tensors[x];
    int y = token ? model_add_token_dense(m, n1, x, 1, width)
                  : model_add_conv(m, n1, x, width, 1, 1, 0, true);
    y = model_add_gelu(m, ng, y);
    return token ? model_add_token_dense(m, n2, y, t.h, t.w)
                 : model_add_conv(m, n2, y, t.c, 1, 1, 0, true);
}

int mixer_block(struct model *m, const char *name, int x, int tokens_mlp, int channels_mlp)
{
    char nm[48];
    snprintf(nm, sizeof nm, "%s.norm1", name);
    int y = model_add_layernorm(m, nm, x, false);
    snprintf(nm, sizeof nm, "%s.mlp_tokens", name);
    y = mlp(m, nm, y, tokens_mlp, true);
    snprintf(nm, sizeof nm, "%s.add1", name);
    x = model_add_add(m, nm, x, y, false);
    snprintf(nm, sizeof nm, "%s.norm2", name);
    y = model_add_layernorm(m, nm, x, true);
    int unit = m->nunits - 1;
    snprintf(nm, sizeof nm, "%s.mlp_channels", name);
    y = mlp(m, nm, y, channels_mlp, false);
    snprintf(nm, sizeof nm, "%s.mlp_channels.fc1", name);
    int fc1 = model_find_param(m, nm);
    model_unit_filter_columns(m, unit, fc1);
    snprintf(nm, sizeof nm, "%s.add2", name);
    return model_add_add(m, nm, x, y, false);
}

void mixer_build(struct model *m)
{
    const struct model_mixer *s = &m->spec.mixer;
    int x = model_add_conv(m, "stem", 0, s->hidden, s->patch, s->patch, 0, true);
    for (int b = 0; b < s->blocks; b++) {
        char name[48];
        snprintf(name, sizeof name, "block%d", b);
        x = mixer_block(m, name, x, s->tokens_mlp, s->channels_mlp);
    }
    x = model_add_layernorm(m, "norm", x, false);
    x = model_add_avgpool(m, "avgpool", x);
    model_add_linear(m, "head", x, m->spec.classes, PARAM_OUTPUT_W, PARAM_OUTPUT_B);
    for (int p = 0; p < m->nparams; p++) {
        struct param *pa = &m->params[p];
        switch (pa->kind) {
        case PARAM_CONV: pa->init = INIT_LECUN; break;
        case PARAM_GAMMA: pa->init = INIT_ONE; break;
        case PARAM_OUTPUT_W: pa->init = s->zero_head ? INIT_ZERO : INIT_LECUN; break;
        default: pa->init = INIT_ZERO; break;
        }
    }
}
