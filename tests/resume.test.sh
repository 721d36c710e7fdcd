#!/bin/sh
# Resume is bit-exact: a tiny three-stage run interrupted after a stage, and one interrupted
# mid-stage (twice, once inside an epoch), end with parameters, momentum and running statistics
# bit-identical to the run that went straight through. Also: branches need --out, a seed-only
# export evaluates exactly like the full file, the staged run's files are all there, and a file
# from before /model conv_auto_rule resumes auto under the rule of its format's time (format 3: 2;
# format 2's rule 1 is test_checkpoint's, which can restamp the attribute checksum). Step
# checkpoints (and the evaluation before each) change no bits, on 1 and 2 ranks.
set -u
. tests/lib.sh
same() { # name, a.h5, b.h5: /params, /momentum, /running, /mask, /stats and the history's
          # test_acc and |γ| columns identical
    gamma_cols=1
    for c in gamma_below_tau abs_gamma_p10 abs_gamma_p50 abs_gamma_p90; do
        h5diff -q "$2" "$3" /history/$c /history/$c || gamma_cols=0
    done
    if h5diff -q "$2" "$3" /params /params && h5diff -q "$2" "$3" /momentum /momentum &&
       h5diff -q "$2" "$3" /running /running && h5diff -q "$2" "$3" /mask /mask &&
       h5diff -q "$2" "$3" /history/test_acc /history/test_acc && h5diff -q "$2" "$3" /stats /stats &&
       [ $gamma_cols = 1 ]; then
        ok "$1"
    else
        not_ok "$1"
    fi
}
cat > "$TMP/cfg.ini" <<INI
[run]
name = s
out_dir = $TMP/ck
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
"$PIPE" run "$TMP/cfg.ini" > "$TMP/straight.log" 2>&1 || not_ok "straight run"
for k in 00 01 02; do
    [ -f "$TMP/ck/s/stage-$k.h5" ] || not_ok "stage-$k.h5 written"
done
[ -f "$TMP/ck/s/last.h5" ] && ok "last.h5 written" || not_ok "last.h5 written"
[ -z "$(find "$TMP/ck" -name '*.tmp-*')" ] && ok "no temporary files left" || not_ok "no temporary files left"

# After a stage: resume from stage-00.h5 (before its re-initialization) into another directory.
"$PIPE" resume "$TMP/ck/s/stage-00.h5" --out "$TMP/after-stage" > "$TMP/a.log" 2>&1 || not_ok "resume from stage-00.h5"
same "resumed after stage 0 = straight run" "$TMP/ck/s/stage-02.h5" "$TMP/after-stage/stage-02.h5"

# Mid-stage: stop at step 17 (inside stage 1, epoch 1), then at 9 more (inside an epoch of
# stage 1 again, past a step checkpoint), then run to the end.
stopped "$PIPE" run "$TMP/cfg.ini" --out "$TMP/mid" --stop-after-steps 17 > "$TMP/m1.log" 2>&1 || not_ok "stop after 17 steps"
grep -q "stopped after 17 steps" "$TMP/m1.log" && ok "stop message" || not_ok "stop message"
stopped "$PIPE" resume "$TMP/mid/last.h5" --stop-after-steps 9 > "$TMP/m2.log" 2>&1 || not_ok "resume, stop again"
"$PIPE" resume "$TMP/mid/last.h5" > "$TMP/m3.log" 2>&1 || not_ok "resume to the end"
same "interrupted mid-stage twice = straight run" "$TMP/ck/s/stage-02.h5" "$TMP/mid/stage-02.h5"
same "its stage-01.h5 = straight run's" "$TMP/ck/s/stage-01.h5" "$TMP/mid/stage-01.h5"
# oneDNN's convolutions (train.conv_algo = onednn) too, and across thread counts: a straight run
# on 2 threads, and one stopped mid-stage and resumed on 1 thread, end with the same bits.
OMP_NUM_THREADS=2 "$PIPE" run "$TMP/cfg.ini" --set train.conv_algo=onednn --out "$TMP/dn" \
    > "$TMP/dn.log" 2>&1 || not_ok "onednn: straight run"
stopped env OMP_NUM_THREADS=1 "$PIPE" run "$TMP/cfg.ini" --set train.conv_algo=onednn --out "$TMP/dnm" \
    --stop-after-steps 17 > "$TMP/dn1.log" 2>&1 || not_ok "onednn: stop after 17 steps"
OMP_NUM_THREADS=1 "$PIPE" resume "$TMP/dnm/last.h5" > "$TMP/dn2.log" 2>&1 || not_ok "onednn: resume"
same "onednn: interrupted on 1 thread = straight run on 2" "$TMP/dn/stage-02.h5" "$TMP/dnm/stage-02.h5"
# The start line says what train.conv_algo = auto chose per kind of conv, and under which rule:
# a new run the current rule (2); a file from before the rule was stored (the attribute
# deleted) resumes under rule 1, Winograd for the 3x3 stride-1 convs (not oneDNN, whatever the
# CPU), and keeps rule 1 in what it writes; a rule newer than this revive knows is refused.
grep -q "^convolutions (train.conv_algo = auto, rule 2): stem im2col, 3x3 stride 1 " "$TMP/straight.log" &&
    ok "the start line names the conv algorithms and the rule" ||
    not_ok "the start line names the conv algorithms and the rule: $(grep convolutions "$TMP/straight.log")"
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import h5py" 2> /dev/null; then
    rule() { # FILE [VALUE]: prints /model conv_auto_rule (absent: "none"); VALUE sets it, "del" deletes it
        /usr/bin/python3 -c 'import sys, h5py; sys.path.insert(0, "scripts"); import revive_h5
f = h5py.File(sys.argv[1], "r+"); a = f["model"].attrs
if len(sys.argv) > 2:
    if sys.argv[2] == "del": del a["conv_auto_rule"]
    else: a["conv_auto_rule"] = int(sys.argv[2])
print(int(a["conv_auto_rule"]) if "conv_auto_rule" in a else "none"); f.close(); revive_h5.restamp(sys.argv[1])' "$@"
    }
    cp "$TMP/ck/s/stage-00.h5" "$TMP/v3.h5"
    rule "$TMP/v3.h5" del > /dev/null
    stopped "$PIPE" resume "$TMP/v3.h5" --out "$TMP/v3" --stop-after-steps 1 > "$TMP/v3.log" 2>&1 ||
        not_ok "resume of a format-3 file without conv_auto_rule: $(tail -n 2 "$TMP/v3.log")"
    grep -q "^convolutions (train.conv_algo = auto, rule 2)" "$TMP/v3.log" &&
        [ "$(rule "$TMP/v3/last.h5")" = 2 ] && ok "a format-3 file without conv_auto_rule resumes under rule 2 and keeps it" ||
        not_ok "a format-3 file without conv_auto_rule resumes under rule 2: $(grep convolutions "$TMP/v3.log"), wrote $(rule "$TMP/v3/last.h5")"
    cp "$TMP/ck/s/stage-00.h5" "$TMP/new.h5"
    rule "$TMP/new.h5" 3 > /dev/null
    "$PIPE" resume "$TMP/new.h5" --out "$TMP/new" > /dev/null 2> "$TMP/new.err"
    rc=$?
    [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$(wc -l < "$TMP/new.err")" -eq 1 ] &&
        grep -q "new.h5: /model conv_auto_rule is 3.*upgrade revive" "$TMP/new.err" &&
        ok "an unknown conv_auto_rule is refused in one line" ||
        not_ok "an unknown conv_auto_rule is refused (exit $rc: $(head -2 "$TMP/new.err"))"
fi
# the epoch lines of the resumed pieces are those of the straight run
grep "^epoch" "$TMP/straight.log" | sed 's/ *[0-9]* img\/s.*//' > "$TMP/e1"
cat "$TMP/m1.log" "$TMP/m2.log" "$TMP/m3.log" | grep "^epoch" | sed 's/ *[0-9]* img\/s.*//' > "$TMP/e2"
cmp -s "$TMP/e1" "$TMP/e2" && ok "epoch lines equal the straight run's" || not_ok "epoch lines equal the straight run's"
# ... and so does the share of |γ| < τ at their ends (printed when it changes)
grep "^epoch" "$TMP/straight.log" | sed 's/.*eta [^ ]*//' > "$TMP/g1"
cat "$TMP/m1.log" "$TMP/m2.log" "$TMP/m3.log" | grep "^epoch" | sed 's/.*eta [^ ]*//' > "$TMP/g2"
grep -q "|γ|<0.05 [0-9.]*%" "$TMP/g1" && cmp -s "$TMP/g1" "$TMP/g2" &&
    ok "the |γ| < τ share in the epoch lines equals the straight run's" ||
    not_ok "the |γ| < τ share in the epoch lines equals the straight run's: $(head -3 "$TMP/g1" "$TMP/g2")"

# Stopping on the last step of a stage stops there (regression: it used to re-initialize and run
# one step of the next stage first); the stage end then happens on resume.
stopped "$PIPE" run "$TMP/cfg.ini" --out "$TMP/edge" --stop-after-steps 14 > "$TMP/s1.log" 2>&1 || not_ok "stop after 14 steps"
if grep -q "stopped after 14 steps" "$TMP/s1.log" && ! grep -q "^stage 1" "$TMP/s1.log" && [ ! -e "$TMP/edge/stage-00.h5" ]; then
    ok "a stop on a stage's last step stops before the stage end"
else
    not_ok "a stop on a stage's last step stops before the stage end"
fi
"$PIPE" resume "$TMP/edge/last.h5" > "$TMP/s2.log" 2>&1 || not_ok "resume from a stage's last step"
same "stopped at a stage's last step = straight run" "$TMP/ck/s/stage-02.h5" "$TMP/edge/stage-02.h5"

# A branch must name its own directory; with --out it changes what follows (the transition
# before stage 2 re-initializes by the branch's τ; regression: it used the stored flags).
if "$PIPE" resume "$TMP/ck/s/stage-01.h5" --set pipeline.threshold=0.1 > "$TMP/b.log" 2> "$TMP/b.err"; then
    not_ok "branch without --out refused"
else
    grep -q -- "--out" "$TMP/b.err" && ok "branch without --out refused" || not_ok "branch message names --out"
fi
"$PIPE" resume "$TMP/ck/s/stage-01.h5" --set pipeline.threshold=0.1 --out "$TMP/branch" > "$TMP/b2.log" 2>&1 &&
    [ -f "$TMP/branch/stage-02.h5" ] && [ ! -e "$TMP/branch/stage-01.h5" ] &&
    ! h5diff -q "$TMP/ck/s/stage-02.h5" "$TMP/branch/stage-02.h5" /params /params &&
    ok "branch writes to --out and differs" || not_ok "branch writes to --out and differs"

# A branch continues after the last finished stage with the new schedule: from the 10 % stage
# with N/s instead of the list, 10 % · 3 = 30 %, 90 %, then all.
"$PIPE" resume "$TMP/ck/s/stage-01.h5" --out "$TMP/branch-s" --set "pipeline.fractions=" \
    --set pipeline.n=0.1 --set pipeline.s=3 > "$TMP/bs.log" 2>&1
fr=$("$PIPE" inspect "$TMP/branch-s/stage-04.h5" --format csv 2>&1 | tail -n +2 | cut -d, -f3 |
    awk '{ printf "%.6g ", $1 }')
[ "$fr" = "0 0.1 0.3 0.9 1 " ] && ok "branch with pipeline.s continues from the last stage ($fr)" ||
    not_ok "branch with pipeline.s continues from the last stage (got '$fr')"
# A mid-stage checkpoint continues only as it was.
if "$PIPE" resume "$TMP/mid/last.h5" --set train.lr=0.01 --out "$TMP/x" > /dev/null 2> "$TMP/ms.err"; then
    not_ok "--set on a mid-stage checkpoint refused"
else
    grep -q "stage-end checkpoint" "$TMP/ms.err" && ok "--set on a mid-stage checkpoint refused" || not_ok "--set mid-stage message"
fi
# Resuming a finished run says so and does nothing.
"$PIPE" resume "$TMP/ck/s/stage-02.h5" --out "$TMP/fin" > "$TMP/fin.log" 2>&1 && grep -q "nothing left" "$TMP/fin.log" &&
    ok "resuming a finished run does nothing" || not_ok "resuming a finished run does nothing"
# A checkpoint whose position does not fit is refused in one line (edited with h5py).
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import h5py" 2> /dev/null; then
    for edit in "stage=-1" "stage=9" "step=1000" "epoch=5"; do
        cp "$TMP/mid/last.h5" "$TMP/pos.h5"
        /usr/bin/python3 -c "import h5py,sys; k,v=sys.argv[2].split('='); f=h5py.File(sys.argv[1],'r+'); f.attrs[k]=int(v); f.close()" "$TMP/pos.h5" "$edit"
        "$PIPE" resume "$TMP/pos.h5" --out "$TMP/pos" > /dev/null 2> "$TMP/pos.err"
        rc=$?
        if [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$(wc -l < "$TMP/pos.err")" -eq 1 ]; then
            ok "a checkpoint with $edit is refused: $(cut -c1-60 "$TMP/pos.err")..."
        else
            not_ok "a checkpoint with $edit is refused (exit $rc: $(head -2 "$TMP/pos.err"))"
        fi
    done
fi

# Seed-only export: small, evaluates exactly like the full file; a trained-conv file is refused.
"$PIPE" export --seed-only "$TMP/ck/s/stage-00.h5" "$TMP/seed.h5" > "$TMP/x.log" 2>&1 || not_ok "export"
full=$("$PIPE" eval "$TMP/ck/s/stage-00.h5" | sed 's/^[^:]*: //')
seed=$("$PIPE" eval "$TMP/seed.h5" | sed 's/^[^:]*: //')
[ -n "$full" ] && [ "$full" = "$seed" ] && ok "seed-only eval = full eval ($seed)" || not_ok "seed-only eval ($full vs $seed)"
[ "$(stat -c %s "$TMP/seed.h5")" -lt "$(stat -c %s "$TMP/ck/s/stage-00.h5")" ] && ok "seed-only file is smaller" || not_ok "seed-only file is smaller"
grep -q "bytes" "$TMP/x.log" && ok "export prints both sizes" || not_ok "export prints both sizes"
if "$PIPE" export --seed-only "$TMP/ck/s/stage-01.h5" "$TMP/seed1.h5" 2> "$TMP/x.err"; then
    not_ok "export of trained convs refused"
else
    [ ! -e "$TMP/seed1.h5" ] && [ "$(wc -l < "$TMP/x.err")" -eq 1 ] && ok "export of trained convs refused" || not_ok "export refusal"
fi
# Clamping: eval --clamp-gamma with a threshold reproduces the stage end's clamped accuracy.
clamped=$("$PIPE" eval "$TMP/ck/s/stage-00.h5" --clamp-gamma 0.05 | sed 's/.*accuracy \([0-9.]*\)%.*/\1/')
grep -q "clamped to 0: $clamped%" "$TMP/straight.log" && ok "eval --clamp-gamma = the stage's clamped accuracy ($clamped%)" ||
    not_ok "eval --clamp-gamma ($clamped%)"
# The evaluation before a save within an epoch (a state is saved only when its test loss is
# finite) changes nothing the run goes on with: without step checkpoints the run ends with the
# same bits, also on 2 ranks with per-rank BatchNorm statistics (train.sync_bn = false), where
# the evaluation first gives every rank rank 0's running statistics.
"$PIPE" run "$TMP/cfg.ini" --set train.checkpoint_every_steps=0 --out "$TMP/nosteps" > "$TMP/ns.log" 2>&1 ||
    not_ok "run without step checkpoints"
same "no step checkpoints = straight run (the evaluations before saves change nothing)" "$TMP/ck/s/stage-02.h5" "$TMP/nosteps/stage-02.h5"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for every in 0 3; do
    mpirun --oversubscribe -x OMP_NUM_THREADS=1 -np 2 "$PIPE" run "$TMP/cfg.ini" --set train.sync_bn=false \
        --set train.checkpoint_every_steps=$every --out "$TMP/unsync$every" > "$TMP/unsync$every.log" 2>&1 ||
        not_ok "mpirun -np 2, sync_bn = false, checkpoint_every_steps = $every: $(tail -2 "$TMP/unsync$every.log")"
done
same "mpirun -np 2, sync_bn = false: step checkpoints change nothing" "$TMP/unsync0/stage-02.h5" "$TMP/unsync3/stage-02.h5"
# pipeline.lr: each stage starts from its own base learning rate (here constant within a stage),
# straight or stopped mid-stage and resumed, to the same bits
"$PIPE" run "$TMP/cfg.ini" --set pipeline.lr=0.04,0.02,0.01 --set train.lr_schedule=constant --out "$TMP/plr" \
    > "$TMP/plr.log" 2>&1 || not_ok "pipeline.lr: $(tail -1 "$TMP/plr.log")"
check "pipeline.lr: each stage's epochs run at its own learning rate" \
    "$(awk -F, 'NR > 1 { printf "%s:%s ", $1, $3 }' "$TMP/plr/metrics.csv" | grep -qx '0:0.04 0:0.04 1:0.02 1:0.02 2:0.01 2:0.01 ' ||
       cat "$TMP/plr/metrics.csv")"
stopped "$PIPE" run "$TMP/cfg.ini" --set pipeline.lr=0.04,0.02,0.01 --set train.lr_schedule=constant --out "$TMP/plr2" \
    --stop-after-steps 20 > "$TMP/plr2.log" 2>&1 || not_ok "pipeline.lr: stop after 20 steps"
"$PIPE" resume "$TMP/plr2/last.h5" > "$TMP/plr3.log" 2>&1 || not_ok "pipeline.lr: resume: $(tail -1 "$TMP/plr3.log")"
same "pipeline.lr: stopped in stage 1 and resumed, the same bits" "$TMP/plr/stage-02.h5" "$TMP/plr2/stage-02.h5"
finish resume
