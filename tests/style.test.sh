#!/bin/sh
# pipeline style: a texture synthesized and a style transferred through a small random ResNet-18
# (CIFAR stem, 16x16 images made here), L-BFGS and Adam, with SWAG on a tap: the PNG and the
# JSON are written and the loss falls; bad or missing image files and empty keys give one-line
# errors naming them; pipeline --help lists the command.
set -u
. tests/lib.sh

# Two 16x16 PNGs (gray stripes, an RGB gradient) from a PNG writer of the test's own.
"$PY" - "$TMP" <<'PYEOF'
import struct, sys, zlib
def png(path, w, h, c, px):
    def chunk(k, d):
        return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(px(x, y, k) for x in range(w) for k in range(c)) for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
d = sys.argv[1]
png(d + "/stripes.png", 16, 16, 1, lambda x, y, k: 230 if (x + 2 * y) % 5 < 2 else 40)
png(d + "/photo.png", 16, 16, 3, lambda x, y, k: (16 * x + 9 * y + 80 * k) % 256)
png(d + "/wide.png", 24, 16, 3, lambda x, y, k: (11 * x + 5 * y + 60 * k) % 256)
PYEOF
printf 'not a png\n' > "$TMP/bad.png"

cat > "$TMP/s.ini" <<INI
[run]
name = s
out_dir = $TMP/out
threads = 1
[model]
arch = imagenet_resnet
depth = 18
stem = cifar
gamma_init = one
[style]
style_image = "$TMP/stripes.png"
style_taps = "stem, layer1.1, layer2.1"
content_taps = "layer2.1"
swag_taps = "layer2.1"
evaluations = 12
log_every = 4
INI

"$PIPE" style "$TMP/s.ini" > "$TMP/tex.log" 2>&1 || not_ok "texture: $(tail -n 1 "$TMP/tex.log")"
r=$("$PY" - "$TMP/out/s" <<'PYEOF'
import json, os, struct, sys
d = sys.argv[1]
j = json.load(open(d + "/style.json"))
bad = []
if j["mode"] != "texture" or j["input"] != [3, 16, 16]: bad.append("mode/input %s %s" % (j["mode"], j["input"]))
if j["evaluations"] > 12 or j["evaluations"] < 2: bad.append("evaluations %d" % j["evaluations"])
if not j["loss"] < j["loss_start"]: bad.append("loss %g not below %g" % (j["loss"], j["loss_start"]))
if [t["name"] for t in j["taps"]] != ["stem", "layer1.1", "layer2.1"]: bad.append("taps")
if j["history"][0]["evaluation"] != 1: bad.append("history")
with open(d + "/style.png", "rb") as f:
    head = f.read(24)
if head[:8] != b"\x89PNG\r\n\x1a\n" or struct.unpack(">II", head[16:24]) != (16, 16): bad.append("png")
print("; ".join(bad))
PYEOF
)
check "texture (L-BFGS): style.png 16x16 and style.json, the loss falls within the budget" "$r"

"$PIPE" style "$TMP/s.ini" --out "$TMP/tr" --set style.mode=transfer \
    --set "style.content_image=\"$TMP/photo.png\"" --set style.swag=softmax_all \
    --set style.style_weight=1e9 --set style.optimizer=adam --set style.evaluations=6 \
    > "$TMP/tr.log" 2>&1 || not_ok "transfer: $(tail -n 1 "$TMP/tr.log")"
r=$("$PY" - "$TMP/tr" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1] + "/style.json"))
bad = []
if j["mode"] != "transfer" or j["optimizer"] != "adam" or j["evaluations"] != 6: bad.append("settings")
t = {t["name"]: t for t in j["taps"]}
if t["layer2.1"]["swag"] != "softmax_all" or not t["layer2.1"]["content"] or t["stem"]["swag"] != "none": bad.append("taps %s" % t)
if not j["content_loss"] > 0 or not j["style_loss"] > 0: bad.append("parts")
if not j["loss"] < j["loss_start"]: bad.append("loss %g not below %g" % (j["loss"], j["loss_start"]))
print("; ".join(bad))
PYEOF
)
check "transfer (Adam, softmax_all on layer2.1): content and style parts, the loss falls" "$r"

"$PIPE" style-stats "$TMP/s.ini" --out "$TMP/st" > "$TMP/st.log" 2>&1 || not_ok "style-stats: $(tail -n 1 "$TMP/st.log")"
r=$("$PY" - "$TMP/st" <<'PYEOF'
import json, math, sys
j = json.load(open(sys.argv[1] + "/style-stats.json"))
bad = []
if [t["name"] for t in j["taps"]] != ["stem", "layer1.1", "layer2.1"]: bad.append("taps")
for t in j["taps"]:
    f = t["forms"]
    if sorted(f) != ["none", "scale", "softmax_all", "softmax_channels"]: bad.append("forms %s" % sorted(f))
    n = f["none"]
    if not 0 < n["entropy_ratio"] <= 1 or not 0 < n["gram_entropy_ratio"] <= 1: bad.append("ratios %s" % n)
    if not math.isclose(f["scale"]["max"], 0.001 * n["max"], rel_tol=1e-5): bad.append("scale max")
    if not math.isclose(f["scale"]["entropy_ratio"], n["entropy_ratio"], rel_tol=1e-5): bad.append("scale entropy")
    if not 0 < f["softmax_all"]["max"] <= 1: bad.append("softmax max")
print("; ".join(bad))
PYEOF
)
check "style-stats: per tap and SWAG form the max and the entropies (scale: alpha times the max, the same entropy)" "$r"

# A trained network: a tiny staged run's checkpoints (ResNet-8 on synthetic 1x8x8 images). The
# BN-only stage's file and its seed-only export (conv weights regenerated from the seed) give the
# same features; a random ResNet-8 with the same keys other ones.
tiny_staged_ini "$TMP/t.ini" t 1
"$PIPE" run "$TMP/t.ini" > "$TMP/t.log" 2>&1 || not_ok "tiny run: $(tail -n 1 "$TMP/t.log")"
"$PIPE" export --seed-only "$TMP/ck/t/stage-00.h5" "$TMP/seed.h5" > /dev/null 2>&1 || not_ok "seed-only export"
stats_of() { # NAME CHECKPOINT
    "$PIPE" style-stats "$TMP/s.ini" --out "$TMP/ck-$1" --set "style.checkpoint=\"$2\"" \
        --set 'style.style_taps="stem,seg2.block0"' --set 'style.swag_taps=""' \
        --set style.normalize=data > "$TMP/ck.log" 2>&1 || not_ok "style-stats $1: $(tail -n 1 "$TMP/ck.log")"
}
stats_of full "$TMP/ck/t/stage-00.h5"
stats_of seed "$TMP/seed.h5"
stats_of trained "$TMP/ck/t/stage-02.h5"
"$PIPE" style-stats "$TMP/s.ini" --out "$TMP/ck-random" --set model.arch=resnet --set model.depth=8 \
    --set model.stem=auto --set style.channels=1 --set 'style.style_taps="stem,seg2.block0"' \
    --set 'style.swag_taps=""' > "$TMP/ck.log" 2>&1 || not_ok "style-stats random: $(tail -n 1 "$TMP/ck.log")"
r=$("$PY" - "$TMP" <<'PYEOF'
import json, sys
d = sys.argv[1]
j = {k: json.load(open("%s/ck-%s/style-stats.json" % (d, k))) for k in ("full", "seed", "trained", "random")}
bad = []
if j["full"]["input"] != [1, 16, 16]: bad.append("input %s" % j["full"]["input"])
if "weights of" not in j["full"]["network"]: bad.append("network %s" % j["full"]["network"])
if j["full"]["taps"] != j["seed"]["taps"]: bad.append("seed-only export differs")
if j["full"]["taps"] == j["trained"]["taps"]: bad.append("stage 2 equals stage 0")
if j["full"]["taps"] == j["random"]["taps"]: bad.append("the checkpoint equals random weights")
print("; ".join(bad))
PYEOF
)
check "style.checkpoint: a checkpoint's weights (a seed-only export the same), not random ones" "$r"
one_line_error "style.normalize = data without a checkpoint says what to use" "style.normalize = data needs a style.checkpoint" \
    "$PIPE" style-stats "$TMP/s.ini" --set style.normalize=data
one_line_error "a missing checkpoint is named" "style.checkpoint: .*nothing.h5" \
    "$PIPE" style-stats "$TMP/s.ini" --set "style.checkpoint=\"$TMP/nothing.h5\""

one_line_error "a missing style image is named" "style.style_image: .*nowhere.png" \
    "$PIPE" style "$TMP/s.ini" --set "style.style_image=\"$TMP/nowhere.png\""
one_line_error "a file that is not a PNG is named" "style.content_image: .*bad.png" \
    "$PIPE" style "$TMP/s.ini" --set style.mode=transfer --set "style.content_image=\"$TMP/bad.png\""
one_line_error "a missing content image is named" "style.content_image: .*nowhere.png" \
    "$PIPE" style "$TMP/s.ini" --set style.mode=transfer --set "style.content_image=\"$TMP/nowhere.png\""
one_line_error "an empty style.content_image in transfer mode says what to set" "style.content_image is empty" \
    "$PIPE" style "$TMP/s.ini" --set style.mode=transfer --set 'style.content_image=""'
one_line_error "a content image of another size than the style image says so" \
    "style_image is 24x16 (width x height) and content_image 16x16 .*must match" \
    "$PIPE" style "$TMP/s.ini" --set style.mode=transfer --set "style.content_image=\"$TMP/photo.png\"" \
    --set "style.style_image=\"$TMP/wide.png\""
one_line_error "style-judge names a bad content image" "style-judge: style.content_image: .*bad.png" \
    "$PIPE" style-judge "$TMP/s.ini" "$TMP/photo.png" --set style.mode=transfer \
    --set "style.content_image=\"$TMP/bad.png\""
one_line_error "an empty style.style_image says what to set" "style.style_image is empty" \
    "$PIPE" style "$TMP/s.ini" --set 'style.style_image=""'
one_line_error "a tap that is not a layer is named with its key" "style.style_taps: 'layer9.0'" \
    "$PIPE" style "$TMP/s.ini" --set 'style.style_taps="stem, layer9.0"' --set 'style.swag_taps=""'
one_line_error "swag_taps outside the taps" "style.swag_taps: 'layer1.0' is not one of style_taps" \
    "$PIPE" style "$TMP/s.ini" --set 'style.swag_taps="layer1.0"'

# pipeline style-judge: the texture result against its target under the judge VGG; the target
# itself is at distance 0 on every judge; another judge seed gives another Gram distance; a
# transfer result has a content distance; an image of another size is named.
judge() { # OUT IMAGE [ARGS...]
    o=$1; shift; im=$1; shift
    "$PIPE" style-judge "$TMP/s.ini" "$im" --format json "$@" > "$TMP/$o.json" 2> "$TMP/$o.err" ||
        not_ok "style-judge $o: $(tail -n 1 "$TMP/$o.err")"
}
judge j-res "$TMP/out/s/style.png"
judge j-self "$TMP/stripes.png"
judge j-seed "$TMP/out/s/style.png" --judge-seed 7
judge j-tr "$TMP/tr/style.png" --set style.mode=transfer --set "style.content_image=\"$TMP/photo.png\""
r=$("$PY" - "$TMP" <<'PYEOF'
import json, sys
d = sys.argv[1]
j = {k: json.load(open("%s/j-%s.json" % (d, k))) for k in ("res", "self", "seed", "tr")}
bad = []
r = j["res"]
if "VGG-19" not in r["judge"] or r["judge_seed"] != 1000: bad.append("judge %s seed %s" % (r["judge"], r["judge_seed"]))
if sorted(r["taps"]) != ["group%d.conv1" % g for g in range(1, 6)]: bad.append("taps %s" % sorted(r["taps"]))
if not (r["gram_distance"] > 0 and r["spectrum_distance"] > 0 and r["w1_gray"] > 0): bad.append("result %s" % r)
if abs(sum(r["taps"].values()) - r["gram_distance"]) > 1e-9 * r["gram_distance"]: bad.append("tap sum")
if r["content_distance"] is not None: bad.append("texture content %s" % r["content_distance"])
s = j["self"]
if s["gram_distance"] != 0 or s["spectrum_distance"] != 0 or s["w1_gray"] != 0: bad.append("target itself %s" % s)
if j["seed"]["judge_seed"] != 7 or j["seed"]["gram_distance"] == r["gram_distance"]: bad.append("judge seed")
if not j["tr"]["content_distance"] > 0: bad.append("transfer content %s" % j["tr"]["content_distance"])
print("; ".join(bad))
PYEOF
)
check "style-judge: Gram distance under a separately seeded VGG-19, spectrum, W1; 0 for the target itself" "$r"
one_line_error "style-judge names an image of another size" "style-judge: .*photo.png is 16x16, the target .* is 8x8" \
    "$PIPE" style-judge "$TMP/s.ini" "$TMP/photo.png" --set style.downsample=2
one_line_error "style-judge names a missing image" "style-judge: .*absent.png" \
    "$PIPE" style-judge "$TMP/s.ini" "$TMP/absent.png"

"$PIPE" --help > "$TMP/help.txt" 2>&1
r=""; grep -q "^  style CONFIG" "$TMP/help.txt" || r="pipeline --help: $(tail -n 1 "$TMP/help.txt")"
check "pipeline --help lists style (and does not crash on params, which takes no operands)" "$r"

finish style
