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
"$PIPE" run "$TMP/cfg.ini" --out "$TMP/mid" --stop-after-steps 17 > "$TMP/m1.log" 2>&1 || not_ok "stop after 17 steps"
"$PIPE" resume "$TMP/mid/last.h5" --stop-after-steps 9 > "$TMP/m2.log" 2>&1 || not_ok "resume, stop again"
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

finish interop
