#!/bin/sh
# End-to-end checks of the pipeline command line on a tiny synthetic data set (a few seconds).
# Run from the repository root after `make pipeline`: sh tests/cli.test.sh
# Prints "ok - ..." or "not ok - ..." per check; exits non-zero if any check failed.
# Every error run must: exit non-zero without a signal (>= 128 means a crash), print exactly one
# line on stderr naming the file or key at fault, and leave no stage-00.h5 behind.

. tests/lib.sh
H5DIFF=${H5DIFF:-h5diff}
CK=$TMP/ck

# `make` alone (the default goal) builds the driver: a dry run that takes src/cli/main.c as changed
# must relink it. (It once built nothing: `all` named the driver before its variable existed.)
r=""
make -n -W src/cli/main.c 2>&1 | grep -q -- "-o [^ ]*pipeline " || r="make -n -W src/cli/main.c does not link a pipeline"
check "make (the default goal) builds the driver" "$r"

# config NAME [EXTRA-LINE...]: writes $TMP/NAME.ini for run NAME; extra lines go at the end.
config() {
    f=$TMP/$1.ini
    cat >"$f" <<EOF
[data]
dataset = synthetic
synthetic_train = 128
synthetic_test = 64

[model]
depth = 8

[train]
epochs = 2
batch_size = 32

[run]
out_dir = $CK
name = $1
EOF
    shift
    for line in "$@"; do echo "$line" >>"$f"; done
}

# runq OUT ERR CMD...: runs CMD with stdout in OUT, stderr in ERR; sets rc.
runq() {
    o=$1; e=$2; shift 2
    "$@" >"$o" 2>"$e"
    rc=$?
}

# expect_error DESCRIPTION NEEDLE1 NEEDLE2 CMD...: CMD must fail cleanly with one stderr line
# containing both needles (NEEDLE2 may be empty).
expect_error() {
    desc=$1; n1=$2; n2=$3; shift 3
    runq "$TMP/err.out" "$TMP/err.err" "$@"
    why=""
    if [ "$rc" -eq 0 ]; then why="exit 0"
    elif [ "$rc" -ge 128 ]; then why="crashed with exit $rc (signal $((rc - 128)))"
    fi
    lines=$(wc -l <"$TMP/err.err" | tr -d ' ')
    [ "$lines" -eq 1 ] || why="${why:+$why; }$lines lines on stderr, not 1"
    msg=$(cat "$TMP/err.err")
    for n in "$n1" "$n2"; do
        [ -z "$n" ] && continue
        case $msg in *"$n"*) ;; *) why="${why:+$why; }message lacks '$n'" ;; esac
    done
    [ -z "$why" ] || why="$why; stderr: $(head -n 3 "$TMP/err.err" | tr '\n' '|')"
    check "$desc" "$why"
}

# --- 1. a plain run -------------------------------------------------------------------------------
config t
runq "$TMP/t.out" "$TMP/t.err" "$PIPE" run "$TMP/t.ini"
why=""
[ "$rc" -eq 0 ] || why="exit $rc: $(head -n 3 "$TMP/t.err" | tr '\n' '|')"
check "run exits 0" "$why"

n=$(grep -c '^epoch ' "$TMP/t.out")
why=""
[ "$n" -eq 2 ] || why="$n epoch lines, expected 2"
grep -q '^epoch   1/2 ' "$TMP/t.out" || why="${why:+$why; }no 'epoch   1/2' line"
grep -q '^epoch   2/2 ' "$TMP/t.out" || why="${why:+$why; }no 'epoch   2/2' line"
check "run prints one line per epoch" "$why"

grep -q '^stage 0 done' "$TMP/t.out" && why="" || why="no such line"
check "run prints 'stage 0 done'" "$why"

why=""
for f in stage-00.h5 last.h5; do
    [ -s "$CK/t/$f" ] || why="${why:+$why; }$CK/t/$f missing"
done
check "run writes stage-00.h5 and last.h5" "$why"

# --- 9. OpenBLAS kernels --------------------------------------------------------------------------
# OpenBLAS 0.3.21 falls back to its SSE3 "Prescott" kernels on CPUs it does not know (Sapphire
# Rapids): 6-8x slower sgemm. revive restarts itself with a core the CPU can run
# (src/engine/blas_kernels.c); a user's OPENBLAS_CORETYPE stands. The first line names the core.
core_of() { sed -n '1s/.*  OpenBLAS \([^ ]*\) (.*/\1/p' "$1"; }
env -u OPENBLAS_CORETYPE "$PIPE" run "$TMP/t.ini" --set run.name=blas >"$TMP/blas.out" 2>&1
core=$(core_of "$TMP/blas.out")
why=""
[ -n "$core" ] || why="no OpenBLAS core on the first line: $(head -c 200 "$TMP/blas.out")"
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    case " Prescott Core2 Penryn Dunnington Nehalem Sandybridge Atom " in
        *" $core "*) why="a CPU with AVX2 and FMA runs OpenBLAS's $core kernels" ;;
    esac
fi
check "OpenBLAS runs kernels for this CPU's vector units (core: ${core:-none})" "$why"
OPENBLAS_CORETYPE=Nehalem "$PIPE" run "$TMP/t.ini" --set run.name=blas2 >"$TMP/blas2.out" 2>&1
core=$(core_of "$TMP/blas2.out")
check "a user's OPENBLAS_CORETYPE is kept" "$([ "$core" = Nehalem ] || echo "core '$core', expected Nehalem")"

tmps=$(find "$CK/t" -name '*.tmp*' | tr '\n' ' ')
check "run leaves no temporary files" "${tmps:+left $tmps}"

# --- 2. eval agrees with the run ------------------------------------------------------------------
run_acc=$(grep '^epoch   2/2 ' "$TMP/t.out" | sed -n 's/.* test  *\([0-9.]*\)%.*/\1/p')
runq "$TMP/ev.out" "$TMP/ev.err" "$PIPE" eval "$CK/t/stage-00.h5"
eval_acc=$(sed -n 's/.*test accuracy \([0-9.]*\)%.*/\1/p' "$TMP/ev.out")
why=""
if [ "$rc" -ne 0 ]; then why="eval exit $rc: $(head -n 3 "$TMP/ev.err" | tr '\n' '|')"
elif [ -z "$run_acc" ] || [ -z "$eval_acc" ]; then why="cannot parse: run '$run_acc', eval '$eval_acc'"
elif [ "$run_acc" != "$eval_acc" ]; then why="run's last epoch says $run_acc%, eval says $eval_acc%"
fi
check "eval matches the run's last test accuracy ($eval_acc%)" "$why"
# eval --format json (for scripts: study tables read it, not the text): the same figures as the
# text, the stage's own clamped accuracy, and the recalibrated one as the text gives it
runq "$TMP/evj.out" "$TMP/evj.err" "$PIPE" eval "$CK/t/stage-00.h5" --clamp-gamma 0.01 --recalibrate 2 --format json
runq "$TMP/evt.out" "$TMP/evt.err" "$PIPE" eval "$CK/t/stage-00.h5" --clamp-gamma 0.01 --recalibrate 2
check "eval --format json: one object with the text's figures and the stage's clamped accuracy" "$("$PY" - "$TMP/evj.out" "$TMP/evt.out" "$CK/t/stage-00.h5" 2>&1 <<'PYEOF'
import json, re, sys, h5py
j = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
acc = [float(x) for x in re.findall(r"test accuracy ([0-9.]+)%", text)]
with h5py.File(sys.argv[3], "r") as f:
    clamped = f["stats/stage-00"].attrs["acc_clamped"]
bad = []
if abs(100 * j["accuracy"] - acc[0]) > 0.005 or abs(100 * j["recalibrated"]["accuracy"] - acc[1]) > 0.005:
    bad.append(f"json {j['accuracy']} {j['recalibrated']['accuracy']} vs text {acc}")
if j["accuracy"] != clamped or j["clamp"]["mode"] != "absolute" or j["recalibrated"]["batches"] != 2:
    bad.append(f"clamped {j['accuracy']} vs the stage's {clamped}; {j['clamp']}; {j['recalibrated']}")
print("; ".join(bad))
PYEOF
)"

# --- 3. determinism -------------------------------------------------------------------------------
if ! command -v "$H5DIFF" >/dev/null 2>&1; then
    not_ok "h5diff not found: install hdf5-tools (scripts/install-deps.sh)"
else
    config u
    runq "$TMP/u.out" "$TMP/u.err" "$PIPE" run "$TMP/u.ini"
    check "second run exits 0" "$([ "$rc" -eq 0 ] || echo "exit $rc")"
    for g in /params /running /momentum; do
        "$H5DIFF" -q "$CK/t/stage-00.h5" "$CK/u/stage-00.h5" "$g" "$g" >"$TMP/d.out" 2>&1
        r=$?
        why=""
        [ "$r" -eq 0 ] || why="h5diff exit $r: $(head -n 2 "$TMP/d.out" | tr '\n' '|')"
        check "same seed gives bit-identical $g" "$why"
    done
    runq "$TMP/s2.out" "$TMP/s2.err" "$PIPE" run "$TMP/t.ini" --set run.name=s2 --set run.seed=2
    check "run with --set run.seed=2 exits 0" "$([ "$rc" -eq 0 ] || echo "exit $rc")"
    "$H5DIFF" -q "$CK/t/stage-00.h5" "$CK/s2/stage-00.h5" /params /params >"$TMP/d.out" 2>&1
    r=$?
    why=""
    [ "$r" -eq 1 ] || why="h5diff exit $r (1 = differ): $(head -n 2 "$TMP/d.out" | tr '\n' '|')"
    check "run.seed=2 gives different /params" "$why"
fi

# --- 4. --set changes what runs -------------------------------------------------------------------
runq "$TMP/o.out" "$TMP/o.err" "$PIPE" run "$TMP/t.ini" --set run.name=o --set train.epochs=1 \
    --set model.depth=14
why=""
[ "$rc" -eq 0 ] || why="exit $rc: $(head -n 3 "$TMP/o.err" | tr '\n' '|')"
n=$(grep -c '^epoch ' "$TMP/o.out")
[ "$n" -eq 1 ] || why="${why:+$why; }$n epoch lines, expected 1"
grep -q '^epoch   1/1 ' "$TMP/o.out" || why="${why:+$why; }no 'epoch   1/1' line"
check "--set train.epochs=1 runs one epoch" "$why"

expect=$("$PIPE" params --depth 14 --input 1x8x8 --classes 4 | awk '$1 == "total" { print $2 }')
# Every "N parameters" on the header (all parameters train, so each one is the total).
got=$(grep -v '^epoch ' "$TMP/o.out" | grep -o '[0-9][0-9]* parameters' | awk '{ print $1 }' | sort -u |
      tr '\n' ' ')
why=""
if [ -z "$expect" ]; then why="pipeline params printed no total"
elif [ "$got" != "$expect " ]; then why="header says '$got' parameters, params says $expect"
fi
check "--set model.depth=14: header's parameter count is $expect" "$why"

runq "$TMP/oe.out" "$TMP/oe.err" "$PIPE" eval "$CK/o/stage-00.h5"
check "eval of the depth-14 checkpoint exits 0" "$([ "$rc" -eq 0 ] || echo "exit $rc: $(head -n 2 "$TMP/oe.err" | tr '\n' '|')")"

# --- 5. error paths -------------------------------------------------------------------------------
before=$(find "$CK" -name stage-00.h5 | sort)
mkdir "$TMP/empty"

expect_error "missing config file" "$TMP/nope.ini" "" "$PIPE" run "$TMP/nope.ini"

config e_unknown
echo "bogus = 3" >>"$TMP/e_unknown.ini"
line=$(wc -l <"$TMP/e_unknown.ini" | tr -d ' ')
expect_error "unknown key in config names file:line" "$TMP/e_unknown.ini:$line" "bogus" \
    "$PIPE" run "$TMP/e_unknown.ini"

config e_badint
sed 's/^batch_size = 32$/batch_size = abc/' "$TMP/e_badint.ini" >"$TMP/e_badint2.ini"
line=$(grep -n '^batch_size' "$TMP/e_badint2.ini" | cut -d: -f1)
expect_error "non-integer value names file:line and key" "$TMP/e_badint2.ini:$line" "batch_size" \
    "$PIPE" run "$TMP/e_badint2.ini"

config e_range
sed 's/^batch_size = 32$/batch_size = 0/' "$TMP/e_range.ini" >"$TMP/e_range2.ini"
line=$(grep -n '^batch_size' "$TMP/e_range2.ini" | cut -d: -f1)
expect_error "out-of-range value names file:line and key" "$TMP/e_range2.ini:$line" "batch_size" \
    "$PIPE" run "$TMP/e_range2.ini"

expect_error "--set with an unknown key" "train.bogus" "" \
    "$PIPE" run "$TMP/t.ini" --set run.name=e_set --set train.bogus=1
expect_error "--set with a bad value" "train.lr" "" \
    "$PIPE" run "$TMP/t.ini" --set run.name=e_setv --set train.lr=fast
expect_error "bad depth 21 via --set" "model.depth" "21" \
    "$PIPE" run "$TMP/t.ini" --set run.name=e_depth --set model.depth=21
config e_depth2
sed 's/^depth = 8$/depth = 21/' "$TMP/e_depth2.ini" >"$TMP/e_depth22.ini"
expect_error "bad depth 21 in config" "depth" "21" "$PIPE" run "$TMP/e_depth22.ini"

# BUG (program, src/cli/main.c): an unknown command prints the whole usage (8 lines) on stderr,
# not one line. Expected: one line, e.g. "pipeline: unknown command 'frobnicate'; try pipeline --help".
expect_error "unknown command" "frobnicate" "" "$PIPE" frobnicate
expect_error "run without a config" "config" "" "$PIPE" run

expect_error "eval of a missing checkpoint" "$TMP/missing.h5" "" "$PIPE" eval "$TMP/missing.h5"
head -c 4096 /dev/urandom >"$TMP/garbage.h5"
expect_error "eval of a garbage file" "$TMP/garbage.h5" "" "$PIPE" eval "$TMP/garbage.h5"
size=$(wc -c <"$CK/t/stage-00.h5" | tr -d ' ')
head -c $((size / 2)) "$CK/t/stage-00.h5" >"$TMP/half.h5"
expect_error "eval of a truncated checkpoint" "$TMP/half.h5" "" "$PIPE" eval "$TMP/half.h5"

expect_error "fashion_mnist in an empty dir names the missing file" "$TMP/empty/" "" \
    "$PIPE" run "$TMP/t.ini" --set run.name=e_fm --set data.dataset=fashion_mnist \
    --set "data.path=$TMP/empty"
expect_error "cifar10 in an empty dir names the missing file" "$TMP/empty/" "" \
    "$PIPE" run "$TMP/t.ini" --set run.name=e_cifar --set data.dataset=cifar10 \
    --set "data.path=$TMP/empty"

after=$(find "$CK" -name stage-00.h5 | sort)
check "no error run left a stage-00.h5" \
    "$([ "$before" = "$after" ] || echo "new: $(echo "$after" | grep -vxF "$before" | tr '\n' ' ')")"

# --- 6. params ------------------------------------------------------------------------------------
runq "$TMP/p.out" "$TMP/p.err" "$PIPE" params --depth 110 --input 3x32x32 --classes 10
total=$(awk '$1 == "total" { print $2 }' "$TMP/p.out")
bn=$(awk '$1 == "batchnorm" { print $2 }' "$TMP/p.out")
why=""
[ "$rc" -eq 0 ] || why="exit $rc"
[ "$total" = 1730714 ] || why="${why:+$why; }total '$total', expected 1730714"
[ "$bn" = 8288 ] || why="${why:+$why; }batchnorm '$bn', expected 8288"
check "params of ResNet-110 on CIFAR-10" "$why"
expect_error "params --depth 21" "21" "" "$PIPE" params --depth 21
runq "$TMP/p.out" "$TMP/p.err" "$PIPE" params --arch imagenet_resnet --depth 50 --input 3x224x224 --classes 1000
got=$(awk '$1 == "total" || $1 == "batchnorm" || $1 == "output" || $1 == "shortcut" { printf "%s ", $2 }' "$TMP/p.out")
check "params of ImageNet ResNet-50 (torchvision's counts)" \
    "$([ "$rc" -eq 0 ] && [ "$got" = "25557032 53120 2049000 2768896 " ] || echo "exit $rc, got '$got'")"
expect_error "params --arch vgg --depth 12" "model.depth = 12 is not a VGG depth (11, 13, 16, 19)" "" \
    "$PIPE" params --arch vgg --depth 12

# --- 7. generated docs are current ----------------------------------------------------------------
"$PIPE" help-config --markdown >"$TMP/config.md" 2>&1
if cmp -s "$TMP/config.md" docs/config.md; then ok "help-config --markdown equals docs/config.md"
else not_ok "help-config --markdown differs from docs/config.md: $(diff "$TMP/config.md" docs/config.md | head -n 4 | tr '\n' '|')"
fi

# --- 8. divergence --------------------------------------------------------------------------------
# lr is capped at 10 and BatchNorm keeps lr = 10 alone finite, but weight decay 1 multiplies the
# weights by about 1 - lr * wd = -9 each step, so the logits overflow within a few epochs.
expect_error "a diverging run names the loss and train.lr" "loss" "train.lr" \
    "$PIPE" run "$TMP/t.ini" --set run.name=nan --set train.lr=10 --set train.weight_decay=1 \
    --set train.epochs=20
check "a diverging run leaves no stage-00.h5" \
    "$([ ! -e "$CK/nan/stage-00.h5" ] || echo "$CK/nan/stage-00.h5 exists")"

# --- 9. plan: the schedule a run prints, without data or training --------------------------------
tiny_staged_ini "$TMP/plan.ini" plan 1 "[train]" "epochs = 1"
runq "$TMP/plan-run.out" "$TMP/plan-run.err" "$PIPE" run "$TMP/plan.ini" --stop-after-steps 1 \
    --set pipeline.train_output=true
runq "$TMP/plan.out" "$TMP/plan.err" "$PIPE" plan "$TMP/plan.ini" --set pipeline.train_output=true
grep '^  stage ' "$TMP/plan-run.out" >"$TMP/plan-run.stages"
grep '^  stage ' "$TMP/plan.out" >"$TMP/plan.stages"
check "plan prints the stages and trainable counts the run prints" \
    "$([ "$rc" -eq 0 ] && [ "$(lines "$TMP/plan.stages")" = 3 ] && cmp -s "$TMP/plan-run.stages" "$TMP/plan.stages" ||
       echo "exit $rc; run: $(tr '\n' '|' <"$TMP/plan-run.stages") plan: $(tr '\n' '|' <"$TMP/plan.out" "$TMP/plan.err")")"
"$PIPE" plan "$TMP/plan.ini" --set pipeline.train_output=true --format json >"$TMP/plan.json" 2>&1
r=$("$PY" - "$TMP/plan.json" "$TMP/plan.stages" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
text = [int(l.split("trainable")[0].split()[-1]) for l in open(sys.argv[2])]
got = [(s["kind"], s["fraction"], s["epochs"], s["train_output"]) for s in p["stages"]]
want = [("bn", 0, 1, False), ("conv_fraction", 0.1, 1, True), ("all", 1, 1, False)]
if got != want or [s["trainable"] for s in p["stages"]] != text or p["stages"][-1]["trainable"] != p["parameters"]:
    print(f"stages {got}, trainable {[s['trainable'] for s in p['stages']]} vs text {text}")
elif not p["pipeline"] or p["stages"][0]["lr"]["schedule"] != "step" or p["stages"][0]["lr"]["base"] != 0.05:
    print(f"pipeline {p['pipeline']}, lr {p['stages'][0]['lr']}")
PY
)
check "plan --format json: kinds, fractions, epochs, trainable counts and lr as the text says" "$r"
# A stage file's plan is the plan of its config.
"$PIPE" plan "$CK/plan/last.h5" --format json >"$TMP/plan-ck.json" 2>"$TMP/plan-ck.err"
check "plan of a checkpoint gives its config's stages" \
    "$("$PY" -c 'import json, sys; a, b = (json.load(open(f)) for f in sys.argv[1:]); sys.exit(a["stages"] != b["stages"])' \
       "$TMP/plan.json" "$TMP/plan-ck.json" || echo "$(head -c 300 "$TMP/plan-ck.json" "$TMP/plan-ck.err")")"
expect_error "plan of a config whose pipeline.epochs does not fit names the file" "$TMP/plan.ini" "pipeline.epochs has 2 values" \
    "$PIPE" plan "$TMP/plan.ini" --set "pipeline.epochs=1, 2"

# --- 10. help-config --format json: the key table for scripts ---------------------------------------
"$PIPE" help-config --format json >"$TMP/keys.json" 2>&1
"$PIPE" help-config >"$TMP/keys.txt" 2>&1
r=$("$PY" - "$TMP/keys.json" "$TMP/keys.txt" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
keys = {(k["section"], k["name"]): k for k in d["keys"]}
section, names = None, []
for line in open(sys.argv[2]):
    m = re.fullmatch(r"\[(\w+)\]\n", line)
    if m:
        section = m.group(1)
    elif section and re.match(r"  \w", line):
        names.append((section, line.split()[0]))
bad = [n for n in names if n not in keys]
if bad or len(names) != len(keys):
    print(f"text lists {len(names)} keys, json {len(keys)}; missing {bad[:3]}")
elif keys[("train", "lr")]["type"] != "double" or keys[("train", "lr")]["default"] != "0.1" or \
        keys[("run", "name")]["default"] != "run" or "resnet" not in keys[("model", "arch")]["choices"] or \
        keys[("model", "depth")]["max"] != 866 or d["exit_status"]["stopped"] != 200:
    print(f"lr {keys[('train', 'lr')]}, name {keys[('run', 'name')]}, exit {d['exit_status']}")
PY
)
check "help-config --format json lists every key with type, default, bounds, choices" "$r"

# --- 11. the option table: bad command lines are one line naming the option and the fix, exit 2 ---
usage_error() { # DESCRIPTION NEEDLE1 NEEDLE2 CMD...
    _d=$1 _a=$2 _b=$3
    shift 3
    expect_error "$_d" "$_a" "$_b" "$@"
    [ "$rc" -eq 2 ] || not_ok "$_d: exit $rc, not 2"
}
usage_error "run with an unknown option lists run's options" "unknown option '--bogus'" "--stop-after-steps N" \
    "$PIPE" run "$TMP/plan.ini" --bogus
usage_error "an option without its value says what it takes" "--out needs a value" "--out DIR" \
    "$PIPE" run "$TMP/plan.ini" --out
usage_error "a bad number names the option and the valid range" "--clamp-gamma 'x'" "a positive number" \
    "$PIPE" eval "$TMP/missing.h5" --clamp-gamma x
usage_error "a choice names the choices" "--format 'xml'" "text|json" "$PIPE" plan "$TMP/plan.ini" --format xml
usage_error "an extra operand" "unexpected argument 'two'" "" "$PIPE" resume one two
usage_error "export without --seed-only" "--seed-only" "" "$PIPE" export "$TMP/a.h5" "$TMP/b.h5"
usage_error "inspect's options are rows of the table: a bad --stage names the option and its range" \
    "inspect: --stage 'x'" "a stage number" "$PIPE" inspect "$TMP/missing.h5" --stage x
usage_error "inspect with an unknown option lists inspect's options" "unknown option '--bogus'" \
    "--layers, --format table|csv|json or --stage K" "$PIPE" inspect "$TMP/missing.h5" --bogus
runq "$TMP/ih.out" "$TMP/ih.err" "$PIPE" inspect --help
check "inspect --help: the usage generated from its rows, exit 0" \
    "$([ "$rc" -eq 0 ] && grep -q '^usage: pipeline inspect FILE|RUN_DIR \[--layers\] \[--format table|csv|json\] \[--stage K\]$' "$TMP/ih.out" && grep -q -- '--stage K .*only stage K' "$TMP/ih.out" || echo "exit $rc: $(cat "$TMP/ih.out" "$TMP/ih.err")")"
runq "$TMP/eq.out" "$TMP/eq.err" "$PIPE" plan "$TMP/plan.ini" --format=json --set=pipeline.n=0.5
check "--name=value works as --name value" "$([ "$rc" -eq 0 ] && grep -q '"kind": "conv_fraction"' "$TMP/eq.out" || cat "$TMP/eq.err")"

tmps=$(find "$CK" -name '*.tmp*' | tr '\n' ' ')
check "no run left temporary files" "${tmps:+left $tmps}"

finish cli
