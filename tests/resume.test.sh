#!/bin/sh
# Resume is bit-exact: a tiny three-stage run interrupted after a stage, and one interrupted
# mid-stage (twice, once inside an epoch), end with parameters, momentum and running statistics
# bit-identical to the run that went straight through. Also: branches need --out, a seed-only
# export evaluates exactly like the full file, and the staged run's files are all there.
set -u
PIPELINE=${PIPELINE:-./pipeline}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failures=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; failures=$((failures + 1)); }
same() { # name, a.h5, b.h5: /params, /momentum, /running, /mask and /history/test_acc identical
    if h5diff -q "$2" "$3" /params /params && h5diff -q "$2" "$3" /momentum /momentum &&
       h5diff -q "$2" "$3" /running /running && h5diff -q "$2" "$3" /mask /mask &&
       h5diff -q "$2" "$3" /history/test_acc /history/test_acc && h5diff -q "$2" "$3" /stats /stats; then
        ok "$1"
    else
        bad "$1"
    fi
}
cat > "$T/cfg.ini" <<INI
[run]
name = s
out_dir = $T/ck
[data]
dataset = synthetic
synthetic_train = 200
synthetic_test = 64
[model]
depth = 8
[train]
batch_size = 32
lr = 0.05
weight_decay = 5e-3
lr_schedule = cosine
checkpoint_every_steps = 5
[pipeline]
enabled = true
fractions = 0, 0.1, 1
epochs = 2
threshold = 0.05
select = reinit_first
INI
# 200 images in batches of 32: 7 steps an epoch, 14 a stage.
"$PIPELINE" run "$T/cfg.ini" > "$T/straight.log" 2>&1 || bad "straight run"
for k in 00 01 02; do
    [ -f "$T/ck/s/stage-$k.h5" ] || bad "stage-$k.h5 written"
done
[ -f "$T/ck/s/last.h5" ] && ok "last.h5 written" || bad "last.h5 written"
[ -z "$(find "$T/ck" -name '*.tmp-*')" ] && ok "no temporary files left" || bad "no temporary files left"

# After a stage: resume from stage-00.h5 (before its re-initialization) into another directory.
"$PIPELINE" resume "$T/ck/s/stage-00.h5" --out "$T/after-stage" > "$T/a.log" 2>&1 || bad "resume from stage-00.h5"
same "resumed after stage 0 = straight run" "$T/ck/s/stage-02.h5" "$T/after-stage/stage-02.h5"

# Mid-stage: stop at step 17 (inside stage 1, epoch 1), then at 9 more (inside an epoch of
# stage 1 again, past a step checkpoint), then run to the end.
"$PIPELINE" run "$T/cfg.ini" --out "$T/mid" --stop-after-steps 17 > "$T/m1.log" 2>&1 || bad "stop after 17 steps"
grep -q "stopped after 17 steps" "$T/m1.log" && ok "stop message" || bad "stop message"
"$PIPELINE" resume "$T/mid/last.h5" --stop-after-steps 9 > "$T/m2.log" 2>&1 || bad "resume, stop again"
"$PIPELINE" resume "$T/mid/last.h5" > "$T/m3.log" 2>&1 || bad "resume to the end"
same "interrupted mid-stage twice = straight run" "$T/ck/s/stage-02.h5" "$T/mid/stage-02.h5"
same "its stage-01.h5 = straight run's" "$T/ck/s/stage-01.h5" "$T/mid/stage-01.h5"
# the epoch lines of the resumed pieces are those of the straight run
grep "^epoch" "$T/straight.log" | sed 's/ *[0-9]* img\/s.*//' > "$T/e1"
cat "$T/m1.log" "$T/m2.log" "$T/m3.log" | grep "^epoch" | sed 's/ *[0-9]* img\/s.*//' > "$T/e2"
cmp -s "$T/e1" "$T/e2" && ok "epoch lines equal the straight run's" || bad "epoch lines equal the straight run's"

# Stopping on the last step of a stage stops there (regression: it used to re-initialize and run
# one step of the next stage first); the stage end then happens on resume.
"$PIPELINE" run "$T/cfg.ini" --out "$T/edge" --stop-after-steps 14 > "$T/s1.log" 2>&1 || bad "stop after 14 steps"
if grep -q "stopped after 14 steps" "$T/s1.log" && ! grep -q "^stage 1" "$T/s1.log" && [ ! -e "$T/edge/stage-00.h5" ]; then
    ok "a stop on a stage's last step stops before the stage end"
else
    bad "a stop on a stage's last step stops before the stage end"
fi
"$PIPELINE" resume "$T/edge/last.h5" > "$T/s2.log" 2>&1 || bad "resume from a stage's last step"
same "stopped at a stage's last step = straight run" "$T/ck/s/stage-02.h5" "$T/edge/stage-02.h5"

# A branch must name its own directory; with --out it changes what follows (the transition
# before stage 2 re-initializes by the branch's τ; regression: it used the stored flags).
if "$PIPELINE" resume "$T/ck/s/stage-01.h5" --set pipeline.threshold=0.1 > "$T/b.log" 2> "$T/b.err"; then
    bad "branch without --out refused"
else
    grep -q -- "--out" "$T/b.err" && ok "branch without --out refused" || bad "branch message names --out"
fi
"$PIPELINE" resume "$T/ck/s/stage-01.h5" --set pipeline.threshold=0.1 --out "$T/branch" > "$T/b2.log" 2>&1 &&
    [ -f "$T/branch/stage-02.h5" ] && [ ! -e "$T/branch/stage-01.h5" ] &&
    ! h5diff -q "$T/ck/s/stage-02.h5" "$T/branch/stage-02.h5" /params /params &&
    ok "branch writes to --out and differs" || bad "branch writes to --out and differs"

# A branch continues after the last finished stage with the new schedule: from the 10 % stage
# with N/s instead of the list, 10 % · 3 = 30 %, 90 %, then all.
"$PIPELINE" resume "$T/ck/s/stage-01.h5" --out "$T/branch-s" --set "pipeline.fractions=" \
    --set pipeline.n=0.1 --set pipeline.s=3 > "$T/bs.log" 2>&1
fr=$("$PIPELINE" inspect "$T/branch-s/stage-04.h5" --format csv 2>&1 | tail -n +2 | cut -d, -f3 |
    awk '{ printf "%.6g ", $1 }')
[ "$fr" = "0 0.1 0.3 0.9 1 " ] && ok "branch with pipeline.s continues from the last stage ($fr)" ||
    bad "branch with pipeline.s continues from the last stage (got '$fr')"
# A mid-stage checkpoint continues only as it was.
if "$PIPELINE" resume "$T/mid/last.h5" --set train.lr=0.01 --out "$T/x" > /dev/null 2> "$T/ms.err"; then
    bad "--set on a mid-stage checkpoint refused"
else
    grep -q "stage-end checkpoint" "$T/ms.err" && ok "--set on a mid-stage checkpoint refused" || bad "--set mid-stage message"
fi
# Resuming a finished run says so and does nothing.
"$PIPELINE" resume "$T/ck/s/stage-02.h5" --out "$T/fin" > "$T/fin.log" 2>&1 && grep -q "nothing left" "$T/fin.log" &&
    ok "resuming a finished run does nothing" || bad "resuming a finished run does nothing"
# A checkpoint whose position does not fit is refused in one line (edited with h5py).
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import h5py" 2> /dev/null; then
    for edit in "stage=-1" "stage=9" "step=1000" "epoch=5"; do
        cp "$T/mid/last.h5" "$T/pos.h5"
        /usr/bin/python3 -c "import h5py,sys; k,v=sys.argv[2].split('='); f=h5py.File(sys.argv[1],'r+'); f.attrs[k]=int(v); f.close()" "$T/pos.h5" "$edit"
        "$PIPELINE" resume "$T/pos.h5" --out "$T/pos" > /dev/null 2> "$T/pos.err"
        rc=$?
        if [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$(wc -l < "$T/pos.err")" -eq 1 ]; then
            ok "a checkpoint with $edit is refused: $(cut -c1-60 "$T/pos.err")..."
        else
            bad "a checkpoint with $edit is refused (exit $rc: $(head -2 "$T/pos.err"))"
        fi
    done
fi

# Seed-only export: small, evaluates exactly like the full file; a trained-conv file is refused.
"$PIPELINE" export --seed-only "$T/ck/s/stage-00.h5" "$T/seed.h5" > "$T/x.log" 2>&1 || bad "export"
full=$("$PIPELINE" eval "$T/ck/s/stage-00.h5" | sed 's/^[^:]*: //')
seed=$("$PIPELINE" eval "$T/seed.h5" | sed 's/^[^:]*: //')
[ -n "$full" ] && [ "$full" = "$seed" ] && ok "seed-only eval = full eval ($seed)" || bad "seed-only eval ($full vs $seed)"
[ "$(stat -c %s "$T/seed.h5")" -lt "$(stat -c %s "$T/ck/s/stage-00.h5")" ] && ok "seed-only file is smaller" || bad "seed-only file is smaller"
grep -q "bytes" "$T/x.log" && ok "export prints both sizes" || bad "export prints both sizes"
if "$PIPELINE" export --seed-only "$T/ck/s/stage-01.h5" "$T/seed1.h5" 2> "$T/x.err"; then
    bad "export of trained convs refused"
else
    [ ! -e "$T/seed1.h5" ] && [ "$(wc -l < "$T/x.err")" -eq 1 ] && ok "export of trained convs refused" || bad "export refusal"
fi
# Clamping: eval --clamp-gamma with a threshold reproduces the stage end's clamped accuracy.
clamped=$("$PIPELINE" eval "$T/ck/s/stage-00.h5" --clamp-gamma 0.05 | sed 's/.*accuracy \([0-9.]*\)%.*/\1/')
grep -q "clamped to 0: $clamped%" "$T/straight.log" && ok "eval --clamp-gamma = the stage's clamped accuracy ($clamped%)" ||
    bad "eval --clamp-gamma ($clamped%)"
echo
echo "resume.test.sh: $failures failure(s)"
[ "$failures" -eq 0 ]
