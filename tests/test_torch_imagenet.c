/* ImageNet ResNet-18 against torchvision's (tests/tools/torch_imagenet.py): the same weights
 * (revive's initialization, renamed by scripts/revive_torch.py's torchvision_name), the same
 * images; logits, the mean cross-entropy and its gradient with respect to the input image, in
 * training mode (batch statistics), within the float32 budget. Skipped (with a message) where
 * /usr/bin/python3 lacks torch or torchvision, as tests/torch.test.sh is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model.h"
#include "support.h"

static void test_resnet18_against_torchvision(void **state)
{
    (void)state;
    support_need_python("torch, torchvision", "ResNet-18 not compared with torchvision");
    enum { N = 4, C = 3, H = 64, CLASSES = 10 };
    struct model_spec s = {.arch = ARCH_IMAGENET_RESNET, .depth = 18, .width = 1, .in_c = C,
                           .in_h = H, .in_w = H, .classes = CLASSES, .input_grad = true,
                           .conv_algo = CONV_ALGO_IM2COL};
    struct model m;
    struct rv_error err;
    assert_int_equal(model_build(&m, &s, N, 1, &err), 0);
    model_init(&m, 5);
    int y[N] = {3, 7, 0, 9};
    support_ref_check_classifier(&m, y, N, "revive-torch-r18", false, "torch_imagenet.py",
                                 "%d %d %d %d", N, C, H, CLASSES);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resnet18_against_torchvision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
