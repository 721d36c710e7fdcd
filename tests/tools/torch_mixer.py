#!/usr/bin/python3
"""Checks what tests/test_torch_mixer.c wrote (revive's MLP-Mixer: parameters, images, labels,
logits, mean cross-entropy, its gradients with respect to every parameter and the input) against
scripts/revive_torch.py's Mixer with the same weights. Prints the worst errors; exit 1 if any is
beyond the float32 budget.

usage: torch_mixer.py DIR N C H CLASSES PATCH HIDDEN TOKENS_MLP CHANNELS_MLP BLOCKS
"""
import sys

import numpy as np

from torch_common import Ref
from revive_torch import Mixer  # noqa: E402  (scripts/, put on the path by torch_common)


def main(argv):
    n, c, h, classes, patch, hidden, tokens_mlp, channels_mlp, blocks = map(int, argv[2:11])
    ref = Ref(argv[1], "torch_mixer")
    model = Mixer(c, h, h, classes, patch, hidden, tokens_mlp, channels_mlp, blocks)
    loaded = ref.load_params(ref.floats("values.bin"), model.param)
    if ref.missing(model.named_parameters(), loaded):
        return 1
    x, logits, loss = ref.classifier_step(model, n, c, h)
    # float32 budget: a dozen layers of sums of up to 48 products and LayerNorms over 16
    # channels, each a few ulps (6e-8) of relative error
    ref.compare_classifier(x, logits, loss)
    # The token MLP's second bias adds b_s to every channel of position s, a shift LayerNorm
    # (which every path from there meets: the next block's, the final one) removes exactly: its
    # gradient is zero but for rounding, in revive and in torch alike. So each gradient is
    # measured against the largest parameter gradient's scale as well as its own.
    grads = ref.floats("grads.bin")
    top = max(np.abs(t.grad.numpy()).max() for *_, t in loaded)
    for name, off, count, t in loaded:
        want = t.grad.numpy().ravel()
        ref.compare(f"d loss / d {name}", grads[off:off + count], want, 1e-4, 1e-3 * top, quiet=True)
        if name.endswith("mlp_tokens.fc2.bias") and np.abs(want).max() > 1e-5 * top:
            print(f"torch_mixer: d loss / d {name} is {np.abs(want).max():.2e}, not zero")
            ref.bad += 1
    print(f"torch_mixer: {len(loaded)} parameter gradients compared")
    return ref.status()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
