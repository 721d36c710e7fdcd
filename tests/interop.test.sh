#!/bin/sh
# What a checkpoint and a run directory tell someone outside revive: metrics.csv (the history,
# one row per epoch, exact across interruptions), provenance (inspect, compare_runs.py), the
# stored input normalization and network constants, and `eval --test-limit / --data`.
# Run from the repository root after `make tests`:  sh tests/interop.test.sh
set -u
. tests/lib.sh

# A tiny staged run straight through, and the same run stopped twice (mid-epoch) and resumed.
tiny_staged_ini "$TMP/cfg.ini" s 2 "[data]" "synthetic_train = 200" "synthetic_test = 64"
"$PIPE" run "$TMP/cfg.ini" > "$TMP/straight.log" 2>&1 || not_ok "straight run: $(tail -n 2 "$TMP/straight.log")"
stopped "$PIPE" run "$TMP/cfg.ini" --out "$TMP/mid" --stop-after-steps 17 > "$TMP/m1.log" 2>&1 || not_ok "stop after 17 steps"
stopped "$PIPE" resume "$TMP/mid/last.h5" --stop-after-steps 9 > "$TMP/m2.log" 2>&1 || not_ok "resume, stop again"
"$PIPE" resume "$TMP/mid/last.h5" > "$TMP/m3.log" 2>&1 || not_ok "resume to the end"
S=$TMP/ck/s

# ---- metrics.csv
r=""
[ -f "$S/metrics.csv" ] || r="missing"
[ -z "$r" ] && [ "$(lines "$S/metrics.csv")" -ne 7 ] && r="$(lines "$S/metrics.csv") lines, want header + 6 epochs"
check "metrics.csv: a header and one row per epoch (3 stages x 2)" "$r"
# Its every value equals the checkpoint's history (the same columns, in the same order).
r=$("$PY" - "$S/metrics.csv" "$S/stage-02.h5" <<'PYEOF' 2>&1
import csv, sys
import h5py, numpy as np
rows = list(csv.reader(open(sys.argv[1])))
head, body = rows[0], rows[1:]
with h5py.File(sys.argv[2], "r") as f:
    h = f["history"]
    if sorted(head) != sorted(h):
        print(f"columns {head} != history {sorted(h)}")
    for j, c in enumerate(head):
        got = np.array([float(r[j]) for r in body])
        if not np.array_equal(got, h[c][()]):
            print(f"{c}: {got} != {h[c][()]}")
PYEOF
)
check "metrics.csv holds exactly the checkpoint's history" "$r"
# Interrupted twice and resumed: the same rows (the wall-time column aside), no duplicates.
cut -d, -f1-7,9- "$S/metrics.csv" > "$TMP/a.csv"
cut -d, -f1-7,9- "$TMP/mid/metrics.csv" > "$TMP/b.csv"
r=""
cmp -s "$TMP/a.csv" "$TMP/b.csv" || r="$(diff "$TMP/a.csv" "$TMP/b.csv" | head -n 4 | tr '\n' '|')"
check "an interrupted and resumed run's metrics.csv equals the straight run's (seconds aside)" "$r"
# Written as the run goes: after a stop at the end of epoch 1 (7 steps), one row is there.
"$PIPE" run "$TMP/cfg.ini" --out "$TMP/one" --stop-after-steps 7 > /dev/null 2>&1
r=""
[ "$(lines "$TMP/one/metrics.csv" 2>/dev/null)" = 2 ] || r="$(cat "$TMP/one/metrics.csv" 2>&1 | head -n 3)"
check "metrics.csv has the finished epoch's row when the run stops" "$r"
# Resuming from an earlier stage file into the same directory rewrites it from that file's
# history: no rows of the later epochs are left over.
cp -r "$S" "$TMP/again"
"$PIPE" resume "$TMP/again/stage-00.h5" --stop-after-steps 7 > /dev/null 2>&1
r=""
[ "$(lines "$TMP/again/metrics.csv")" = 4 ] || r="$(lines "$TMP/again/metrics.csv") lines, want header + 2 + 1"
check "resume from stage-00.h5 rewrites metrics.csv from its history, then appends" "$r"

# ---- provenance
# The first line of a run says how it is made; every field is there.
first=$(head -n 1 "$TMP/straight.log")
r=""
for want in "^revive [0-9.]* (commit [^ ]*)" " 1 rank x [0-9]* thread" " OpenBLAS [^ ]* (OpenBLAS [0-9]" \
            " HDF5 [0-9]*\.[0-9]*\.[0-9]*" " Open MPI v" " host [^ ]" " started 20[0-9-]*T[0-9:]*Z" \
            " command: .*pipeline run $TMP/cfg.ini\$"; do
    echo "$first" | grep -q -- "$want" || r="$r lacks '$want';"
done
check "the first line of a run is its provenance" "${r:+$r $first}"
r=""
head -n 2 "$TMP/m3.log" | tail -n 1 | grep -q "^resuming" && head -n 1 "$TMP/m3.log" | grep -q "^revive .*command: .*resume" ||
    r="$(head -n 2 "$TMP/m3.log")"
check "a resumed run also starts with its provenance" "$r"
# The checkpoint keeps every process start, oldest first: run, resume, resume.
"$PIPE" inspect "$TMP/mid/stage-02.h5" > "$TMP/insp.txt" 2>&1
r=""
grep -q "^provenance: 3 process starts" "$TMP/insp.txt" || r="no 'provenance: 3 process starts'"
[ "$(grep -c '^  [0-9]: revive' "$TMP/insp.txt")" = 3 ] || r="$r; not 3 entries"
grep '^  0: ' "$TMP/insp.txt" | grep -q "command: .*pipeline run" && grep '^  2: ' "$TMP/insp.txt" | grep -q "command: .*resume" ||
    r="$r; not run, then resumes"
check "inspect shows the provenance of the run and of both resumes" "$r"
r=$("$PIPE" inspect "$TMP/mid/stage-02.h5" --format json | "$PY" -c 'import json, sys
d = json.load(sys.stdin)
p = d["provenance"]
keys = {"ranks", "threads", "revive_version", "commit", "openblas_core", "openblas_config",
        "hdf5_version", "mpi_version", "host", "started", "command"}
if len(p) != 3 or any(set(e) != keys for e in p) or p[0]["ranks"] != 1:
    print(p)' 2>&1)
check "inspect --format json has the provenance with every field" "$r"

# ---- the checkpoint states its own mathematics, and eval uses it
F=$S/stage-02.h5
r=$("$PY" - "$F" <<'PYEOF' 2>&1
import sys
import h5py, numpy as np
sys.path.insert(0, "scripts")
from revive_h5 import text
with h5py.File(sys.argv[1], "r") as f:
    m = f["model"]
    a = m.attrs
    want = {"wiring": "resnet-cifar", "wiring_version": 1, "bn_eps": float(np.float32(1e-5)),
            "bn_momentum": float(np.float32(0.1))}
    for k, v in want.items():
        if (text(a.get(k)) if isinstance(v, str) else a.get(k)) != v:
            print(f"/model {k} = {a.get(k)!r}, want {v!r}")
    for k in ("input_mean", "input_std"):
        d = m[k]
        if d.dtype != np.float32 or d.shape != (a["in_c"],):
            print(f"/model/{k}: {d.dtype} {d.shape}")
    if not (0 < m["input_std"][0] < 1 and 0 < m["input_mean"][0] < 1):
        print("normalization out of range", m["input_mean"][()], m["input_std"][()])
PYEOF
)
check "/model has wiring, its version, BN eps and momentum, input mean and std" "$r"
# Format 3: every string of the file is fixed-length (no HDF5 global heap; h5py gives bytes,
# revive_h5.text decodes them), and scripts/revive_h5.py knows the version include/checkpoint.h writes.
r=$("$PY" - "$F" <<'PYEOF' 2>&1
import re, sys
import h5py
sys.path.insert(0, "scripts")
import revive_h5
header = open("include/checkpoint.h").read()
c_version = int(re.search(r"#define CHECKPOINT_VERSION (\d+)", header).group(1))
c_format = re.search(r'#define CHECKPOINT_FORMAT "([^"]*)"', header).group(1)
if (revive_h5.FORMAT, revive_h5.FORMAT_VERSION) != (c_format, c_version):
    print(f"revive_h5 knows {revive_h5.FORMAT} {revive_h5.FORMAT_VERSION}, include/checkpoint.h {c_format} {c_version}")
strings = []
def visit(name, obj):
    for k in obj.attrs:
        t = obj.attrs.get_id(k).dtype
        if h5py.check_string_dtype(t):
            strings.append((f"{name} attribute {k}", h5py.check_string_dtype(t).length))
    if isinstance(obj, h5py.Dataset) and h5py.check_string_dtype(obj.dtype):
        strings.append((name, h5py.check_string_dtype(obj.dtype).length))
with h5py.File(sys.argv[1], "r") as f:
    if f.attrs["format_version"] != c_version:
        print("format_version", f.attrs["format_version"])
    visit("/", f)
    f.visititems(visit)
    if revive_h5.text(f["stats/stage-00"].attrs["kind"]) != "bn" or not revive_h5.text(f["config"][()]).startswith("[run]"):
        print("text() does not decode the strings")
vlen = [n for n, length in strings if length is None]
if len(strings) < 10 or vlen:
    print(f"{len(strings)} strings; variable-length: {vlen}")
PYEOF
)
check "format 3: every string fixed-length; revive_h5 knows the version written" "$r"
acc() { "$PIPE" eval "$@" 2>&1 | sed 's/^[^:]*: //'; }
# restamp FILE: the whole-file CRC-32 recomputed after an edit made on purpose, so the check
# each case aims at is the one that answers (scripts/revive_h5.py, as revive_torch.save does).
restamp() { "$PY" -c 'import sys; sys.path.insert(0, "scripts"); import revive_h5; revive_h5.restamp(sys.argv[1])' "$1"; }
base=$(acc "$F")
# The stored normalization is the one eval uses: changed in a copy, the result changes ...
cp "$F" "$TMP/norm.h5"
"$PY" -c 'import h5py, sys; f = h5py.File(sys.argv[1], "r+"); f["model/input_mean"][0] += 0.5; f.close()' "$TMP/norm.h5"
restamp "$TMP/norm.h5"
r=""
[ "$(acc "$TMP/norm.h5")" != "$base" ] || r="the same: $base"
check "eval uses the checkpoint's stored normalization" "$r"
# ... and a file without it (an older revive's) is evaluated as before, from the training data.
cp "$F" "$TMP/old.h5"
"$PY" -c 'import h5py, sys
f = h5py.File(sys.argv[1], "r+")
for k in ("input_mean", "input_std"): del f["model/" + k]
for k in ("wiring", "wiring_version", "bn_eps", "bn_momentum"): del f["model"].attrs[k]
f.close()' "$TMP/old.h5"
restamp "$TMP/old.h5"
r=""
[ "$(acc "$TMP/old.h5")" = "$base" ] || r="$(acc "$TMP/old.h5") vs $base"
check "a checkpoint without the new /model facts evaluates as before" "$r"
# Facts that disagree with this build are refused in one line.
for edit in 'f["model"].attrs["bn_eps"] = 1e-3' 'f["model"].attrs["wiring_version"] = 2' \
            'f["model/input_std"][0] = 0' 'del f["model/input_std"]'; do
    cp "$F" "$TMP/bad.h5"
    "$PY" -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); $edit; f.close()" "$TMP/bad.h5"
    restamp "$TMP/bad.h5"
    "$PIPE" eval "$TMP/bad.h5" > /dev/null 2> "$TMP/bad.err"
    rc=$?
    r=""
    [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$(lines "$TMP/bad.err")" = 1 ] && grep -q "/model" "$TMP/bad.err" ||
        r="exit $rc: $(head -n 2 "$TMP/bad.err")"
    check "refused in one line naming /model: $edit" "$r"
done

# ---- eval --test-limit and --data
cat > "$TMP/lim.ini" <<INI
[run]
name = lim
out_dir = $TMP/ck
[data]
dataset = synthetic
synthetic_test = 64
test_limit = 40
[model]
depth = 8
[train]
epochs = 1
trainable = bn
batch_size = 64
INI
"$PIPE" run "$TMP/lim.ini" > "$TMP/lim.log" 2>&1 || not_ok "run lim: $(tail -n 1 "$TMP/lim.log")"
L=$TMP/ck/lim/stage-00.h5
r=""
acc "$L" | grep -q "(40 images)" || r="default: $(acc "$L")"
acc "$L" --test-limit 0 | grep -q "(64 images)" || r="$r; --test-limit 0: $(acc "$L" --test-limit 0)"
acc "$L" --test-limit 7 | grep -q "(7 images)" || r="$r; --test-limit 7: $(acc "$L" --test-limit 7)"
check "eval --test-limit: the run's limit by default, 0 = all, N = the first N" "$r"
"$PIPE" eval "$L" --test-limit -3 > /dev/null 2> "$TMP/e.err"
rc=$?
r=""
[ $rc -ne 0 ] && grep -q "test-limit '-3'" "$TMP/e.err" || r="$(cat "$TMP/e.err")"
check "eval --test-limit -3 is refused" "$r"

FM=/usr/share/datasets/fashion-mnist
if [ -f "$FM/t10k-images-idx3-ubyte.gz" ]; then
    # A tiny BN-only run on 256 real images; its normalization is that of all 60,000 training
    # images (docs/checkpoint-format.md), whatever train_limit.
    mkdir -p "$TMP/fm" "$TMP/nofm"
    for x in "$FM"/*.gz; do ln -s "$x" "$TMP/fm/"; done
    "$PIPE" run "$TMP/lim.ini" --out "$TMP/fmrun" --set data.dataset=fashion_mnist \
        --set data.train_limit=256 --set data.test_limit=50 > "$TMP/fm.log" 2>&1 ||
        not_ok "fashion-mnist run: $(tail -n 1 "$TMP/fm.log")"
    M=$TMP/fmrun/stage-00.h5
    r=$("$PY" -c 'import h5py, sys
f = h5py.File(sys.argv[1], "r")
m, s = float(f["model/input_mean"][0]), float(f["model/input_std"][0])
if abs(m - 0.2860406) > 5e-7 or abs(s - 0.3530242) > 5e-7: print(m, s)' "$M" 2>&1)
    check "Fashion-MNIST normalization stored: mean 0.2860406, std 0.3530242 (all 60,000 images)" "$r"
    r=""
    [ "$(acc "$M" --data "$TMP/fm")" = "$(acc "$M")" ] || r="$(acc "$M" --data "$TMP/fm") vs $(acc "$M")"
    check "eval --data on another copy of the data set gives the same result" "$r"
    "$PIPE" eval "$M" --data "$TMP/nofm" > /dev/null 2> "$TMP/e.err"
    rc=$?
    r=""
    [ $rc -ne 0 ] && [ "$(lines "$TMP/e.err")" = 1 ] && grep -q "$TMP/nofm" "$TMP/e.err" || r="$(cat "$TMP/e.err")"
    check "eval --data on an empty directory names it in one line" "$r"
else
    ok "# SKIP Fashion-MNIST not installed: eval --data not tested"
fi

# ---- the paper's configs: the schedule's shape at any training length
for kind in bn bn_output all; do
    c=configs/paper-resnet20-fmnist-$kind.ini
    # Their own data and depth on the machine's budget: the schedule is what is checked here.
    "$PIPE" run "$c" --out "$TMP/paper-$kind" --set data.dataset=synthetic --set model.depth=8 \
        --set train.epochs=4 > "$TMP/paper.log" 2>&1
    r=""
    if [ $? -ne 0 ]; then r="$(tail -n 1 "$TMP/paper.log")"; else
        lrs=$(tail -n +2 "$TMP/paper-$kind/metrics.csv" | cut -d, -f3 | awk '{ printf "%.6g ", $1 }')
        [ "$lrs" = "0.1 0.1 0.01 0.001 " ] || r="lr per epoch: $lrs"
        for want in "trainable = $kind" "momentum = 0.9" "weight_decay = 1e-4" "batch_size = 128" \
                    "gamma_init = uniform" "augment_crop = 4" "augment_flip = true" "epochs = 160"; do
            grep -q "^$want\$" "$c" || r="$r; $c lacks '$want'"
        done
    fi
    check "$c: lr 0.1, x0.1 at 50 % and 75 % of train.epochs (4 epochs: 0.1 0.1 0.01 0.001)" "$r"
done

# ---- stage labels (scripts/revive_h5.py): BN in a label only where the stage trains γ and β.
# per_channel trains k conv weights per channel alone (its γ, β frozen): once "BN + per-channel conv".
r=$("$PY" - <<'PYEOF' 2>&1
import sys
sys.path.insert(0, "scripts")
from revive_h5 import stage_label
want = {"bn": "BN only", "conv_fraction": "BN + 10% conv", "bn_output": "BN + output",
        "per_channel": "per-channel conv", "output": "output only", "all": "all"}
for kind, label in want.items():
    got = stage_label(kind, 0.1)
    if got != label:
        print(f"{kind}: {got!r}, want {label!r}")
PYEOF
)
check "stage labels say BN only for the stages that train γ and β" "$r"

finish interop
