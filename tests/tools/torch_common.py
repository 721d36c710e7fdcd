"""What the PyTorch reference checkers (tests/tools/torch_*.py) share: the scratch directory a
cmocka test wrote through tests/support.c (raw native float32 files, params.txt with
"name offset count" per parameter), loading revive's parameters into a torch module, one
training-mode step of a classifier, and the comparison against a float32 budget.

    ref = Ref(argv[1], "torch_mixer")
    loaded = ref.load_params(ref.floats("values.bin"), model.param)   # [(name, off, count, tensor)]
    x, logits, loss = ref.classifier_step(model, n, c, h)
    ref.compare_classifier(x, logits, loss)          # logits, loss, d loss / d input
    return ref.status()                              # 0, or 1 if anything was beyond its budget

Importing this module puts scripts/ on sys.path (revive_torch: the PyTorch rebuilds of revive's
networks and the reference's style loss).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))


class Ref:
    """One checker's view of DIR; `who` prefixes every line it prints."""

    def __init__(self, d, who):
        self.d, self.who, self.bad = d, who, 0

    def floats(self, name):
        """DIR/name as a flat float32 array."""
        return np.fromfile(os.path.join(self.d, name), dtype=np.float32)

    def params(self):
        """(name, offset, count) of each line of DIR/params.txt, in revive's order."""
        with open(os.path.join(self.d, "params.txt")) as f:
            for line in f:
                name, off, count = line.split()
                yield name, int(off), int(count)

    def load_params(self, values, tensor_of):
        """Copies each revive parameter's values[off:off + count] into tensor_of(name) (same
        element count, reshaped to its shape); returns [(name, off, count, tensor)]."""
        loaded = []
        with torch.no_grad():
            for name, off, count in self.params():
                t = tensor_of(name)
                assert t.numel() == count, (name, t.shape, count)
                t.copy_(torch.from_numpy(values[off:off + count]).reshape(t.shape))
                loaded.append((name, off, count, t))
        return loaded

    def missing(self, named, loaded, what="no revive parameter for"):
        """Prints and counts the names of named ((name, tensor) pairs) that no loaded entry
        filled; True if there are any."""
        filled = {id(t) for *_, t in loaded}
        left = [k for k, t in named if id(t) not in filled]
        if left:
            print(f"{self.who}: {what}", left)
            self.bad += 1
        return bool(left)

    def classifier_step(self, model, n, c, h):
        """model in training mode (batch statistics) on DIR/x.bin (n, c, h, h) with labels
        DIR/y.bin: the mean cross-entropy, backward to the parameters and the input. Returns
        (x with its .grad, logits, loss)."""
        model.train()
        torch.set_num_threads(1)
        x = torch.from_numpy(self.floats("x.bin").reshape(n, c, h, h)).requires_grad_(True)
        y = torch.from_numpy(self.floats("y.bin").astype(np.int64))
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        return x, logits, loss

    def compare(self, what, got, want, rtol, floor=1e-30, quiet=False):
        """Counts a difference: max |got - want| / max(max |want|, floor) beyond rtol. Prints the
        error (with quiet, only when it is beyond)."""
        got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
        scale = max(np.abs(want).max(), floor)
        err = np.abs(got - want).max() / scale
        if err > rtol or not quiet:
            print(f"{self.who}: {what}: worst |revive - torch| / max|torch| = {err:.2e} (budget {rtol:g})")
        self.bad += err > rtol
        return err

    def compare_classifier(self, x, logits, loss, rtol=1e-4, loss_rtol=1e-5):
        """revive's logits.bin, loss.bin and dx.bin against a classifier_step's results."""
        self.compare("logits", self.floats("logits.bin"), logits.detach().numpy().ravel(), rtol)
        self.compare("loss", self.floats("loss.bin"), [loss.item()], loss_rtol)
        self.compare("d loss / d input", self.floats("dx.bin"), x.grad.numpy().ravel(), rtol)

    def status(self):
        """The exit status: 1 if anything was counted, else 0."""
        return 1 if self.bad else 0
