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
# judges: vgg 1, resnet 3, swag 1.5 on brick and grass (beyond a tiny seed spread), 3 on gravel
rows = []
for tex in ("brick", "grass", "gravel"):
    for net, base in (("vgg", 1.0), ("resnet", 3.0), ("resnet_swag", 1.5 if tex != "gravel" else 3.0),
                      ("noskip", 2.0), ("resnet_shallow", 1.5)):
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
grep -q "^| brick | 3 | 3 | 3 |$" "$TMP/r.md" || r="brick row"
grep -q "^| grass | 3 | 3 | 3 |$" "$TMP/r.md" || r="$r grass row"
grep -q "^| gravel | 3 | 0 | 0 |$" "$TMP/r.md" || r="$r gravel row"
check "the claim table: SWAG beyond the seed spread with the gap closed on brick and grass, not gravel" "$r"
r=""; [ -s "$TMP/style-mechanism.png" ] || r="no style-mechanism.png"
grep -q "| trained | ResNet-18 | 1 → 2 | 0.900 → 0.900 | 0.9000 → 0.9000 | 0.9000 → 0.9000 |" "$TMP/r.md" || r="$r; no trained ResNet-18 row"
check "the mechanism plot and its first-to-last table" "$r"
finish style_study
