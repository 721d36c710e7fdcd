#!/bin/sh
# scripts/style_study.py's statistics and report, on made-up records: Student's t tail and Holm's
# correction against known values; the claim table counts a texture where ResNet + SWAG beats
# ResNet on every judge beyond the seed spread and closes the gap to VGG, and not one where it
# does not; the mechanism figure is drawn from a style-stats record.
set -u
. tests/lib.sh
r=$("$PY" - <<'PYEOF'
import sys
sys.path.insert(0, "scripts")
import style_study as s
bad = []
for t, df, p in ((2.0, 2, 0.1835034), (4.302653, 2, 0.05), (2.570582, 5, 0.05), (0.0, 3, 1.0)):
    if abs(s.t_sf(t, df) - p) > 1e-6: bad.append("t_sf(%g, %d) = %g, not %g" % (t, df, s.t_sf(t, df), p))
if s.holm([0.01, 0.04, 0.03]) != [0.03, 0.06, 0.06]: bad.append("holm %s" % s.holm([0.01, 0.04, 0.03]))
m, sd, p = s.paired([1, 2, 3], [0, 1, 1.5])
if abs(m + 7 / 6) > 1e-12 or abs(p - 0.0198039) > 1e-6: bad.append("paired %g %g" % (m, p))
print("; ".join(bad))
PYEOF
)
check "t tail, Holm, paired differences against known values" "$r"

"$PY" - "$TMP" <<'PYEOF'
import csv, sys
d = sys.argv[1]
# judges: vgg 1, resnet 3, swag 1.5 on brick and grass (beyond a tiny seed spread), 3 on gravel;
# the channel softmax 2.5 (beyond the spread, but a quarter of the gap) on gravel only, the
# scaling 3 (no better) everywhere
rows = []
for tex in ("brick", "grass", "gravel"):
    for net, base in (("vgg", 1.0), ("resnet", 3.0), ("resnet_swag", 1.5 if tex != "gravel" else 3.0),
                      ("noskip", 2.0), ("resnet_shallow", 1.5),
                      ("resnet_swag_channels", 2.5 if tex == "gravel" else 3.0),
                      ("resnet_swag_scale", 3.0)):
        for seed in (1, 2, 3):
            v = base + 0.01 * seed * (1 if net != "resnet_swag" or tex != "gravel" else -1)
            rows.append({"texture": tex, "network": net, "seed": seed, "gram_distance": 10 ** v,
                         "spectrum_distance": v, "w1_gray": v, "seconds": 1})
with open(d + "/t.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
rows = []
for kind in ("random_imagenet_stem", "trained"):
    for arch, taps in (("resnet", ["stem", "layer1.0"]), ("vgg", ["group1.conv1", "group1.conv2"])):
        for i, tap in enumerate(taps):
            for form in ("none", "softmax_all", "softmax_channels"):
                rows.append({"kind": kind, "arch": arch, "seed": 1, "texture": "brick", "tap": tap,
                             "depth": i + 1, "form": form, "max": 1 + i, "entropy_ratio": 0.9,
                             "gram_entropy_ratio": 0.8})
with open(d + "/s.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
PYEOF
"$PY" scripts/style_study.py report --textures "$TMP/t.csv" --stats "$TMP/s.csv" --figures "$TMP" \
    --markdown "$TMP/r.md" > "$TMP/r.log" 2>&1 || not_ok "report: $(tail -n 1 "$TMP/r.log")"
r=""
grep -q "^| brick | softmax_all | 3 | 3 | 3 |$" "$TMP/r.md" || r="brick row"
grep -q "^| grass | softmax_all | 3 | 3 | 3 |$" "$TMP/r.md" || r="$r grass row"
grep -q "^| gravel | softmax_all | 3 | 0 | 0 |$" "$TMP/r.md" || r="$r gravel row"
check "the claim table: SWAG beyond the seed spread with the gap closed on brick and grass, not gravel" "$r"
r=""
grep -q "^| gravel | softmax_channels | 3 | 3 | 0 |$" "$TMP/r.md" || r="gravel channels row"
grep -q "^| brick | softmax_channels | 3 | 0 | 0 |$" "$TMP/r.md" || r="$r brick channels row"
grep -q "^| grass | scale | 3 | 0 | 0 |$" "$TMP/r.md" || r="$r grass scale row"
grep -q "^| ResNet-18 + SWAG (softmax over channels) − ResNet-18 | gravel | gray-level W1 | 3 | -0.500 ± 0.000 | yes | 0 | 0.25 |$" "$TMP/r.md" || r="$r channels comparison"
check "the other two SWAG forms: their own comparisons with ResNet and claim rows" "$r"
r=""; [ -s "$TMP/style-mechanism.png" ] || r="no style-mechanism.png"
grep -q "| trained | ResNet-18 | 1 → 2 | 0.900 → 0.900 | 0.9000 → 0.9000 | 0.9000 → 0.9000 |" "$TMP/r.md" || r="$r; no trained ResNet-18 row"
check "the mechanism plot and its first-to-last table" "$r"
# ---- style transfer: the subcommand against a stand-in driver, then its report ----
# The stand-in writes what `pipeline style` and `style-judge --format json` write and logs each
# call; its judge's content distance is the style weight's log10 read back from the run directory.
mkdir -p "$TMP/img" "$TMP/tr"
cat > "$TMP/fake-pipeline" <<'PYEOF'
#!/usr/bin/python3
import json, os, re, sys
a = sys.argv[1:]
sets = [a[i + 1] for i, x in enumerate(a) if x == "--set"]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps({"cmd": a[0], "operands": a[1:3], "sets": sets}) + "\n")
if a[0] == "style":
    out = a[a.index("--out") + 1]
    open(os.path.join(out, "style.png"), "w").write("png")
    json.dump({"evaluations": 5, "iterations": 4, "converged": False, "loss": 3.0,
               "style_loss": 2.0, "content_loss": 1.0}, open(os.path.join(out, "style.json"), "w"))
else:
    w = float(re.search(r"/w([^/]+)/seed", a[2]).group(1))
    content = any(v.startswith("style.content_image=") for v in sets)
    print(json.dumps({"gram_distance": 1e-5, "spectrum_distance": 0.5, "w1_gray": 0.1,
                      "content_distance": (1 + len(str(w))) / 100 if content else None}))
PYEOF
chmod +x "$TMP/fake-pipeline"
"$PY" - "$TMP/img" <<'PYEOF'
import sys
import numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(7)
Image.fromarray(rng.integers(0, 256, (300, 451, 3), dtype=np.uint8)).save(d + "/photo.png")
Image.fromarray(rng.integers(0, 256, (512, 512), dtype=np.uint8)).save(d + "/tex.png")
PYEOF
transfer() {
    FAKE_LOG="$TMP/calls.log" "$PY" scripts/style_study.py transfer --pipeline "$TMP/fake-pipeline" \
        --out "$TMP/tr" --evaluations 5 --seeds 1 2 --pairs photo:tex --networks resnet resnet_swag \
        --weights 1e2 1e6 --images "$TMP/img" --record "$TMP/tr.csv" > "$TMP/tr.log" 2>&1
}
transfer || not_ok "transfer: $(tail -n 1 "$TMP/tr.log")"
r=$("$PY" - "$TMP" <<'PYEOF' 2>&1 || echo "the check failed"
import csv, json, sys
import numpy as np
from PIL import Image
d = sys.argv[1]
bad = []
rows = list(csv.DictReader(open(d + "/tr.csv")))
got = sorted((r["network"], r["seed"], r["style_weight"], r["content_distance"]) for r in rows)
want = sorted((n, s, w, c) for n in ("resnet", "resnet_swag") for s in ("1", "2")
              for w, c in (("100", "0.06"), ("1e+06", "0.1")))
if got != want: bad.append("rows %s" % got)
calls = [json.loads(l) for l in open(d + "/calls.log")]
if len(calls) != 16: bad.append("%d calls" % len(calls))
for run, judge in zip(calls[::2], calls[1::2]):
    keep = [v for v in run["sets"] if v.split("=")[0] in ("style.style_image", "style.content_image",
                                                          "style.downsample", "style.crop")]
    if run["cmd"] != "style" or judge["cmd"] != "style-judge" or not all(v in judge["sets"] for v in keep) \
            or len(keep) != 4 or run["operands"][0] != "configs/style-transfer.ini":
        bad.append("run and judge disagree: %s %s" % (run, judge))
        break
if not any("style.swag=softmax_all" in c["sets"] for c in calls): bad.append("no SWAG run")
# the prepared content: 4x4 blocks of the 128x128 central crop of the photo's 2x2 block means
c = np.asarray(Image.open(d + "/tr/content/photo-128.png"), dtype=np.float64)
p = np.asarray(Image.open(d + "/img/photo.png"), dtype=np.float64)
m = p[:300, :450].reshape(150, 2, 225, 2, 3).mean(axis=(1, 3))[11:139, 48:176]
if c.shape != (512, 512, 3): bad.append("content shape %s" % (c.shape,))
else:  # in 8 bits: a half rounds either way
    e = np.abs(c.reshape(128, 4, 128, 4, 3).mean(axis=(1, 3)) - m)
    if e.max() > 0.5 + 1e-9 or (c.reshape(128, 4, 128, 4, 3) != c[::4, ::4][:, None, :, None]).any():
        bad.append("content pixels %g" % e.max())
print("; ".join(bad))
PYEOF
)
check "transfer: a row per pair, network, weight and seed, with the judge's content distance; the judge sees the run's images" "$r"
transfer || not_ok "transfer again: $(tail -n 1 "$TMP/tr.log")"
r=""; [ "$(lines "$TMP/calls.log")" = 16 ] || r="$(lines "$TMP/calls.log") calls after a second run"
[ "$(lines "$TMP/tr.csv")" = 9 ] || r="$r; $(lines "$TMP/tr.csv") record lines"
check "transfer resumes: what is recorded is not run again" "$r"

# Made-up transfer records: per network the judges fall on a line in log10 content distance,
# over x = -2, -1, 0 (SWAG: -1.5, -0.5, 0.5), so the common level is -0.75 and each judge there
# is base + level; ResNet + SWAG halfway between ResNet and VGG. A second pair whose ranges do
# not overlap has no common level.
"$PY" - "$TMP" <<'PYEOF'
import csv, sys
d = sys.argv[1]
rows = []
base = {"vgg": -7.0, "resnet": -4.0, "resnet_swag": -5.5, "noskip": -5.0}
for pair, shift in ((("chelsea", "brick"), 0.0), (("coffee", "gravel"), 5.0)):
    for n, b in base.items():
        for seed in (1, 2):
            for i, w in enumerate((1e2, 1e4, 1e6)):
                x = i - 2 + (0.5 if n == "resnet_swag" else 0) + (shift if n == "vgg" else 0)
                y = b + x + 0.01 * seed * (n == "resnet")
                rows.append({"content": pair[0], "style": pair[1], "network": n, "seed": seed,
                             "style_weight": "%g" % w, "content_distance": 10 ** x,
                             "gram_distance": 10 ** y, "spectrum_distance": y, "w1_gray": y,
                             "seconds": 1})
# left out: an unchanged image (content distance 0) and a run whose loss rose (its style.json)
for n, w, cd in (("vgg", "1", 0.0), ("noskip", "1e+08", 0.5)):
    rows.append({"content": "chelsea", "style": "brick", "network": n, "seed": 1, "style_weight": w,
                 "content_distance": cd, "gram_distance": 1.0, "spectrum_distance": 1.0,
                 "w1_gray": 1.0, "seconds": 1})
import json, os
os.makedirs(d + "/xr/chelsea-brick/noskip/w1e+08/seed-1")
json.dump({"loss": 1e45, "loss_start": 0.7}, open(d + "/xr/chelsea-brick/noskip/w1e+08/seed-1/style.json", "w"))
with open(d + "/x.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
PYEOF
"$PY" scripts/style_study.py report --transfer "$TMP/x.csv" --transfer-runs "$TMP/xr" --figures "$TMP" --markdown "$TMP/x.md" \
    > "$TMP/x.log" 2>&1 || not_ok "transfer report: $(tail -n 1 "$TMP/x.log")"
r=""
grep -q "^| ResNet-18 + SWAG | chelsea | brick | 2 | -0.750 | -4.730 → -6.250 | -4.730 → -6.250 | -4.730 → -6.250 |$" "$TMP/x.md" || r="matched SWAG row"
grep -q "^| no-skip ResNet-18 | chelsea | brick | 1 | -1.000 | -4.990 → -6.000 | -4.990 → -6.000 | -4.990 → -6.000 |$" "$TMP/x.md" || r="$r; matched no-skip row"
grep -q "^| VGG-19 | coffee | gravel | 1 | no common level (ResNet-18 0.01 to 1; VGG-19 1e+03 to 1e+05) |" "$TMP/x.md" || r="$r; no-overlap row"
grep -q "^| ResNet-18 + SWAG | coffee | gravel | 1 | -0.750 |" "$TMP/x.md" || r="$r; SWAG meets ResNet on the second pair"
grep -q "^| ResNet-18 + SWAG − ResNet-18 | chelsea | brick | Gram distance (judge VGG) | 2 | -1.515 ± 0.007 | .* | 0.50 |$" "$TMP/x.md" || r="$r; SWAG comparison"
grep -q "^| ResNet-18 + SWAG − ResNet-18 | coffee | gravel | Gram distance (judge VGG) | 2 | -1.515 ± 0.007 | [0-9.]* |  |$" "$TMP/x.md" || r="$r; no gap without VGG's range"
[ -s "$TMP/style-transfer-curves.png" ] || r="$r; no curves figure"
grep -q "^| chelsea | brick | VGG-19 | 1 | 1 | unchanged: judge content distance 0 |$" "$TMP/x.md" || r="$r; unchanged run"
grep -q "^| chelsea | brick | no-skip ResNet-18 | 1e+08 | 1 | diverged: loss 1e+45 from 0.7 |$" "$TMP/x.md" || r="$r; diverged run"
check "transfer report: judges at matched content, the gap to VGG, a pair without a common level, unchanged and diverged runs left out" "$r"
finish style_study
