#!/usr/bin/python3
"""`make bench`: revive against PyTorch 1.13 on the same machine, in the same run.

    bench/compare.py                      both input shapes, 3 interleaved repeats (make bench)
    bench/compare.py --inputs 1x28x28 --repeats 1 --no-mpi     a quick look
    bench/compare.py --baseline /path/to/old/build/bench        this build against another, and PyTorch
    bench/compare.py --mixer-only --repeats 5                   the MLP-Mixer's figures alone (issue 21)

With --baseline DIR (the bench directory of another build of revive, e.g. a worktree of an older
commit after `make build/bench/bench_train`), every figure also runs that build's bench_train in
the same rounds (revive, baseline, PyTorch), and the table gains its img/s and the ratio
revive ÷ baseline: a change's speed measured side by side, not against a figure from another day.

For every figure (train all / BN only / conv_fraction 1 % and 4 % / evaluate) and input shape it
runs build/bench/bench_train and bench/torch_resnet.py alternately, one process per run
(r, t, r, t, r, t per figure; each repeat a round over all figures), so both see the same
background load and each process's peak RSS is its own; then prints medians (min-max in brackets), the ratio of medians, and the issue #8 targets.
Then one style-transfer evaluation (bench/bench_style.c against bench/torch_style.py), and
bench/scaling.sh (mpirun -np 1 x 2 threads, then -np 2 x 1 thread), repeated likewise.
The machine is shared: only ratios measured side by side mean anything.

Without python3-torch it prints revive's figures alone and says how to get the comparison.
Needs only the standard library; run by /usr/bin/python3 like the other scripts.
"""
import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH = os.path.join(ROOT, "bench", "torch_resnet.py")
BENCH_TRAIN = PIPELINE = BIN_DIR = BASELINE = None  # set from the command line in main()
THREADS = 2

# (label, mode, fraction); one row of the table each
FIGURES = [
    ("train all parameters", "all", 0.0),
    ("train BN only", "bn", 0.0),
    ("conv_fraction 1 %", "conv_fraction", 0.01),
    ("conv_fraction 4 %", "conv_fraction", 0.04),
    ("evaluate", "eval", 0.0),
]
# issue #8's targets: minimum revive/PyTorch ratio per mode (conv_fraction is judged against
# revive's own BN-only step, below)
TARGET_RATIO = {"all": 1.3, "bn": 2.0, "eval": 1.5}
TARGET_CF_STEP = 1.15   # conv_fraction step time / BN-only step time, at most
TARGET_MPI = 0.95       # mpirun -np 2 x 1 thread / best one-process layout, at least


def fail(msg):
    sys.exit(f"compare.py: {msg}")


def run(cmd, env=None):
    p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        fail(f"{' '.join(cmd)} failed (exit {p.returncode}): {p.stderr.strip()[-500:]}")
    return p.stdout


def results(out):
    """The `RESULT key=value ...` lines of a benchmark's output, as dicts."""
    rows = []
    for line in out.splitlines():
        if line.startswith("RESULT "):
            rows.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
    if not rows:
        fail(f"no RESULT line in:\n{out}")
    return rows


def steps_for(mode, shape, scale):
    """Timed steps: about 3 s per run on the quiet 2-core machine before issue #8 (~500 img/s
    training, ~1500 img/s evaluating at 1x28x28; 3x32x32 costs ~1.3x more), so that the whole
    `make bench` takes about 6-7 minutes there."""
    base = 30 if mode == "eval" else 12
    if shape[1] * shape[2] > 28 * 28:
        base = base * 3 // 4
    return max(1, round(base * scale))


def revive_env():
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(THREADS)
    return env


def bench_revive(mode, fraction, shape, steps, warmup, binary=None):
    cmd = [binary or BENCH_TRAIN, "--mode", mode, "--fraction", f"{fraction:g}", "--input", shape_str(shape),
           "--steps", str(steps), "--warmup", str(warmup), "--threads", str(THREADS)]
    return results(run(cmd, revive_env()))[0]


def bench_torch(mode, fraction, shape, steps, warmup):
    cmd = ["/usr/bin/python3", TORCH, "--mode", mode, "--fraction", f"{fraction:g}",
           "--input", shape_str(shape), "--steps", str(steps), "--warmup", str(warmup),
           "--threads", str(THREADS)]
    return results(run(cmd))[0]


def shape_str(shape):
    return "x".join(str(v) for v in shape)


def have_torch():
    p = subprocess.run(["/usr/bin/python3", "-c", "import torch; print(torch.__version__)"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def pipeline_params(shape):
    """`pipeline params`: {"total": ..., "bn": ..., "output": ..., "shortcut": ..., "conv": ...}."""
    out = run([PIPELINE, "params", "--depth", "20", "--width", "1", "--input", shape_str(shape),
               "--classes", "10"])
    counts = {k: int(v) for k, v in re.findall(r"^\s*(total|bn|batchnorm|output|shortcut|conv)\s+(\d+)",
                                              out, re.M)}
    if "batchnorm" in counts:
        counts["bn"] = counts.pop("batchnorm")
    if "total" not in counts:
        fail(f"no total in `pipeline params` output:\n{out}")
    return counts


def med(xs):
    return statistics.median(xs)


def fmt_rate(xs):
    if len(xs) == 1:
        return f"{xs[0]:.0f}"
    return f"{med(xs):.0f} ({min(xs):.0f}-{max(xs):.0f})"


def check(ok):
    return "yes" if ok else "**no**"


def compare_shape(shape, a, torch_version):
    """Runs every figure for one input shape; prints and returns the table's lines."""
    kinds = pipeline_params(shape)
    params = kinds["total"]
    counts = None
    if torch_version:
        counts = results(run(["/usr/bin/python3", TORCH, "--count", "--input", shape_str(shape)]))[0]
    rows = {}
    revive_flops = None
    # Repeats outermost: each round runs every figure, revive then PyTorch, so a figure's two
    # tools run back to back AND the figures of one round (the conv_fraction / BN-only step
    # ratio) see the same background load.
    base_runs = {}
    for label, mode, _ in FIGURES:
        rows[label] = (mode, steps_for(mode, shape, a.scale), [], [])
        base_runs[label] = []
    for rep in range(a.repeats):
        for label, mode, fraction in FIGURES:
            _, steps, r_runs, t_runs = rows[label]
            r_runs.append(bench_revive(mode, fraction, shape, steps, a.warmup))
            if BASELINE:
                base_runs[label].append(bench_revive(mode, fraction, shape, steps, a.warmup, BASELINE))
            if torch_version:
                t_runs.append(bench_torch(mode, fraction, shape, steps, a.warmup))
            print(f"  {shape_str(shape)} {label:22s} repeat {rep + 1}/{a.repeats}: revive "
                  f"{float(r_runs[-1]['img_s']):7.1f} img/s"
                  + (f", baseline {float(base_runs[label][-1]['img_s']):7.1f} img/s" if BASELINE else "")
                  + (f", PyTorch {float(t_runs[-1]['img_s']):7.1f} img/s" if t_runs else ""),
                  file=sys.stderr, flush=True)
            if int(r_runs[-1]["params"]) != params:
                fail(f"bench_train counts {r_runs[-1]['params']} parameters, `pipeline params` {params}")
    revive_flops = int(float(rows["train all parameters"][2][0]["flops"]))

    lines = []
    head = (f"### ResNet-20, {shape_str(shape)}, batch 128, {THREADS} threads each: "
            f"{params:,} parameters, {revive_flops / 1e6:.1f} MFLOP forward per image")
    lines.append(head)
    if counts:
        same = (int(counts["params"]) == params and int(counts["flops"]) == revive_flops
                and all(int(counts.get(k, -1)) == v for k, v in kinds.items() if k != "total"))
        lines.append("")
        lines.append(f"PyTorch model: {int(counts['params']):,} parameters, "
                     f"{int(counts['flops']) / 1e6:.1f} MFLOP ("
                     + ", ".join(f"{k} {int(counts[k]):,}" for k in ("bn", "output", "shortcut", "conv"))
                     + ") — "
                     + ("the same as revive's." if same else "**DIFFERENT from revive's: fix bench/torch_resnet.py**"))
        if not same:
            a.mismatch = True
    lines.append("")
    if torch_version:
        lines.append("| figure | steps | revive img/s | PyTorch img/s | ratio | target | met "
                     "| revive peak RSS MiB | PyTorch peak RSS MiB |")
        lines.append("|---|---:|---:|---:|---:|---|---|---:|---:|")
    else:
        lines.append("| figure | steps | revive img/s | revive peak RSS MiB |")
        lines.append("|---|---:|---:|---:|")
    for label, (mode, steps, r_runs, t_runs) in rows.items():
        r = [float(x["img_s"]) for x in r_runs]
        r_rss = med([float(x["peak_rss_mib"]) for x in r_runs])
        if not t_runs:
            lines.append(f"| {label} | {steps} | {fmt_rate(r)} | {r_rss:.0f} |")
            continue
        t = [float(x["img_s"]) for x in t_runs]
        t_rss = med([float(x["peak_rss_mib"]) for x in t_runs])
        ratio = med(r) / med(t)
        if mode in TARGET_RATIO:
            target, met = f"≥ {TARGET_RATIO[mode]:.1f}×", check(ratio >= TARGET_RATIO[mode])
        else:
            target, met = "≥ 1.8× (see step ratio)", check(ratio >= 1.8)
        lines.append(f"| {label} | {steps} | {fmt_rate(r)} | {fmt_rate(t)} | {ratio:.2f}× | {target} "
                     f"| {met} | {r_rss:.0f} | {t_rss:.0f} |")

    # conv_fraction step time against BN-only: the target is on revive's own ratio
    bn_r = med([float(x["img_s"]) for x in rows["train BN only"][2]])
    bn_t = med([float(x["img_s"]) for x in rows["train BN only"][3]]) if torch_version else None
    lines.append("")
    lines.append(f"| step time ÷ BN-only step | revive | {'PyTorch | ' if torch_version else ''}"
                 f"target | met |")
    lines.append("|---|---:|" + ("---:|" if torch_version else "") + "---|---|")
    for label in ("conv_fraction 1 %", "conv_fraction 4 %"):
        _, _, r_runs, t_runs = rows[label]
        rr = bn_r / med([float(x["img_s"]) for x in r_runs])
        tt = (f"{bn_t / med([float(x['img_s']) for x in t_runs]):.2f} | " if torch_version else "")
        lines.append(f"| {label} | {rr:.2f} | {tt}≤ {TARGET_CF_STEP:.2f} | {check(rr <= TARGET_CF_STEP)} |")
    if torch_version:
        train = [lab for lab, _, _ in FIGURES if lab != "evaluate"]
        r_peak = max(med([float(x["peak_rss_mib"]) for x in rows[lab][2]]) for lab in train)
        t_peak = max(med([float(x["peak_rss_mib"]) for x in rows[lab][3]]) for lab in train)
        t_base = med([float(x["base_rss_mib"]) for lab in train for x in rows[lab][3]])
        lines.append("")
        lines.append(f"Peak resident memory while training (largest of the training figures): revive "
                     f"{r_peak:.0f} MiB, PyTorch {t_peak:.0f} MiB (of which {t_base:.0f} MiB is the "
                     f"library after `import torch`); target revive ≤ PyTorch: {check(r_peak <= t_peak)}.")
    blines = []
    if BASELINE:
        blines.append("| figure | revive img/s | baseline img/s | revive ÷ baseline | revive peak RSS MiB "
                     "| baseline peak RSS MiB |")
        blines.append("|---|---:|---:|---:|---:|---:|")
        for label, (mode, steps, r_runs, _) in rows.items():
            r = [float(x["img_s"]) for x in r_runs]
            b = [float(x["img_s"]) for x in base_runs[label]]
            blines.append(f"| {label} | {fmt_rate(r)} | {fmt_rate(b)} | {med(r) / med(b):.2f}× "
                         f"| {med([float(x['peak_rss_mib']) for x in r_runs]):.0f} "
                         f"| {med([float(x['peak_rss_mib']) for x in base_runs[label]]):.0f} |")
        blines.append("")
    if blines:
        lines += ["", f"Against the baseline build ({BASELINE}), same rounds:", ""] + blines
    return lines


# Networks beyond ResNet-20, revive alone (bench/torch_resnet.py builds the CIFAR ResNet only):
# (label, bench_train options, input). Training all parameters and BN only, few steps: each
# image costs 10-30 times ResNet-20's.
NETWORKS = [
    ("ImageNet ResNet-18, cifar stem", ["--arch", "imagenet_resnet", "--depth", "18", "--stem", "cifar"],
     (1, 28, 28)),
    ("VGG-11-BN, pool head", ["--arch", "vgg", "--depth", "11"], (1, 28, 28)),
]


def compare_networks(a):
    lines = ["### Other networks (revive alone), batch 128, "
             f"{THREADS} threads", "",
             "| network | input | parameters | MFLOP forward / image | train all img/s | train BN only img/s |",
             "|---|---|---:|---:|---:|---:|"]
    for label, opts, shape in NETWORKS:
        got = {"all": [], "bn": []}
        steps = max(1, round(2 * a.scale))
        for rep in range(a.repeats):
            for mode in got:
                cmd = [BENCH_TRAIN, "--mode", mode, "--input", shape_str(shape), "--steps", str(steps),
                       "--warmup", "1", "--threads", str(THREADS)] + opts
                got[mode].append(results(run(cmd, revive_env()))[0])
        r = got["all"][0]
        lines.append(f"| {label} | {shape_str(shape)} | {int(r['params']):,} | "
                     f"{float(r['flops']) / 1e6:.0f} | "
                     f"{fmt_rate([float(x['img_s']) for x in got['all']])} | "
                     f"{fmt_rate([float(x['img_s']) for x in got['bn']])} |")
        print(f"  {label} done", file=sys.stderr, flush=True)
    return lines


def fmt_evals(xs):
    return f"{med(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"


STYLE_INPUT = "3x128x128"
TARGET_STYLE = 1.3  # issue 23: one style-transfer evaluation, revive ÷ PyTorch, at least


def compare_style(a, torch_version):
    """One image-space style evaluation (bench/bench_style.c against bench/torch_style.py):
    forward through a frozen random ResNet-18 in eval mode, Gram losses on five taps, backward to
    the image; without SWAG and with the softmax over all entries on the two deepest taps.
    Interleaved, one process per run."""
    steps = max(1, round(4 * a.scale))
    lines = [f"### Style transfer: one evaluation (loss and image gradient), random ResNet-18, "
             f"{STYLE_INPUT}, {THREADS} threads, {steps} timed after {a.warmup} warm-up", "",
             "| SWAG | revive evals/s | PyTorch evals/s | revive ÷ PyTorch (target ≥ 1.3) |",
             "|---|---:|---:|---:|"]
    for swag in ("none", "softmax_all"):
        r, t = [], []
        for rep in range(a.repeats):
            args = ["--input", STYLE_INPUT, "--swag", swag, "--steps", str(steps), "--warmup",
                    str(a.warmup), "--threads", str(THREADS)]
            r.append(float(results(run([os.path.join(BIN_DIR, "bench_style")] + args,
                                       revive_env()))[0]["evals_s"]))
            if torch_version:
                t.append(float(results(run(["/usr/bin/python3",
                                            os.path.join(ROOT, "bench", "torch_style.py")] + args))[0]["evals_s"]))
        ratio = f"{med(r) / med(t):.2f} ({check(med(r) / med(t) >= TARGET_STYLE)})" if t else "—"
        lines.append(f"| {swag} | {fmt_evals(r)} | {fmt_evals(t) if t else '—'} | {ratio} |")
        print(f"  style {swag} done", file=sys.stderr, flush=True)
    return lines


def mixer_sizes():
    """Mixer-pico's sizes: the [model] keys' defaults, from `pipeline help-config --format json`."""
    import json
    keys = json.loads(run([PIPELINE, "help-config", "--format", "json"]))["keys"]
    default = {k["name"]: k["default"] for k in keys if k["section"] == "model"}
    return [(flag, default[key]) for flag, key in (("--patch", "patch"), ("--hidden", "hidden"),
            ("--tokens-mlp", "tokens_mlp"), ("--channels-mlp", "channels_mlp"), ("--blocks", "blocks"))]


# issue 21's target for the Mixer: revive / PyTorch, training all and norm only
TARGET_MIXER = 1.3


def compare_mixer(a, torch_version):
    """Mixer-pico (model.arch = mixer) on 1x28x28, training all parameters and the LayerNorms
    only, revive (then the --baseline build) then PyTorch in each round, as the ResNet figures."""
    shape = (1, 28, 28)
    sizes = mixer_sizes()
    revive_sizes = []  # bench_train takes the config defaults itself; PyTorch gets them passed
    torch_sizes = [v for flag, value in sizes for v in (flag, value)]
    lines = [f"### MLP-Mixer-pico (model.arch = mixer, {', '.join(f'{f[2:]} {v}' for f, v in sizes)}), "
             f"{shape_str(shape)}, batch 128, {THREADS} threads", "",
             "| figure | revive img/s | PyTorch img/s | revive ÷ PyTorch | target | met |",
             "|---|---:|---:|---:|---:|---|"]
    steps = max(1, round(12 * a.scale))
    got = {m: ([], []) for m in ("all", "bn")}
    base = {m: [] for m in got}
    for rep in range(a.repeats):
        for mode, (r_runs, t_runs) in got.items():
            for binary, runs in ((BENCH_TRAIN, r_runs),) + (((BASELINE, base[mode]),) if BASELINE else ()):
                cmd = [binary, "--arch", "mixer", "--mode", mode, "--input", shape_str(shape),
                       "--steps", str(steps), "--warmup", str(a.warmup), "--threads", str(THREADS)] + revive_sizes
                runs.append(results(run(cmd, revive_env()))[0])
            if torch_version:
                cmd = ["/usr/bin/python3", TORCH, "--arch", "mixer", "--mode", mode, "--input",
                       shape_str(shape), "--steps", str(steps), "--warmup", str(a.warmup),
                       "--threads", str(THREADS)] + torch_sizes
                t_runs.append(results(run(cmd))[0])
    for mode, (r_runs, t_runs) in got.items():
        r = med([float(x["img_s"]) for x in r_runs])
        if t_runs:
            if (r_runs[0]["params"], r_runs[0]["flops"]) != (t_runs[0]["params"], t_runs[0]["flops"]):
                a.mismatch = True
                lines.append(f"MISMATCH: revive's Mixer has {r_runs[0]['params']} parameters and "
                             f"{r_runs[0]['flops']} FLOPs, PyTorch's {t_runs[0]['params']} and {t_runs[0]['flops']}")
            t = med([float(x["img_s"]) for x in t_runs])
            lines.append(f"| train {'all parameters' if mode == 'all' else 'norm only'} | "
                         f"{fmt_rate([float(x['img_s']) for x in r_runs])} | "
                         f"{fmt_rate([float(x['img_s']) for x in t_runs])} | {r / t:.2f} | "
                         f"{TARGET_MIXER:g} | {check(r / t >= TARGET_MIXER)} |")
        else:
            lines.append(f"| train {mode} | {fmt_rate([float(x['img_s']) for x in r_runs])} | - | - | "
                         f"{TARGET_MIXER:g} | - |")
    if BASELINE:
        lines += ["", f"Against the baseline build ({BASELINE}), same rounds:", "",
                  "| figure | revive img/s | baseline img/s | revive ÷ baseline |", "|---|---:|---:|---:|"]
        for mode, (r_runs, _) in got.items():
            rs, bs = [float(x["img_s"]) for x in r_runs], [float(x["img_s"]) for x in base[mode]]
            lines.append(f"| train {'all parameters' if mode == 'all' else 'norm only'} | {fmt_rate(rs)} | "
                         f"{fmt_rate(bs)} | {med(rs) / med(bs):.2f} |")
    print("  MLP-Mixer-pico done", file=sys.stderr, flush=True)
    return lines


def compare_mpi(a):
    """bench/scaling.sh `repeats` times; medians per layout."""
    runs = {}
    for rep in range(a.repeats):
        env = dict(os.environ, BENCH_BIN_DIR=BIN_DIR)
        for row in results(run(["sh", os.path.join(ROOT, "bench", "scaling.sh"), f"{a.mpi_seconds:g}"], env)):
            key = (int(row["ranks"]), int(row["threads"]))
            runs.setdefault(key, []).append(row)
        print(f"  mpi repeat {rep + 1}/{a.repeats} done", file=sys.stderr, flush=True)
    lines = [f"### MPI layouts (bench/scaling.sh, ResNet-20, 1x28x28, global batch 128, "
             f"{a.mpi_seconds:g} s per figure)", "",
             "| layout | train all img/s | train BN only img/s |", "|---|---:|---:|"]
    med_of = {}
    for (ranks, threads), rs in sorted(runs.items()):
        al = [float(x["all_img_s"]) for x in rs]
        bn = [float(x["bn_img_s"]) for x in rs]
        med_of[(ranks, threads)] = (med(al), med(bn))
        lines.append(f"| {ranks} rank{'s' if ranks > 1 else ''} × {threads} thread{'s' if threads > 1 else ''} "
                     f"| {fmt_rate(al)} | {fmt_rate(bn)} |")
    one = [v for (ranks, _), v in med_of.items() if ranks == 1]
    two = med_of.get((2, 1))
    if one and two:
        best = (max(v[0] for v in one), max(v[1] for v in one))
        ra, rb = two[0] / best[0], two[1] / best[1]
        lines.append(f"| 2 × 1 ÷ best one-process layout (target ≥ {TARGET_MPI:.2f}) "
                     f"| {ra:.2f} ({check(ra >= TARGET_MPI)}) | {rb:.2f} ({check(rb >= TARGET_MPI)}) |")
    return lines


TARGET_SUPERRES = 1.3   # issue 22: a generator step with the perceptual loss, revive / PyTorch


def compare_superres(a, torch_version, task="x2"):
    """bench_superres and bench/torch_superres.py alternately, `repeats` times (issue 22; task
    denoise: its second task's step)."""
    binary = os.path.join(BIN_DIR, "bench_superres")
    script = os.path.join(ROOT, "bench", "torch_superres.py")
    steps = str(max(2, round(10 * a.scale)))
    common = ["--batch", "64", "--steps", steps, "--warmup", str(max(1, a.warmup)),
              "--threads", str(THREADS), "--task", task]
    r_runs, t_runs = [], []
    for rep in range(a.repeats):
        r_runs.append(results(run([binary] + common, revive_env()))[0])
        if torch_version:
            t_runs.append(results(run(["/usr/bin/python3", script] + common))[0])
        print(f"  {'superres' if task == 'x2' else task} repeat {rep + 1}/{a.repeats}: revive {float(r_runs[-1]['img_s']):7.1f} img/s"
              + (f", PyTorch {float(t_runs[-1]['img_s']):7.1f} img/s" if t_runs else ""),
              file=sys.stderr, flush=True)
    r = [float(x["img_s"]) for x in r_runs]
    what = ("Super-resolution step (issue 22): SRResNet x2" if task == "x2" else
            "Denoising step (issue 22's second task): SRResNet x1 + the noisy input")
    lines = [f"### {what} (3 blocks, 32 channels, "
             f"{int(r_runs[0]['params']):,} parameters) on 1x{14 if task == 'x2' else 28}x"
             f"{14 if task == 'x2' else 28}, MSE + 0.05 x perceptual "
             f"through a frozen VGG-11-BN (3 taps), batch 64, {THREADS} threads each", ""]
    if not t_runs:
        lines += ["| revive img/s | revive peak RSS MiB |", "|---:|---:|",
                  f"| {fmt_rate(r)} | {med([float(x['peak_rss_mib']) for x in r_runs]):.0f} |"]
        return lines
    t = [float(x["img_s"]) for x in t_runs]
    ratio = med(r) / med(t)
    if int(t_runs[0]["params"]) != int(r_runs[0]["params"]):
        lines.append("**The PyTorch generator's parameter count differs from revive's: fix "
                     "bench/torch_superres.py**")
        a.mismatch = True
    lines += ["| revive img/s | PyTorch img/s | ratio | target | met | revive peak RSS MiB "
              "| PyTorch peak RSS MiB |", "|---:|---:|---:|---|---|---:|---:|",
              f"| {fmt_rate(r)} | {fmt_rate(t)} | {ratio:.2f} | ≥ {TARGET_SUPERRES} "
              f"| {check(ratio >= TARGET_SUPERRES)} "
              f"| {med([float(x['peak_rss_mib']) for x in r_runs]):.0f} "
              f"| {med([float(x['peak_rss_mib']) for x in t_runs]):.0f} |"]
    return lines


def git_commit():
    try:
        c = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.strip()
        return c + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description="revive against PyTorch, interleaved (make bench)")
    ap.add_argument("--inputs", default="1x28x28,3x32x32", help="comma-separated CxHxW shapes")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps per run")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the timed step counts")
    ap.add_argument("--mpi-seconds", type=float, default=3.0, help="per figure in bench_mpi")
    ap.add_argument("--bin-dir", default="build/bench", help="where bench_train and bench_mpi are")
    ap.add_argument("--pipeline", default="./pipeline", help="the pipeline binary (for `params`)")
    ap.add_argument("--no-torch", action="store_true", help="revive's figures only")
    ap.add_argument("--no-mpi", action="store_true", help="skip bench/scaling.sh")
    ap.add_argument("--no-networks", action="store_true",
                    help="skip the other networks (ImageNet ResNet-18, VGG-11, MLP-Mixer-pico)")
    ap.add_argument("--no-superres", action="store_true", help="skip the super-resolution step")
    ap.add_argument("--no-style", action="store_true", help="skip the style-transfer evaluation")
    ap.add_argument("--baseline", help="bench directory of another revive build, run in the same rounds")
    ap.add_argument("--mixer-only", action="store_true",
                    help="only the MLP-Mixer's figures (issue 21): no shapes, networks, superres, style or MPI")
    a = ap.parse_args()
    a.mismatch = False
    global BENCH_TRAIN, PIPELINE, BIN_DIR, BASELINE
    BIN_DIR = os.path.join(ROOT, a.bin_dir)
    if a.baseline:
        BASELINE = os.path.join(os.path.abspath(a.baseline), "bench_train")
        if not os.access(BASELINE, os.X_OK):
            ap.error(f"--baseline: {BASELINE} is missing (build it there: make build/bench/bench_train)")
    BENCH_TRAIN = os.path.join(BIN_DIR, "bench_train")
    PIPELINE = os.path.join(ROOT, a.pipeline)
    if a.repeats < 1 or a.warmup < 0 or a.scale <= 0 or a.mpi_seconds <= 0:
        ap.error("--repeats and --scale must be positive, --warmup at least 0")
    shapes = []
    for s in a.inputs.split(","):
        m = re.fullmatch(r"(\d+)x(\d+)x(\d+)", s.strip())
        if not m:
            ap.error(f"--inputs: '{s}' is not CxHxW (e.g. 3x32x32)")
        shapes.append(tuple(int(v) for v in m.groups()))
    for path in (BENCH_TRAIN, os.path.join(BIN_DIR, "bench_mpi"), os.path.join(BIN_DIR, "bench_superres"), PIPELINE):
        if not os.access(path, os.X_OK):
            fail(f"{path} is missing: run `make bench` (it builds it)")

    torch_version = None if a.no_torch else have_torch()
    started = time.time()
    load = os.getloadavg()
    header = [f"revive vs PyTorch — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit "
              f"{git_commit()}", "",
              f"Machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} {platform.release()}; "
              f"PyTorch {torch_version or 'not installed'}. Load average at start "
              f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} (1/5/15 min).",
              f"Each figure: {a.repeats} interleaved repeat{'s' if a.repeats > 1 else ''} per tool "
              f"(rounds over all figures, revive then PyTorch), one process each, {a.warmup} warm-up steps then the "
              f"timed steps shown; medians, (min-max)."]
    print("\n".join(header), flush=True)
    if not torch_version and not a.no_torch:
        print("\nPyTorch is not installed for /usr/bin/python3: revive's figures only. For the "
              "comparison: apt-get install python3-torch", flush=True)
    if a.mixer_only:
        shapes = []
        a.no_networks = a.no_superres = a.no_style = a.no_mpi = True
    for shape in shapes:
        print("\n".join([""] + compare_shape(shape, a, torch_version)), flush=True)
    out = []
    if not a.no_networks:
        out += [""] + compare_networks(a)
    if not a.no_networks or a.mixer_only:
        out += [""] + compare_mixer(a, torch_version)
    if not a.no_superres:
        out += [""] + compare_superres(a, torch_version)
        out += [""] + compare_superres(a, torch_version, "denoise")
    if not a.no_style:
        out += [""] + compare_style(a, torch_version)
    if not a.no_mpi:
        out += [""] + compare_mpi(a)
    load = os.getloadavg()
    out += ["", f"Load average at the end {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}; "
                f"the whole comparison took {time.time() - started:.0f} s."]
    print("\n".join(out))
    if a.mismatch:
        fail("the PyTorch model differs from revive's (see above)")


if __name__ == "__main__":
    main()
