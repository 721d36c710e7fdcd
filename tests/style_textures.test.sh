#!/bin/sh
# scripts/style_study.py textures --checkpoints: the trained cells (VGG-19, ResNet-18, ResNet-18 +
# SWAG, no-skip ResNet-18 through their Fashion-MNIST checkpoints) and the same networks random
# with the checkpoints' input (cifar stem, gray), beside the unchanged ImageNet-stem cells; a
# checkpoints folder without a checkpoint is named with the fix; a real tiny trained cell runs
# through its checkpoint; the report's trained-vs-random tables and grid.
set -u
. tests/lib.sh

# ---- the cells' commands, against a stand-in driver (tests/style_study.test.sh's) ----
mkdir -p "$TMP/img" "$TMP/cks/style-fmnist-resnet18" "$TMP/cks/style-fmnist-noskip" "$TMP/cks/style-fmnist-vgg19"
for d in resnet18 noskip vgg19; do : > "$TMP/cks/style-fmnist-$d/last.h5"; done
cat > "$TMP/fake-pipeline" <<'PYEOF'
#!/usr/bin/python3
import json, os, sys
a = sys.argv[1:]
sets = [a[i + 1] for i, x in enumerate(a) if x == "--set"]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps({"cmd": a[0], "operands": a[1:3], "sets": sets}) + "\n")
if a[0] == "style":
    out = a[a.index("--out") + 1]
    open(os.path.join(out, "style.png"), "w").write("png")
    json.dump({"evaluations": 5, "iterations": 4, "converged": False, "loss": 3.0},
              open(os.path.join(out, "style.json"), "w"))
else:
    print(json.dumps({"gram_distance": 1e-5, "spectrum_distance": 0.5, "w1_gray": 0.1}))
PYEOF
chmod +x "$TMP/fake-pipeline"
textures() { # RECORD LOG [ARGS...]
    rec=$1 log=$2
    shift 2
    FAKE_LOG="$TMP/$log" "$PY" scripts/style_study.py textures --pipeline "$TMP/fake-pipeline" \
        --out "$TMP/fo" --evaluations 5 --seeds 1 --textures brick --images "$TMP/img" --nice 0 \
        --record "$TMP/$rec" "$@" > "$TMP/fo.log" 2>&1
}
textures old.csv old.log || not_ok "textures without --checkpoints: $(tail -n 1 "$TMP/fo.log")"
textures new.csv new.log --checkpoints "$TMP/cks" || not_ok "textures --checkpoints: $(tail -n 1 "$TMP/fo.log")"
r=$("$PY" - "$TMP" <<'PYEOF' 2>&1 || echo "the check failed"
import csv, json, sys
d = sys.argv[1]
bad = []
old = list(csv.DictReader(open(d + "/old.csv")))
new = list(csv.DictReader(open(d + "/new.csv")))
bare = ["vgg", "resnet", "resnet_swag", "noskip", "resnet_swag_channels", "resnet_swag_scale",
        "resnet_shallow"]
if [r["network"] for r in old] != bare: bad.append("without --checkpoints: %s" % [r["network"] for r in old])
four = ["vgg", "resnet", "resnet_swag", "noskip", "resnet_shallow"]
want = bare + [n + "/random_cifar_stem" for n in four] + [n + "/trained" for n in four]
if [r["network"] for r in new] != want: bad.append("with --checkpoints: %s" % [r["network"] for r in new])
# the ImageNet-stem cells: the same command and row as before the trained cells existed
img = d + "/img/brick.png"
cmd = ('style configs/style-texture.ini --out %s/fo/brick/resnet/seed-1 --set style.style_image="%s" '
       "--set run.threads=1 --set run.seed=1 --set style.seed=1 --set style.evaluations=5 "
       "--set style.log_every=50 ; style-judge (default judge seed 1000)" % (d, img))
if new[1]["command"] != cmd: bad.append("resnet's command %s" % new[1]["command"])
keep = [k for k in old[0] if k not in ("seconds", "utc_start", "utc_end")]
if [[r[k] for k in keep] for r in old] != [[r[k] for k in keep] for r in new[:7]]: bad.append("old rows changed")
calls = [json.loads(l) for l in open(d + "/new.log")]
style = [c for c in calls if c["cmd"] == "style"]
judge = [c for c in calls if c["cmd"] == "style-judge"]
by = dict(zip(want, style))
ck = {"vgg": "vgg19", "resnet": "resnet18", "resnet_swag": "resnet18", "noskip": "noskip",
      "resnet_shallow": "resnet18"}
for n in four:
    t, rnd = by[n + "/trained"]["sets"], by[n + "/random_cifar_stem"]["sets"]
    if 'style.checkpoint="%s/cks/style-fmnist-%s/last.h5"' % (d, ck[n]) not in t or "style.normalize=data" not in t:
        bad.append("%s trained: %s" % (n, t))
    if any(v.startswith("run.seed=") or v.startswith("style.channels=") for v in t): bad.append("%s trained keys %s" % (n, t))
    if "style.channels=1" not in rnd or "run.seed=1" not in rnd or ("model.stem=cifar" in rnd) == (n == "vgg"):
        bad.append("%s random cifar stem: %s" % (n, rnd))
    if any(v.startswith("style.checkpoint") for v in rnd): bad.append("%s random has a checkpoint" % n)
    # the cell's own keys (taps, SWAG, skips) in both kinds
    mine = [v for v in by[n]["sets"] if v.startswith("model.") or v.startswith("style.s")]
    if not all(v in t and v in rnd for v in mine): bad.append("%s keys %s" % (n, mine))
if "style.swag=softmax_all" not in by["resnet_swag/trained"]["sets"]: bad.append("no SWAG in the trained SWAG cell")
# one judge for every kind: the same keys (the random VGG-19 on the config's RGB input)
if len(judge) != len(want) or any(j["sets"] != judge[0]["sets"] for j in judge) or \
        any("channels" in v or "checkpoint" in v for v in judge[0]["sets"]):
    bad.append("judges differ: %s" % [j["sets"] for j in judge])
notes = {r["network"]: r["command"] for r in new}
if not notes["resnet/trained"].endswith("trained: the same network for every seed, the seed draws only the start image"):
    bad.append("trained note: %s" % notes["resnet/trained"])
if not notes["vgg/random_cifar_stem"].endswith("random_cifar_stem: network seed 1"): bad.append("random note")
print("; ".join(bad))
PYEOF
)
check "--checkpoints: trained and random cifar-stem cells named NETWORK/KIND beside the unchanged ImageNet-stem cells" "$r"
n=$(lines "$TMP/new.log")
textures new.csv new.log --checkpoints "$TMP/cks" || not_ok "textures again: $(tail -n 1 "$TMP/fo.log")"
textures new.csv new.log --checkpoints "$TMP/cks" --seeds 2 --kinds trained --networks resnet_swag ||
    not_ok "textures --kinds: $(tail -n 1 "$TMP/fo.log")"
r=""; [ "$(lines "$TMP/new.log")" = $((n + 2)) ] || r="$(( $(lines "$TMP/new.log") - n )) calls, not 2"
tail -n 1 "$TMP/new.csv" | grep -q "^brick,resnet_swag/trained,2," || r="$r; last row $(tail -n 1 "$TMP/new.csv" | cut -c1-40)"
check "a recorded cell is not run again; --kinds and --networks choose the cells" "$r"

rm "$TMP/cks/style-fmnist-vgg19/last.h5"
ERROR_STATUS=2 one_line_error "a checkpoints folder without a network's checkpoint: the path and the fix" \
    "style_study: --checkpoints .*/cks: no .*/cks/style-fmnist-vgg19/last.h5 .*configs/style-fmnist-classifier.ini.*--networks" \
    env FAKE_LOG="$TMP/bad.log" "$PY" scripts/style_study.py textures --pipeline "$TMP/fake-pipeline" \
    --out "$TMP/fo" --seeds 1 --textures brick --images "$TMP/img" --record "$TMP/bad.csv" \
    --checkpoints "$TMP/cks"
r=""; [ -e "$TMP/bad.log" ] && r="ran $(lines "$TMP/bad.log") commands before the error"
check "the missing checkpoint stops the study before any run" "$r"
ERROR_STATUS=2 one_line_error "--kinds trained without --checkpoints says what to add" \
    "style_study: --kinds trained: .*--checkpoints DIR" \
    "$PY" scripts/style_study.py textures --pipeline "$TMP/fake-pipeline" --out "$TMP/fo" \
    --record "$TMP/bad.csv" --kinds trained

# ---- a real trained cell: a tiny checkpoint (ResNet-18, cifar stem, synthetic 1x8x8 images),
# a 16x16 texture (64x64 averaged 4x4), 3 evaluations ----
cat > "$TMP/c.ini" <<INI
[run]
name = style-fmnist-resnet18
out_dir = $TMP/real
threads = 1
[data]
dataset = synthetic
synthetic_train = 16
synthetic_test = 16
synthetic_size = 8
synthetic_channels = 1
[model]
arch = imagenet_resnet
depth = 18
stem = cifar
gamma_init = one
[train]
trainable = all
epochs = 1
batch_size = 16
INI
"$PIPE" run "$TMP/c.ini" > "$TMP/c.log" 2>&1 || not_ok "tiny checkpoint: $(tail -n 1 "$TMP/c.log")"
rm -f "$TMP/real/style-fmnist-resnet18/stage-00.h5"
"$PY" - "$TMP/img" <<'PYEOF'
import sys
import numpy as np
from PIL import Image
x = (np.add.outer(np.arange(64), 2 * np.arange(64)) % 9 < 4) * 180 + 40
Image.fromarray(x.astype(np.uint8)).save(sys.argv[1] + "/brick.png")
PYEOF
"$PY" scripts/style_study.py textures --pipeline "$PIPE" --out "$TMP/ro" --evaluations 3 --seeds 1 \
    --textures brick --images "$TMP/img" --nice 0 --checkpoints "$TMP/real" --networks resnet_swag \
    --kinds random_cifar_stem trained --record "$TMP/real.csv" > "$TMP/ro.log" 2>&1 ||
    not_ok "a real trained cell: $(tail -n 1 "$TMP/ro.log")"
r=$("$PY" - "$TMP" <<'PYEOF' 2>&1 || echo "the check failed"
import csv, json, sys
d = sys.argv[1]
bad = []
rows = list(csv.DictReader(open(d + "/real.csv")))
if [r["network"] for r in rows] != ["resnet_swag/random_cifar_stem", "resnet_swag/trained"]: bad.append("rows %s" % [r["network"] for r in rows])
t = json.load(open(d + "/ro/brick/resnet_swag/trained/seed-1/style.json"))
r = json.load(open(d + "/ro/brick/resnet_swag/random_cifar_stem/seed-1/style.json"))
if t["input"] != [1, 16, 16] or r["input"] != [1, 16, 16]: bad.append("inputs %s %s" % (t["input"], r["input"]))
if "weights of %s/real/style-fmnist-resnet18/last.h5" % d not in t["network"]: bad.append("trained network %s" % t["network"])
if "cifar stem" not in r["network"] or "random" not in r["network"]: bad.append("random network %s" % r["network"])
if {x["name"]: x["swag"] for x in t["taps"]}.get("layer4.1") != "softmax_all": bad.append("trained SWAG %s" % t["taps"])
if not all(float(x["gram_distance"]) > 0 for x in rows): bad.append("judges")
print("; ".join(bad))
PYEOF
)
check "a trained cell runs through its checkpoint (gray 16x16, SWAG on layer4.1), its random twin through a cifar-stem network; the deep-taps-dropped control in both kinds" "$r"

# ---- the report: made-up trained and random cifar-stem records (ResNet 3, SWAG 2, VGG 1 in
# both kinds; trained 0.5 above random; a tiny seed spread) and the real run's grid ----
"$PY" - "$TMP" <<'PYEOF'
import csv, sys
d = sys.argv[1]
rows = []
for tex in ("brick", "grass"):
    for net, base in (("vgg", 1.0), ("resnet", 3.0), ("resnet_swag", 2.0), ("noskip", 2.5),
                      ("resnet_shallow", 2.2)):
        for kind, shift in (("random_cifar_stem", 0.0), ("trained", 0.5)):
            for seed in (1, 2, 3):
                v = base + shift + 0.01 * seed * (1 if kind == "trained" else 0)
                rows.append({"texture": tex, "network": "%s/%s" % (net, kind), "seed": seed,
                             "gram_distance": 10 ** v, "spectrum_distance": v, "w1_gray": v, "seconds": 2})
with open(d + "/t.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
PYEOF
"$PY" scripts/style_study.py report --textures "$TMP/t.csv" --figures "$TMP" --markdown "$TMP/t.md" \
    > "$TMP/t.log" 2>&1 || not_ok "report: $(tail -n 1 "$TMP/t.log")"
r=""
grep -q "^| brick | ResNet-18 + SWAG | trained | 1,2,3 | 2.520 ± 0.010 | 2.520 ± 0.010 | 2.520 ± 0.010 | 2 |$" "$TMP/t.md" || r="means row"
grep -q "^| ResNet-18 (trained on Fashion-MNIST) − ResNet-18 (random, cifar stem, gray) | grass | gray-level W1 | 3 | 0.520 ± 0.010 | yes | [0-9.e-]* |  |$" "$TMP/t.md" || r="$r; trained − random row (no gap to VGG across kinds)"
grep -q "^| ResNet-18 + SWAG (trained on Fashion-MNIST) − ResNet-18 (trained on Fashion-MNIST) | brick | spectrum distance (decades) | 3 | -1.000 ± 0.000 | yes | 0 | 0.50 |$" "$TMP/t.md" || r="$r; SWAG within trained row"
grep -q "^| brick | trained | 3 | 3 | 3 |$" "$TMP/t.md" || r="$r; claim row"
grep -q "^| ResNet-18 + SWAG (random, cifar stem, gray) − ResNet-18, deep taps dropped (random, cifar stem, gray) | grass | Gram distance (judge VGG) | 3 | -0.200 ± 0.000 | yes | 0 |" "$TMP/t.md" || r="$r; SWAG − deep taps dropped row"
grep -q "^| texture | network | seeds |" "$TMP/t.md" && r="$r; the ImageNet-stem table without its cells"
check "report: trained and random cifar-stem means, trained − random, SWAG within each kind, SWAG against dropping the deep taps, the claim per kind" "$r"
"$PY" scripts/style_study.py report --textures "$TMP/real.csv" --runs "$TMP/ro" --images "$TMP/img" \
    --figures "$TMP" --markdown "$TMP/g.md" > "$TMP/g.log" 2>&1 || not_ok "report with runs: $(tail -n 1 "$TMP/g.log")"
r=""; [ -s "$TMP/style-textures-trained.png" ] || r="no style-textures-trained.png"
grep -q "^Grid, random and trained: .*style-textures-trained.png" "$TMP/g.md" || r="$r; not in the report"
check "report: the random-and-trained grid from the runs" "$r"
finish style_textures
