#!/bin/sh
# scripts/mixer_table.py on hand-made result records whose answers are known: Mixer norm only
# 70, 71, 72 % against ResNet-20 BN only 78, 80, 79 % (differences −8, −9, −7: mean −8, sd 1) and
# all parameters 90, 91 against 92, 92 (−2, −1), Bonferroni over the 2 sets both ran on ≥ 2 seeds:
# the norm interval is −8 ± t(1 − 0.05/4, 2)/√3 = −8 ± 3.5825; a record without wall time shows
# its epochs' minutes, starred; a set one network lacks is "not run"; a broken record is one line.
set -u
. tests/lib.sh
S=scripts/mixer_table.py
rec() {  # rec VARIANT SEED ACC [WALL]
    mkdir -p "$TMP/rec/$1"
    printf '{"seed": %s, "final": "stage-00.h5", "wall_minutes": %s, "stages": [{"acc_end": %s, "acc_clamped": %s}],
 "hist": {"gamma_below_tau": [0.01, 0.03, 0.02], "seconds": [60, 60, 120]}}\n' "$2" "${4:-null}" "$3" "$3" > "$TMP/rec/$1/seed-$2.json"
}
rec mixer-norm 1 0.70 10; rec mixer-norm 2 0.71 10; rec mixer-norm 3 0.72
rec resnet20-bn 1 0.78 5; rec resnet20-bn 2 0.80 5; rec resnet20-bn 3 0.79 5
rec mixer-all 1 0.90 7; rec mixer-all 2 0.91 7; rec resnet20-all 1 0.92 3; rec resnet20-all 2 0.92 3
rec mixer-output 1 0.5 1; rec mixer-output 2 0.5 1
"$PY" "$S" "$TMP/rec" > "$TMP/out.md" 2> "$TMP/err" || not_ok "mixer_table.py exited non-zero: $(head -c 300 "$TMP/err")"
check "norm only: Δ per seed, mean ± sd and the interval Bonferroni-corrected over 2" \
    "$(grep -q '^| norm only | 1, 2, 3 | -8.00, -9.00, -7.00 | -8.00 ± 1.00 | \[-11.58, -4.42\] | yes |$' "$TMP/out.md" || cat "$TMP/out.md")"
check "all parameters: the seeds both ran, and 2 comparisons named" \
    "$(grep -q '^| all parameters | 1, 2 | -2.00, -1.00 |' "$TMP/out.md" && grep -q 'corrected for 2 comparisons' "$TMP/out.md" || cat "$TMP/out.md")"
check "a set only one network ran is left out of the paired table and has no record yet in the first" \
    "$(! grep -q '^| output only |' "$TMP/out.md" && grep -q '^| ResNet-20 | output only | — | no record yet' "$TMP/out.md" || cat "$TMP/out.md")"
check "per cell: accuracies, mean ± sd, γ share epoch 1 → last (largest), minutes (no wall time: starred)" \
    "$(grep -q '^| Mixer-pico | norm only | 1, 2, 3 | 70.00, 71.00, 72.00 | 71.00 ± 1.00 | +0.00, +0.00, +0.00 | 1.0 → 2.0 (3.0); 1.0 → 2.0 (3.0); 1.0 → 2.0 (3.0) | — | 10, 10, 4\* |$' "$TMP/out.md" || cat "$TMP/out.md")"
"$PY" "$S" "$TMP/rec" --plot "$TMP/bars.png" > /dev/null 2> "$TMP/err" || not_ok "--plot exited non-zero: $(head -c 300 "$TMP/err")"
check "--plot writes a PNG of the cells" \
    "$([ "$(od -An -tx1 -N 8 "$TMP/bars.png" 2>/dev/null | tr -d ' \n')" = 89504e470d0a1a0a ] || echo "no PNG at $TMP/bars.png")"
ERROR_STATUS=1 one_line_error "an unwritable --plot path is named" "--plot $TMP/none/bars.png: cannot write it" "$S" "$TMP/rec" --plot "$TMP/none/bars.png"
# The all-γ share: kept in RECORDS/all-gamma.csv for runs whose stage files are gone; --runs adds
# the runs it finds (a stage file whose γ are 0.001, 1, 1, 1: 25 %), a seed known nowhere is "—".
printf 'variant,seed,all_gamma_below_0.01_percent\nmixer-all,1,0.40\n' > "$TMP/rec/all-gamma.csv"
mkdir -p "$TMP/runs/mixer-all/seed-2"
"$PY" -c "import h5py, numpy; f = h5py.File('$TMP/runs/mixer-all/seed-2/stage-00.h5', 'w'); f['params/n.gamma'] = numpy.array([0.001, 1, 1, 1], 'f4'); f['params/n.beta'] = numpy.zeros(4, 'f4')"
"$PY" "$S" "$TMP/rec" > "$TMP/g1.md" 2>&1; "$PY" "$S" "$TMP/rec" --runs "$TMP/runs" > "$TMP/g2.md" 2>&1
check "all-γ share: from all-gamma.csv without a stage file, — for a seed known nowhere" \
    "$(grep -q '^| Mixer-pico | all parameters | 1, 2 | .* | 0.4/— | 7, 7 |$' "$TMP/g1.md" || cat "$TMP/g1.md")"
check "all-γ share: --runs reads the stage file and keeps it in all-gamma.csv" \
    "$(grep -q '^| Mixer-pico | all parameters | 1, 2 | .* | 0.4/25.0 | 7, 7 |$' "$TMP/g2.md" && grep -qx 'mixer-all,2,25.00' "$TMP/rec/all-gamma.csv" || { cat "$TMP/g2.md" "$TMP/rec/all-gamma.csv"; })"
printf 'variant,seed,all_gamma_below_0.01_percent\nmixer-all;1\n' > "$TMP/rec/all-gamma.csv"
ERROR_STATUS=1 one_line_error "a malformed all-gamma.csv line is named" "all-gamma.csv:2: not 'variant,seed,percent'" "$S" "$TMP/rec"
rm "$TMP/rec/all-gamma.csv"
echo '{"seed": 1}' > "$TMP/rec/mixer-norm/seed-1.json"
ERROR_STATUS=1 one_line_error "a broken record is named" "mixer-norm/seed-1.json: not a study result record" "$S" "$TMP/rec"
ERROR_STATUS=1 one_line_error "a missing directory is named" "$TMP/none: no such directory" "$S" "$TMP/none"
finish mixer_table
