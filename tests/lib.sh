# Shared by the shell tests (tests/*.test.sh), sourced from the repository root:  . tests/lib.sh
# Gives: PIPE (the driver under test: $PIPELINE or ./pipeline), PY (/usr/bin/python3, the
# interpreter with h5py), TMP (a fresh directory, removed on exit), ok/not_ok/check to report one
# check each as "ok - ..." / "not ok - ...", lines FILE, one_line_error (a command must fail with
# one line on stderr), EXIT_STOPPED and stopped (a run stopped as asked), tiny_staged_ini and
# superres_ini (the tests' tiny configs), same_generator (two generator.h5 files' bits), and finish
# NAME to print the count and set the exit status. Stops at once, with one "not ok", when the driver is missing.
PIPE=${PIPELINE:-./pipeline}
PY=/usr/bin/python3
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }
# check DESCRIPTION REASON: REASON empty means the check passed.
check() { if [ -z "$2" ]; then ok "$1"; else not_ok "$1: $2"; fi; }
lines() { wc -l <"$1" | tr -d ' '; }
# tiny_staged_ini FILE NAME EPOCHS [LINE...]: the tests' tiny staged run (ResNet-8 on synthetic
# data; BN only, BN + 10 %, all; EPOCHS a stage; τ = 0.05 so some filters switch off), writing to
# $TMP/ck/NAME unless --out says otherwise. LINEs go at the end: "[data]" "synthetic_train = 97".
tiny_staged_ini() {
    f=$1 name=$2 epochs=$3
    shift 3
    cat >"$f" <<INI
[run]
name = $name
out_dir = $TMP/ck
[data]
dataset = synthetic
[model]
depth = 8
[train]
batch_size = 32
lr = 0.05
weight_decay = 5e-3
[pipeline]
enabled = true
fractions = 0, 0.1, 1
epochs = $epochs
threshold = 0.05
INI
    for line in "$@"; do echo "$line" >>"$f"; done
}
# slow_step_ini FILE [LINE...]: one epoch of ResNet-20 on synthetic 3x32x32 images in batches of
# 512, a second or more a step on one thread: time for a signal to arrive mid-step. LINEs are
# appended (more sections).
slow_step_ini() {
    f=$1
    shift
    cat >"$f" <<INI
[data]
dataset = synthetic
synthetic_train = 4096
synthetic_test = 64
synthetic_size = 32
synthetic_channels = 3
[model]
depth = 20
[train]
epochs = 1
batch_size = 512
INI
    for line in "$@"; do echo "$line" >>"$f"; done
}
# one_line_error DESCRIPTION PATTERN COMMAND...: COMMAND must fail as a user error: exit status
# 1-127 (exactly $ERROR_STATUS when set, e.g. 2 for the scripts), not a crash, and exactly one
# line on stderr matching PATTERN (grep's basic regular expression).
one_line_error() {
    desc=$1 pattern=$2
    shift 2
    "$@" >"$TMP/error.out" 2>"$TMP/error.err"
    rc=$? why=""
    if [ "$rc" -eq 0 ]; then why="exit 0"
    elif [ "$rc" -ge 128 ]; then why="crashed (exit $rc)"
    elif [ -n "${ERROR_STATUS:-}" ] && [ "$rc" -ne "$ERROR_STATUS" ]; then why="exit $rc, not $ERROR_STATUS"
    fi
    [ "$(lines "$TMP/error.err")" = 1 ] || why="${why:+$why; }$(lines "$TMP/error.err") lines on stderr"
    grep -q -- "$pattern" "$TMP/error.err" || why="${why:+$why; }stderr lacks '$pattern'"
    check "$desc" "${why:+$why: $(head -c 300 "$TMP/error.err")}"
}
# The exit status of a run stopped as asked, last.h5 saved (include/stop.h, EXIT_STOPPED).
EXIT_STOPPED=200
# stopped COMMAND...: runs COMMAND (a run with --stop-after-steps); true when it stopped as asked.
stopped() {
    "$@"
    [ $? -eq "$EXIT_STOPPED" ]
}
# superres_ini NAME TRAIN [LINE...]: the tests' tiny `pipeline superres` config (8x8 synthetic
# images, 2 epochs, 1 residual block, a 4-image grid) writing to $TMP/ck/NAME, as $TMP/NAME.ini;
# TRAIN is the [train] section's optimizer lines (one string, lines separated by newlines), the
# LINEs go at the end of [superres] ("task = denoise", "perceptual_weight = 0.05").
superres_ini() {
    f=$TMP/$1.ini name=$1 train=$2
    shift 2
    cat >"$f" <<INI
[run]
name = $name
out_dir = $TMP/ck
[data]
dataset = synthetic
synthetic_train = 192
synthetic_test = 24
synthetic_size = 8
[train]
epochs = 2
batch_size = 32
$train
[superres]
blocks = 1
grid_images = 4
INI
    for line in "$@"; do echo "$line" >>"$f"; done
}
# same_generator A B: true when the generator.h5 files A and B hold the same bits: the
# parameters, the optimizer state and the running statistics (not the informative wall times).
same_generator() {
    for g in params momentum moment2 running; do
        [ "$g" = moment2 ] && ! h5ls "$1/moment2" >/dev/null 2>&1 && ! h5ls "$2/moment2" >/dev/null 2>&1 &&
            continue # SGD: no second moment in either
        h5diff -q "$1" "$2" "/$g" >/dev/null 2>&1 || return 1
    done
}
finish() {
    echo "# $1: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

if [ ! -x "$PIPE" ]; then
    not_ok "$PIPE is missing: run make tests first"
    exit 1
fi
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' HUP INT TERM
