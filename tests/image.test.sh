#!/bin/sh
# pipeline image-metrics (src/cli/image_metrics.c) end to end: its JSON, its one-line errors, and —
# where scikit-image is installed (python3-skimage) — its numbers against skimage, numpy and scipy
# on the images skimage ships (tests/tools/image_reference.py), and the reference values stored in
# tests/test_image.c against that script. Run from the repository root: sh tests/image.test.sh
. tests/lib.sh
FIX=tests/data/png

r=""
"$PIPE" --help >"$TMP/help.out" 2>&1 || r="exit $? ($(tail -c 200 "$TMP/help.out"))"
grep -q "image-metrics A.png B.png" "$TMP/help.out" || r="${r:-no image-metrics line}"
check "pipeline --help exits 0 and lists image-metrics (it crashed on a command row without operands)" "$r"

# json FILE EXPR: evaluates a Python expression over the JSON object in FILE as j; prints it.
json() { "$PY" -c "import json, sys; j = json.load(open(sys.argv[1])); print($2)" "$1"; }

"$PIPE" image-metrics $FIX/rgb8.png $FIX/rgb8.png --format json --win 3 >"$TMP/same.json" 2>"$TMP/same.err"
check "an image against itself: PSNR null (infinite), SSIM 1, spectrum distance 0, W1 0" \
    "$([ "$(json "$TMP/same.json" 'j["psnr"], float(j["ssim"]), float(j["spectrum_distance"]), float(j["w1_gray"]), j["channels"]' 2>&1)" = \
        "None 1.0 0.0 0.0 3" ] || head -c 300 "$TMP/same.json" "$TMP/same.err")"
"$PIPE" image-metrics $FIX/rgb8.png $FIX/gray16.png --win 3 --levels 11 --cutoff 0.1 --bins 2 --format json \
    >"$TMP/mixed.json" 2>&1
check "colour against gray is measured as gray; the options reach the JSON" \
    "$([ "$(json "$TMP/mixed.json" 'j["channels"], j["ssim_win"], j["w1_levels"], float(j["cutoff"]), j["spectrum_bins"]' 2>&1)" = \
        "1 3 11 0.1 2" ] || head -c 300 "$TMP/mixed.json")"
"$PIPE" image-metrics $FIX/rgb8.png $FIX/rgba8.png --win 3 >"$TMP/text.out" 2>&1
check "text output names both files and every measurement" \
    "$(for w in rgba8.png rgb8.png PSNR SSIM 'spectral energy above 0.25' 'spectrum distance' W1; do
           grep -q "$w" "$TMP/text.out" || echo "no '$w' in: $(head -c 300 "$TMP/text.out")"; done)"

one_line_error "a missing image: one line naming it" "$TMP/none.png: cannot open.*check the path" \
    "$PIPE" image-metrics $FIX/rgb8.png "$TMP/none.png"
printf 'not a png' >"$TMP/text.png"
one_line_error "not a PNG: one line naming it" "$TMP/text.png: not a PNG file" \
    "$PIPE" image-metrics "$TMP/text.png" $FIX/rgb8.png
head -c 60 $FIX/rgb16.png >"$TMP/cut.png"
one_line_error "a truncated PNG: one line naming it" "$TMP/cut.png: damaged or truncated PNG" \
    "$PIPE" image-metrics $FIX/rgb16.png "$TMP/cut.png"
"$PY" -c "
import struct, zlib
ihdr = struct.pack('>IIBBBBB', 4, 4, 8, 0, 0, 0, 0)
c = lambda k, d: struct.pack('>I', len(d)) + k + d + struct.pack('>I', zlib.crc32(k + d))
open('$TMP/small.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + c(b'IHDR', ihdr) +
    c(b'IDAT', zlib.compress(b'\0\1\2\3\4' * 4)) + c(b'IEND', b''))"
one_line_error "images of two sizes: one line naming both" "small.png is 4 x 4, .*rgb8.png is 5 x 3" \
    "$PIPE" image-metrics "$TMP/small.png" $FIX/rgb8.png
one_line_error "images smaller than the SSIM window: one line saying --win 3" "smaller than SSIM's 7 x 7 window; give --win 3" \
    "$PIPE" image-metrics $FIX/rgb8.png $FIX/rgb8.png
ERROR_STATUS=2 one_line_error "an even --win: a usage error" "window must have an odd side" \
    "$PIPE" image-metrics $FIX/rgb8.png $FIX/rgb8.png --win 4
ERROR_STATUS=2 one_line_error "--cutoff above 1/2: a usage error" "0 < F <= 0.5" \
    "$PIPE" image-metrics $FIX/rgb8.png $FIX/rgb8.png --cutoff 0.6

# ---- against scikit-image, where it is installed ----
if ! "$PY" -c "import skimage, scipy" 2>/dev/null; then
    ok "skipped: the scikit-image cross-checks (no python3-skimage)"
    finish image
    exit $?
fi
SK=$("$PY" -c "import os, skimage; print(os.path.join(os.path.dirname(skimage.__file__), 'data'))")

# The numbers tests/test_image.c stores are what the reference script prints today.
"$PY" tests/tools/image_reference.py >"$TMP/refs.h" 2>&1
r=""
while read -r line; do
    grep -qxF "$line" tests/test_image.c || r="${r:+$r; }tests/test_image.c lacks '$line'"
done <"$TMP/refs.h"
check "tests/test_image.c's reference values are skimage/numpy/scipy's (tests/tools/image_reference.py)" "$r"

# A noisy astronaut (RGB against RGB): written by PIL, uint8.
"$PY" -c "
import numpy as np
from PIL import Image
a = np.asarray(Image.open('$SK/astronaut.png').convert('RGB')).astype(int)
n = (np.arange(a.size).reshape(a.shape) * 2654435761 % 61) - 30
Image.fromarray(np.clip(a + n, 0, 255).astype(np.uint8)).save('$TMP/noisy.png')"
# One python run for every pair (importing skimage takes seconds on a loaded machine).
pairs="$SK/brick.png $SK/grass.png $SK/camera.png $SK/astronaut.png $SK/astronaut.png $TMP/noisy.png"
# shellcheck disable=SC2086
"$PY" tests/tools/image_reference.py $pairs >"$TMP/py.json" 2>&1
set -- $pairs
i=1
while [ $# -ge 2 ]; do
    "$PIPE" image-metrics "$1" "$2" --format json >"$TMP/c.json" 2>&1
    r=$("$PY" -c "
import json, sys
c, p = json.load(open('$TMP/c.json')), json.loads(open('$TMP/py.json').read().splitlines()[$i - 1])
bad = [f'{k}: revive {c[k]!r}, skimage {p[k]!r}' for k in p
       if abs(c[k] - p[k]) > 1e-6 * max(1.0, abs(p[k]))]
print('; '.join(bad))" 2>&1)
    check "image-metrics $(basename "$1") $(basename "$2") agrees with skimage/numpy/scipy to 1e-6" "$r"
    shift 2
    i=$((i + 1))
done
finish image
