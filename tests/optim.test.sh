#!/bin/sh
# The optimizer choices (train.optimizer, include/optim.h), the warmup_cosine schedule and label
# smoothing: AdamW, warmup_cosine and the smoothed cross-entropy against torch (where
# python3-torch is installed); an AdamW run resumed mid-stage bit-identical to the run straight
# through (its second moment in /moment2, its step count /step); an SGD run's file without
# /moment2; plan --format json shows the schedule; each bad value is one line naming the key.
set -u
. tests/lib.sh
B=${REPLAY_DIR:-build/tests}   # the test binaries (make check sets it)

# --- AdamW against torch.optim.AdamW: 5 steps of 12 values, same gradients --------------------
if "$PY" -c "import torch" 2>/dev/null; then
    "$B/test_step" --adamw-trace >"$TMP/trace.txt" 2>&1 || not_ok "test_step --adamw-trace"
    r=$("$PY" - "$TMP/trace.txt" <<'PY' 2>&1
import math, sys, torch
got = [list(map(float, l.split())) for l in open(sys.argv[1])]
n = 12
w = torch.tensor([0.5 * math.cos(0.3 * i) * (i % 4 + 1) for i in range(n)], dtype=torch.float32,
                 requires_grad=True)
opt = torch.optim.AdamW([w], lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)
for t in range(1, 6):
    w.grad = torch.tensor([math.sin(0.7 * i + 1.3 * t) * (1 + i % 3) for i in range(n)],
                          dtype=torch.float32)
    opt.step()
st = opt.state[w]
want = list(zip(w.detach().tolist(), st["exp_avg"].tolist(), st["exp_avg_sq"].tolist()))
worst = max(abs(a - b) / max(1e-3, abs(b)) for g, h in zip(got, want) for a, b in zip(g, h))
print("" if worst < 1e-5 else "largest relative difference %.3g" % worst)
PY
)
    check "AdamW equals torch.optim.AdamW over 5 steps (weights, exp_avg, exp_avg_sq)" "$r"
    # warmup_cosine, every step of a 100-step stage, against torch's LinearLR + CosineAnnealingLR
    "$B/test_stages" --lr-trace >"$TMP/lr.txt" 2>&1 || not_ok "test_stages --lr-trace"
    r=$("$PY" -W ignore - "$TMP/lr.txt" <<'PY' 2>&1
import sys, torch
got = [float(l) for l in open(sys.argv[1])]
w = torch.zeros(1, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.2)
W, T = 12, 100
s = torch.optim.lr_scheduler.SequentialLR(opt, [
    torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / W, end_factor=1.0, total_iters=W - 1),
    torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T - W, eta_min=0.01)], milestones=[W])
want = []
for k in range(T):
    want.append(opt.param_groups[0]["lr"])
    opt.step()
    s.step()
worst = max(abs(a - b) for a, b in zip(got, want))
print("" if len(got) == T and worst < 1e-12 else "%d values, largest difference %.3g" % (len(got), worst))
PY
)
    check "warmup_cosine equals torch's LinearLR then CosineAnnealingLR at every step" "$r"
    # label smoothing: loss and gradient of fixed logits against CrossEntropyLoss(label_smoothing)
    "$B/test_layers" --ce-trace >"$TMP/ce.txt" 2>&1 || not_ok "test_layers --ce-trace"
    r=$("$PY" - "$TMP/ce.txt" <<'PY' 2>&1
import sys, torch
lines = [l for l in open(sys.argv[1]).read().split("\n") if l]
loss, rows = float(lines[0]), [list(map(float, l.split())) for l in lines[1:]]
z = torch.tensor([r[0] for r in rows], dtype=torch.float64).reshape(3, 5).requires_grad_()
want = torch.nn.CrossEntropyLoss(label_smoothing=0.2)(z, torch.tensor([4, 0, 2]))
want.backward()
dl = abs(want.item() - loss)
dg = max(abs(a - r[1]) for a, r in zip(z.grad.flatten().tolist(), rows))
print("" if dl < 1e-7 and dg < 1e-7 else "loss differs by %.3g, gradient by %.3g" % (dl, dg))
PY
)
    check "label smoothing 0.2: loss and gradient equal torch's CrossEntropyLoss(label_smoothing=0.2)" "$r"
else
    ok "# SKIP python3-torch is not installed for $PY: AdamW and warmup_cosine not compared with torch"
fi

# --- the schedule in pipeline plan --format json --------------------------------------------
tiny_staged_ini "$TMP/p.ini" p 3
"$PIPE" plan "$TMP/p.ini" --set train.lr_schedule=warmup_cosine --set train.warmup_steps=20 \
    --set train.lr_min=0.001 --format json >"$TMP/plan.json" 2>&1 || not_ok "plan: $(cat "$TMP/plan.json")"
r=$("$PY" - "$TMP/plan.json" <<'PY' 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
lr = [s["lr"] for s in d["stages"]]
bad = [x for x in lr if (x["schedule"], x["base"], x["min"], x["warmup_steps"]) != ("warmup_cosine", 0.05, 0.001, 20)]
print("" if len(lr) == 3 and not bad else "stages' lr: %s" % lr)
PY
)
check "plan --format json shows warmup_cosine with its warm-up steps and floor" "$r"

# --- resume: an AdamW run stopped mid-stage and resumed ends bit-identical -------------------
# 100 images in batches of 32: 4 steps an epoch, 8 a stage; stopped in stage 1 (step 2) and in
# stage 2's first epoch (step 1).
tiny_staged_ini "$TMP/a.ini" a 2 "[data]" "synthetic_train = 100" "synthetic_test = 64"
sed -i 's/^lr = 0.05$/lr = 0.003\noptimizer = adamw\nbeta2 = 0.99/' "$TMP/a.ini"
"$PIPE" run "$TMP/a.ini" >"$TMP/a.log" 2>&1 || not_ok "AdamW run: $(tail -n 1 "$TMP/a.log")"
A=$TMP/ck/a
h5ls -r "$A/stage-02.h5" | grep -q '^/moment2/output.weight ' && ok "an AdamW file holds /moment2" ||
    not_ok "an AdamW file holds /moment2"
stopped "$PIPE" run "$TMP/a.ini" --out "$TMP/b" --stop-after-steps 10 >"$TMP/b1.log" 2>&1 ||
    not_ok "stop after 10 steps"
cp "$TMP/b/last.h5" "$TMP/adamw-mid.h5" # stage 1, step 2
stopped "$PIPE" resume "$TMP/b/last.h5" --stop-after-steps 7 >"$TMP/b2.log" 2>&1 ||
    not_ok "resume, stop after 7 more"
"$PIPE" resume "$TMP/b/last.h5" >"$TMP/b.log" 2>&1 || not_ok "resume to the end: $(tail -n 1 "$TMP/b.log")"
why=""
for g in /params /momentum /moment2 /running /mask /stats; do
    h5diff -q "$A/stage-02.h5" "$TMP/b/stage-02.h5" $g $g >/dev/null 2>&1 || why="$why $g differs;"
done
check "AdamW resumed twice mid-stage = straight run (params, moments, running, stats)" "$why"

# --- an SGD run's checkpoint has no /moment2 (its layout as before AdamW) -----------------------
tiny_staged_ini "$TMP/s.ini" s 1
"$PIPE" run "$TMP/s.ini" >"$TMP/s.log" 2>&1 || not_ok "SGD run"
h5ls "$TMP/ck/s/stage-00.h5" | grep -q moment2 && not_ok "an SGD file has no /moment2" ||
    ok "an SGD file has no /moment2"

# --- the optimizer may change at a stage end (a branch), not mid-stage ---------------------------
"$PIPE" resume "$TMP/ck/s/stage-00.h5" --set train.optimizer=adamw --set train.lr=0.003 \
    --out "$TMP/sa" >"$TMP/sa.log" 2>&1 && h5ls -r "$TMP/sa/stage-02.h5" | grep -q '^/moment2/' &&
    ok "an SGD stage end branches into AdamW" || not_ok "SGD stage end -> AdamW: $(tail -n 1 "$TMP/sa.log")"
one_line_error "an AdamW run's mid-stage file continued with SGD" \
    "the stage in progress ran AdamW (the file has /moment2) but this run continues it with train.optimizer = sgd" \
    "$PIPE" resume "$TMP/adamw-mid.h5" --set train.optimizer=sgd --out "$TMP/c1"
stopped "$PIPE" run "$TMP/s.ini" --out "$TMP/smid" --stop-after-steps 3 >/dev/null 2>&1 ||
    not_ok "SGD run stopped after 3 steps"
one_line_error "an SGD run's mid-stage file continued with AdamW" \
    "the stage in progress ran SGD (the file has no /moment2) but this run continues it with train.optimizer = adamw" \
    "$PIPE" resume "$TMP/smid/last.h5" --set train.optimizer=adamw --out "$TMP/c2"

# --- bad values: one line naming the key and the fix -----------------------------------------
one_line_error "unknown optimizer" "train.optimizer = 'adam' is not one of sgd|adamw" \
    "$PIPE" plan "$TMP/s.ini" --set train.optimizer=adam
one_line_error "beta2 of 1 (no bias correction possible)" "train.beta2" \
    "$PIPE" plan "$TMP/s.ini" --set train.optimizer=adamw --set train.beta2=1
one_line_error "eps of 0" "train.eps" "$PIPE" plan "$TMP/s.ini" --set train.eps=0
one_line_error "nesterov with adamw" "train.nesterov = true is SGD's" \
    "$PIPE" plan "$TMP/s.ini" --set train.optimizer=adamw --set train.nesterov=true
one_line_error "warmup_steps and warmup_epochs both" "give one" \
    "$PIPE" plan "$TMP/s.ini" --set train.warmup_steps=10 --set train.warmup_epochs=1
one_line_error "lr_min with the step schedule" "train.lr_min = 0.01 is the floor of a cosine" \
    "$PIPE" plan "$TMP/s.ini" --set train.lr_min=0.01
one_line_error "lr_min not below lr" "is not below train.lr" \
    "$PIPE" plan "$TMP/s.ini" --set train.lr_schedule=cosine --set train.lr_min=0.5
one_line_error "an unknown schedule" "'warmup' is not one of constant|step|cosine|warmup_cosine" \
    "$PIPE" plan "$TMP/s.ini" --set train.lr_schedule=warmup
one_line_error "negative warmup_steps" "train.warmup_steps" \
    "$PIPE" plan "$TMP/s.ini" --set train.warmup_steps=-1
one_line_error "label_smoothing above 1" "train.label_smoothing" \
    "$PIPE" plan "$TMP/s.ini" --set train.label_smoothing=1.5
finish optim
