#!/bin/sh
# pipeline inspect end to end: a 3-stage ResNet-8 run on synthetic data (a few seconds), then the
# table, CSV (stage and per-layer row counts), JSON (parses) and every error exit. The counts the
# CSV reports are recomputed independently from the file with h5py (skipped, with a message, when
# /usr/bin/python3 has no h5py). Run from the repository root after `make tests`:
#   sh tests/inspect.test.sh          PIPELINE=/path/to/driver sh tests/inspect.test.sh
# Prints "ok - ..." or "not ok - ..." per check; exits non-zero if any check failed.

. tests/lib.sh

tiny_staged_ini "$TMP/insp.ini" insp 2
F=$TMP/ck/insp/stage-02.h5
if ! "$PIPE" run "$TMP/insp.ini" >"$TMP/run.out" 2>&1 || [ ! -f "$F" ]; then
    not_ok "the 3-stage run failed: $(tail -n 3 "$TMP/run.out")"
    exit 1
fi

# insp OUT ARGS...: runs inspect with stdout in OUT, stderr in $TMP/err; sets rc.
insp() { o=$1; shift; "$PIPE" inspect "$@" >"$o" 2>"$TMP/err"; rc=$?; }
# clean RESULT-NAME: rc was 0 and stderr stayed empty.
clean() { if [ "$rc" -ne 0 ]; then echo "exit $rc: $(head -n 1 "$TMP/err")"; elif [ -s "$TMP/err" ]; then echo "stderr: $(head -n 1 "$TMP/err")"; fi; }

HAVE_H5PY=0
"$PY" -c 'import h5py' 2>/dev/null && HAVE_H5PY=1
# units = lines of /stats/units; ResNet-8 has stem + 3 blocks x 2 convs + 2 shortcuts = 9
UNITS=9
if [ "$HAVE_H5PY" = 1 ]; then
    UNITS=$("$PY" -c 'import h5py, sys
u = h5py.File(sys.argv[1], "r")["stats/units"][()]
print(len((u.decode() if isinstance(u, bytes) else u).splitlines()))' "$F")
fi
check "stats/units names 9 units" "$([ "$UNITS" = 9 ] || echo "found $UNITS")"

# --- the table ------------------------------------------------------------------------------
insp "$TMP/table" "$F"
r=$(clean)
# the stage rows: after the header, up to the first blank line, each starting with its number
rows=$(sed -n '2,/^$/p' "$TMP/table" | grep -c '^ *[0-9]')
[ -z "$r" ] && [ "$rows" != 3 ] && r="$rows stage rows, expected 3"
[ -z "$r" ] && ! grep -q '^clamping |γ| < 0.05 to 0 changed accuracy by at most [0-9.]* points' "$TMP/table" &&
    r="no clamping note"
[ -z "$r" ] && ! grep -q '^log10|γ| at the end of stage 2 (336 filters' "$TMP/table" && r="no histogram of stage 2"
check "table: one row per stage, the clamping note, the histogram" "$r"

insp "$TMP/t1" "$F" --stage 1
r=$(clean)
rows=$(sed -n '2,/^$/p' "$TMP/t1" | grep -c '^ *[0-9]')
[ -z "$r" ] && { [ "$rows" != 1 ] || ! sed -n 2p "$TMP/t1" | grep -q '^ *1  BN+10% '; } &&
    r="expected one row, stage 1 'BN+10%': $(sed -n 2p "$TMP/t1")"
check "table --stage 1: that stage alone" "$r"

insp "$TMP/tl" "$F" --layers
r=$(clean)
sections=$(grep -c '^stage [0-9]' "$TMP/tl")
totals=$(grep -c '^  total ' "$TMP/tl")
[ -z "$r" ] && { [ "$sections" != 3 ] || [ "$totals" != 3 ]; } && r="$sections sections, $totals total rows, expected 3"
check "table --layers: one section per stage" "$r"

# --- CSV ------------------------------------------------------------------------------------
insp "$TMP/s.csv" "$F" --format csv
r=$(clean)
[ -z "$r" ] && [ "$(lines "$TMP/s.csv")" != 4 ] && r="$(lines "$TMP/s.csv") lines, expected 1 + 3"
[ -z "$r" ] && grep -q '%' "$TMP/s.csv" && r="a % sign in the CSV"
check "csv: header + one row per stage" "$r"

insp "$TMP/l.csv" "$F" --format csv --layers
r=$(clean)
want=$((1 + 3 * UNITS))
[ -z "$r" ] && [ "$(lines "$TMP/l.csv")" != "$want" ] && r="$(lines "$TMP/l.csv") lines, expected $want"
check "csv --layers: header + stages x units rows" "$r"

insp "$TMP/l1.csv" "$F" --format csv --layers --stage 1
r=$(clean)
[ -z "$r" ] && { [ "$(lines "$TMP/l1.csv")" != $((1 + UNITS)) ] || [ "$(tail -n +2 "$TMP/l1.csv" | grep -vc '^1,')" != 0 ]; } &&
    r="expected $((1 + UNITS)) lines, all of stage 1"
check "csv --layers --stage 1: that stage's units" "$r"

# --- JSON -----------------------------------------------------------------------------------
insp "$TMP/j.json" "$F" --format json
r=$(clean)
[ -z "$r" ] && ! "$PY" -m json.tool "$TMP/j.json" >/dev/null 2>"$TMP/jerr" && r="not valid JSON: $(head -n 1 "$TMP/jerr")"
[ -z "$r" ] && r=$("$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
s = d["stages"]
if d["file"] != sys.argv[2] or len(s) != 3 or any(len(x["layers"]) != int(sys.argv[3]) for x in s):
    print("expected file, 3 stages of %s layers" % sys.argv[3])
elif s[0]["acc_start"] is not None or sum(s[2]["log10_abs_gamma_hist"]["counts"]) != 336:
    print("stage 0 acc_start should be null and the histogram should count 336 filters")' "$TMP/j.json" "$F" "$UNITS")
check "json: parses, 3 stages each with every unit" "$r"

# --- the numbers against h5py ---------------------------------------------------------------
if [ "$HAVE_H5PY" = 1 ]; then
    r=$("$PY" - "$F" "$TMP/s.csv" "$TMP/l.csv" <<'EOF'
import csv, sys
import h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
st = f["stats"]
units = st["units"][()]
units = (units.decode() if isinstance(units, bytes) else units).splitlines()
per = st["filters_per_unit"][()]
bounds = np.concatenate([[0], np.cumsum(per)])
flags = ["disabled", "reinit", "revived", "died_again", "newly_disabled"]
bad = []
stage_rows = list(csv.DictReader(open(sys.argv[2])))
layer_rows = list(csv.DictReader(open(sys.argv[3])))
for k in range(int(st.attrs["nstages"])):
    g = st["stage-%02d" % k]
    row = stage_rows[k]
    for name in flags:
        if int(row[name]) != int(g[name][()].astype(bool).sum()):
            bad.append("stage %d %s: csv %s, file %d" % (k, name, row[name], g[name][()].sum()))
    below = int((np.abs(g["gamma"][()]) < g.attrs["threshold"]).sum())
    if int(row["disabled"]) != below:
        bad.append("stage %d: %s disabled, |gamma| < tau for %d" % (k, row["disabled"], below))
    for a in ["acc_end", "acc_clamped", "threshold", "fraction"]:
        if float(row[a]) != float(g.attrs[a]):
            bad.append("stage %d %s: csv %s, file %r" % (k, a, row[a], g.attrs[a]))
    want_start = "" if g.attrs["acc_start"] < 0 else float(g.attrs["acc_start"])
    if (row["acc_start"] and float(row["acc_start"])) != want_start:
        bad.append("stage %d acc_start: csv %r, file %r" % (k, row["acc_start"], g.attrs["acc_start"]))
    for u, name in enumerate(units):
        lr = layer_rows[k * len(units) + u]
        if lr["unit"] != name or int(lr["stage"]) != k:
            bad.append("layer row %d is %s/%s, expected %d/%s" % (k * len(units) + u, lr["stage"], lr["unit"], k, name))
            continue
        for fl in flags:
            n = int(g[fl][bounds[u]:bounds[u + 1]].astype(bool).sum())
            if int(lr[fl]) != n:
                bad.append("stage %d %s %s: csv %s, file %d" % (k, name, fl, lr[fl], n))
print("; ".join(bad[:3]))
EOF
)
    check "csv counts and accuracies equal h5py's reading of the file" "$r"
else
    echo "skip - /usr/bin/python3 has no h5py: counts not recomputed independently"
fi

# --- errors: non-zero, no crash, one line on stderr naming the cause, nothing on stdout --------
# expect_error DESCRIPTION NEEDLE ARGS...
expect_error() {
    desc=$1; needle=$2; shift 2
    insp "$TMP/eout" "$@"
    r=""
    if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ]; then r="exit $rc"
    elif [ "$(lines "$TMP/err")" != 1 ]; then r="$(lines "$TMP/err") stderr lines"
    elif ! grep -qF -- "$needle" "$TMP/err"; then r="stderr lacks '$needle': $(cat "$TMP/err")"
    elif [ -s "$TMP/eout" ]; then r="output on stdout"
    fi
    check "error: $desc" "$r"
}
echo "not hdf5" >"$TMP/junk.h5"
"$PIPE" run "$TMP/insp.ini" --out "$TMP/early" --stop-after-steps 2 >/dev/null 2>&1
expect_error "missing file" "$TMP/nope.h5: no such file" "$TMP/nope.h5"
expect_error "not an HDF5 file" "$TMP/junk.h5: not an HDF5 file" "$TMP/junk.h5"
expect_error "no finished stage" "$TMP/early/last.h5: no stage has finished yet; inspect a stage-KK.h5" "$TMP/early/last.h5"
expect_error "unknown option" "unknown option '--bogus'" "$F" --bogus
expect_error "bad --format" "--format 'xml'" "$F" --format xml
expect_error "--stage out of range" "--stage 3" "$F" --stage 3
expect_error "--stage not a number" "--stage 'x'" "$F" --stage x
expect_error "no file" "needs a checkpoint file"
if [ "$HAVE_H5PY" = 1 ]; then
    "$PY" -c 'import h5py, sys; h5py.File(sys.argv[1], "w")["x"] = [1]' "$TMP/foreign.h5"
    expect_error "an HDF5 file that is not a checkpoint" "not a revive checkpoint" "$TMP/foreign.h5"
fi

# --- issue #24: crafted with h5py, then the whole-file CRC recomputed (revive_h5.restamp) --------
# craft NAME PYTHON: a copy of $F as $TMP/NAME.h5, edited by PYTHON (f: the open h5py.File), restamped.
craft() {
    cp "$F" "$TMP/$1.h5"
    "$PY" -c "import sys; sys.path.insert(0, 'scripts'); import h5py, numpy as np, revive_h5
f = h5py.File(sys.argv[1], 'r+')
$2
f.close(); revive_h5.restamp(sys.argv[1])" "$TMP/$1.h5"
}
# evaluates FILE: exit 1 (not 0, not a crash) and one line naming NEEDLE
eval_refused() {
    desc=$1; needle=$2; file=$3
    "$PIPE" eval "$file" >"$TMP/eout" 2>"$TMP/err"; rc=$?
    r=""
    if [ "$rc" -ne 1 ]; then r="exit $rc: $(head -c 300 "$TMP/err")"
    elif [ "$(lines "$TMP/err")" != 1 ]; then r="$(lines "$TMP/err") stderr lines"
    elif ! grep -qF -- "$needle" "$TMP/err"; then r="stderr lacks '$needle': $(cat "$TMP/err")"
    fi
    check "crafted: $desc" "$r"
}
if [ "$HAVE_H5PY" = 1 ]; then
    # item 2: params/stem.gamma as a chunked Fletcher-32 float32 with exponent bias 137: HDF5
    # would read every γ 1024x too small (the issue's reproducer, exit 0 before)
    craft ebias 'g = f["params/stem.gamma"]; raw = g[()].view(np.uint32); del f["params/stem.gamma"]
t = h5py.h5t.IEEE_F32LE.copy(); t.set_ebias(137)
sid = h5py.h5s.create_simple(raw.shape); dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
dcpl.set_chunk(raw.shape); dcpl.set_fletcher32()
d = h5py.h5d.create(f.id, b"params/stem.gamma", t, sid, dcpl=dcpl)
d.write(h5py.h5s.ALL, h5py.h5s.ALL, raw, mtype=h5py.h5t.STD_U32LE)'
    eval_refused "a float32 with another exponent bias" "exact little-endian" "$TMP/ebias.h5"
    # item 1: a history column replaced by a gzip dataset (the memory bomb's carrier)
    craft gzip 'v = f["history/test_loss"][()]; del f["history/test_loss"]
f.create_dataset("history/test_loss", data=v, compression="gzip", fletcher32=True, chunks=True)'
    eval_refused "a gzip-compressed history column" "compressed" "$TMP/gzip.h5"
    # item 3: revive's user block with format_version = 1 (skips the attribute checksum)
    craft v1 'f.attrs["format_version"] = np.int64(1)'
    eval_refused "a user-block file saying format 1" "format version 1" "$TMP/v1.h5"
    expect_error "a user-block file saying format 1 (inspect)" "format version 1" "$TMP/v1.h5"
fi

# --- a VGG checkpoint: inspect builds the family /model (or, in an older file, /config) names ---
cat > "$TMP/vgg.ini" <<INI
[run]
name = vgg
out_dir = $TMP/ck
[data]
dataset = synthetic
synthetic_train = 16
synthetic_test = 8
synthetic_size = 8
[model]
arch = vgg
depth = 11
[train]
epochs = 1
batch_size = 8
INI
V=$TMP/ck/vgg/stage-00.h5
if "$PIPE" run "$TMP/vgg.ini" >"$TMP/vgg.out" 2>&1; then
    insp "$TMP/vgg.table" "$V"
    check "inspect reads a VGG-11 checkpoint" "$(clean)"
    if [ "$HAVE_H5PY" = 1 ]; then
        # as written before /model described the network: no arch, stem, norm, head, unit
        # table, and the wiring every family wrote then
        "$PY" -c 'import sys; sys.path.insert(0, "scripts"); import h5py, revive_h5, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    m = f["model"]
    if m.attrs["arch"] != b"vgg" or m.attrs["wiring"] != b"vgg": sys.exit("arch/wiring not vgg")
    for k in ("arch", "stem", "norm", "head"):
        del m.attrs[k]
    for u in range(int(m.attrs["nunits"])):
        del m["unit-%02d" % u]
    del m.attrs["nunits"]
    del m.attrs["wiring"]
    t = h5py.h5t.C_S1.copy(); t.set_size(13); t.set_strpad(h5py.h5t.STR_NULLTERM)
    a = h5py.h5a.create(m.id, b"wiring", t, h5py.h5s.create(h5py.h5s.SCALAR))
    a.write(np.array(b"resnet-cifar", dtype="S13"))
revive_h5.restamp(sys.argv[1])' "$V" >"$TMP/old.out" 2>&1 || not_ok "making an older VGG file: $(tail -n 1 "$TMP/old.out")"
        insp "$TMP/vgg.table" "$V"
        r=$(clean)
        "$PIPE" eval "$V" >"$TMP/vgg.eval" 2>&1 || r="$r eval: $(tail -n 1 "$TMP/vgg.eval")"
        check "an older VGG checkpoint (no network description, wiring resnet-cifar): inspect and eval read it" "$r"
    fi
else
    not_ok "the VGG-11 run failed: $(tail -n 1 "$TMP/vgg.out")"
fi

finish inspect
