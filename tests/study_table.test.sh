#!/bin/sh
# scripts/study_table.py on two tiny one-stage studies (ResNet-8 and -14 and WRN-8-2 on synthetic
# data, BN only with 2 seeds in one study, all parameters with 1 seed in the other): the table has
# a row per network and a column per trainable set, its means and standard deviations are those of
# the runs' own stage files, the per-cell lines count BN parameters and seeds, the figure and CSV
# are written, a cell of a run not yet made is a dash, and two variants that fill the same cell or
# studies with no finished run are one-line errors. The study report of a one-stage study draws
# accuracy per epoch, not per stage.
set -u
. tests/lib.sh
export PIPELINE="$PIPE"
STUDY=scripts/study.py TABLE=scripts/study_table.py
cat > "$TMP/base.ini" <<INI
[data]
dataset = synthetic
synthetic_train = 128
synthetic_test = 64
[model]
depth = 8
[train]
batch_size = 32
epochs = 1
lr = 0.05
INI
cat > "$TMP/bn.ini" <<INI
[study]
config = $TMP/base.ini
seeds = 1, 2
out_dir = $TMP/bn
[all]
train.trainable = bn
[variant r8]
model.depth = 8
[variant r14]
model.depth = 14
[variant w8-2]
model.width = 2
INI
cat > "$TMP/all.ini" <<INI
[study]
config = $TMP/base.ini
seeds = 1
out_dir = $TMP/all
[all]
train.trainable = all
[variant r8]
model.depth = 8
[variant r14]
model.depth = 14
INI
has() { grep -q -- "$1" "$2" 2>/dev/null || echo "no line '$1' in $2: $(head -c 600 "$2" 2>&1)"; }
ERROR_STATUS=2  # the scripts' user errors
script_error() { _desc=$1 _pattern=$2; shift 2; one_line_error "$_desc" "$_pattern" "$PY" "$TABLE" "$@"; }

script_error "no finished run" "no finished run" "$TMP/bn.ini"
"$PY" "$STUDY" "$TMP/bn.ini" --jobs 2 > "$TMP/s1.log" 2>&1 || not_ok "bn study: $(tail -1 "$TMP/s1.log")"
check "report.png of a one-stage study: accuracy per epoch" "$(has 'right: test accuracy after each epoch' "$TMP/bn/report.md")"
"$PY" "$STUDY" "$TMP/all.ini" --only r8 > "$TMP/s2.log" 2>&1 || not_ok "all study: $(tail -1 "$TMP/s2.log")"
check "the caption says epochs when a variant has no finished run yet" \
    "$(has 'right: test accuracy after each epoch' "$TMP/all/report.md")"

"$PY" "$TABLE" "$TMP/bn.ini" "$TMP/all.ini" --out "$TMP/t/table" > "$TMP/t.log" 2>&1 ||
    not_ok "table: $(tail -1 "$TMP/t.log")"
md=$TMP/t/table.md
check "the header has a column per trainable set" "$(has '^| network | BN only | all |$' "$md")"
check "rows in order: depth, then width" \
    "$(r=$(grep -o '^| \(ResNet\|WRN\)-[0-9-]* | [^|]* | [^|]* |$' "$md" | cut -d' ' -f2 | tr '\n' ' ')
       [ "$r" = "ResNet-8 ResNet-14 WRN-8-2 " ] || echo "$r")"
check "a run not made is a dash" "$(has '^| ResNet-14 | [0-9.]* ± [0-9.]* ([0-9., ]*) | — |$' "$md")"
check "the run not made is counted" "$(has '^1 run(s) not finished' "$md")"
# the expected cells, straight from the stage files
"$PY" - "$TMP" > "$TMP/want" <<'PYEOF'
import sys, h5py, numpy as np
tmp = sys.argv[1]
for label, variant in (("ResNet-8", "r8"), ("ResNet-14", "r14"), ("WRN-8-2", "w8-2")):
    acc, n_gamma = [], 0
    for seed in (1, 2):
        with h5py.File(f"{tmp}/bn/{variant}/seed-{seed}/stage-00.h5", "r") as f:
            acc.append(100 * float(f["stats/stage-00"].attrs["acc_end"]))
    print(f"| {label} | {np.mean(acc):.2f} ± {np.std(acc, ddof=1):.2f} ({acc[0]:.2f}, {acc[1]:.2f}) |")
PYEOF
got=$(grep '^| \(ResNet\|WRN\)-[0-9-]* | [0-9.]* ±' "$md" | sed 's/ | [^|]* |$/ |/')
check "means ± std are the stage files' (mean, sample std, values)" "$([ "$got" = "$(cat "$TMP/want")" ] || printf 'got\n%s\nwant\n%s' "$got" "$(cat "$TMP/want")")"
check "ResNet-8 all parameters: one seed, one value" "$(has '^| ResNet-8 | .* | [0-9]*\.[0-9][0-9] |$' "$md")"
check "per-cell line: network, trains, seeds" "$(has '^| WRN-8-2 | BN only | 2 | ' "$md")"
bn8=$(grep '^| ResNet-8 | BN only | 2 | ' "$md" | cut -d'|' -f5 | tr -d ' ,')
bnw=$(grep '^| WRN-8-2 | BN only | 2 | ' "$md" | cut -d'|' -f5 | tr -d ' ,')
check "BN parameters: WRN-8-2 has twice ResNet-8's" "$([ -n "$bn8" ] && [ "$bnw" = $((2 * bn8)) ] || echo "$bn8 $bnw")"
check "CSV: a header and one line per cell" "$([ "$(lines "$TMP/t/table.csv" 2>&1)" = 5 ] || cat "$TMP/t/table.csv" 2>&1)"
check "figure written" "$([ -s "$TMP/t/table.png" ] || echo missing)"
"$PY" "$TABLE" "$TMP/bn.ini" > "$TMP/stdout.md" 2>&1
check "without --out: the markdown on stdout" "$(has '^| network | BN only |$' "$TMP/stdout.md")"

# a run whose record lost its final accuracy (null): the cell counts the other seed, the figure is drawn
mv "$TMP/bn/r8/seed-2" "$TMP/r8-seed-2"
"$PY" - "$TMP/bn/r8/seed-2.json" <<'PYEOF'
import json, sys
rec = json.load(open(sys.argv[1]))
rec["stages"][-1]["acc_end"] = None
json.dump(rec, open(sys.argv[1], "w"))
PYEOF
"$PY" "$TABLE" "$TMP/bn.ini" --out "$TMP/nan/table" > "$TMP/nan.log" 2>&1
check "an unknown accuracy leaves the seed out of its cell" \
    "$(has '^| ResNet-8 | [0-9.]* |$' "$TMP/nan/table.md"; [ -s "$TMP/nan/table.png" ] || tail -3 "$TMP/nan.log")"
mv "$TMP/r8-seed-2" "$TMP/bn/r8/seed-2"

# two variants of one study that give the same network the same trainable set (another lr)
cat > "$TMP/dup.ini" <<INI
[study]
config = $TMP/base.ini
seeds = 1
out_dir = $TMP/dup
[all]
train.trainable = bn
[variant r8]
[variant r8-lr]
train.lr = 0.1
INI
"$PY" "$STUDY" "$TMP/dup.ini" > "$TMP/dup.log" 2>&1 || not_ok "dup study: $(tail -1 "$TMP/dup.log")"
script_error "two variants in one cell" "dup.ini \[variant r8-lr\] and .*dup.ini \[variant r8\] both give ResNet-8 with BN only" "$TMP/dup.ini"
script_error "one study given twice" "both give ResNet-8 with BN only" "$TMP/bn.ini" "$TMP/bn.ini"
script_error "unknown option" "unknown option --bogus" --bogus "$TMP/bn.ini"
finish study_table
