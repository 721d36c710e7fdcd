# Same config, same bits across revive's changes (issue 19): the configs of tests/data/bits/
# (a three-stage synthetic pipeline with re-initialization and recalibration, the control with
# Winograd, a wide ResNet by im2col, a Fashion-MNIST BN-only stage) must give /params, /running
# and /stats bit-identical to the reference binary's (tests/data/bits/reference.json: commit
# 0d983c4, before the network-families redesign). Skipped, saying so, on another CPU type.
. tests/lib.sh
out=$("$PY" tests/tools/bits.py check --pipeline "$PIPE" --reference tests/data/bits/reference.json 2>&1)
rc=$?
echo "$out" | grep -q "^skip" && { echo "$out"; finish bits; exit $?; }
[ $rc -le 1 ] || not_ok "tests/tools/bits.py check ended with exit $rc: $(echo "$out" | tail -n 1)"
while IFS= read -r line; do
    case "$line" in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) not_ok "${line#not ok - }" ;;
    esac
done <<OUT
$out
OUT
[ "$passed" -gt 0 ] || not_ok "no run compared: $(echo "$out" | tail -n 1)"
finish bits
