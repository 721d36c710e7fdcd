#!/bin/sh
# The pipeline on an MLP-Mixer (model.arch = mixer), unchanged: a tiny Mixer on synthetic data
# trains norm only (every LayerNorm γ and β), re-initializes the LayerNorm units whose |γ| < τ
# (γ, β and the column of the channel MLP's first Dense that reads the channel), then trains
# all; its checkpoints resume bit-exact (after a stage, and mid-stage), hold no /running for the
# LayerNorm units, `inspect` shows the run and a seed-only export evaluates like the full file;
# recalibration has nothing to do; the single-stage kinds (bn_output, output, per_channel) train
# the parameters they name.
set -u
. tests/lib.sh
same() { # name, a.h5, b.h5: parameters, momentum, masks, statistics and test accuracy identical
    if h5diff -q "$2" "$3" /params /params && h5diff -q "$2" "$3" /momentum /momentum &&
       h5diff -q "$2" "$3" /mask /mask && h5diff -q "$2" "$3" /stats /stats &&
       h5diff -q "$2" "$3" /history/test_acc /history/test_acc; then
        ok "$1"
    else
        not_ok "$1"
    fi
}
cat > "$TMP/mx.ini" <<INI
[run]
name = mx
out_dir = $TMP/ck
[data]
dataset = synthetic
synthetic_train = 96
synthetic_test = 32
[model]
arch = mixer
patch = 2
hidden = 8
tokens_mlp = 6
channels_mlp = 12
blocks = 2
[train]
batch_size = 32
lr = 0.1
weight_decay = 5e-3
[pipeline]
enabled = true
fractions = 0, 1
epochs = 2
threshold = 1
INI
# 96 images in batches of 32: 3 steps an epoch, 6 a stage.
"$PIPE" run "$TMP/mx.ini" > "$TMP/straight.log" 2>&1 || not_ok "staged Mixer run: $(tail -n 2 "$TMP/straight.log")"
S=$TMP/ck/mx
[ -f "$S/stage-00.h5" ] && [ -f "$S/stage-01.h5" ] && ok "stage files written" || not_ok "stage files written"
grep -q "^revive: mx  MLP-Mixer patch 2, C 8, D_S 6, D_C 12, 2 blocks on synthetic" "$TMP/straight.log" &&
    ok "the start line names the Mixer" || not_ok "the start line names the Mixer: $(grep '^revive:' "$TMP/straight.log")"
# norm only: 2 blocks x 2 LayerNorms + the final one, 8 channels each, γ and β: 80
grep -q "stage 0: BN only, 2 epochs, 80 of " "$TMP/straight.log" && ok "norm only trains the 80 LayerNorm parameters" ||
    not_ok "norm only trains the LayerNorm parameters: $(grep '^stage 0:' "$TMP/straight.log")"
n=$(sed -n 's/.*re-initialized \([0-9]*\) filters.*/\1/p' "$TMP/straight.log")
[ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -lt 16 ] && ok "some of the 16 LayerNorm units' channels are re-initialized ($n)" ||
    not_ok "LayerNorm channels re-initialized: '$n' ($(grep '^stage 1:' "$TMP/straight.log"))"
if h5ls "$S/stage-01.h5/running" > /dev/null 2>&1; then not_ok "no /running for LayerNorm units"
else ok "no /running for LayerNorm units"; fi

# resume after stage 0 (before its re-initialization), and mid-stage twice
"$PIPE" resume "$S/stage-00.h5" --out "$TMP/after" > "$TMP/a.log" 2>&1 || not_ok "resume from stage-00.h5: $(tail -n 1 "$TMP/a.log")"
same "resumed after stage 0 = straight run" "$S/stage-01.h5" "$TMP/after/stage-01.h5"
stopped "$PIPE" run "$TMP/mx.ini" --out "$TMP/mid" --stop-after-steps 4 > "$TMP/m1.log" 2>&1 || not_ok "stop after 4 steps"
stopped "$PIPE" resume "$TMP/mid/last.h5" --stop-after-steps 4 > "$TMP/m2.log" 2>&1 || not_ok "resume, stop again"
"$PIPE" resume "$TMP/mid/last.h5" > "$TMP/m3.log" 2>&1 || not_ok "resume to the end: $(tail -n 1 "$TMP/m3.log")"
same "interrupted mid-stage twice = straight run" "$S/stage-01.h5" "$TMP/mid/stage-01.h5"

"$PIPE" inspect "$S/stage-01.h5" > "$TMP/insp.out" 2> "$TMP/insp.err" &&
    grep -q "^    1  all " "$TMP/insp.out" && grep -q "16 filters" "$TMP/insp.out" &&
    ok "inspect shows the Mixer run" || not_ok "inspect shows the Mixer run: $(head -n 3 "$TMP/insp.out" "$TMP/insp.err")"
"$PIPE" export "$S/stage-00.h5" "$TMP/seed.h5" --seed-only > "$TMP/x.log" 2>&1 || not_ok "seed-only export: $(tail -n 1 "$TMP/x.log")"
a=$("$PIPE" eval "$S/stage-00.h5" 2>&1 | grep -i "acc" | head -n 1 | sed "s|^[^:]*: ||")
b=$("$PIPE" eval "$TMP/seed.h5" 2>&1 | grep -i "acc" | head -n 1 | sed "s|^[^:]*: ||")
[ -n "$a" ] && [ "$a" = "$b" ] && ok "a seed-only Mixer export evaluates like the full file" ||
    not_ok "seed-only export evaluates like the full file: '$a' vs '$b'"

# A network without BatchNorm has nothing to recalibrate: pipeline.recalibrate_batches uses no
# batch and measures the same accuracy (a LayerNorm unit has no running statistics to reset).
"$PIPE" run "$TMP/mx.ini" --set pipeline.recalibrate_batches=2 --out "$TMP/recal" > "$TMP/recal.log" 2>&1 ||
    not_ok "recalibrate_batches on a Mixer: $(tail -n 1 "$TMP/recal.log")"
grep -q "test accuracy after: \([0-9.]*%\), after recalibrating BatchNorm on 0 batches: \1)" "$TMP/recal.log" &&
    ok "no recalibration on a Mixer: 0 batches, the same accuracy" ||
    not_ok "no recalibration on a Mixer: $(grep '^stage 1:' "$TMP/recal.log")"
h5diff -q "$S/stage-01.h5" "$TMP/recal/stage-01.h5" /params /params &&
    ok "recalibrate_batches changes no parameter of a Mixer" || not_ok "recalibrate_batches changes no parameter of a Mixer"
# single stages: what each kind trains on this Mixer (1,008 parameters: LayerNorm 80, head 36,
# 92 weight rows of the stem, token and channel MLPs, k = 2 each)
for k in "bn_output 116" "output 36" "per_channel 184"; do
    set -- $k
    "$PIPE" run "$TMP/mx.ini" --set pipeline.enabled=false --set train.trainable=$1 --set train.epochs=1 \
        --out "$TMP/one-$1" > "$TMP/one-$1.log" 2>&1 || not_ok "train.trainable = $1: $(tail -n 1 "$TMP/one-$1.log")"
    grep -q "^stage 0: .*, 1 epochs\?, $2 of " "$TMP/one-$1.log" && ok "train.trainable = $1 trains $2 parameters" ||
        not_ok "train.trainable = $1 trains $2: $(grep '^stage 0:' "$TMP/one-$1.log")"
done

# A Mixer is no loss network (lossnet_check_arch): style with model.arch = mixer or a Mixer's
# checkpoint, and superres.lossnet_arch = mixer, stop with one line naming the key and the fix.
"$PY" - "$TMP/gray.png" <<'PYEOF'
import struct, sys, zlib
def chunk(k, d):
    return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xFFFFFFFF)
raw = b"".join(b"\x00" + bytes((7 * x + 3 * y) % 256 for x in range(8)) for y in range(8))
with open(sys.argv[1], "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PYEOF
cat > "$TMP/style.ini" <<INI
[run]
name = st
out_dir = $TMP/ck
threads = 1
[style]
style_image = "$TMP/gray.png"
style_taps = "block0.norm1"
content_taps = ""
swag_taps = ""
evaluations = 2
INI
FIX="cannot be a loss network: .* use resnet, imagenet_resnet or vgg"
one_line_error "style with model.arch = mixer: one line naming the key" "^pipeline: model.arch = mixer $FIX" \
    "$PIPE" style "$TMP/style.ini" --set model.arch=mixer
one_line_error "style with a Mixer's checkpoint: one line naming the file" \
    "^pipeline: style.checkpoint = $S/stage-01.h5: its model.arch = mixer $FIX" \
    "$PIPE" style "$TMP/style.ini" --set "style.checkpoint=\"$S/stage-01.h5\""
one_line_error "superres.lossnet_arch = mixer: one line naming the key" "^pipeline: superres.lossnet_arch = mixer $FIX" \
    "$PIPE" superres "$TMP/mx.ini" --set model.arch=resnet --set pipeline.enabled=false \
    --set superres.perceptual_weight=0.05 --set superres.lossnet_arch=mixer --set superres.lossnet_taps=block0
finish mixer
