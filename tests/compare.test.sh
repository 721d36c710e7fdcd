#!/bin/sh
# scripts/compare_runs.py end to end: a tiny 3-stage run made twice with one seed and once with
# another (a few seconds). Same seed: every stage compared, no flag differs, parameters equal.
# Other seed: parameters differ. Then the error exits (one run, a directory without stages,
# a foreign HDF5 file, runs of different models, an unknown option, --names of the wrong length).
# Run from the repository root after `make tests`.
. tests/lib.sh
CMP=scripts/compare_runs.py

tiny_staged_ini "$TMP/c.ini" c 1
for r in a b; do
    "$PIPE" run "$TMP/c.ini" --out "$TMP/$r" >"$TMP/$r.log" 2>&1 || not_ok "run $r: $(tail -1 "$TMP/$r.log")"
done
"$PIPE" run "$TMP/c.ini" --out "$TMP/s2" --set run.seed=2 >"$TMP/s2.log" 2>&1 ||
    not_ok "run s2: $(tail -1 "$TMP/s2.log")"

r=""
"$PY" "$CMP" "$TMP/a" "$TMP/b" "$TMP/s2" --format csv >"$TMP/out.csv" 2>"$TMP/err" || r="exit $? ($(cat "$TMP/err"))"
[ -z "$r" ] && [ "$(lines "$TMP/out.csv")" -ne 4 ] && r="$(lines "$TMP/out.csv") lines, expected a header and 3 stages"
check "CSV: a header and one row per stage" "$r"

# Columns: stage,kind, acc,clamped,off,minutes of run 0, then acc,clamped,off,minutes,flags,dparam
# of each later run: b's flags and dparam are $11 and $12, s2's dparam is $18.
r=$(awk -F, 'NR > 1 && ($11 != 0 || $12 != 0) { print "stage " $1 ": flags " $11 ", dparam " $12 }' "$TMP/out.csv")
check "the same config and seed: no flag differs, parameters equal" "$r"
r=$(awk -F, 'NR > 1 && $18 == 0 { print "stage " $1 ": dparam 0" }' "$TMP/out.csv")
check "another seed: parameters differ at every stage" "$r"
r=$(awk -F, 'NR > 1 && $3 != $7 { print "stage " $1 ": acc " $3 " vs " $7 }' "$TMP/out.csv")
check "the same run twice: equal accuracies" "$r"

"$PY" "$CMP" "$TMP/a" "$TMP/s2" --names one,two >"$TMP/out.md" 2>"$TMP/err"
r=""
grep -q "^| stage | kind | acc one " "$TMP/out.md" || r="no markdown header naming the runs"
[ "$(grep -c '^| [0-9]' "$TMP/out.md")" -eq 3 ] || r="${r:+$r; }not 3 stage rows"
grep -q "| re-init one | recal one | re-init two | recal two |$" "$TMP/out.md" || r="${r:+$r; }no re-init/recal columns"
grep -q "^| 0 | bn |.* | - | - | - | - |$" "$TMP/out.md" || r="${r:+$r; }stage 0 should show - for re-init and recal"
check "markdown table with --names" "$r"

# Provenance: two runs made here agree in what decides bit-identity (no warning); a copy whose
# provenance says 2 ranks and another OpenBLAS kernel is named in one warning per difference;
# a run without /provenance (an older revive) gets a warning that it cannot be checked.
r=""
"$PY" "$CMP" "$TMP/a" "$TMP/b" >/dev/null 2>"$TMP/err"
[ -s "$TMP/err" ] && r="warned: $(cat "$TMP/err")"
check "runs made alike here: no provenance warning" "$r"
cp -r "$TMP/b" "$TMP/np2"
cp -r "$TMP/b" "$TMP/old"
for k in 00 01 02; do
    # A core no machine reports (this one may well run SkylakeX), as format 3 stores strings:
    # fixed-length (numpy.bytes_), which compare_runs.py decodes.
    "$PY" -c 'import h5py, sys, numpy as np
f = h5py.File(sys.argv[1], "r+")
for g in f["provenance"].values():
    g.attrs["ranks"] = 2
    g.attrs["openblas_core"] = np.bytes_("OtherCore")
f.close()' "$TMP/np2/stage-$k.h5"
    "$PY" -c 'import h5py, sys; f = h5py.File(sys.argv[1], "r+"); del f["provenance"]; f.close()' "$TMP/old/stage-$k.h5"
done
"$PY" "$CMP" "$TMP/a" "$TMP/np2" >"$TMP/out" 2>"$TMP/err"
r=""
[ $? -eq 0 ] && [ -s "$TMP/out" ] || r="no table"
grep -q "warning: rank count differs: a 1; np2 2" "$TMP/err" || r="$r; no rank warning: $(cat "$TMP/err")"
grep -q "warning: OpenBLAS core differs: a .*; np2 OtherCore" "$TMP/err" || r="$r; no core warning"
grep -q "commit differs" "$TMP/err" && r="$r; a commit warning for one commit"
check "ranks and OpenBLAS core that differ are warned about, one line each" "$r"
"$PY" "$CMP" "$TMP/a" "$TMP/old" >/dev/null 2>"$TMP/err"
r=""
grep -q "warning: old: no /provenance" "$TMP/err" || r="$(cat "$TMP/err")"
check "a run without provenance is said to be uncheckable" "$r"

ERROR_STATUS=2  # the scripts' user errors
expect_error() { _desc=$1 _pattern=$2; shift 2; one_line_error "$_desc" "$_pattern" "$PY" "$CMP" "$@"; }
expect_error "one run is refused" "two or more" "$TMP/a"
expect_error "a directory without stage files" "$TMP/nowhere/stage-00.h5" "$TMP/a" "$TMP/nowhere"
mkdir "$TMP/foreign"
"$PY" -c 'import h5py, sys; h5py.File(sys.argv[1], "w")["x"] = 1' "$TMP/foreign/stage-00.h5"
expect_error "an HDF5 file that is not a revive checkpoint" "foreign/stage-00.h5: no /stats" "$TMP/a" "$TMP/foreign"
"$PIPE" run "$TMP/c.ini" --out "$TMP/deeper" --set model.depth=14 >"$TMP/deeper.log" 2>&1 ||
    not_ok "run deeper: $(tail -1 "$TMP/deeper.log")"
expect_error "runs of different models" "another model" "$TMP/a" "$TMP/deeper"
expect_error "an unknown option" "--color" "$TMP/a" "$TMP/b" --color
expect_error "--names of the wrong length" "2 runs" "$TMP/a" "$TMP/b" --names x
finish compare
