/* A small MLP-Mixer against PyTorch (tests/tools/torch_mixer.py, scripts/revive_torch.py's Mixer,
 * written from the reference's models_mixer.py on (N, S, C) tokens with nn.LayerNorm, nn.Linear
 * and GELU(approximate='tanh')): the same weights (revive's init, the head drawn and the biases
 * and β moved off zero so every path counts), the same images; logits, the mean cross-entropy
 * and its gradients with respect to every parameter and the input, within the float32 budget.
 * Skipped (with a message) where /usr/bin/python3 lacks torch, as tests/torch.test.sh is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model.h"
#include "rng.h"
#include "support.h"

static void test_mixer_against_torch(void **state)
{
    (void)state;
    support_need_python("torch, h5py", "the Mixer not compared with PyTorch");
    enum { N = 4, C = 2, H = 12, CLASSES = 5 };
    struct model_spec s = {.arch = ARCH_MIXER, .width = 1, .in_c = C, .in_h = H, .in_w = H,
                           .classes = CLASSES, .input_grad = true,
                           .mixer = {.patch = 3, .hidden = 16, .tokens_mlp = 8,
                                     .channels_mlp = 24, .blocks = 2}};
    struct model m;
    struct rv_error err;
    assert_int_equal(model_build(&m, &s, N, 1, &err), 0);
    model_init(&m, 5);
    for (int p = 0; p < m.nparams; p++) {
        const struct param *pa = &m.params[p];
        float *v = m.values + pa->offset;
        for (size_t i = 0; pa->kind != PARAM_CONV && pa->kind != PARAM_OUTPUT_W && i < pa->count; i++)
            v[i] += 0.2f * rng_normal(6, rng_stream(RNG_TEST, 9, (uint64_t)p, 0), i);
    }
    int y[N] = {3, 1, 0, 4};
    const struct model_mixer *k = &s.mixer;
    support_ref_check_classifier(&m, y, N, "revive-torch-mixer", true, "torch_mixer.py",
                                 "%d %d %d %d %d %d %d %d %d", N, C, H, CLASSES, k->patch,
                                 k->hidden, k->tokens_mlp, k->channels_mlp, k->blocks);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixer_against_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
