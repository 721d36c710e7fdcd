#!/bin/sh
# Re-initialization variants, the no-re-initialization control and BatchNorm recalibration, on
# the tests' tiny staged run (ResNet-8, synthetic data, BN only → BN + 10 % → all):
#   - reinit_gamma = zero with reinit_beta = keep leaves the network's function unchanged at the
#     transition: the accuracy right after it equals the previous stage's clamped accuracy, bit
#     for bit (γ = 0 there, β kept, so the fresh weights and reset statistics do not show);
#   - the control (pipeline.reinit = false) re-initializes nothing, still flags the disabled
#     filters, and records reinit_applied = 0;
#   - recalibration is recorded, and a run stopped mid-stage and resumed ends bit-identical;
#   - eval --recalibrate prints both accuracies and leaves the file alone;
#   - inspect RUN_DIR shows the newest stage file; bad values are one-line errors;
#   - pipeline.threshold_mode = relative decides the stage flags, the transition flags, the
#     per-epoch share and the clamp alike (eval --clamp-gamma reproduces acc_clamped);
#   - the issue-20 variants (orthogonal weights, Channel Regeneration) run end to end.
set -u
. tests/lib.sh
attr() { # file, stage, attribute
    "$PY" -c 'import h5py, sys; print(h5py.File(sys.argv[1], "r")["stats/stage-%02d" % int(sys.argv[2])].attrs[sys.argv[3]])' "$1" "$2" "$3"
}
# 512 images in batches of 32: 16 steps a stage (1 epoch).
tiny_staged_ini "$TMP/t.ini" t 1 "[run]" "threads = 1"

# zero + keep: function-preserving transition
"$PIPE" run "$TMP/t.ini" --set run.name=zero --set pipeline.reinit_gamma=zero \
    --set pipeline.reinit_beta=keep > "$TMP/zero.log" 2>&1 || not_ok "zero run: $(tail -1 "$TMP/zero.log")"
F=$TMP/ck/zero/stage-02.h5
for k in 1 2; do
    a=$(attr "$F" $k acc_start) b=$(attr "$F" $((k - 1)) acc_clamped)
    check "zero + keep: accuracy after transition $k = clamped accuracy before it" \
        "$([ "$a" = "$b" ] || echo "$a vs $b")"
done
# ... and the default is not function-preserving on this run (so the check above can fail)
"$PIPE" run "$TMP/t.ini" --set run.name=initial > "$TMP/initial.log" 2>&1 || not_ok "initial run"
G=$TMP/ck/initial/stage-02.h5
a=$(attr "$G" 1 acc_start) b=$(attr "$G" 0 acc_clamped)
check "initial: the transition changes the accuracy" "$([ "$a" != "$b" ] || echo "both $a")"

# the control: stop one step into stage 1, so the frozen conv weights show what the transition did
stopped "$PIPE" run "$TMP/t.ini" --set run.name=control --set pipeline.reinit=false \
    --set pipeline.recalibrate_batches=3 --stop-after-steps 17 > "$TMP/c1.log" 2>&1 || not_ok "control, stopped"
stopped "$PIPE" run "$TMP/t.ini" --set run.name=treated --set pipeline.recalibrate_batches=3 \
    --stop-after-steps 17 > "$TMP/t1.log" 2>&1 || not_ok "treated, stopped"
"$PY" - "$TMP/ck" <<'PY' > "$TMP/frozen.txt"
import sys, h5py, numpy as np
ck = sys.argv[1]
for run in ("control", "treated"):
    before, after = h5py.File(f"{ck}/{run}/stage-00.h5", "r"), h5py.File(f"{ck}/{run}/last.h5", "r")
    flagged = before["stats/stage-00/disabled"][()].astype(bool)
    units = before["stats/units"][()].decode().split()
    per = before["stats/filters_per_unit"][()]
    changed, f = 0, 0
    for u, n in zip(units, per):
        name = u + ".conv"  # a unit's conv weight (docs/checkpoint-format.md)
        w0, w1, m = before["params"][name][()], after["params"][name][()], after["mask"][name][()]
        for c in range(n):
            if flagged[f + c]:
                frozen = m[c] == 0
                changed += int((w0[c][frozen] != w1[c][frozen]).any())
        f += n
    print(run, int(flagged.sum()), changed)
PY
read -r _ cflag cchanged <<EOT
$(sed -n 1p "$TMP/frozen.txt")
EOT
read -r _ tflag tchanged <<EOT
$(sed -n 2p "$TMP/frozen.txt")
EOT
check "control: no flagged filter's frozen conv weights changed" \
    "$([ "${cflag:-0}" -gt 0 ] && [ "${cchanged:-x}" = 0 ] || echo "flagged ${cflag:-?}, changed ${cchanged:-?}")"
check "treated: every flagged filter got new conv weights" \
    "$([ "${tflag:-0}" -gt 0 ] && [ "${tchanged:-x}" = "$tflag" ] || echo "flagged ${tflag:-?}, changed ${tchanged:-?}")"
grep -q "disabled filters left as they are (pipeline.reinit = false" "$TMP/c1.log" &&
    ok "control: says what it did" || not_ok "control: says what it did"

# finish both; the control's statistics still flag, and record that nothing was re-initialized
"$PIPE" resume "$TMP/ck/control/last.h5" > "$TMP/c2.log" 2>&1 || not_ok "control resumed"
grep -q "^stage 1 done: .* of the [0-9]* flagged at the transition (left as they were) recovered" "$TMP/c2.log" &&
    ! grep -q "re-initialized; saved" "$TMP/c2.log" &&
    ok "control: the stage-end line says the flagged filters were left, not re-initialized" ||
    not_ok "control: the stage-end line: $(grep '^stage 1 done' "$TMP/c2.log")"
C=$TMP/ck/control/stage-02.h5
msg=$("$PY" - "$C" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
s = f["stats"]
for k in (1, 2):
    g, prev = s["stage-%02d" % k], s["stage-%02d" % (k - 1)]
    if not (g["reinit"][()] == prev["disabled"][()]).all():
        print("stage %d: reinit flags are not the previous disabled flags" % k)
    if g.attrs["reinit_applied"] != 0:
        print("stage %d: reinit_applied = %d" % (k, g.attrs["reinit_applied"]))
    if prev["disabled"][()].sum() == 0:
        print("stage %d: nothing flagged, the test shows nothing" % k)
    if not 0 <= g.attrs["acc_start_recal"] <= 1:
        print("stage %d: acc_start_recal = %r" % (k, g.attrs["acc_start_recal"]))
    if g.attrs["acc_start"] != prev.attrs["acc_end"]:
        print("stage %d: accuracy changed at a transition that changes nothing" % k)
if s["stage-00"].attrs["acc_start_recal"] != -1:
    print("stage 0 acc_start_recal should be -1")
PY
)
check "control: flags recorded, reinit_applied = 0, accuracy unchanged at the transition" "$msg"
"$PIPE" inspect "$TMP/ck/control" > "$TMP/insp.txt" 2>&1
grep -q "pipeline.reinit = false, the control" "$TMP/insp.txt" && grep -q "acc recal" "$TMP/insp.txt" &&
    ok "inspect RUN_DIR: newest stage file, control marked" || not_ok "inspect RUN_DIR: $(head -3 "$TMP/insp.txt")"
[ "$(grep -c '^ *[0-9]  ' "$TMP/insp.txt")" = 3 ] && ok "inspect RUN_DIR: three stages" || not_ok "inspect RUN_DIR: three stages"

# recalibration: stopped mid-stage and resumed = straight through
"$PIPE" resume "$TMP/ck/treated/last.h5" > "$TMP/t2.log" 2>&1 || not_ok "treated resumed"
n=$(attr "$TMP/ck/treated/stage-01.h5" 1 reinit_applied) m=$("$PY" -c 'import h5py,sys; print(int(h5py.File(sys.argv[1],"r")["stats/stage-01/reinit"][()].sum()))' "$TMP/ck/treated/stage-01.h5")
check "treated: reinit_applied = flagged count" "$([ "$n" = "$m" ] && [ "$n" -gt 0 ] || echo "$n vs $m")"
"$PIPE" run "$TMP/t.ini" --set run.name=straight --set pipeline.recalibrate_batches=3 > "$TMP/s.log" 2>&1 || not_ok "straight run"
if h5diff -q "$TMP/ck/straight/stage-02.h5" "$TMP/ck/treated/stage-02.h5" /params /params &&
   h5diff -q "$TMP/ck/straight/stage-02.h5" "$TMP/ck/treated/stage-02.h5" /running /running &&
   h5diff -q "$TMP/ck/straight/stage-02.h5" "$TMP/ck/treated/stage-02.h5" /stats /stats; then
    ok "recalibrating run: interrupted mid-stage and resumed = straight"
else
    not_ok "recalibrating run: interrupted mid-stage and resumed = straight"
fi
grep -q "after recalibrating BatchNorm on 3 batches" "$TMP/s.log" && ok "recalibration printed" || not_ok "recalibration printed"

# eval --recalibrate: both accuracies, the file untouched
S=$TMP/ck/straight/stage-01.h5
sum=$(md5sum < "$S")
"$PIPE" eval "$S" --recalibrate 2 > "$TMP/eval.txt" 2>&1 || not_ok "eval --recalibrate"
[ "$(grep -c 'test accuracy' "$TMP/eval.txt")" = 2 ] && grep -q "after recalibrating BatchNorm on 2 training batches" "$TMP/eval.txt" &&
    ok "eval --recalibrate prints before and after" || not_ok "eval --recalibrate: $(cat "$TMP/eval.txt")"
[ "$(md5sum < "$S")" = "$sum" ] && ok "eval --recalibrate leaves the file unchanged" || not_ok "eval --recalibrate changed the file"

# threshold_mode = relative: disabled = |γ| < τ · the unit's largest |γ|, everywhere
"$PIPE" run "$TMP/t.ini" --set run.name=rel --set pipeline.threshold_mode=relative \
    --set pipeline.threshold=0.2 > "$TMP/rel.log" 2>&1 || not_ok "relative run: $(tail -1 "$TMP/rel.log")"
R=$TMP/ck/rel/stage-02.h5
msg=$("$PY" - "$R" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
s, h = f["stats"], f["history"]
per = s["filters_per_unit"][()]
tau, differs = 0.2, 0
for k in range(3):
    g = s["stage-%02d" % k]
    gamma = np.abs(g["gamma"][()].astype(np.float32))
    want, off = [], 0
    for n in per:
        u = gamma[off:off + n]
        want.append(u < tau * float(u.max()))
        off += n
    want = np.concatenate(want)
    if not (g["disabled"][()].astype(bool) == want).all():
        print("stage %d: disabled flags are not |γ| < τ·max per unit" % k)
    differs += int((want != (gamma < tau)).sum())
    if k and not (g["reinit"][()] == s["stage-%02d" % (k - 1)]["disabled"][()]).all():
        print("stage %d: reinit flags are not the previous stage's relative flags" % k)
    last = np.nonzero(h["stage"][()] == k)[0][-1]
    if h["gamma_below_tau"][last] != want.sum() / len(want):
        print("stage %d: history share %r, flags %r" % (k, h["gamma_below_tau"][last], want.mean()))
if differs == 0:
    print("relative and absolute flags agree everywhere: the test shows nothing")
if s["stage-00"]["disabled"][()].sum() == 0:
    print("nothing disabled at stage 0")
print("clamped %.2f" % (100 * s["stage-00"].attrs["acc_clamped"]))
PY
)
clamped=$(echo "$msg" | sed -n 's/^clamped //p')
check "relative: flags, transition flags and history share follow |γ| < τ·max" "$(echo "$msg" | grep -v '^clamped ')"
"$PIPE" eval "$TMP/ck/rel/stage-00.h5" --clamp-gamma 0.2 > "$TMP/releval.txt" 2>&1 || not_ok "relative eval"
grep -q "test accuracy $clamped%.*|γ| < 0.2·max set to 0" "$TMP/releval.txt" &&
    ok "relative: eval --clamp-gamma τ reproduces acc_clamped ($clamped%)" ||
    not_ok "relative: eval --clamp-gamma τ: $(cat "$TMP/releval.txt") vs $clamped"
grep -q "clamped to 0" "$TMP/rel.log" && grep -q "0.2·max" "$TMP/rel.log" &&
    ok "relative: the log says τ·max" || not_ok "relative: the log says τ·max"

# the other variants of issue 20 run end to end and record their transitions
"$PIPE" run "$TMP/t.ini" --set run.name=orth --set pipeline.reinit_weights=orthogonal \
    > "$TMP/orth.log" 2>&1 || not_ok "orthogonal run: $(tail -1 "$TMP/orth.log")"
"$PIPE" run "$TMP/t.ini" --set run.name=regen --set pipeline.reinit_gamma=median \
    --set pipeline.reinit_weights=keep --set pipeline.reinit_beta=keep > "$TMP/regen.log" 2>&1 ||
    not_ok "Channel Regeneration run: $(tail -1 "$TMP/regen.log")"
msg=$("$PY" - "$TMP/ck" <<'PY'
import sys, h5py, numpy as np
ck = sys.argv[1]
for run in ("orth", "regen"):
    f = h5py.File(f"{ck}/{run}/stage-02.h5", "r")
    if f["stats/stage-01"].attrs["reinit_applied"] == 0:
        print(run + ": nothing re-initialized")
    if "reinit_weights = " + ("orthogonal" if run == "orth" else "keep") not in f["config"][()].decode():
        print(run + ": the choice is not in the stored config")
PY
)
check "orthogonal and Channel Regeneration: re-initialize, stored in /config" "$msg"
one_line_error "unknown reinit_weights" "'random' is not one of fresh|keep|orthogonal" \
    "$PIPE" run "$TMP/t.ini" --set pipeline.reinit_weights=random
one_line_error "weight scale with kept weights" "pipeline.reinit_weights = keep draws none" \
    "$PIPE" run "$TMP/t.ini" --set pipeline.reinit_weights=keep --set pipeline.reinit_weight_scale=0.5

# bad input
one_line_error "eval --recalibrate -1" "must be a number of batches" "$PIPE" eval "$S" --recalibrate -1
one_line_error "recalibrate_batches < 0" "pipeline.recalibrate_batches = -1 is out of range" \
    "$PIPE" run "$TMP/t.ini" --set pipeline.recalibrate_batches=-1
one_line_error "unknown reinit_gamma" "'half' is not one of initial|fresh|zero|value|median" \
    "$PIPE" run "$TMP/t.ini" --set pipeline.reinit_gamma=half
one_line_error "inspect a directory without stage files" "no stage-KK.h5 in this directory" "$PIPE" inspect "$TMP"
finish reinit.test.sh
