#!/bin/sh
# scripts/superres_experiment.sh and scripts/superres_report.py on a tiny run (the experiment's
# configs on 64 synthetic 28x28 training images and 16 test images, 1 epoch, not niced):
# issue 22's remaining cells (the λ sweep, the N(0, 0.01²) initialization, random and trained
# ResNet loss networks) run, land in the directories the report reads, resume, and come out in
# its summary and figure.
set -u
. tests/lib.sh
export OMP_NUM_THREADS=1
SYN="--set data.dataset=synthetic --set data.synthetic_size=28 --set data.synthetic_train=64 --set data.synthetic_test=16"
for c in judge vgg-half resnet-half; do
    # shellcheck disable=SC2086
    "$PIPE" run configs/superres-$c.ini --out "$TMP/$c" $SYN --set train.epochs=1 >"$TMP/$c.log" 2>&1 ||
        not_ok "configs/superres-$c.ini: $(tail -n 1 "$TMP/$c.log")"
done
export EXTRA="$SYN --set superres.train_skip=0 --set train.epochs=1 --set train.batch_size=32 --set train.eval_batch_size=32 --set superres.grid_images=6"
export CELLS="pixel vgg-normal vgg-normal0.1 resnet-liu resnet-trained" LAMBDAS="0.05 0.2" SEEDS="1 2" NICE=0
sh scripts/superres_experiment.sh "$PIPE" "$TMP/sr" "$TMP/judge/stage-00.h5" "$TMP/vgg-half/stage-00.h5" \
    "$TMP/resnet-half/stage-00.h5" >"$TMP/sr.log" 2>&1
r=""
[ "$(grep -c ': exit 0 ' "$TMP/sr.log")" = 18 ] || r="$(grep -vc ': exit 0 ' "$TMP/sr.log") runs failed: $(head -c 300 "$TMP/sr.log")"
for d in pixel vgg-normal vgg-normal-l0.2 vgg-normal0.1 vgg-normal0.1-l0.2 resnet-liu resnet-liu-l0.2 resnet-trained resnet-trained-l0.2; do
    for s in 1 2; do
        [ -f "$TMP/sr/$d/seed-$s/results.json" ] || r="$r; no $d/seed-$s/results.json"
    done
done
grep -q "0.2 x perceptual (ResNet-20 width 1, liu" "$TMP/sr/resnet-liu-l0.2/seed-1/log.txt" ||
    r="$r; resnet-liu-l0.2's log: $(head -n 1 "$TMP/sr/resnet-liu-l0.2/seed-1/log.txt")"
grep -q "perceptual (VGG-11-BN width 1, pool head, normal 0.01," "$TMP/sr/vgg-normal/seed-1/log.txt" ||
    r="$r; vgg-normal's log: $(head -n 1 "$TMP/sr/vgg-normal/seed-1/log.txt")"
grep -q "perceptual (VGG-11-BN width 1, pool head, normal 0.1," "$TMP/sr/vgg-normal0.1-l0.2/seed-2/log.txt" ||
    r="$r; vgg-normal0.1-l0.2's log: $(head -n 1 "$TMP/sr/vgg-normal0.1-l0.2/seed-2/log.txt")"
grep -q "perceptual (ResNet-20 width 1, $TMP/resnet-half/stage-00.h5" "$TMP/sr/resnet-trained/seed-2/log.txt" ||
    r="$r; resnet-trained's log: $(head -n 1 "$TMP/sr/resnet-trained/seed-2/log.txt")"
check "the cells: pixel, vgg-normal (N(0, 0.01²)), vgg-normal0.1 (N(0, 0.1²)), random and trained ResNet-20, at λ 0.05 and 0.2, 2 seeds" "$r"
sh scripts/superres_experiment.sh "$PIPE" "$TMP/sr" "$TMP/judge/stage-00.h5" "$TMP/vgg-half/stage-00.h5" \
    "$TMP/resnet-half/stage-00.h5" >"$TMP/sr2.log" 2>&1
check "a second call runs nothing (resumable)" "$([ ! -s "$TMP/sr2.log" ] || head -c 300 "$TMP/sr2.log")"
CELLS="resnet-trained" SEEDS=1 sh scripts/superres_experiment.sh "$PIPE" "$TMP/sr3" "$TMP/judge/stage-00.h5" \
    "$TMP/vgg-half/stage-00.h5" >"$TMP/sr3.log" 2>&1
check "resnet-trained without RESNET.h5: skipped, saying so" \
    "$(grep -q 'resnet-trained seed 1: skipped (no RESNET.h5 given)' "$TMP/sr3.log" || head -c 300 "$TMP/sr3.log")"
# the other two inits of Liu et al.'s table map to their keys (the log names each)
CELLS="vgg-xavier vgg-uniform" SEEDS=1 LAMBDAS=0.05 sh scripts/superres_experiment.sh "$PIPE" "$TMP/sr5" \
    "$TMP/judge/stage-00.h5" "$TMP/vgg-half/stage-00.h5" >"$TMP/sr5.log" 2>&1
r=""
grep -q "perceptual (VGG-11-BN width 1, pool head, xavier," "$TMP/sr5/vgg-xavier/seed-1/log.txt" ||
    r="vgg-xavier: $(head -c 300 "$TMP/sr5.log")"
grep -q "perceptual (VGG-11-BN width 1, pool head, uniform 0.01," "$TMP/sr5/vgg-uniform/seed-1/log.txt" ||
    r="$r; vgg-uniform: $(head -c 300 "$TMP/sr5.log")"
check "the cells vgg-xavier and vgg-uniform (U[-0.01, 0.01])" "$r"
# a cell stopped by a signal (here --stop-after-steps) continues from its state.h5 on the next call,
# to the bits of the run made straight through ($TMP/sr/pixel/seed-1)
CELLS=pixel SEEDS=1 EXTRA="$EXTRA --stop-after-steps 1" sh scripts/superres_experiment.sh "$PIPE" "$TMP/sr4" \
    "$TMP/judge/stage-00.h5" "$TMP/vgg-half/stage-00.h5" >"$TMP/sr4.log" 2>&1
CELLS=pixel SEEDS=1 sh scripts/superres_experiment.sh "$PIPE" "$TMP/sr4" "$TMP/judge/stage-00.h5" \
    "$TMP/vgg-half/stage-00.h5" >>"$TMP/sr4.log" 2>&1
r=$("$PY" - "$TMP/sr4/pixel/seed-1/results.json" "$TMP/sr/pixel/seed-1/results.json" <<'PY' 2>&1
import json, sys
a, b = (json.load(open(p))["test"] for p in sys.argv[1:])
print("" if all(a[k] == b[k] for k in ("psnr", "ssim", "accuracy_output")) else "resumed %r, straight %r" % (a, b))
PY
)
grep -q "pixel λ 0 seed 1: exit 200 " "$TMP/sr4.log" || r="$r; not stopped first: $(head -c 300 "$TMP/sr4.log")"
grep -q "pixel λ 0 seed 1: exit 0 (resumed) " "$TMP/sr4.log" || r="$r; not resumed: $(tail -c 300 "$TMP/sr4.log")"
grep -q "^--- resumed " "$TMP/sr4/pixel/seed-1/log.txt" || r="$r; the log was not appended"
check "a stopped cell resumes from its state.h5, to the straight run's results" "$r"
"$PY" scripts/superres_report.py "$TMP/sr" "$TMP/data" "$TMP/grid.png" >"$TMP/report.md" 2>&1 ||
    not_ok "superres_report.py: $(tail -n 1 "$TMP/report.md")"
r=$("$PY" - "$TMP/data/summary.json" <<'PY' 2>&1
import json, sys
s = json.load(open(sys.argv[1]))
bad = []
c = s["cells"]
want = {"pixel": (None, None, 0), "vgg-normal": ("vgg", "normal", 0.05),
        "resnet-liu-l0.2": ("resnet", "liu", 0.2), "resnet-trained": ("resnet", "trained", 0.05),
        "vgg-normal0.1-l0.2": ("vgg", "normal0.1", 0.2)}
for k, v in want.items():
    got = (c[k]["family"], c[k]["init"], c[k]["lambda"]) if k in c else None
    if got != v: bad.append("%s: %r, not %r" % (k, got, v))
if len(c) != 9: bad.append("%d cells" % len(c))
if len(s["comparisons"]) != 8 * 3: bad.append("%d comparisons, not 24" % len(s["comparisons"]))
rec = s["recovered_share_of_trained_gain"]
for k in ("resnet-liu ssim", "resnet-liu-l0.2 accuracy_output"):
    if k not in rec: bad.append("no recovered share '%s'" % k)
if any(k.startswith("vgg-normal") for k in rec): bad.append("vgg-normal compared without a trained VGG")
print("; ".join(bad))
PY
)
check "the report: each cell's family, init and λ, 24 paired comparisons, random vs trained of the same family and λ" "$r"
r=""
grep -q "^| + 0.2 x random, Liu et al.'s init ResNet-20 | 2 |" "$TMP/report.md" || r="no ResNet λ 0.2 row: $(head -c 400 "$TMP/report.md")"
[ -f "$TMP/grid.png" ] || r="$r; no grid.png"
check "the report's table has the λ sweep's rows, and the figure" "$r"
# TASK=denoise: the same cells on configs/denoise.ini; the report names its baselines (the
# noisy input, the blur and its width) in place of nearest and bicubic.
TASK=denoise CELLS="pixel vgg-liu" SEEDS="1 2" LAMBDAS=0.05 sh scripts/superres_experiment.sh "$PIPE" \
    "$TMP/dn" "$TMP/judge/stage-00.h5" "$TMP/vgg-half/stage-00.h5" >"$TMP/dn.log" 2>&1
r=""
[ "$(grep -c ': exit 0 ' "$TMP/dn.log")" = 4 ] || r="not 4 runs: $(head -c 300 "$TMP/dn.log")"
grep -q "noise sigma 0.5), mse loss + 0.05 x perceptual (VGG-11-BN" "$TMP/dn/vgg-liu/seed-2/log.txt" ||
    r="$r; vgg-liu's log: $(head -n 1 "$TMP/dn/vgg-liu/seed-2/log.txt")"
"$PY" scripts/superres_report.py "$TMP/dn" "$TMP/dndata" "$TMP/dngrid.png" >"$TMP/dnreport.md" 2>&1 ||
    r="$r; superres_report.py: $(tail -n 1 "$TMP/dnreport.md")"
grep -q "^| noisy input | - |" "$TMP/dnreport.md" && grep -q "^| Gaussian blur (σ = [0-9.]* px, chosen on training images) | - |" "$TMP/dnreport.md" ||
    r="$r; no noisy and blur rows: $(head -c 300 "$TMP/dnreport.md")"
grep -q "bicubic\|nearest" "$TMP/dnreport.md" && r="$r; x2's baselines in the denoise table"
r=$r$("$PY" -c "
import json; s = json.load(open('$TMP/dndata/summary.json'))
print('' if s['task'] == 'denoise' and s['baselines'] == ['noisy', 'blur'] and len(s['comparisons']) == 3 and s['cells']['pixel']['noise_sigma'] == 0.5 else '; summary %r %r' % (s.get('task'), s.get('baselines')))" 2>&1)
[ -f "$TMP/dngrid.png" ] || r="$r; no grid"
check "TASK=denoise: the cells on configs/denoise.ini, the report's rows noisy input and Gaussian blur" "$r"
finish superres_experiment
