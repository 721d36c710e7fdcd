#!/usr/bin/python3
"""Checks what tests/test_torch_imagenet.c wrote (revive's ImageNet ResNet-18: parameters,
images, labels, logits, mean cross-entropy and input gradient, in training mode) against
torchvision.models.resnet18 with the same weights. Prints the worst errors; exit 1 if any is
beyond the float32 budget.

usage: torch_imagenet.py DIR N C H CLASSES
"""
import sys

import torchvision

from torch_common import Ref
from revive_torch import torchvision_name  # noqa: E402  (scripts/, put on the path by torch_common)


def main(argv):
    n, c, h, classes = map(int, argv[2:6])
    ref = Ref(argv[1], "torch_imagenet")
    model = torchvision.models.resnet18(num_classes=classes)
    sd = model.state_dict()
    loaded = ref.load_params(ref.floats("values.bin"), lambda name: sd[torchvision_name(name)])
    if ref.missing([(k, t) for k, t in sd.items()
                    if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))], loaded):
        return 1
    model.load_state_dict(sd, strict=True)
    x, logits, loss = ref.classifier_step(model, n, c, h)
    # float32 budget: ~20 layers of sums of up to 4608 products and BN normalizations, each a
    # few ulps (6e-8) of relative error, amplified by BN's division by the batch deviation
    # (measured at 4 images of 64x64: logits 5e-6, loss 1e-7, input gradient 5e-6; at 2 images
    # of 32x32, where layer 4's BN sees 2 values per channel, 100x more).
    ref.compare_classifier(x, logits, loss)
    return ref.status()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
