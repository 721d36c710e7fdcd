#!/usr/bin/env python3
"""Issue 23's experiments: texture synthesis and style transfer through random networks, judged
by `pipeline style-judge` (style transfer at matched judge content distance), and the mechanism
(`pipeline style-stats` across depth).

  scripts/style_study.py textures --pipeline BIN --out /work/runs/style2/textures \
      --evaluations 250 --seeds 1 2 3 --record docs/data/style-textures.csv
  scripts/style_study.py textures --pipeline BIN --out /work/runs/style2/textures \
      --evaluations 150 --seeds 1 2 --checkpoints /work/runs/style2/checkpoints \
      --kinds random_cifar_stem trained --record docs/data/style-textures/style-textures.csv
      (random and trained at the same architecture: VGG-19, ResNet-18, ResNet-18 + SWAG
      softmax_all, no-skip ResNet-18, each through its Fashion-MNIST checkpoint and random with
      the checkpoint's input, cifar stem and gray; 8 cells per texture and seed, 48 for 3
      textures × 2 seeds. Measured at commit 02e3a0c, brick, seed 1, 150 evaluations, nice 10,
      one thread, on 2 cores busy with 2 nice-0 runs (docs/data/style-textures/
      style-trained-cell-cost.csv): trained ResNet-18 539 s wall, 50 s CPU (style + judge);
      trained VGG-19 447 s wall, 42 s CPU. The cifar-stem random twins build the same networks.
      So about 8 × 47 = 380 s CPU per texture and seed, 38 min of an idle core for the 48
      cells; wall time follows the load: about 7 h at the measured share of a core.)
  scripts/style_study.py stats --pipeline BIN --out /work/runs/style2/stats \
      --checkpoints /work/runs/style2/checkpoints --record docs/data/style-stats.csv
  scripts/style_study.py transfer --pipeline BIN --out /work/runs/transfer/runs \
      --evaluations 80 --seeds 1 2 --pairs chelsea:brick coffee:gravel --weights 1e2 1e4 1e6 \
      --networks resnet resnet_swag noskip --record docs/data/style-transfer.csv
  scripts/style_study.py report --textures docs/data/style-textures.csv \
      --runs /work/runs/style2/textures --stats docs/data/style-stats.csv \
      --transfer docs/data/style-transfer.csv --transfer-runs /work/runs/transfer/runs \
      --figures docs/figures --markdown docs/data/style-report.md

Each run goes to its own directory and is skipped when its result exists, so a stopped study
resumes by running the same command again. Every row of a record carries the commit of the
binary, the command, its UTC start and end and its wall time.
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
TEXTURES = ["brick", "grass", "gravel"]
CONFIG = "configs/style-texture.ini"
VGG_TAPS = "group1.conv1, group2.conv1, group3.conv1, group4.conv1, group5.conv1"

# The networks of the texture comparison: name, label, --set values on configs/style-texture.ini
# (ImageNet ResNet-18, taps stem and each stage's last block, SWAG taps layer3.1 and layer4.1).
NETWORKS = [
    ("vgg", "VGG-19", ["model.arch=vgg", "model.depth=19", 'style.style_taps="%s"' % VGG_TAPS,
                       'style.swag_taps=""']),
    ("resnet", "ResNet-18", []),
    ("resnet_swag", "ResNet-18 + SWAG", ["style.swag=softmax_all"]),
    ("noskip", "no-skip ResNet-18", ["model.skip=false"]),
    # SWAG's other two published forms on the same taps: the first code release's softmax over
    # the channels at each position, and the current code's scaling by alpha = 0.001 (at the same
    # style weight, as the reference runs it)
    ("resnet_swag_channels", "ResNet-18 + SWAG (softmax over channels)",
     ["style.swag=softmax_channels"]),
    ("resnet_swag_scale", "ResNet-18 + SWAG (scale 0.001)", ["style.swag=scale",
                                                             "style.swag_alpha=0.001"]),
    # control: SWAG's softmax makes the deep taps' Gram terms ~1e-8 of the loss; is SWAG more
    # than dropping them?
    ("resnet_shallow", "ResNet-18, deep taps dropped",
     ['style.style_taps="stem, layer1.1, layer2.1"', 'style.swag_taps=""']),
]
# the texture cells of the three published SWAG forms, and the form's name
SWAG_CELLS = [("resnet_swag", "softmax_all"), ("resnet_swag_channels", "softmax_channels"),
              ("resnet_swag_scale", "scale")]
JUDGES = [("gram_distance", "Gram distance (judge VGG)", True), ("spectrum_distance",
          "spectrum distance (decades)", False), ("w1_gray", "gray-level W1", False)]
# The kinds of network a texture cell runs through. random_imagenet_stem: the NETWORKS table as
# it stands (RGB, ImageNet stem); its cells keep their bare names ("resnet"). With --checkpoints,
# the cells of TRAINED_CELLS also run through the Fashion-MNIST checkpoints ("trained": cifar stem,
# gray, the checkpoint's input normalization) and random with that same input ("random_cifar_stem":
# cifar stem, 1 channel; its fair random counterpart); their names are NETWORK/KIND
# ("resnet_swag/trained"), their runs OUT/TEXTURE/NETWORK/KIND/seed-N. A trained cell is one
# network for every seed: the seed draws only the synthesis's start (style.seed).
KINDS = ("random_imagenet_stem", "random_cifar_stem", "trained")
KIND_LABELS = {"random_imagenet_stem": "random, ImageNet stem, RGB",
               "random_cifar_stem": "random, cifar stem, gray", "trained": "trained on Fashion-MNIST"}
# cell -> the architecture of its checkpoint (CKPT); SWAG on the random cell's taps
TRAINED_CELLS = [("vgg", "vgg"), ("resnet", "resnet"), ("resnet_swag", "resnet"),
                 ("noskip", "noskip"), ("resnet_shallow", "resnet")]


def utc():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def commit_of(binary):
    """pipeline-<commit> names its commit."""
    base = os.path.basename(binary)
    return base.split("-", 1)[1] if base.startswith("pipeline-") else "unknown"


def run(cmd, log):
    with open(log, "w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode:
        sys.exit("style_study: %s failed (exit %d), see %s" % (" ".join(cmd), r.returncode, log))


def synthesize_and_judge(cmd, judge, nice, out):
    """Runs `pipeline style` (cmd) into out, then `pipeline style-judge` (judge) on its style.png:
    (start UTC, start seconds, end UTC, end seconds, style.json, judge.json)."""
    t0, w0 = utc(), time.time()
    run(nice + cmd, os.path.join(out, "style.log"))
    with open(os.path.join(out, "judge.json"), "w") as f:
        r = subprocess.run(nice + judge, stdout=f)
    if r.returncode:
        sys.exit("style_study: %s failed" % " ".join(judge))
    t1, w1 = utc(), time.time()
    with open(os.path.join(out, "style.json")) as f:
        s = json.load(f)
    with open(os.path.join(out, "judge.json")) as f:
        j = json.load(f)
    return t0, w0, t1, w1, s, j


def sets(values):
    out = []
    for v in values:
        out += ["--set", v]
    return out


def append_row(path, fields, row):
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        if new:
            w.writeheader()
        w.writerow(row)


TEX_FIELDS = ["texture", "network", "seed", "evaluations_budget", "evaluations", "iterations",
              "converged", "loss", "gram_distance", "spectrum_distance", "w1_gray", "seconds",
              "utc_start", "utc_end", "commit", "command"]


def cell_name(name, kind):
    """The record's network of a cell: NETWORK for the ImageNet-stem random cells (their names
    before the trained cells existed), NETWORK/KIND for the others."""
    return name if kind == "random_imagenet_stem" else "%s/%s" % (name, kind)


def split_cell(network):
    """(network, kind) of a record's network."""
    name, _, kind = network.partition("/")
    return name, kind or "random_imagenet_stem"


def kind_keys(kind, arch, checkpoints):
    """The --set values that make an architecture's network (CKPT's arch: resnet, noskip, vgg)
    of a kind, beside the architecture's own keys and run.seed (random kinds)."""
    if kind == "random_cifar_stem":
        return ["style.channels=1"] + ([] if arch == "vgg" else ["model.stem=cifar"])
    if kind == "trained":
        return ['style.checkpoint="%s"' % checkpoint_path(checkpoints, arch),
                "style.normalize=data"]
    return []


def texture_cells(a):
    """(name, kind, arch, extra keys) of every cell asked for: the NETWORKS table (random,
    ImageNet stem), and with --checkpoints the TRAINED_CELLS random (cifar stem) and trained. A
    checkpoint that is missing ends the study before any run, with the path and the fix."""
    kinds = a.kinds or (KINDS if a.checkpoints else ["random_imagenet_stem"])
    cells = [(name, "random_imagenet_stem", None, extra) for name, _, extra in NETWORKS
             if name in a.networks]
    if not a.checkpoints:
        if kinds != ["random_imagenet_stem"]:
            print("style_study: --kinds %s: the cifar-stem and trained cells come with "
                  "--checkpoints DIR (the Fashion-MNIST checkpoints' folder)" % " ".join(kinds),
                  file=sys.stderr)
            sys.exit(2)
        return cells
    extras = {name: extra for name, _, extra in NETWORKS}
    for kind in ("random_cifar_stem", "trained"):
        if kind not in kinds:
            continue
        for name, arch in TRAINED_CELLS:
            if name not in a.networks:
                continue
            path = checkpoint_path(a.checkpoints, arch)
            if kind == "trained" and not os.path.isfile(path):
                print("style_study: --checkpoints %s: no %s (%s's Fashion-MNIST classifier: make it "
                      "as configs/style-fmnist-classifier.ini says, or leave %s out of --networks)"
                      % (a.checkpoints, path, name, name), file=sys.stderr)
                sys.exit(2)
            cells.append((name, kind, arch, extras[name]))
    return [c for c in cells if c[1] in kinds]


def cmd_textures(a):
    """Texture synthesis per seed, texture and cell; with --checkpoints the trained cells and
    their random cifar-stem counterparts too (the module's docstring has the command and the
    measured cost of a cell). Every cell is judged by the same judge: style-judge on CONFIG's
    RGB input, the gray results replicated."""
    nice = ["nice", "-n", str(a.nice)]
    done = set()
    if os.path.exists(a.record):
        with open(a.record) as f:
            done = {(r["texture"], r["network"], r["seed"]) for r in csv.DictReader(f)}
    cells = texture_cells(a)
    # seeds outermost: a stopped study has whole seeds
    for seed in a.seeds:
        for tex in a.textures:
            for name, kind, arch, extra in cells:
                network = cell_name(name, kind)
                if (tex, network, str(seed)) in done:
                    continue
                out = os.path.join(a.out, tex, network, "seed-%d" % seed)
                os.makedirs(out, exist_ok=True)
                common = ["--set", 'style.style_image="%s/%s.png"' % (a.images, tex)]
                # a trained network does not depend on the seed: run.seed is left out
                own = [] if kind == "trained" else ["run.seed=%d" % seed]
                cmd = [a.pipeline, "style", CONFIG, "--out", out] + common + sets(
                    ["run.threads=1"] + own + ["style.seed=%d" % seed,
                     "style.evaluations=%d" % a.evaluations, "style.log_every=50"] + extra +
                    kind_keys(kind, arch, a.checkpoints))
                # one judge for every kind: the random VGG-19 on CONFIG's RGB input
                judge = [a.pipeline, "style-judge", CONFIG, os.path.join(out, "style.png"),
                         "--format", "json", "--set", "run.threads=1"] + common
                t0, w0, t1, w1, s, j = synthesize_and_judge(cmd, judge, nice, out)
                note = {"random_imagenet_stem": "",
                        "random_cifar_stem": " ; random_cifar_stem: network seed %d" % seed,
                        "trained": " ; trained: the same network for every seed, the seed draws "
                                   "only the start image"}[kind]
                row = {"texture": tex, "network": network, "seed": seed,
                       "evaluations_budget": a.evaluations, "evaluations": s["evaluations"],
                       "iterations": s["iterations"], "converged": s["converged"],
                       "loss": s["loss"], "gram_distance": j["gram_distance"],
                       "spectrum_distance": j["spectrum_distance"], "w1_gray": j["w1_gray"],
                       "seconds": round(w1 - w0, 1), "utc_start": t0, "utc_end": t1,
                       "commit": commit_of(a.pipeline),
                       "command": " ".join(cmd[1:]) + " ; style-judge (default judge seed 1000)"
                                  + note}
                append_row(a.record, TEX_FIELDS, row)
                print("%s %s seed %d: gram %.4g spectrum %.4f w1 %.4f (%.0f s)" % (
                    tex, network, seed, j["gram_distance"], j["spectrum_distance"], j["w1_gray"],
                    w1 - w0), flush=True)


# ---- style transfer ------------------------------------------------------------------------

TRANSFER_CONFIG = "configs/style-transfer.ini"
PHOTOS = ["chelsea", "coffee", "astronaut"]
SIZE = 128          # the texture study's size: the skimage textures (512x512) averaged 4x4
DOWNSAMPLE = 4
# The networks of the transfer comparison: name, label, --set values on configs/style-transfer.ini
# (ImageNet ResNet-18; content on layer3.1 as the reference, style on the stem and each stage's
# last block, SWAG on layer3.1 and layer4.1; VGG-19 with Gatys et al.'s taps, content conv4_2).
TRANSFER_NETWORKS = [
    ("vgg", "VGG-19", ["model.arch=vgg", "model.depth=19", 'style.style_taps="%s"' % VGG_TAPS,
                       'style.content_taps="group4.conv2"', 'style.swag_taps=""']),
    ("resnet", "ResNet-18", []),
    ("resnet_swag", "ResNet-18 + SWAG", ["style.swag=softmax_all"]),
    ("noskip", "no-skip ResNet-18", ["model.skip=false"]),
    # control: the softmax over layer3.1's C·H·W entries (about 16,000 at 128x128) shrinks the
    # content tap's squared differences about 1e8-fold (measured: 0.72 raw, 6e-9 softmaxed), so at
    # the reference's content weight SWAG has no content loss left; this cell gives it back
    ("resnet_swag_cw", "ResNet-18 + SWAG, content weight 1e8",
     ["style.swag=softmax_all", "style.content_weight=1e8"]),
]
TRANSFER_FIELDS = ["content", "style", "network", "seed", "style_weight", "evaluations_budget",
                   "evaluations", "iterations", "converged", "loss", "style_loss", "content_loss",
                   "content_distance", "gram_distance", "spectrum_distance", "w1_gray", "seconds",
                   "utc_start", "utc_end", "commit", "command"]


def block_mean(a, k):
    """Mean over k×k blocks of an (H, W, C) array, the bottom and right remainders dropped (as
    style_setup.c's prepare)."""
    h, w = a.shape[0] // k, a.shape[1] // k
    return a[:h * k, :w * k].reshape(h, k, w, k, -1).mean(axis=(1, 3))


def prepare_content(photo, out_dir, size=SIZE, downsample=DOWNSAMPLE):
    """The photo averaged over k×k blocks, k = its short side // size, and its central size×size
    crop, in 8 bits, written size·downsample square with each pixel repeated downsample² times:
    the run's style.downsample (the texture study's, which makes the 128x128 style target)
    averages it back to the crop exactly. Returns the path."""
    import numpy as np
    from PIL import Image
    path = os.path.join(out_dir, "%s-%d.png" % (os.path.basename(photo)[:-4], size))
    if os.path.exists(path):
        return path
    a = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float64) / 255.0
    k = min(a.shape[0], a.shape[1]) // size
    if k < 1:
        sys.exit("style_study: %s is smaller than %dx%d" % (photo, size, size))
    a = block_mean(a, k)
    y0, x0 = (a.shape[0] - size) // 2, (a.shape[1] - size) // 2
    q = np.round(a[y0:y0 + size, x0:x0 + size] * 255.0).astype(np.uint8)
    q = np.repeat(np.repeat(q, downsample, axis=0), downsample, axis=1)
    os.makedirs(out_dir, exist_ok=True)
    Image.fromarray(q).save(path + ".tmp.png")
    os.replace(path + ".tmp.png", path)
    return path


def pair(text):
    """CONTENT:STYLE (file names without .png)."""
    parts = text.split(":")
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError("'%s' is not CONTENT:STYLE, e.g. chelsea:brick" % text)
    return tuple(parts)


def weight_name(w):
    return "%g" % w


def cmd_transfer(a):
    """Style transfer: each content photo × each texture, each network, each style weight, each
    seed; started from the content image (configs/style-transfer.ini), judged by style-judge in
    transfer mode (the judge's content distance as well as its style measures)."""
    nice = ["nice", "-n", "10"]
    done = set()
    if os.path.exists(a.record):
        with open(a.record) as f:
            done = {(r["content"], r["style"], r["network"], r["seed"], r["style_weight"])
                    for r in csv.DictReader(f)}
    contents = {c: prepare_content("%s/%s.png" % (a.images, c), os.path.join(a.out, "content"))
                for c in sorted({c for c, _ in a.pairs})}
    # the pairs outermost, then the seeds: a stopped study has whole pairs
    for content, style in a.pairs:
        for seed in a.seeds:
            # VGG, the slowest (about 4x a ResNet-18 run), last
            for name, _, extra in sorted(TRANSFER_NETWORKS, key=lambda n: n[0] == "vgg"):
                if name not in a.networks:
                    continue
                for weight in a.weights:
                    key = (content, style, name, str(seed), weight_name(weight))
                    if key in done:
                        continue
                    out = os.path.join(a.out, "%s-%s" % (content, style), name,
                                       "w%s" % weight_name(weight), "seed-%d" % seed)
                    os.makedirs(out, exist_ok=True)
                    common = sets(['style.style_image="%s/%s.png"' % (a.images, style),
                                   'style.content_image="%s"' % contents[content],
                                   "style.downsample=%d" % DOWNSAMPLE, "style.crop=0",
                                   "run.threads=1"])
                    cmd = [a.pipeline, "style", TRANSFER_CONFIG, "--out", out] + common + sets(
                        ["run.seed=%d" % seed, "style.seed=%d" % seed,
                         "style.style_weight=%s" % weight_name(weight),
                         "style.evaluations=%d" % a.evaluations, "style.log_every=50"] + extra)
                    judge = [a.pipeline, "style-judge", TRANSFER_CONFIG,
                             os.path.join(out, "style.png"), "--format", "json"] + common
                    t0, w0, t1, w1, s, j = synthesize_and_judge(cmd, judge, nice, out)
                    if j["content_distance"] is None:
                        sys.exit("style_study: %s gave no content distance" % " ".join(judge))
                    row = {"content": content, "style": style, "network": name, "seed": seed,
                           "style_weight": weight_name(weight),
                           "evaluations_budget": a.evaluations,
                           "evaluations": s["evaluations"], "iterations": s["iterations"],
                           "converged": s["converged"], "loss": s["loss"],
                           "style_loss": s["style_loss"], "content_loss": s["content_loss"],
                           "content_distance": j["content_distance"],
                           "gram_distance": j["gram_distance"],
                           "spectrum_distance": j["spectrum_distance"], "w1_gray": j["w1_gray"],
                           "seconds": round(w1 - w0, 1), "utc_start": t0, "utc_end": t1,
                           "commit": commit_of(a.pipeline),
                           "command": " ".join(cmd[1:]) + " ; style-judge (default judge seed 1000)"}
                    append_row(a.record, TRANSFER_FIELDS, row)
                    print("%s-%s %s w %s seed %d: content %.4g gram %.4g spectrum %.4f w1 %.4f "
                          "(%.0f s)" % (content, style, name, weight_name(weight), seed,
                                        j["content_distance"], j["gram_distance"],
                                        j["spectrum_distance"], j["w1_gray"], w1 - w0),
                          flush=True)


# ---- the mechanism -------------------------------------------------------------------------

RESNET_TAPS = ["stem"] + ["layer%d.%d" % (l, b) for l in range(1, 5) for b in range(2)]
VGG_CONVS = [2, 2, 4, 4, 4]
VGG_ALL = ["group%d.conv%d" % (g + 1, j + 1) for g in range(5) for j in range(VGG_CONVS[g])]


def depth_of(tap):
    """Convolutions on the main path up to and including the tap's output."""
    if tap == "stem":
        return 1
    if tap.startswith("layer"):
        l, b = tap[5:].split(".")
        return 1 + 2 * (2 * (int(l) - 1) + int(b) + 1)
    return VGG_ALL.index(tap) + 1


STATS_ARCH = [
    ("resnet", "ResNet-18", ["model.arch=imagenet_resnet", "model.depth=18"], RESNET_TAPS),
    ("noskip", "no-skip ResNet-18", ["model.arch=imagenet_resnet", "model.depth=18",
                                     "model.skip=false"], RESNET_TAPS),
    ("vgg", "VGG-19", ["model.arch=vgg", "model.depth=19", "model.stem=auto"], VGG_ALL),
]
CKPT = {"resnet": "style-fmnist-resnet18", "noskip": "style-fmnist-noskip",
        "vgg": "style-fmnist-vgg19"}


def checkpoint_path(checkpoints, arch):
    """The checkpoint of an architecture's Fashion-MNIST classifier under --checkpoints: its run's
    last.h5 (the same parameters and running statistics as its stage-00.h5)."""
    return os.path.join(checkpoints, CKPT[arch], "last.h5")


STATS_FIELDS = ["kind", "arch", "seed", "texture", "tap", "depth", "c", "h", "w", "form", "max",
                "entropy_ratio", "gram_entropy_ratio"]
# scale is none's entropies and α times its max (style_stats.c): not recorded
STATS_FORMS = ("none", "softmax_all", "softmax_channels")


def cmd_stats(a):
    """Per tap across depth, for each architecture: random with the texture runs' ImageNet stem
    (3 channels), random with the cifar stem (1 channel, as the trained ones) and trained (the
    Fashion-MNIST checkpoints, normalize = data)."""
    if os.path.exists(a.record):  # rewritten whole: the runs themselves are kept and reused
        os.remove(a.record)
    kinds = [("random_imagenet_stem", s) for s in a.seeds] + [("random_cifar_stem", s) for s in a.seeds]
    if a.checkpoints:
        kinds.append(("trained", 0))
    for kind, seed in kinds:
        for arch, _, keys, taps in STATS_ARCH:
            for tex in a.textures:
                out = os.path.join(a.out, kind, arch, "seed-%d" % seed, tex)
                os.makedirs(out, exist_ok=True)
                extra = keys + ['style.style_taps="%s"' % ", ".join(taps), 'style.swag_taps=""',
                                'style.style_image="%s/%s.png"' % (SKIMAGE, tex), "run.threads=1"]
                if kind != "trained":
                    extra += ["run.seed=%d" % seed]
                elif not os.path.exists(checkpoint_path(a.checkpoints, arch)):
                    print("no checkpoint %s: skipped" % checkpoint_path(a.checkpoints, arch))
                    continue
                extra += kind_keys(kind, arch, a.checkpoints)
                cmd = [a.pipeline, "style-stats", CONFIG, "--out", out] + sets(extra)
                path = os.path.join(out, "style-stats.json")
                if not os.path.exists(path):
                    run(["nice", "-n", "10"] + cmd, os.path.join(out, "stats.log"))
                j = json.load(open(path))
                for t in j["taps"]:
                    for form in STATS_FORMS:
                        v = t["forms"][form]
                        append_row(a.record, STATS_FIELDS, {
                            "kind": kind, "arch": arch, "seed": seed, "texture": tex,
                            "tap": t["name"], "depth": depth_of(t["name"]), "c": t["c"],
                            "h": t["h"], "w": t["w"], "form": form, "max": "%.5g" % v["max"],
                            "entropy_ratio": "%.5g" % v["entropy_ratio"],
                            "gram_entropy_ratio": "%.5g" % v["gram_entropy_ratio"]})
                print("stats %s %s seed %d %s: %s | %s %s" % (kind, arch, seed, tex, j["network"],
                      utc(), " ".join(cmd[1:])), flush=True)


# ---- the report ----------------------------------------------------------------------------

def t_sf(t, df):
    """Two-sided p of Student's t (df 1..: by the regularized incomplete beta, continued
    fraction; no scipy needed)."""
    x = df / (df + t * t)
    return betainc(df / 2.0, 0.5, x)


def betainc(a, b, x):
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x > (a + 1) / (a + b + 2):
        return 1.0 - betainc(b, a, 1 - x)
    # Lentz's continued fraction
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-12:
            break
    return math.exp(lbeta) * h / a


def paired(xs, ys):
    """Mean and sd of y − x over the pairs, and the paired t-test's two-sided p."""
    d = [y - x for x, y in zip(xs, ys)]
    n = len(d)
    m = sum(d) / n
    if n < 2:
        return m, float("nan"), float("nan")
    sd = math.sqrt(sum((v - m) ** 2 for v in d) / (n - 1))
    if sd == 0:
        return m, sd, 0.0 if m != 0 else 1.0
    return m, sd, t_sf(m / (sd / math.sqrt(n)), n - 1)


def holm(ps):
    """Holm–Bonferroni adjusted p values, in the input order."""
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    adj, run_max = [0.0] * len(ps), 0.0
    for k, i in enumerate(order):
        run_max = max(run_max, min(1.0, (len(ps) - k) * ps[i]))
        adj[i] = run_max
    return adj


def judge_value(row, key, log):
    v = float(row[key])
    return math.log10(v) if log else v


def paired_comparisons(by, textures, comps):
    """Per comparison (a, b) of cells, texture and judge: a − b paired by seed (mean, sd, p), the
    gap to VGG closed ((b − a) / (b − vgg) of the seed means) where b is a ResNet-18 cell, a
    another cell of b's kind and the VGG cell of that kind exists, and p Holm-corrected over each comparison's textures × judges.
    by: {(texture, cell): {seed: row}}."""
    tests = []
    for a, b in comps:
        for tex in textures:
            da, db = by.get((tex, a), {}), by.get((tex, b), {})
            common = sorted(set(da) & set(db))
            bname, kind = split_cell(b)
            for key, label, log in JUDGES:
                if len(common) < 2:
                    continue
                xs = [judge_value(db[s], key, log) for s in common]
                ys = [judge_value(da[s], key, log) for s in common]
                m, sd, p = paired(xs, ys)
                gap = float("nan")
                dv = by.get((tex, cell_name("vgg", kind)), {})
                cv = sorted(set(common) & set(dv))
                if split_cell(a) != ("vgg", kind) and split_cell(a)[1] == kind and \
                        bname == "resnet" and cv:
                    base = sum(judge_value(db[s], key, log) for s in cv) / len(cv)
                    vg = sum(judge_value(dv[s], key, log) for s in cv) / len(cv)
                    got = sum(judge_value(da[s], key, log) for s in cv) / len(cv)
                    gap = (base - got) / (base - vg) if base != vg else float("nan")
                tests.append(dict(a=a, b=b, tex=tex, key=key, label=label, n=len(common), m=m,
                                  sd=sd, p=p, gap=gap,
                                  same_sign=all((y - x) < 0 for x, y in zip(xs, ys)) or
                                  all((y - x) > 0 for x, y in zip(xs, ys))))
    # Holm over each comparison's family (3 textures × 3 judges)
    for a, b in comps:
        fam = [t for t in tests if t["a"] == a and t["b"] == b]
        for t, q in zip(fam, holm([t["p"] for t in fam])):
            t["p_holm"] = q
    return tests


def claim(tests, textures, swag_cells, resnet):
    """Per SWAG cell and texture: (texture, form, judges, judges where SWAG beats the ResNet cell
    beyond the seed spread, of those the ones with ≥ half the gap to VGG closed)."""
    verdict = []
    for cell, form in swag_cells:
        for tex in textures:
            sw = [t for t in tests if t["a"] == cell and t["b"] == resnet and t["tex"] == tex]
            if not sw:
                continue
            wins = [t for t in sw if t["m"] < 0 and t["p_holm"] < 0.05]
            half = [t for t in wins if t["gap"] >= 0.5]
            verdict.append((tex, form, len(sw), len(wins), len(half)))
    return verdict


def texture_report(rows, runs, figures, lines):
    by = {}
    for r in rows:
        by.setdefault((r["texture"], r["network"]), {})[int(r["seed"])] = r
    textures = [t for t in TEXTURES if any(k[0] == t for k in by)]
    nets = [n for n in NETWORKS if any(k[1] == n[0] for k in by)]
    seeds_all = sorted({int(r["seed"]) for r in rows})
    lines.append("Mean ± sd over seeds (Gram distance as log10; lower is closer to the target):\n")
    lines.append("| texture | network | seeds | log10 Gram distance | spectrum distance | gray W1 | s / run |")
    lines.append("|---|---|---|---|---|---|---|")
    for tex in textures:
        for name, label, _ in nets:
            d = by.get((tex, name), {})
            if not d:
                continue
            cells = []
            for key, _, log in JUDGES:
                v = [judge_value(d[s], key, log) for s in sorted(d)]
                m = sum(v) / len(v)
                sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else float("nan")
                cells.append("%.3f ± %.3f" % (m, sd))
            sec = sum(float(d[s]["seconds"]) for s in d) / len(d)
            lines.append("| %s | %s | %s | %s | %.0f |" % (tex, label, ",".join(str(s) for s in sorted(d)),
                                                          " | ".join(cells), sec))
    # the claim: resnet_swag against resnet, paired by seed; gap to vgg
    comps = [("resnet_swag", "resnet"), ("resnet_swag_channels", "resnet"),
             ("resnet_swag_scale", "resnet"), ("resnet_shallow", "resnet"),
             ("resnet_swag", "resnet_shallow"), ("noskip", "resnet"), ("vgg", "resnet")]
    tests = paired_comparisons(by, textures, comps)
    names = {n[0]: n[1] for n in NETWORKS}
    lines.append("\nPaired by seed (the same network seed and noise), difference = first − second "
                 "(negative: the first is closer to the target); p: paired t-test, two-sided, "
                 "Holm-corrected over the comparison's 9 tests (3 textures × 3 judges); gap closed: "
                 "(ResNet − X) / (ResNet − VGG) of the seed means:\n")
    lines.append("| comparison | texture | judge | n | mean diff ± sd | all seeds agree | p (Holm) | gap to VGG closed |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for t in tests:
        lines.append("| %s − %s | %s | %s | %d | %.3f ± %.3f | %s | %.3g | %s |" % (
            names[t["a"]], names[t["b"]], t["tex"], t["label"], t["n"], t["m"], t["sd"],
            "yes" if t["same_sign"] else "no", t["p_holm"],
            "" if math.isnan(t["gap"]) else "%.2f" % t["gap"]))
    verdict = claim(tests, textures, SWAG_CELLS, "resnet")
    lines.append("\nThe claim, per texture and SWAG form (SWAG beats ResNet on a judge: mean "
                 "difference < 0 with Holm p < 0.05; and closes ≥ half the gap to VGG):\n")
    lines.append("| texture | SWAG form | judges | SWAG better beyond seed spread | of those, ≥ half the gap closed |")
    lines.append("|---|---|---|---|---|")
    for tex, form, n, w, h in verdict:
        lines.append("| %s | %s | %d | %d | %d |" % (tex, form, n, w, h))
    return tests, verdict, seeds_all


def cell_label(network):
    name, kind = split_cell(network)
    label = {n[0]: n[1] for n in NETWORKS}[name]
    return label if kind == "random_imagenet_stem" else "%s (%s)" % (label, KIND_LABELS[kind])


def mean_sd(v):
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else float("nan")
    return "%.3f ± %.3f" % (m, sd)


def trained_report(rows, lines):
    """The trained cells beside their random counterparts with the same input (cifar stem, gray):
    the judges' means, trained − random per architecture, and within each kind SWAG, no-skip and
    VGG against ResNet (gap to the kind's VGG), paired by seed."""
    by = {}
    for r in rows:
        by.setdefault((r["texture"], r["network"]), {})[int(r["seed"])] = r
    textures = [t for t in TEXTURES if any(k[0] == t for k in by)]
    lines.append("\nTrained and random at the same input (cifar stem, gray, 1 channel): mean ± sd "
                 "over seeds (Gram distance as log10; lower is closer). A trained network is one "
                 "network for every seed (the seed draws only the start image); a random one is "
                 "drawn from the seed:\n")
    lines.append("| texture | network | kind | seeds | log10 Gram distance | spectrum distance | gray W1 | s / run |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for tex in textures:
        for name, _ in TRAINED_CELLS:
            for kind in ("random_cifar_stem", "trained"):
                d = by.get((tex, cell_name(name, kind)), {})
                if not d:
                    continue
                lines.append("| %s | %s | %s | %s | %s | %.0f |" % (
                    tex, {n[0]: n[1] for n in NETWORKS}[name], kind,
                    ",".join(str(x) for x in sorted(d)),
                    " | ".join(mean_sd([judge_value(d[x], key, log) for x in sorted(d)])
                               for key, _, log in JUDGES),
                    sum(float(d[x]["seconds"]) for x in d) / len(d)))
    comps = [(cell_name(n, "trained"), cell_name(n, "random_cifar_stem")) for n, _ in TRAINED_CELLS]
    for kind in ("random_cifar_stem", "trained"):
        comps += [(cell_name(n, kind), cell_name("resnet", kind))
                  for n in ("resnet_swag", "noskip", "vgg", "resnet_shallow")]
        # the control: is SWAG more than dropping the deep taps (as at the ImageNet stem)?
        comps.append((cell_name("resnet_swag", kind), cell_name("resnet_shallow", kind)))
    comps = [c for c in comps if any(k[1] == c[0] for k in by) and any(k[1] == c[1] for k in by)]
    tests = paired_comparisons(by, textures, comps)
    lines.append("\nPaired by seed (the same start image; random: the same network seed), "
                 "difference = first − second (negative: the first is closer to the target); p: "
                 "paired t-test, two-sided, Holm-corrected over each comparison's textures × "
                 "judges; gap closed: (ResNet − X) / (ResNet − VGG) of the seed means, within the "
                 "kind:\n")
    lines.append("| comparison | texture | judge | n | mean diff ± sd | all seeds agree | p (Holm) | gap to VGG closed |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for t in tests:
        lines.append("| %s − %s | %s | %s | %d | %.3f ± %.3f | %s | %.3g | %s |" % (
            cell_label(t["a"]), cell_label(t["b"]), t["tex"], t["label"], t["n"], t["m"], t["sd"],
            "yes" if t["same_sign"] else "no", t["p_holm"],
            "" if math.isnan(t["gap"]) else "%.2f" % t["gap"]))
    lines.append("\nThe claim at the gray cifar-stem input, per kind (ResNet-18 + SWAG softmax_all "
                 "beats ResNet-18 on a judge: mean difference < 0 with Holm p < 0.05; and closes ≥ "
                 "half the gap to the kind's VGG):\n")
    lines.append("| texture | kind | judges | SWAG better beyond seed spread | of those, ≥ half the gap closed |")
    lines.append("|---|---|---|---|---|")
    for kind in ("random_cifar_stem", "trained"):
        for tex, _, n, w, h in claim(tests, textures, [(cell_name("resnet_swag", kind), kind)],
                                     cell_name("resnet", kind)):
            lines.append("| %s | %s | %d | %d | %d |" % (tex, kind, n, w, h))
    return tests


def target_image(images, tex):
    """The texture as the runs' target: gray, averaged to 128x128."""
    import matplotlib.image as mpimg
    im = mpimg.imread("%s/%s.png" % (images, tex))
    if im.ndim == 3:
        im = im[..., :3].mean(axis=2)
    k = im.shape[0] // 128
    if k < 1:
        return im
    return im[:k * 128, :k * 128].reshape(128, k, 128, k).mean(axis=(1, 3))


def trained_grid(runs, figures, rows, seed, images):
    """Rows: the target, VGG-19, ResNet-18, ResNet-18 + SWAG, no-skip ResNet-18; per texture two
    columns: random (cifar stem, gray) and trained; the runs of one seed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.image as mpimg
    textures = [t for t in TEXTURES if any(r["texture"] == t for r in rows)]
    kinds = ("random_cifar_stem", "trained")
    names = {n[0]: n[1] for n in NETWORKS}
    nrows, cols = 1 + len(TRAINED_CELLS), 2 * len(textures)
    fig, axes = plt.subplots(nrows, cols, figsize=(1.3 * cols, 1.4 * nrows), squeeze=False)
    for t, tex in enumerate(textures):
        for k, kind in enumerate(kinds):
            j = 2 * t + k
            cells = [("target", target_image(images, tex) if k == 0 else None)]
            for name, _ in TRAINED_CELLS:
                p = os.path.join(runs, tex, cell_name(name, kind), "seed-%d" % seed, "style.png")
                cells.append((names[name], mpimg.imread(p) if os.path.exists(p) else None))
            for i, (label, im) in enumerate(cells):
                ax = axes[i][j]
                ax.set_xticks([])
                ax.set_yticks([])
                if im is not None:
                    ax.imshow(im, cmap="gray", vmin=0, vmax=1)
                elif i == 0:
                    ax.axis("off")
                if i == 0 and k == 0:
                    ax.set_title("%s: target" % tex, fontsize=6)
                if i == 1:
                    ax.set_title(KIND_LABELS[kind].replace(", ", ",\n", 1), fontsize=5)
                if j == 0:
                    ax.set_ylabel(label.replace(" + ", "\n+ "), fontsize=6)
    fig.suptitle("seed %d" % seed, fontsize=6)
    fig.tight_layout(pad=0.3)
    path = os.path.join(figures, "style-textures-trained.png")
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path


def grid(runs, figures, rows, seed):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.image as mpimg
    nets = [n for n in NETWORKS if any(r["network"] == n[0] for r in rows)]
    textures = [t for t in TEXTURES if any(r["texture"] == t for r in rows)]
    cols = 1 + len(nets)
    fig, axes = plt.subplots(len(textures), cols, figsize=(1.45 * cols, 1.55 * len(textures)),
                             squeeze=False)
    for i, tex in enumerate(textures):
        cells = [("target", target_image(SKIMAGE, tex))]
        for name, label, _ in nets:
            p = os.path.join(runs, tex, name, "seed-%d" % seed, "style.png")
            cells.append((label, mpimg.imread(p) if os.path.exists(p) else None))
        for j, (label, c) in enumerate(cells):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if c is not None:
                ax.imshow(c if c.ndim == 3 else c, cmap="gray", vmin=0, vmax=1)
            if i == 0:
                ax.set_title(label.replace(", ", ",\n").replace(" + ", "\n+ "), fontsize=6)
            if j == 0:
                ax.set_ylabel(tex, fontsize=7)
    fig.tight_layout(pad=0.3)
    path = os.path.join(figures, "style-textures-random.png")
    fig.savefig(path, dpi=55)
    plt.close(fig)
    return path


def mechanism_plot(stats_rows, figures):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    kinds = [k for k in ("random_imagenet_stem", "random_cifar_stem", "trained")
             if any(r["kind"] == k for r in stats_rows)]
    titles = {"random_imagenet_stem": "random (ImageNet stem, RGB)",
              "random_cifar_stem": "random (cifar stem, gray)",
              "trained": "trained on Fashion-MNIST (cifar stem, gray)"}
    panels = [("max", "none", "largest activation", True),
              ("entropy_ratio", "none", "entropy / ln(CHW), no SWAG", False),
              ("entropy_ratio", "softmax_all", "entropy / ln(CHW), SWAG softmax_all", False),
              ("gram_entropy_ratio", "none", "Gram entropy / ln(C²), no SWAG", False)]
    colors = {"resnet": "C3", "noskip": "C0", "vgg": "C2"}
    labels = {a: l for a, l, _, _ in STATS_ARCH}
    fig, axes = plt.subplots(len(panels), len(kinds), figsize=(3.2 * len(kinds), 2.0 * len(panels)),
                             squeeze=False)
    summary = {}
    for j, kind in enumerate(kinds):
        for i, (key, form, ylabel, logy) in enumerate(panels):
            ax = axes[i][j]
            for arch in ("resnet", "noskip", "vgg"):
                pts = {}
                for r in stats_rows:
                    if r["kind"] == kind and r["arch"] == arch and r["form"] == form:
                        pts.setdefault(int(r["depth"]), []).append(float(r[key]))
                if not pts:
                    continue
                xs = sorted(pts)
                mean = [sum(pts[x]) / len(pts[x]) for x in xs]
                lo = [min(pts[x]) for x in xs]
                hi = [max(pts[x]) for x in xs]
                ax.plot(xs, mean, "o-", ms=2.5, lw=1, color=colors[arch], label=labels[arch])
                ax.fill_between(xs, lo, hi, color=colors[arch], alpha=0.15, lw=0)
                summary[(kind, arch, key, form)] = (xs, mean)
            for arch in ("resnet", "noskip", "vgg"):  # the table's extra column, not drawn
                pts = {}
                for r in stats_rows:
                    if r["kind"] == kind and r["arch"] == arch and r["form"] == "softmax_channels":
                        pts.setdefault(int(r["depth"]), []).append(float(r["entropy_ratio"]))
                xs = sorted(pts)
                summary[(kind, arch, "entropy_ratio", "softmax_channels")] = (
                    xs, [sum(pts[x]) / len(pts[x]) for x in xs] or [float("nan")])
            if logy:
                ax.set_yscale("log")
            ax.tick_params(labelsize=6)
            if i == 0:
                ax.set_title(titles[kind], fontsize=7)
            if j == 0:
                ax.set_ylabel(ylabel, fontsize=6)
            if i == len(panels) - 1:
                ax.set_xlabel("convolutions up to the tap", fontsize=6)
            if i == 0 and j == 0:
                ax.legend(fontsize=6)
    fig.tight_layout(pad=0.4)
    path = os.path.join(figures, "style-mechanism.png")
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path, summary


# ---- the transfer report -------------------------------------------------------------------

def interp(x, xs, ys):
    """Piecewise-linear y at x through the points (xs, ys), sorted by xs; None outside them."""
    pts = sorted(zip(xs, ys))
    if not pts or x < pts[0][0] or x > pts[-1][0]:
        return None
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return pts[0][1]


def matched_content(rows, nets):
    """Per (pair, seed): the common content level, the midpoint of the overlap of the networks'
    log10 judge content distances over the style weights, and each network's judges interpolated
    there (log10 Gram distance, spectrum, W1) along its curve. {(pair, seed): (level, {net:
    {key: value}})}; level None when the ranges do not overlap (or a network has < 2 weights)."""
    by = {}
    for r in rows:
        by.setdefault(((r["content"], r["style"]), int(r["seed"])), {}).setdefault(
            r["network"], []).append(r)
    out = {}
    for key, d in sorted(by.items()):
        if any(n not in d or len(d[n]) < 2 for n in nets):
            out[key] = (None, {})
            continue
        xs = {n: [math.log10(float(r["content_distance"])) for r in d[n]] for n in nets}
        lo, hi = max(min(v) for v in xs.values()), min(max(v) for v in xs.values())
        if lo > hi:
            out[key] = (None, {})
            continue
        level = (lo + hi) / 2
        vals = {n: {k: interp(level, xs[n], [judge_value(r, k, log) for r in d[n]])
                    for k, _, log in JUDGES} for n in nets}
        out[key] = (level, vals)
    return out


def ranges(rows, pr, seed, nets):
    """Each network's judge content distances (min to max over the style weights) for a pair and
    seed, as text."""
    out = []
    for n in nets:
        v = [float(r["content_distance"]) for r in rows if r["network"] == n and
             int(r["seed"]) == seed and (r["content"], r["style"]) == pr]
        out.append((n, "%.3g to %.3g" % (min(v), max(v)) if v else "no runs"))
    return out


def left_out(rows, runs):
    """The runs the curves cannot use, with the reason: an image the optimizer did not change
    (judge content distance 0: no point in log space) and, where the runs' directory is given, a
    run whose loss ended above its start (L-BFGS without a line search, as the reference runs
    it, diverged). Returns (kept rows, [(row, reason)])."""
    kept, out = [], []
    for r in rows:
        if float(r["content_distance"]) <= 0:
            out.append((r, "unchanged: judge content distance 0"))
            continue
        path = os.path.join(runs, "%s-%s" % (r["content"], r["style"]), r["network"],
                            "w" + r["style_weight"], "seed-%s" % r["seed"], "style.json") if runs else ""
        if path and os.path.exists(path):
            j = json.load(open(path))
            if j["loss"] > j["loss_start"]:
                out.append((r, "diverged: loss %.3g from %.3g" % (j["loss"], j["loss_start"])))
                continue
        kept.append(r)
    return kept, out


def transfer_report(rows, runs, figures, lines, grid_weight):
    names = {n[0]: n[1] for n in TRANSFER_NETWORKS}
    rows, dropped = left_out(rows, runs)
    if dropped:
        lines.append("Left out of the tables and curves:\n")
        lines.append("| content | style | network | style weight | seed | why |")
        lines.append("|---|---|---|---|---|---|")
        for r, why in dropped:
            lines.append("| %s | %s | %s | %s | %s | %s |" % (r["content"], r["style"],
                         names.get(r["network"], r["network"]), r["style_weight"], r["seed"], why))
        lines.append("")
    nets = [n[0] for n in TRANSFER_NETWORKS if any(r["network"] == n[0] for r in rows)]
    pairs = sorted({(r["content"], r["style"]) for r in rows})
    lines.append("Style transfer, mean ± sd over seeds (judge content distance and Gram distance "
                 "as log10; lower is closer):\n")
    lines.append("| content | style | network | style weight | seeds | log10 content distance | "
                 "log10 Gram distance | spectrum distance | gray W1 | s / run |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for c, st in pairs:
        for n in nets:
            ws = sorted({float(r["style_weight"]) for r in rows if r["network"] == n and
                         (r["content"], r["style"]) == (c, st)})
            for w in ws:
                d = [r for r in rows if r["network"] == n and (r["content"], r["style"]) == (c, st)
                     and float(r["style_weight"]) == w]
                cells = []
                for key, log in [("content_distance", True)] + [(k, lg) for k, _, lg in JUDGES]:
                    v = [judge_value(r, key, log) for r in d]
                    m = sum(v) / len(v)
                    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else float("nan")
                    cells.append("%.3f ± %.3f" % (m, sd))
                lines.append("| %s | %s | %s | %g | %s | %s | %.0f |" % (
                    c, st, names[n], w, ",".join(sorted(r["seed"] for r in d)), " | ".join(cells),
                    sum(float(r["seconds"]) for r in d) / len(d)))
    # each network against ResNet at their own common level (a network whose range does not
    # meet ResNet's is reported as such); the gap to VGG where all three ranges meet
    tests, table = [], []
    for a in [n for n in nets if n != "resnet"]:
        if "resnet" not in nets:
            break
        mc = matched_content(rows, ["resnet", a])
        mc3 = matched_content(rows, ["resnet", a, "vgg"]) if a != "vgg" and "vgg" in nets else {}
        fam = []
        for pr in pairs:
            seeds = sorted(s for (p2, s) in mc if p2 == pr)
            common = [s for s in seeds if mc[(pr, s)][0] is not None]
            for s in seeds:
                level, vals = mc[(pr, s)]
                table.append((a, pr, s, level, vals, ranges(rows, pr, s, ["resnet", a])))
            for key, label, _ in JUDGES:
                if not common:
                    continue
                xs = [mc[(pr, s)][1]["resnet"][key] for s in common]
                ys = [mc[(pr, s)][1][a][key] for s in common]
                m, sd, p = paired(xs, ys)
                gap = float("nan")
                c3 = [s for s in common if mc3.get((pr, s), (None,))[0] is not None]
                if c3 and len(c3) == len(common):
                    v3 = [mc3[(pr, s)][1] for s in c3]
                    base = sum(v["resnet"][key] for v in v3) / len(v3)
                    got = sum(v[a][key] for v in v3) / len(v3)
                    vg = sum(v["vgg"][key] for v in v3) / len(v3)
                    gap = (base - got) / (base - vg) if base != vg else float("nan")
                fam.append(dict(a=a, pr=pr, label=label, n=len(common), m=m, sd=sd, p=p, gap=gap))
        ok = [t for t in fam if not math.isnan(t["p"])]
        for t, q in zip(ok, holm([t["p"] for t in ok])):
            t["p_holm"] = q
        tests += fam
    lines.append("\nAt matched content: per pair and seed, ResNet-18's and the other network's "
                 "judges interpolated (linearly in log10 judge content distance, along each one's "
                 "style-weight curve) at the midpoint of the content range both reach; ResNet-18 → "
                 "the other:\n")
    lines.append("| network | content | style | seed | log10 content level | log10 Gram distance | "
                 "spectrum distance | gray W1 |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for a, pr, s, level, vals, rg in table:
        if any(r == "no runs" for _, r in rg):
            continue
        if level is None:
            lines.append("| %s | %s | %s | %d | no common level (%s) | | | |" % (
                names[a], pr[0], pr[1], s, "; ".join("%s %s" % (names[n], r) for n, r in rg)))
            continue
        lines.append("| %s | %s | %s | %d | %.3f | %s |" % (
            names[a], pr[0], pr[1], s, level, " | ".join(
                "%.3f → %.3f" % (vals["resnet"][k], vals[a][k]) for k, _, _ in JUDGES)))
    lines.append("\nPaired by seed at matched content, difference = network − ResNet-18 (negative: "
                 "closer to the style); p: paired t-test, Holm-corrected over the comparison's "
                 "pairs × 3 judges (blank with one seed); gap closed: (ResNet − X) / (ResNet − VGG) "
                 "where the three ranges meet:\n")
    lines.append("| comparison | content | style | judge | n | mean diff ± sd | p (Holm) | gap to VGG closed |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for t in tests:
        lines.append("| %s − ResNet-18 | %s | %s | %s | %d | %.3f ± %.3f | %s | %s |" % (
            names[t["a"]], t["pr"][0], t["pr"][1], t["label"], t["n"], t["m"], t["sd"],
            "%.3g" % t["p_holm"] if "p_holm" in t else "",
            "" if math.isnan(t["gap"]) else "%.2f" % t["gap"]))
    if figures:
        lines.append("\nCurves: " + transfer_curves(rows, figures, nets, names, pairs))
        if runs:
            lines.append("\nGrid: " + transfer_grid(runs, figures, rows, nets, names, pairs,
                                                    grid_weight))
    return tests


def transfer_curves(rows, figures, nets, names, pairs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colors = {"vgg": "C2", "resnet": "C3", "resnet_swag": "C1", "noskip": "C0", "resnet_swag_cw": "C4"}
    fig, axes = plt.subplots(len(pairs), len(JUDGES), figsize=(3.0 * len(JUDGES), 2.2 * len(pairs)),
                             squeeze=False)
    for i, pr in enumerate(pairs):
        for j, (key, label, log) in enumerate(JUDGES):
            ax = axes[i][j]
            for n in nets:
                for seed in sorted({int(r["seed"]) for r in rows}):
                    d = sorted((float(r["content_distance"]), judge_value(r, key, log))
                               for r in rows if r["network"] == n and int(r["seed"]) == seed
                               and (r["content"], r["style"]) == pr)
                    if d:
                        ax.plot([x for x, _ in d], [y for _, y in d], "o-", ms=3, lw=1,
                                color=colors.get(n, "k"), alpha=1.0 if seed == 1 else 0.5,
                                label=names[n] if seed == 1 else None)
            ax.set_xscale("log")
            ax.tick_params(labelsize=6)
            ax.set_title("%s + %s" % pr, fontsize=7)
            ax.set_xlabel("judge content distance", fontsize=6)
            ax.set_ylabel(("log10 " if log else "") + label, fontsize=6)
            if i == 0 and j == 0:
                ax.legend(fontsize=5)
    fig.tight_layout(pad=0.4)
    path = os.path.join(figures, "style-transfer-curves.png")
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path


def transfer_grid(runs, figures, rows, nets, names, pairs, weight):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.image as mpimg
    seed = min(int(r["seed"]) for r in rows)
    order = [n for n in ("vgg", "resnet", "resnet_swag", "noskip", "resnet_swag_cw") if n in nets]
    cols = 2 + len(order)
    fig, axes = plt.subplots(len(pairs), cols, figsize=(1.45 * cols, 1.55 * len(pairs)), squeeze=False)
    for i, (c, st) in enumerate(pairs):
        cp = os.path.join(runs, "content", "%s-%d.png" % (c, SIZE))
        content = mpimg.imread(cp)[::DOWNSAMPLE, ::DOWNSAMPLE] if os.path.exists(cp) else None
        style = mpimg.imread("%s/%s.png" % (SKIMAGE, st))
        if style.ndim == 3:
            style = style[..., :3].mean(axis=2)
        k = style.shape[0] // SIZE
        style = block_mean(style[..., None], k)[..., 0]
        cells = [("content", content), ("style", style)]
        here = [r for r in rows if (r["content"], r["style"]) == (c, st) and int(r["seed"]) == seed]
        logs = sorted(math.log10(float(r["content_distance"])) for r in here)
        mid = logs[len(logs) // 2] if logs else 0.0
        for n in order:
            mine = [r for r in here if r["network"] == n]
            if weight > 0:
                mine = [r for r in mine if float(r["style_weight"]) == weight]
            # the run nearest the pair's median content distance: about matched content
            best = min(mine, key=lambda r: abs(math.log10(float(r["content_distance"])) - mid),
                       default=None)
            p = os.path.join(runs, "%s-%s" % (c, st), n, "w%s" % best["style_weight"],
                             "seed-%d" % seed, "style.png") if best else ""
            label = names[n] + ("\nw %s, content %.2g" % (best["style_weight"],
                                float(best["content_distance"])) if best else "")
            cells.append((label, mpimg.imread(p) if p and os.path.exists(p) else None))
        for j, (label, im) in enumerate(cells):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if im is not None:
                ax.imshow(im, cmap="gray", vmin=0, vmax=1)
            ax.set_title(label.replace(" + ", "\n+ ").replace(", content w", "\ncontent w"),
                         fontsize=5)
            if j == 0:
                ax.set_ylabel("%s + %s" % (c, st), fontsize=6)
    fig.suptitle("seed %d; %s" % (seed, "style weight %g" % weight if weight > 0 else
                 "each network's run nearest the pair's median judge content distance"), fontsize=6)
    fig.tight_layout(pad=0.3)
    path = os.path.join(figures, "style-transfer-random.png")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def cmd_report(a):
    lines = []
    if a.textures and os.path.exists(a.textures):
        rows = list(csv.DictReader(open(a.textures)))
        # the ImageNet-stem random cells (the names of the first study), then the trained ones
        # beside their cifar-stem random counterparts
        other = [r for r in rows if split_cell(r["network"])[1] != "random_imagenet_stem"]
        rows = [r for r in rows if split_cell(r["network"])[1] == "random_imagenet_stem"]
        if rows:
            tests, verdict, seeds = texture_report(rows, a.runs, a.figures, lines)
            if a.runs:
                lines.append("\nGrid: " + grid(a.runs, a.figures, rows, min(seeds)))
        if other:
            trained_report(other, lines)
            if a.runs:
                lines.append("\nGrid, random and trained: " + trained_grid(
                    a.runs, a.figures, other, min(int(r["seed"]) for r in other), a.images))
    if a.transfer and os.path.exists(a.transfer):
        trows = list(csv.DictReader(open(a.transfer)))
        transfer_report(trows, a.transfer_runs, a.figures, lines, a.grid_weight)
    if a.stats and os.path.exists(a.stats):
        srows = list(csv.DictReader(open(a.stats)))
        path, summary = mechanism_plot(srows, a.figures)
        lines.append("\nMechanism plot: " + path + "\n")
        lines.append("Across depth (first → last tap, mean over seeds and textures):\n")
        lines.append("| networks | architecture | max, first → last | entropy ratio, first → last | "
                     "entropy ratio with softmax_all, first → last | with softmax_channels | "
                     "Gram entropy ratio, first → last |")
        lines.append("|---|---|---|---|---|---|---|")
        for kind in ("random_imagenet_stem", "random_cifar_stem", "trained"):
            for arch, label, _, _ in STATS_ARCH:
                k = (kind, arch, "max", "none")
                if k not in summary:
                    continue
                def fl(key, form, fmt):
                    xs, m = summary[(kind, arch, key, form)]
                    return (fmt + " → " + fmt) % (m[0], m[-1])
                lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                    kind, label, fl("max", "none", "%.3g"), fl("entropy_ratio", "none", "%.3f"),
                    fl("entropy_ratio", "softmax_all", "%.4f"),
                    fl("entropy_ratio", "softmax_channels", "%.4f"),
                    fl("gram_entropy_ratio", "none", "%.3f")))
    text = "\n".join(lines) + "\n"
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)
    print(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("textures")
    t.add_argument("--pipeline", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--evaluations", type=int, default=250)
    t.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    t.add_argument("--textures", nargs="+", default=TEXTURES)
    t.add_argument("--networks", nargs="+", default=[n[0] for n in NETWORKS])
    t.add_argument("--checkpoints", default="",
                   help="the folder of the Fashion-MNIST checkpoints (CKPT): run the trained cells "
                        "and their random cifar-stem counterparts as well")
    t.add_argument("--kinds", nargs="+", choices=KINDS,
                   help="the kinds of cell to run (default: all with --checkpoints, else "
                        "random_imagenet_stem; the others need --checkpoints)")
    t.add_argument("--images", default=SKIMAGE, help="the folder of the textures")
    t.add_argument("--nice", type=int, default=10, help="the runs' niceness (default 10)")
    t.add_argument("--record", required=True)
    s = sub.add_parser("stats")
    s.add_argument("--pipeline", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    s.add_argument("--textures", nargs="+", default=TEXTURES)
    s.add_argument("--checkpoints", default="")
    s.add_argument("--record", required=True)
    r = sub.add_parser("report")
    r.add_argument("--textures", default="")
    r.add_argument("--runs", default="")
    r.add_argument("--stats", default="")
    r.add_argument("--figures", default="docs/figures")
    r.add_argument("--markdown", default="")
    r.add_argument("--images", default=SKIMAGE, help="the folder of the textures (the grids' targets)")
    r.add_argument("--transfer", default="", help="the transfer record")
    r.add_argument("--transfer-runs", default="", help="the transfer runs' --out (the grid)")
    r.add_argument("--grid-weight", type=float, default=0,
                   help="the transfer grid's style weight (0: each network's run nearest the "
                        "median content distance)")
    x = sub.add_parser("transfer")
    x.add_argument("--pipeline", required=True)
    x.add_argument("--out", required=True)
    x.add_argument("--evaluations", type=int, default=100)
    x.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    x.add_argument("--pairs", type=pair, nargs="+",
                   default=[("chelsea", "brick"), ("coffee", "gravel"), ("chelsea", "gravel"),
                            ("coffee", "brick")], help="CONTENT:STYLE, e.g. chelsea:brick")
    x.add_argument("--networks", nargs="+", default=[n[0] for n in TRANSFER_NETWORKS])
    x.add_argument("--weights", type=float, nargs="+", default=[1e4, 1e6, 1e8])
    x.add_argument("--images", default=SKIMAGE, help="the folder of the photos and textures")
    x.add_argument("--record", required=True)
    a = p.parse_args()
    {"textures": cmd_textures, "stats": cmd_stats, "report": cmd_report,
     "transfer": cmd_transfer}[a.cmd](a)


if __name__ == "__main__":
    main()
