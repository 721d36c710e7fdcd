#!/bin/sh
# pipeline superres end to end on a tiny synthetic set (8x8 images, 4x4 inputs): the pixel loss
# alone, + a random perceptual loss (VGG-11, liu init), + a loss network read from a classifier
# checkpoint (ResNet-8 trained by pipeline run); results.json, grid.png and generator.h5; and
# the [superres] keys' one-line errors.
set -u
. tests/lib.sh
export OMP_NUM_THREADS=1

# sr_ini NAME [LINE...]: a tiny x2 superres config (tests/lib.sh's superres_ini, SGD lr 0.01).
sr_ini() {
    n=$1
    shift
    superres_ini "$n" "lr = 0.01" "$@"
}

# results DIR: "" when results.json, grid.png and generator.h5 are as they should be.
results() {
    "$PY" - "$1" <<'PY' 2>&1
import json, math, sys, h5py
d = sys.argv[1]
r = json.load(open(d + "/results.json"))
bad = []
t = r["test"]
if t["images"] != 24: bad.append("test images %r" % t["images"])
for k in ("psnr", "ssim", "spectral_share_output", "spectral_share_target", "psnr_nearest",
          "psnr_bicubic", "ssim_bicubic", "spectral_share_bicubic"):
    if not isinstance(t[k], float) or not math.isfinite(t[k]): bad.append("%s = %r" % (k, t[k]))
if not -1 <= t["ssim"] <= 1: bad.append("ssim %r" % t["ssim"])
if len(r["epochs"]) != 2: bad.append("%d epoch rows" % len(r["epochs"]))
if "[superres]" not in r["config"]: bad.append("no [superres] in the config")
png = open(d + "/grid.png", "rb").read()
w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
if (w, h) != (4 * 10 + 2, 4 * 10 + 2): bad.append("grid.png is %dx%d" % (w, h))
with h5py.File(d + "/generator.h5", "r") as f:
    if f["params/output"].shape != (1, 32, 3, 3): bad.append("params/output %r" % (f["params/output"].shape,))
    if "running/block0.conv1/var" not in f: bad.append("no running/block0.conv1/var")
    if f.attrs["format"] != b"revive-superres-state": bad.append("format %r" % f.attrs["format"])
    if f["superres"].attrs["step"] != 12: bad.append("step %r, not 12" % f["superres"].attrs["step"])
print("; ".join(bad))
PY
}

sr_ini pix
"$PIPE" superres "$TMP/pix.ini" >"$TMP/pix.log" 2>&1 || not_ok "pixel loss run: $(tail -n 1 "$TMP/pix.log")"
check "pixel loss alone: results.json (with the bicubic baseline), grid.png (4 x 4 cells: nearest, bicubic, output, target), generator.h5" "$(results "$TMP/ck/pix")"
grep -q "^epoch 2/2 " "$TMP/pix.log" && grep -q "^test (24 images): PSNR" "$TMP/pix.log"
check "pixel loss alone: a line per epoch and the test metrics" "$([ $? -eq 0 ] || tail -n 3 "$TMP/pix.log")"

# The same run again gives the same bits (fixed seeds, fixed order of operations).
"$PIPE" superres "$TMP/pix.ini" --out "$TMP/pix2" >/dev/null 2>&1
r=""
same_generator "$TMP/ck/pix/generator.h5" "$TMP/pix2/generator.h5" || r="generator.h5 differs"
check "superres is deterministic: a second run's generator is bit-identical" "$r"

# Mid-run resume: stopped mid-epoch (step 4 of 6) and at an epoch's end (step 6), resumed, the
# generator equals the straight run's bit for bit (AdamW + a random perceptual loss + the skip:
# every kind of state); the loss rows too.
sr_ini rs "perceptual_weight = 0.05" "lossnet_taps = group1.conv1" "skip = bicubic"
RS="--set train.optimizer=adamw --set train.lr=0.001"
"$PIPE" superres "$TMP/rs.ini" --out "$TMP/rs-straight" $RS >"$TMP/rs1.log" 2>&1 || not_ok "straight run: $(tail -n 1 "$TMP/rs1.log")"
"$PIPE" superres "$TMP/rs.ini" --out "$TMP/rs-stopped" $RS --stop-after-steps 4 >"$TMP/rs2.log" 2>&1
r1=$?
"$PIPE" superres "$TMP/rs.ini" --out "$TMP/rs-stopped" $RS --resume --stop-after-steps 6 >"$TMP/rs3.log" 2>&1
r2=$?
"$PIPE" superres "$TMP/rs.ini" --out "$TMP/rs-stopped" $RS --resume >"$TMP/rs4.log" 2>&1
r3=$?
r=""
[ "$r1.$r2.$r3" = "200.200.0" ] || r="exit statuses $r1.$r2.$r3, not 200.200.0: $(tail -n 1 "$TMP/rs4.log")"
grep -q "^epoch 1/2" "$TMP/rs4.log" && r="$r; the last resume trained epoch 1 again (state.h5 not read)"
[ -f "$TMP/rs-stopped/results.json" ] && [ ! -f "$TMP/rs-stopped/generator.h5.tmp" ] || r="$r; no results"
same_generator "$TMP/rs-straight/generator.h5" "$TMP/rs-stopped/generator.h5" || r="$r; generator.h5 differs"
r=$r$("$PY" -c "
import json
a = json.load(open('$TMP/rs-straight/results.json')); b = json.load(open('$TMP/rs-stopped/results.json'))
k = lambda r: [(e['pixel'], e['perceptual'], e['lr']) for e in r['epochs']]
print('' if k(a) == k(b) and a['test'] == b['test'] else '; the epoch rows or test metrics differ')" 2>&1)
check "superres --stop-after-steps 4, --resume to 6, --resume: the same bits as straight through" "$r"
grep -q "stopped after step 4 (epoch 1, step 4 of 6)" "$TMP/rs2.log"
check "the stop names the step and how to continue" "$([ $? -eq 0 ] || tail -n 2 "$TMP/rs2.log")"
cp "$TMP/rs-straight/generator.h5" "$TMP/rs-straight.h5"
"$PIPE" superres "$TMP/rs.ini" --out "$TMP/rs-straight" $RS --resume >"$TMP/rs5.log" 2>&1
r=$?
same_generator "$TMP/rs-straight.h5" "$TMP/rs-straight/generator.h5" || r="$r; generator.h5 differs"
grep -q "^epoch " "$TMP/rs5.log" && r="$r; trained again"
check "--resume of a finished run (its state at the last step): measured again, the same generator" \
    "$([ "$r" = 0 ] || echo "$r: $(tail -n 1 "$TMP/rs5.log")")"
one_line_error "--resume without a state" "state.h5 cannot be read" \
    "$PIPE" superres "$TMP/rs.ini" --out "$TMP/rs-none" --resume
one_line_error "--resume with another config" "'lr = 0.001' there, 'lr = 0.002' now" \
    "$PIPE" superres "$TMP/rs.ini" --out "$TMP/rs-stopped" --resume --set train.optimizer=adamw --set train.lr=0.002

sr_ini perc "perceptual_weight = 0.05" "lossnet_taps = group1.conv1, group2.conv1" \
    "lossnet_tap_weights = 1, 0.5" "pixel_loss = l1"
"$PIPE" superres "$TMP/perc.ini" >"$TMP/perc.log" 2>&1 || not_ok "perceptual run: $(tail -n 1 "$TMP/perc.log")"
check "l1 + random VGG-11 perceptual loss (liu init): results" "$(results "$TMP/ck/perc")"
r=$("$PY" -c "import json; r = json.load(open('$TMP/ck/perc/results.json')); print('' if all(e['perceptual'] > 0 for e in r['epochs']) else 'perceptual loss is 0')")
check "the perceptual loss is recorded per epoch" "$r"

# A trained loss network: a ResNet-8 classifier on the first 96 images, the generator on the rest.
cat >"$TMP/cls.ini" <<INI
[run]
name = cls
out_dir = $TMP/ck
[data]
dataset = synthetic
synthetic_train = 192
synthetic_test = 24
synthetic_size = 8
train_limit = 96
[model]
depth = 8
[train]
epochs = 1
batch_size = 32
INI
"$PIPE" run "$TMP/cls.ini" >"$TMP/cls.log" 2>&1 || not_ok "classifier run: $(tail -n 1 "$TMP/cls.log")"
CKPT=$(ls "$TMP"/ck/cls/stage-*.h5 | tail -n 1)
sr_ini trained "perceptual_weight = 0.05" "lossnet_arch = resnet" "lossnet_depth = 8" \
    "lossnet_taps = seg1.block0, seg2.block0" "lossnet_checkpoint = $CKPT" "train_skip = 96"
"$PIPE" superres "$TMP/trained.ini" >"$TMP/trained.log" 2>&1 || not_ok "trained loss network run: $(tail -n 1 "$TMP/trained.log")"
r=$("$PY" -c "import json; r = json.load(open('$TMP/ck/trained/results.json')); print('' if r['train_images'] == 96 else 'train_images %r' % r['train_images'])" 2>&1)
check "a loss network from a classifier checkpoint, the generator on the other 96 images" "$r"
grep -q "perceptual (ResNet-8 width 1, $CKPT" "$TMP/trained.log"
check "the log names the loss network and its checkpoint" "$([ $? -eq 0 ] || head -n 1 "$TMP/trained.log")"

# The grid's bicubic column against PIL's bicubic (Debian's python3-pil) of its nearest column
# (the 2x2-pooled input, repeated 2x2): within 1/255 after both are rounded to 8 bits.
r=$("$PY" - "$TMP/ck/pix/grid.png" <<'PY' 2>&1
import sys
import numpy as np
from PIL import Image
g = np.asarray(Image.open(sys.argv[1]).convert("L"), dtype=np.float64)
bad = []
for row in range(4):
    cell = lambda col: g[2 + row * 10:2 + row * 10 + 8, 2 + col * 10:2 + col * 10 + 8]
    low = (cell(0)[::2, ::2] / 255.0).astype(np.float32)
    ref = np.asarray(Image.fromarray(low, mode="F").resize((8, 8), Image.BICUBIC))
    ref = np.round(255 * np.clip(ref, 0, 1))
    d = np.abs(ref - cell(1)).max()
    if d > 1: bad.append("row %d: bicubic column differs from PIL's by %d/255" % (row, d))
print("; ".join(bad))
PY
)
check "grid.png's bicubic column is PIL's bicubic of its input" "$r"

# A generator below the trivial baselines, and its fix, on 640 real images (2 epochs, 20
# steps): the plain generator (SGD, output straight from the network) stays below nearest-
# neighbour upsampling; with AdamW and superres.skip = bicubic (the output added to the bicubic
# upsampling, the output conv zeroed: it starts as bicubic) and ICNR it beats bicubic and nearest.
FM=/usr/share/datasets/fashion-mnist
if [ -f "$FM/t10k-images-idx3-ubyte.gz" ]; then
    FMS="--set data.dataset=fashion_mnist --set data.train_limit=640 --set data.test_limit=32"
    "$PIPE" superres "$TMP/pix.ini" --out "$TMP/fm-plain" $FMS >"$TMP/fm-plain.log" 2>&1 ||
        not_ok "plain fashion-mnist run: $(tail -n 1 "$TMP/fm-plain.log")"
    "$PIPE" superres "$TMP/pix.ini" --out "$TMP/fm-fixed" $FMS --set train.optimizer=adamw \
        --set train.lr=0.001 --set superres.skip=bicubic --set superres.icnr=true \
        >"$TMP/fm-fixed.log" 2>&1 || not_ok "fixed fashion-mnist run: $(tail -n 1 "$TMP/fm-fixed.log")"
    r=$("$PY" - "$TMP/fm-fixed/results.json" "$TMP/fm-plain/results.json" <<'PY' 2>&1
import json, sys
t = json.load(open(sys.argv[1]))["test"]
p = json.load(open(sys.argv[2]))["test"]
bad = []
if not t["psnr"] > max(t["psnr_bicubic"], t["psnr_nearest"]) + 0.5:
    bad.append("fixed: PSNR %.3f, bicubic %.3f, nearest %.3f" % (t["psnr"], t["psnr_bicubic"], t["psnr_nearest"]))
if not t["ssim"] > max(t["ssim_bicubic"], t["ssim_nearest"]):
    bad.append("fixed: SSIM %.4f, bicubic %.4f, nearest %.4f" % (t["ssim"], t["ssim_bicubic"], t["ssim_nearest"]))
if not p["psnr"] < p["psnr_nearest"]:
    bad.append("the plain generator is no longer below nearest (%.3f vs %.3f)" % (p["psnr"], p["psnr_nearest"]))
print("; ".join(bad))
PY
)
    check "fashion-mnist: plain generator below nearest; adamw + skip = bicubic + icnr above bicubic and nearest" "$r"
else
    ok "# SKIP $FM is missing (Debian's dataset-fashion-mnist): the baseline comparison not run"
fi

# state.h5 is a file of the checkpoint layout table (docs/checkpoint-format.md, the rows "in a
# superres state file"): its own format, the table's checksum, checked values. A damaged or
# foreign one is one line naming the file, the field and the fix. ST: a run stopped at step 4.
"$PIPE" superres "$TMP/rs.ini" --out "$TMP/st0" $RS --stop-after-steps 4 >/dev/null 2>&1
r=$("$PY" - "$TMP/st0/state.h5" <<'PY' 2>&1
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    bad = []
    if f.attrs["format"] != b"revive-superres-state": bad.append("format %r" % f.attrs["format"])
    if f["superres"].attrs["step"] != 4: bad.append("step %r" % f["superres"].attrs["step"])
    for k in ("params/up.conv", "momentum/up.conv", "moment2/up.conv", "running/body/mean",
              "superres/epochs/pixel", "config"):
        if k not in f: bad.append("no " + k)
    if "mask" in f: bad.append("a /mask group (a checkpoint's, not a state's)")
print("; ".join(bad))
PY
)
check "state.h5: the table's state rows (format, step, params, AdamW's moments, running statistics, epochs)" "$r"
# craft NAME PYTHON [crc]: a copy of $TMP/st0 as $TMP/NAME whose state.h5 PYTHON edits (f: the
# open h5py.File); with crc, the table's checksum recomputed as revive does (the checksummed rows
# of a state file in table order: object, name, value); then the whole-file CRC (restamp).
craft() {
    rm -rf "$TMP/$1"; cp -r "$TMP/st0" "$TMP/$1"
    "$PY" - "$TMP/$1/state.h5" "${3:-}" <<PY
import struct, sys, zlib
sys.path.insert(0, "scripts")
import h5py, numpy as np, revive_h5
f = h5py.File(sys.argv[1], "r+")
$2
if sys.argv[2] == "crc":
    c = 0
    for obj, name in (("/", "format"), ("/", "format_version"), ("/", "seed"), ("/", "config"),
                      ("superres", "step"), ("superres", "pixel_sum"), ("superres", "perceptual_sum")):
        c = zlib.crc32(obj.encode() + b"\0" + name.encode() + b"\0", c)
        v = f["config"][()] if name == "config" else f[obj].attrs[name]
        if isinstance(v, (bytes, np.bytes_)): c = zlib.crc32(bytes(v) + b"\0", c)
        elif isinstance(v, (float, np.floating)): c = zlib.crc32(struct.pack("<d", v), c)
        else: c = zlib.crc32(struct.pack("<q", int(v)), c)
    f.attrs.modify("checksum", c)
f.close()
revive_h5.restamp(sys.argv[1])
PY
}
R="$PIPE superres $TMP/rs.ini $RS --resume --out"
craft st-same "" crc
"$PIPE" superres "$TMP/rs.ini" $RS --resume --stop-after-steps 5 --out "$TMP/st-same" >"$TMP/st-same.log" 2>&1
check "a state.h5 rewritten with its checksum recomputed still resumes (the test's checksum is revive's)" \
    "$([ $? -eq 200 ] || tail -n 1 "$TMP/st-same.log")"
craft st-crc "f['superres'].attrs.modify('step', 5)"
one_line_error "a state.h5 whose step was changed: the checksum" \
    "st-crc/state.h5: the checksum of its attributes and config text does not match.*without --resume" $R "$TMP/st-crc"
craft st-range "f['superres/epochs/pixel'][0] = -1.0"
one_line_error "a state.h5 with a negative loss: the field and its bounds" \
    "st-range/state.h5: /superres/epochs/pixel\[0\] = -1.*without --resume" $R "$TMP/st-range"
craft st-past "f['superres'].attrs.modify('step', 13)" crc
one_line_error "a state.h5 past the run's last step" "st-past/state.h5: /superres step = 13, past this run's 12 steps" \
    $R "$TMP/st-past"
craft st-adam "del f['moment2']"
one_line_error "a state.h5 without AdamW's second moment" "st-adam/state.h5.*moment2/" $R "$TMP/st-adam"
craft st-epochs "del f['superres/epochs/lr']; f['superres/epochs/lr'] = np.zeros(3)"
one_line_error "a state.h5 of another number of epochs" "st-epochs/state.h5.*superres/epochs/lr" $R "$TMP/st-epochs"
rm -rf "$TMP/st-old"; mkdir -p "$TMP/st-old"
"$PY" -c "import h5py, sys; f = h5py.File(sys.argv[1], 'w'); f['step'] = [4]; f['values'] = [0.0]" "$TMP/st-old/state.h5"
one_line_error "a state.h5 of the old hand-written layout" \
    "st-old/state.h5: not a pipeline superres state file (no 'format' attribute)" $R "$TMP/st-old"
rm -rf "$TMP/st-ck"; mkdir -p "$TMP/st-ck"; cp "$CKPT" "$TMP/st-ck/state.h5"
one_line_error "a checkpoint as state.h5" "st-ck/state.h5: not a pipeline superres state file but a revive checkpoint" \
    $R "$TMP/st-ck"
one_line_error "pipeline resume of a state.h5" "not a revive checkpoint but a pipeline superres state file (continue its run with pipeline superres CONFIG --resume)" \
    "$PIPE" resume "$TMP/st0/state.h5" --out "$TMP/st-resume"

# A signal stops superres after its step, with state.h5 (the file it saves, not a checkpoint's
# last.h5) named in the handler's message; exit EXIT_STOPPED.
"$PIPE" superres "$TMP/rs.ini" --out "$TMP/sig" $RS --set train.epochs=2000 >"$TMP/sig.log" 2>"$TMP/sig.err" &
pid=$!
i=0
while ! grep -q "^epoch 1/" "$TMP/sig.log" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $pid
wait $pid
rc=$?
r=""
[ "$rc" -eq "$EXIT_STOPPED" ] || r="exit $rc"
grep -q "SIGTERM: finishing this step, then saving state.h5 " "$TMP/sig.err" || r="$r; stderr: $(head -c 300 "$TMP/sig.err")"
grep -q "last.h5" "$TMP/sig.err" "$TMP/sig.log" && r="$r; names last.h5"
[ -f "$TMP/sig/state.h5" ] || r="$r; no state.h5"
check "SIGTERM: superres says it saves state.h5, saves it and exits $EXIT_STOPPED" "$r"

# "Recognizable?": the ResNet-8 classifier above as the judge.
"$PIPE" superres "$TMP/pix.ini" --out "$TMP/judged" --set "superres.judge_checkpoint=$CKPT" >"$TMP/judged.log" 2>&1 ||
    not_ok "judged run: $(tail -n 1 "$TMP/judged.log")"
r=$("$PY" - "$TMP/judged/results.json" <<'PY' 2>&1
import json, sys
t = json.load(open(sys.argv[1]))["test"]
bad = []
for k in ("accuracy_target", "accuracy_output", "accuracy_bicubic", "accuracy_nearest"):
    v = t.get(k)
    if v is None or abs(v * 24 - round(v * 24)) > 1e-9 or not 0 <= v <= 1:
        bad.append("%s = %r (not k/24)" % (k, v))
print("; ".join(bad))
PY
)
check "superres.judge_checkpoint: the classifier's accuracy on targets, outputs, bicubic, nearest" "$r"
grep -q "^recognizable? the judge's accuracy: targets" "$TMP/judged.log"
check "the log prints the judge's accuracies" "$([ $? -eq 0 ] || tail -n 3 "$TMP/judged.log")"

# Bad keys: one line each, naming the key and the fix.
E="$PIPE superres $TMP/pix.ini --out $TMP/bad"
one_line_error "pixel_loss not a choice" "superres.pixel_loss" $E --set superres.pixel_loss=l3
one_line_error "a negative perceptual weight" "perceptual_weight" $E --set superres.perceptual_weight=-1
one_line_error "an empty tap name" "superres.lossnet_taps" $E --set superres.perceptual_weight=1 \
    --set "superres.lossnet_taps=group1.conv1,"
one_line_error "tap weights not one per tap" "lossnet_tap_weights has 1 values for 3 taps" \
    $E --set superres.perceptual_weight=1 --set superres.lossnet_tap_weights=2
one_line_error "the generator as loss network" "lossnet_arch = srresnet is the generator" \
    $E --set superres.perceptual_weight=1 --set superres.lossnet_arch=srresnet
one_line_error "a VGG depth that is not one" "superres.lossnet_depth = 12 is not a VGG depth" \
    $E --set superres.perceptual_weight=1 --set superres.lossnet_depth=12
one_line_error "a tap that is not a layer" "tap 'group9.conv1' is not a layer" \
    $E --set superres.perceptual_weight=1 --set superres.lossnet_taps=group9.conv1
one_line_error "a missing loss network checkpoint" "$TMP/none.h5" \
    $E --set superres.perceptual_weight=1 --set superres.lossnet_checkpoint=$TMP/none.h5
one_line_error "a checkpoint of another network" "superres loss network" \
    $E --set superres.perceptual_weight=1 --set superres.lossnet_arch=resnet --set superres.lossnet_depth=14 \
    --set superres.lossnet_taps=seg1.block0 --set superres.lossnet_checkpoint=$CKPT
one_line_error "odd image sides" "needs even sides" $E --set data.synthetic_size=9
one_line_error "skip not a choice" "superres.skip" $E --set superres.skip=lanczos
one_line_error "a missing judge checkpoint" "superres.judge_checkpoint: " \
    $E --set superres.judge_checkpoint=$TMP/none.h5
one_line_error "a generator as judge" "superres.judge_checkpoint: " \
    $E --set superres.judge_checkpoint=$TMP/ck/pix/generator.h5
one_line_error "train_skip past the end" "superres.train_skip = 500" $E --set superres.train_skip=500
one_line_error "srresnet as a classifier" "pipeline superres" \
    "$PIPE" run "$TMP/cls.ini" --out "$TMP/badrun" --set model.arch=srresnet --set model.depth=8
finish superres
