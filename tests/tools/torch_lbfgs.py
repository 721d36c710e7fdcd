#!/usr/bin/python3
"""torch.optim.LBFGS (defaults, history HISTORY) on the quadratic of tests/test_lbfgs.c,
f(x) = ½ xᵀAx − bᵀx with A tridiagonal (2.5 on the diagonal, −1 beside it) and b_i = 1 + i mod 3,
from x = 0, in float64: prints x after each of STEPS optimizer steps, one line each.

usage: torch_lbfgs.py N STEPS MAX_ITER HISTORY
"""
import sys

import torch


def main(argv):
    n, steps, max_iter, history = map(int, argv[1:5])
    a = torch.diag(torch.full((n,), 2.5, dtype=torch.float64))
    a += torch.diag(torch.full((n - 1,), -1.0, dtype=torch.float64), 1)
    a += torch.diag(torch.full((n - 1,), -1.0, dtype=torch.float64), -1)
    b = torch.tensor([1.0 + i % 3 for i in range(n)], dtype=torch.float64)
    x = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([x], max_iter=max_iter, history_size=history)

    def closure():
        opt.zero_grad()
        loss = 0.5 * x @ (a @ x) - b @ x
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
        print(" ".join(f"{v:.9g}" for v in x.detach().tolist()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
