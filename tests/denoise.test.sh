#!/bin/sh
# pipeline superres with superres.task = denoise (issue 22's second task) end to end on a tiny
# synthetic set (8x8 images): results.json names the task and its baselines (noisy, blur), the
# grid, the generator srresnet_x1; the test noise is the same for every seed and cell (paired);
# --stop-after-steps / --resume is bit-exact; on real images the pixel-loss denoiser beats the
# noisy input; the bad combinations of the task's keys are one-line errors.
set -u
. tests/lib.sh
export OMP_NUM_THREADS=1

# dn_ini NAME [LINE...]: a tiny denoise config (tests/lib.sh's superres_ini, AdamW lr 0.001,
# σ 0.5, skip = input).
dn_ini() {
    n=$1
    shift
    superres_ini "$n" "optimizer = adamw
lr = 0.001" "task = denoise" "noise_sigma = 0.5" "skip = input" "$@"
}

dn_ini pix
"$PIPE" superres "$TMP/pix.ini" >"$TMP/pix.log" 2>&1 || not_ok "denoise run: $(tail -n 1 "$TMP/pix.log")"
r=$("$PY" - "$TMP/ck/pix" <<'PY' 2>&1
import json, math, sys, h5py
d = sys.argv[1]
r = json.load(open(d + "/results.json"))
t = r["test"]
bad = []
if r.get("superres_task") != "denoise": bad.append("superres_task %r" % r.get("superres_task"))
if r.get("baselines") != ["noisy", "blur"]: bad.append("baselines %r" % r.get("baselines"))
if not r["generator"].startswith("SRResNet x1,"): bad.append("generator %r" % r["generator"])
for k in ("psnr", "ssim", "psnr_noisy", "ssim_noisy", "spectral_share_noisy", "psnr_blur",
          "ssim_blur", "spectral_share_blur", "blur_choice_psnr"):
    if not isinstance(t.get(k), float) or not math.isfinite(t[k]): bad.append("%s = %r" % (k, t.get(k)))
if "psnr_bicubic" in t or "psnr_nearest" in t: bad.append("x2's baselines in a denoise run")
if t.get("noise_sigma") != 0.5: bad.append("noise_sigma %r" % t.get("noise_sigma"))
if t.get("blur_sigma") not in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0):
    bad.append("blur_sigma %r not in the grid" % t.get("blur_sigma"))
if t.get("blur_choice_images") != 192: bad.append("blur_choice_images %r" % t.get("blur_choice_images"))
# the blur (the width chosen on training images) denoises: better than the noisy input
if not t["psnr_blur"] > t["psnr_noisy"]: bad.append("blur %.3f <= noisy %.3f" % (t["psnr_blur"], t["psnr_noisy"]))
png = open(d + "/grid.png", "rb").read()
w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
if (w, h) != (4 * 10 + 2, 4 * 10 + 2): bad.append("grid.png is %dx%d" % (w, h))
with h5py.File(d + "/generator.h5", "r") as f:
    if f["params/output"].shape != (1, 32, 3, 3): bad.append("params/output %r" % (f["params/output"].shape,))
    if "params/up.conv" in f: bad.append("an up.conv in the scale-1 generator")
print("; ".join(bad))
PY
)
check "denoise: results.json (task, baselines noisy and blur, the blur's width), grid.png, srresnet_x1's generator.h5" "$r"
grep -q "^test (24 images): PSNR .*; noisy: PSNR .*; blur: PSNR" "$TMP/pix.log" &&
    grep -q "^denoise: the blur baseline's width" "$TMP/pix.log"
check "denoise: the log names the baselines and the blur's width" "$([ $? -eq 0 ] || tail -n 3 "$TMP/pix.log")"

# paired A B WHAT: A's and B's runs measured on the same noisy test images (the baselines'
# metrics equal to the bit, grid.png's noisy and blur columns too) while their outputs differ.
paired() {
    r=$("$PY" - "$1" "$2" <<'PY' 2>&1
import json, sys
import numpy as np
from PIL import Image
a, b = (json.load(open(d + "/results.json")) for d in sys.argv[1:3])
bad = [k for k in ("psnr_noisy", "ssim_noisy", "spectral_share_noisy", "psnr_blur", "ssim_blur",
                   "blur_sigma", "blur_choice_psnr") if a["test"][k] != b["test"][k]]
bad = ["differ: " + ", ".join(bad)] if bad else []
if a["test"]["psnr"] == b["test"]["psnr"]: bad.append("the outputs' PSNR is equal: the runs did not differ")
ga, gb = (np.asarray(Image.open(d + "/grid.png").convert("L")) for d in sys.argv[1:3])
col = ga.shape[1] // 4  # a cell and its padding: 4 columns (noisy, blur, output, target)
if not (ga[:, :2 * col] == gb[:, :2 * col]).all(): bad.append("grid.png's noisy and blur columns differ")
if (ga[:, 2 * col:3 * col] == gb[:, 2 * col:3 * col]).all(): bad.append("grid.png's output columns are equal")
print("; ".join(bad))
PY
)
    check "$3" "$r"
}

# Paired: a perceptual cell measures on the same noisy test images as the pixel loss, while the
# generator differs. (Another seed: on Fashion-MNIST below; synthetic images change with the seed.)
"$PIPE" superres "$TMP/pix.ini" --out "$TMP/cell2" --set superres.perceptual_weight=0.05 \
    --set superres.lossnet_taps=group1.conv1 >"$TMP/cell2.log" 2>&1 || not_ok "perceptual run: $(tail -n 1 "$TMP/cell2.log")"
paired "$TMP/ck/pix" "$TMP/cell2" "denoise: the same noisy test images (and blur) for another cell"

# skip = input: the output conv starts at zero, so with lr = 1e-12 the output is the noisy input.
"$PIPE" superres "$TMP/pix.ini" --out "$TMP/lr0" --set train.lr=1e-12 --set train.epochs=1 >"$TMP/lr0.log" 2>&1 ||
    not_ok "lr = 1e-12 run: $(tail -n 1 "$TMP/lr0.log")"
r=$("$PY" -c "
import json; t = json.load(open('$TMP/lr0/results.json'))['test']
print('' if abs(t['psnr'] - t['psnr_noisy']) < 1e-6 and abs(t['ssim'] - t['ssim_noisy']) < 1e-6 else 'PSNR %r SSIM %r, noisy %r %r' % (t['psnr'], t['ssim'], t['psnr_noisy'], t['ssim_noisy']))" 2>&1)
check "skip = input: an untrained generator's output is the noisy input itself" "$r"

# The same run again: the same bits (the noise is a function of seed, epoch, image and pixel).
"$PIPE" superres "$TMP/pix.ini" --out "$TMP/pix2" >/dev/null 2>&1
r=""
same_generator "$TMP/ck/pix/generator.h5" "$TMP/pix2/generator.h5" || r="generator.h5 differs"
check "denoise is deterministic: a second run's generator is bit-identical" "$r"

# Resume mid-epoch and at an epoch's end (the second epoch draws fresh noise), bit for bit.
dn_ini rs "perceptual_weight = 0.05" "lossnet_taps = group1.conv1"
"$PIPE" superres "$TMP/rs.ini" --out "$TMP/rs-straight" >"$TMP/rs1.log" 2>&1 || not_ok "straight run: $(tail -n 1 "$TMP/rs1.log")"
"$PIPE" superres "$TMP/rs.ini" --out "$TMP/rs-stopped" --stop-after-steps 4 >/dev/null 2>&1
r1=$?
"$PIPE" superres "$TMP/rs.ini" --out "$TMP/rs-stopped" --resume --stop-after-steps 6 >/dev/null 2>&1
r2=$?
"$PIPE" superres "$TMP/rs.ini" --out "$TMP/rs-stopped" --resume >"$TMP/rs4.log" 2>&1
r3=$?
r=""
[ "$r1.$r2.$r3" = "200.200.0" ] || r="exit statuses $r1.$r2.$r3, not 200.200.0: $(tail -n 1 "$TMP/rs4.log")"
same_generator "$TMP/rs-straight/generator.h5" "$TMP/rs-stopped/generator.h5" || r="$r; generator.h5 differs"
check "denoise --stop-after-steps 4, --resume to 6, --resume: the same bits as straight through" "$r"

# x2 names its own baselines (scripts/superres_report.py reads them).
"$PIPE" superres "$TMP/pix.ini" --out "$TMP/x2" --set superres.task=x2 --set superres.noise_sigma=0 \
    --set superres.skip=bicubic --set train.epochs=1 >"$TMP/x2.log" 2>&1 || not_ok "x2 run: $(tail -n 1 "$TMP/x2.log")"
r=$("$PY" -c "
import json; r = json.load(open('$TMP/x2/results.json'))
print('' if r['superres_task'] == 'x2' and r['baselines'] == ['nearest', 'bicubic'] and 'psnr_bicubic' in r['test'] and 'noise_sigma' not in r['test'] and r['generator'].startswith('SRResNet x2,') else 'x2: %r %r' % (r.get('superres_task'), r.get('baselines')))" 2>&1)
check "x2: results.json names the task and the baselines nearest, bicubic" "$r"

# Real images: 640 Fashion-MNIST images, 2 epochs (20 steps): the pixel-loss denoiser beats
# the noisy input by a clear margin (3 dB) in PSNR, and its SSIM too.
FM=/usr/share/datasets/fashion-mnist
if [ -f "$FM/t10k-images-idx3-ubyte.gz" ]; then
    "$PIPE" superres "$TMP/pix.ini" --out "$TMP/fm" --set data.dataset=fashion_mnist \
        --set data.train_limit=640 --set data.test_limit=100 >"$TMP/fm.log" 2>&1 ||
        not_ok "fashion-mnist denoise run: $(tail -n 1 "$TMP/fm.log")"
    r=$("$PY" -c "
import json; t = json.load(open('$TMP/fm/results.json'))['test']
print('' if t['psnr'] > t['psnr_noisy'] + 3 and t['ssim'] > t['ssim_noisy'] else 'PSNR %.3f (noisy %.3f), SSIM %.4f (noisy %.4f)' % (t['psnr'], t['psnr_noisy'], t['ssim'], t['ssim_noisy']))" 2>&1)
    check "fashion-mnist: the pixel-loss denoiser beats the noisy input by 3 dB PSNR" "$r"
    # another seed (and cell, one epoch): the same noisy test images, the same blur
    "$PIPE" superres "$TMP/pix.ini" --out "$TMP/fm2" --set data.dataset=fashion_mnist \
        --set data.train_limit=640 --set data.test_limit=100 --set run.seed=2 --set train.epochs=1 \
        --set superres.perceptual_weight=0.05 --set superres.lossnet_taps=group1.conv1 >"$TMP/fm2.log" 2>&1 ||
        not_ok "fashion-mnist seed 2 run: $(tail -n 1 "$TMP/fm2.log")"
    paired "$TMP/fm" "$TMP/fm2" "fashion-mnist: the same noisy test images (and blur) for another seed and cell"
else
    ok "# SKIP $FM is missing (Debian's dataset-fashion-mnist): the real-data run not made"
fi

# Bad combinations: one line each, naming the key and the fix.
E="$PIPE superres $TMP/pix.ini --out $TMP/bad"
one_line_error "denoise without noise" "superres.task = denoise needs superres.noise_sigma > 0" \
    $E --set superres.noise_sigma=0
one_line_error "a negative noise_sigma" "noise_sigma" $E --set superres.noise_sigma=-0.5
one_line_error "noise for x2" "superres.noise_sigma = 0.5 is for superres.task = denoise" \
    $E --set superres.task=x2 --set superres.skip=none
one_line_error "denoise with skip = bicubic" "superres.skip = bicubic upsamples a x2 input" \
    $E --set superres.skip=bicubic
one_line_error "denoise with skip = nearest" "superres.skip = nearest upsamples a x2 input" \
    $E --set superres.skip=nearest
one_line_error "x2 with skip = input" "superres.skip = input is for superres.task = denoise" \
    $E --set superres.task=x2 --set superres.noise_sigma=0
one_line_error "denoise with icnr" "set superres.icnr = false" $E --set superres.icnr=true
one_line_error "task not a choice" "superres.task" $E --set superres.task=x4
one_line_error "the denoiser as loss network" "lossnet_arch = srresnet_x1 is the generator" \
    $E --set superres.perceptual_weight=1 --set superres.lossnet_arch=srresnet_x1
one_line_error "a denoising generator as judge" "superres.judge_checkpoint: " \
    $E --set superres.judge_checkpoint=$TMP/ck/pix/generator.h5
cat >"$TMP/cls.ini" <<INI
[run]
name = cls
out_dir = $TMP/ck
[data]
dataset = synthetic
synthetic_size = 8
INI
one_line_error "srresnet_x1 as a classifier" "model.arch = srresnet_x1 is an image-to-image network" \
    "$PIPE" run "$TMP/cls.ini" --out "$TMP/badrun" --set model.arch=srresnet_x1 --set model.depth=8
finish denoise
