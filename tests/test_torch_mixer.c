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

#include "loss.h"
#include "model.h"
#include "rng.h"
#include "support.h"

static void write_floats(const char *dir, const char *name, const float *v, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(v, sizeof(float), n, f), n);
    fclose(f);
}

static void test_mixer_against_torch(void **state)
{
    (void)state;
    if (system("/usr/bin/python3 -c 'import torch, h5py' 2>/dev/null") != 0) {
        print_message("SKIP: /usr/bin/python3 has no torch or h5py: the Mixer not compared with "
                      "PyTorch\n");
        skip();
    }
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
    size_t xn = (size_t)N * C * H * H;
    float *x = malloc(xn * sizeof(float));
    for (size_t i = 0; i < xn; i++)
        x[i] = rng_normal(6, rng_stream(RNG_TEST, 8, 0, 0), i);
    int y[N] = {3, 1, 0, 4};
    struct loss ce;
    loss_softmax_ce(&ce, &m);
    model_zero_grad(&m);
    model_forward(&m, x, N, true, NULL);
    float loss = (float)(ce.apply(&ce, &m, N, N, y) / N);
    model_backward(&m, N, NULL);

    char dir[256];
    assert_int_equal(support_make_tmpdir(dir, sizeof dir, "revive-torch-mixer"), 0);
    write_floats(dir, "values.bin", m.values, m.total);
    write_floats(dir, "grads.bin", m.grads, m.total);
    write_floats(dir, "x.bin", x, xn);
    write_floats(dir, "logits.bin", m.logits, (size_t)N * CLASSES);
    write_floats(dir, "dx.bin", m.d_x, xn);
    float yl[N] = {(float)y[0], (float)y[1], (float)y[2], (float)y[3]};
    write_floats(dir, "y.bin", yl, N);
    write_floats(dir, "loss.bin", &loss, 1);
    char path[512];
    snprintf(path, sizeof path, "%s/params.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int p = 0; p < m.nparams; p++)
        fprintf(f, "%s %zu %zu\n", m.params[p].name, m.params[p].offset, m.params[p].count);
    fclose(f);
    char cmd[1024];
    const struct model_mixer *k = &s.mixer;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/tools/torch_mixer.py %s %d %d %d %d %d %d %d %d %d",
             dir, N, C, H, CLASSES, k->patch, k->hidden, k->tokens_mlp, k->channels_mlp, k->blocks);
    int rc = system(cmd);
    support_rm_rf(dir);
    assert_int_equal(rc, 0);
    free(x);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixer_against_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
