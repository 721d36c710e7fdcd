#!/bin/sh
# Stopping a run (issue 11, items 5 and 6): a diverged step is never saved; SIGINT, SIGTERM and
# SIGUSR1 finish the step, write last.h5, say how to resume and exit 128 + the signal, and the
# resumed run ends with the same bits as a straight one (also under mpirun -np 2); a second
# signal ends the process at once; temporary files of dead writers are removed at start; a
# diverged but finite state is never saved, and a signal the run outran is said (issue 24); a signal once
# the command's work is done (mpirun's, to a rank still finalizing) changes and says nothing.
set -u
. tests/lib.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

finite() { # FILE: every parameter and momentum value of FILE is finite
    $PY - "$1" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
bad = [g + "/" + k for g in ("params", "momentum") for k in f[g] if not np.isfinite(f[g][k][()]).all()]
sys.exit("not finite: " + ", ".join(bad) if bad else 0)
PY
}
same() { # NAME A.h5 B.h5: parameters, momentum, running statistics, masks and stats identical
    if h5diff -q "$2" "$3" /params /params && h5diff -q "$2" "$3" /momentum /momentum &&
       h5diff -q "$2" "$3" /running /running && h5diff -q "$2" "$3" /mask /mask &&
       h5diff -q "$2" "$3" /stats /stats; then ok "$1"; else not_ok "$1"; fi
}
# wait_for FILE PATTERN: up to 600 s until FILE has a line matching PATTERN. (60 s was too
# short on a loaded machine: with two other trainings on its two cores, stage 0 of the 8,192
# images below took ~3 minutes, and the signal then came in stage 0.)
wait_for() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt 6000 ]; do sleep 0.1; i=$((i + 1)); done
}

# ---- 5. divergence: the output layer of a tiny net under lr 10 and weight decay 1 grows by
# ~10x a step until the update itself overflows; the loss of that step was still finite (it is
# computed before the update), so only a check after the update catches it. With a checkpoint
# every step, the step that overflowed was saved, and every resume failed.
cat >"$TMP/nan.ini" <<INI
[run]
name = nan
out_dir = $TMP/ck
[data]
dataset = synthetic
synthetic_train = 64
synthetic_test = 32
[model]
depth = 8
[train]
trainable = output
epochs = 5
batch_size = 4
lr = 10
momentum = 0.9
weight_decay = 1
checkpoint_every_steps = 1
INI
"$PIPE" run "$TMP/nan.ini" >"$TMP/nan.out" 2>"$TMP/nan.err"
rc=$?
why=""
[ $rc -eq 1 ] || why="exit $rc, not 1"
[ "$(lines "$TMP/nan.err")" -eq 1 ] || why="${why:+$why; }$(lines "$TMP/nan.err") lines on stderr"
grep -q "diverged" "$TMP/nan.err" || why="${why:+$why; }no 'diverged'"
check "a diverging run stops with one line and exit 1" "${why:+$why: $(head -c 300 "$TMP/nan.err")}"
grep -q "parameter output\.\(weight\|bias\) became" "$TMP/nan.err" &&
    grep -q "stage 0, epoch [0-9]*, step [0-9]*" "$TMP/nan.err" &&
    ok "the message names the parameter and the step" ||
    not_ok "the message names the parameter and the step: $(cat "$TMP/nan.err")"
r=$(finite "$TMP/ck/nan/last.h5" 2>&1) && ok "last.h5 holds the last finite step" || not_ok "last.h5 holds the last finite step: $r"
"$PIPE" eval "$TMP/ck/nan/last.h5" >/dev/null 2>"$TMP/ev.err" && ok "last.h5 still evaluates" ||
    not_ok "last.h5 still evaluates: $(cat "$TMP/ev.err")"
# It resumes, and (deterministically) diverges at the same step with the same message.
"$PIPE" resume "$TMP/ck/nan/last.h5" >/dev/null 2>"$TMP/nan2.err"
at() { sed -n 's/.*: \(parameter .* step [0-9]*\);.*/\1/p' "$1"; }
[ -n "$(at "$TMP/nan.err")" ] && [ "$(at "$TMP/nan.err")" = "$(at "$TMP/nan2.err")" ] && ok "resuming last.h5 reaches the same step and stops the same way" ||
    not_ok "resuming last.h5 reaches the same step and stops the same way: $(cat "$TMP/nan2.err")"

# ---- issue 24, item 4: a diverged but finite state. With momentum 0.999 the BN-only net's
# parameters stay finite (up to ~1e19) while the eval-mode network computes NaN: before the fix
# last.h5 held such a state (its own history ending in a NaN test loss) and `eval` printed
# "loss -nan". Now no checkpoint is written of a state whose evaluation is not finite, the
# epoch-end NaN is divergence, and the error names the newest checkpoint of a finite state.
# (The "output" net above overflows a parameter first, so it still names the parameter.)
sed -e 's/^trainable = output/trainable = bn/' -e 's/^momentum = 0.9$/momentum = 0.999/' \
    -e 's/^name = nan/name = fin/' "$TMP/nan.ini" >"$TMP/fin.ini"
grep -v checkpoint_every_steps "$TMP/fin.ini" | sed 's/^name = fin/name = fin-epoch/' >"$TMP/fin-epoch.ini"
# finite_eval FILE: `pipeline eval FILE` prints a finite loss and FILE's history has no NaN
finite_eval() {
    "$PIPE" eval "$1" >"$TMP/fe.out" 2>&1 || { echo "eval failed: $(cat "$TMP/fe.out")"; return 1; }
    grep -q "loss [0-9]" "$TMP/fe.out" || { echo "$(cat "$TMP/fe.out")"; return 1; }
    $PY - "$1" <<'PY'
import sys, h5py, numpy as np
t = h5py.File(sys.argv[1], "r")["history/test_loss"][()]
sys.exit(0 if np.isfinite(t).all() else "history/test_loss: %s" % t)
PY
}
for v in fin fin-epoch; do
    "$PIPE" run "$TMP/$v.ini" >"$TMP/$v.out" 2>"$TMP/$v.err"
    rc=$?
    why=""
    [ $rc -eq 1 ] || why="exit $rc, not 1"
    [ "$(lines "$TMP/$v.err")" -eq 1 ] || why="${why:+$why; }$(lines "$TMP/$v.err") lines on stderr"
    grep -q "the test loss became [-a-z]*nan at stage 0, epoch [0-9]*, step [0-9]* (evaluated at the epoch's end); training diverged" "$TMP/$v.err" ||
        why="${why:+$why; }no 'test loss became nan ... diverged'"
    grep -q "the newest checkpoint of a state that evaluated finite is $TMP/ck/$v/last.h5 (stage 0, " "$TMP/$v.err" ||
        why="${why:+$why; }last.h5 not named"
    check "$v: a NaN test loss at an epoch end is divergence, the error names last.h5" "${why:+$why: $(head -c 400 "$TMP/$v.err")}"
    r=$(finite_eval "$TMP/ck/$v/last.h5" 2>&1) && ok "$v: last.h5 evaluates finite" || not_ok "$v: last.h5 evaluates finite: $r"
done
# Within an epoch a save whose evaluation is not finite is skipped (said once on stdout); the
# last.h5 named is a step inside an epoch, and one without train.checkpoint_every_steps is the
# end of the previous epoch.
grep -q "the test loss is [-a-z]*nan, so last.h5 is not updated" "$TMP/fin.out" &&
    grep -q "fin/last.h5 (stage 0, epoch [0-9]*, step [0-9]* of 16)" "$TMP/fin.err" &&
    grep -q "fin-epoch/last.h5 (stage 0, end of epoch [0-9]*)" "$TMP/fin-epoch.err" &&
    ok "a skipped save is said, and the error says where the kept last.h5 stands" ||
    not_ok "a skipped save is said, and the error says where the kept last.h5 stands: $(grep "last.h5" "$TMP/fin.out" "$TMP/fin.err" "$TMP/fin-epoch.err")"

# A stop (here --stop-after-steps) due at a step whose state does not evaluate finite saves
# nothing: it ends as diverged, and the last.h5 kept is the previous epoch end.
e=$(sed -n 's/^stage 0, epoch \([0-9]*\), step \([0-9]*\): the test loss is.*/\1 \2/p' "$TMP/fin.out")
if [ -z "$e" ]; then
    not_ok "a stop due at a state that does not evaluate finite saves nothing: no skipped save in fin.out to time it"
else
    n=$(( (${e% *} - 1) * 16 + ${e#* } ))
    "$PIPE" run "$TMP/fin-epoch.ini" --out "$TMP/fin-stop" --stop-after-steps $n >"$TMP/fs.out" 2>"$TMP/fs.err"
    rc=$?
    why=""
    [ $rc -eq 1 ] || why="exit $rc, not 1"
    grep -q "(evaluated before saving last.h5 to stop); training diverged.* is $TMP/fin-stop/last.h5 (stage 0, end of epoch" "$TMP/fs.err" ||
        why="${why:+$why; }no divergence line naming the kept last.h5"
    r=$(finite_eval "$TMP/fin-stop/last.h5" 2>&1) || why="${why:+$why; }$r"
    check "a stop due at a state that does not evaluate finite saves nothing (step $n)" "${why:+$why: $(cat "$TMP/fs.err")}"
fi

# ---- 6. signals. A three-stage run of 256 steps a stage, signalled as stage 1 begins (the
# signal is acted on after the step in progress, so the stop is mid-stage); the straight run is
# the reference.
# 8,192 images (256 steps a stage): a stage must outlast the shell's polling and the signal's
# delivery on a fast, idle machine (with 256 images the whole run could end before the signal).
tiny_staged_ini "$TMP/s.ini" s 1 "[data]" "synthetic_train = 8192" "synthetic_test = 64"
"$PIPE" run "$TMP/s.ini" --out "$TMP/straight" >"$TMP/straight.log" 2>&1 || not_ok "straight run"

# default_int CMD...: CMD with SIGINT at its default (sh starts a background job with SIGINT
# ignored, which the driver then respects).
default_int() {
    exec $PY -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}
for sig in TERM INT USR1; do
    d=$TMP/sig$sig
    default_int "$PIPE" run "$TMP/s.ini" --out "$d" >"$d.out" 2>"$d.err" &
    pid=$!
    wait_for "$d.out" "^stage 1:"
    kill -$sig $pid
    wait $pid
    rc=$?
    why=""
    [ "$rc" = "$EXIT_STOPPED" ] || why="exit $rc, not $EXIT_STOPPED"
    # (stage 1 on any machine we know; stage 2 only if stage 1 ended before the signal arrived)
    grep -q "stopped by SIG$sig at stage [12], .*continue with: pipeline resume $d/last.h5" "$d.err" ||
        why="${why:+$why; }no resume line"
    [ -f "$d/last.h5" ] && [ ! -f "$d/stage-02.h5" ] || why="${why:+$why; }not stopped mid-stage with last.h5"
    check "SIG$sig mid-stage: last.h5, how to resume, exit $EXIT_STOPPED" "${why:+$why: $(cat "$d.err")}"
done
# (one resume is enough: the signal only decides where the run stops)
d=$TMP/sigTERM
"$PIPE" resume "$d/last.h5" >"$d.resume" 2>&1 || not_ok "resume after SIGTERM: $(tail -1 "$d.resume")"
same "SIGTERM, resumed: same bits as the straight run" "$TMP/straight/stage-02.h5" "$d/stage-02.h5"
[ -z "$(find "$TMP" -name '*.tmp-*')" ] && ok "no temporary files left" || not_ok "no temporary files left"

# A second signal ends the run at once: both arrive while the process is stopped, so the
# handler sees them back to back, before any step can finish.
d=$TMP/twice
default_int "$PIPE" run "$TMP/s.ini" --out "$d" >"$d.out" 2>"$d.err" &
pid=$!
wait_for "$d.out" "^stage 1:"
kill -STOP $pid
kill -TERM $pid
kill -INT $pid
kill -CONT $pid
wait $pid
rc=$?
if [ $rc -ge 129 ] && grep -q "again: stopping at once without saving" "$d.err" && ! grep -q "stopped by" "$d.err"; then
    ok "a second signal exits at once (exit $rc)"
else
    not_ok "a second signal exits at once (exit $rc: $(cat "$d.err"))"
fi

# The same signal twice within a second is one request: a `pkill -f` that matches the ranks
# signals each rank directly and mpirun forwards it again. Each step here takes a second or more
# (ResNet-20, batch 512, 3x32x32, one thread), so the copy sent 0.2 s later arrives mid-step;
# before the fix it ended the run at once, without last.h5.
slow_step_ini "$TMP/slow.ini" "[run]" "name = slow" "out_dir = $TMP/ck"
d=$TMP/dup
default_int env OMP_NUM_THREADS=1 "$PIPE" run "$TMP/slow.ini" --out "$d" >"$d.out" 2>"$d.err" &
pid=$!
wait_for "$d.out" "^stage 0:"
sleep 0.3
kill -USR1 $pid
sleep 0.2
kill -USR1 $pid
wait $pid
rc=$?
why=""
[ $rc -eq "$EXIT_STOPPED" ] || why="exit $rc, not $EXIT_STOPPED"
grep -q "SIGUSR1 again within a second: taken as the same request" "$d.err" || why="${why:+$why; }the copy was not recognised"
grep -q "stopped by SIGUSR1 at stage 0" "$d.err" && [ -f "$d/last.h5" ] || why="${why:+$why; }no last.h5"
check "the same signal twice within a second: one request, last.h5 saved" "${why:+$why: $(cat "$d.err")}"

# ---- issue 24, item 5: a signal that comes after the final stage's last step (here during the
# stage end's evaluations of a large test set) cannot stop anything: the run finishes, exits 0
# and says so (before, it announced "saving last.h5" and then said nothing).
cat >"$TMP/late.ini" <<INI
[run]
name = late
out_dir = $TMP/ck
[data]
dataset = synthetic
synthetic_train = 64
synthetic_test = 8000
[model]
depth = 8
[train]
epochs = 1
batch_size = 32
INI
d=$TMP/late
default_int "$PIPE" run "$TMP/late.ini" --out "$d" >"$d.out" 2>"$d.err" &
pid=$!
wait_for "$d.out" "^epoch   1/1"
kill -TERM $pid
wait $pid
rc=$?
why=""
[ $rc -eq 0 ] || why="exit $rc, not 0"
grep -q "^pipeline: SIGTERM came after the last step: the run finished before the stop could take effect" "$d.err" ||
    why="${why:+$why; }no line saying so"
[ -f "$d/stage-00.h5" ] || why="${why:+$why; }no stage-00.h5"
grep -q "stopped by" "$d.err" && why="${why:+$why; }'stopped by'"
check "a signal after the last step: exit 0, the run finished, and a line says so" "${why:+$why: $(cat "$d.err")}"

# Stale temporary files: one of a process that is gone (no PID is that large) is removed when
# a run starts in its directory; one of a living process (this shell) is left alone.
d=$TMP/stale
mkdir -p "$d"
: >"$d/last.h5.tmp-2147483647"
: >"$d/stage-01.h5.tmp-$$"
"$PIPE" run "$TMP/s.ini" --out "$d" --stop-after-steps 1 >"$d.stale" 2>&1
if [ ! -e "$d/last.h5.tmp-2147483647" ] && [ -e "$d/stage-01.h5.tmp-$$" ] && grep -q "removed .*tmp-2147483647" "$d.stale"; then
    ok "a dead process's temporary file is removed, a living one's kept"
else
    not_ok "a dead process's temporary file is removed, a living one's kept ($(ls "$d"))"
fi
rm -f "$d/stage-01.h5.tmp-$$"

# Under mpirun -np 2: mpirun passes SIGTERM on to both ranks (and SIGKILL a second later,
# odls_base_sigkill_timeout: time enough for a tiny step and last.h5); the ranks agree to stop
# after the same step, and resuming with 2 ranks gives the straight 2-rank bits.
MPIRUN="mpirun --oversubscribe -x OMP_NUM_THREADS=1"
$MPIRUN -np 2 "$PIPE" run "$TMP/s.ini" --out "$TMP/mpi-straight" >"$TMP/mpi-straight.log" 2>&1 ||
    not_ok "mpirun -np 2 straight run: $(tail -2 "$TMP/mpi-straight.log")"
d=$TMP/mpi-term
$MPIRUN -np 2 "$PIPE" run "$TMP/s.ini" --out "$d" >"$d.out" 2>"$d.err" &
pid=$!
wait_for "$d.out" "^stage 0:" # (mpirun takes a moment to pass the signal on: signal early)
kill -TERM $pid
wait $pid
if grep -q "stopped by SIGTERM at stage [0-9], .*continue with: pipeline resume $d/last.h5" "$d.err" && [ -f "$d/last.h5" ] &&
   [ ! -f "$d/stage-02.h5" ]; then
    ok "mpirun -np 2: SIGTERM stops both ranks mid-stage with last.h5"
else
    not_ok "mpirun -np 2: SIGTERM stops both ranks mid-stage with last.h5 ($(head -3 "$d.err"))"
fi
$MPIRUN -np 2 "$PIPE" resume "$d/last.h5" >"$d.resume" 2>&1 || not_ok "mpirun -np 2 resume: $(tail -2 "$d.resume")"
same "mpirun -np 2, SIGTERM and resumed: same bits as the straight 2-rank run" "$TMP/mpi-straight/stage-02.h5" "$d/stage-02.h5"

# A SIGTERM once the command's work is done (mpirun's, to a rank still in MPI_Finalize when another
# rank has exited with an error; REVIVE_TEST_SIGTERM_AT_FINALIZE sends it at that moment) changes
# nothing and says nothing. Before, rank 0 printed "SIGTERM: finishing this step, then saving
# last.h5" after the run's one-line error (a CI failure of mpi.test.sh).
REVIVE_TEST_SIGTERM_AT_FINALIZE=1 "$PIPE" run "$TMP/s.ini" --out "$TMP/fin" --set data.dataset=cifar10 \
    --set "data.path=$TMP/nowhere" >/dev/null 2>"$TMP/fin.err"
rc=$?
check "a SIGTERM while finalizing after an error: exit 1, the error alone" \
    "$([ $rc -eq 1 ] && [ "$(lines "$TMP/fin.err")" -eq 1 ] && grep -q "data_batch_1.bin: missing" "$TMP/fin.err" ||
       echo "exit $rc: $(cat "$TMP/fin.err")")"
REVIVE_TEST_SIGTERM_AT_FINALIZE=1 "$PIPE" resume "$TMP/straight/stage-02.h5" --out "$TMP/fin-ok" >"$TMP/fin-ok.out" 2>"$TMP/fin-ok.err"
rc=$?
check "a SIGTERM while finalizing a run with nothing left to train: exit 0, nothing on stderr" \
    "$([ $rc -eq 0 ] && [ ! -s "$TMP/fin-ok.err" ] && grep -q "nothing left to train" "$TMP/fin-ok.out" ||
       echo "exit $rc: $(cat "$TMP/fin-ok.err")")"

finish stop
