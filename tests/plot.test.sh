#!/bin/sh
# scripts/plot.py end to end: a 3-stage ResNet-8 pipeline run "p" and a 2-epoch from-scratch run
# "scratch" on synthetic data (a few seconds), then the four figures of both runs together (PNG:
# magic bytes, size, pixel dimensions), the PDF output of one, and every error exit (missing file,
# a checkpoint without /stats stages, a file that is not a checkpoint, a missing argument).
# Run from the repository root after `make tests`:
#   sh tests/plot.test.sh          PIPELINE=/path/to/driver sh tests/plot.test.sh
# Prints "ok - ..." or "not ok - ..." per check; exits non-zero if any check failed.

PIPE=${PIPELINE:-./pipeline}
PY=/usr/bin/python3
PLOT=scripts/plot.py
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }
# check DESCRIPTION REASON: REASON empty means the check passed.
check() { if [ -z "$2" ]; then ok "$1"; else not_ok "$1: $2"; fi; }
lines() { wc -l <"$1" | tr -d ' '; }
size() { wc -c <"$1" | tr -d ' '; }
# hexbytes FILE OFFSET COUNT: the bytes as one lowercase hex string.
hexbytes() { od -An -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }
# be32 FILE OFFSET: a big-endian 32-bit unsigned integer (PNG IHDR width and height).
be32() { od -An -tu1 -j "$2" -N 4 "$1" | awk '{ print (($1 * 256 + $2) * 256 + $3) * 256 + $4 }'; }

if [ ! -x "$PIPE" ]; then
    not_ok "$PIPE or ./pipeline is missing: run make tests first"
    exit 1
fi
if ! "$PY" -c 'import matplotlib' 2>/dev/null; then
    not_ok "matplotlib missing (scripts/install-deps.sh installs python3-matplotlib)"
    exit 1
fi
if ! "$PY" -c 'import h5py, numpy' 2>/dev/null; then
    not_ok "h5py or numpy missing (scripts/install-deps.sh installs python3-h5py and python3-numpy)"
    exit 1
fi

# The script is run as a program, so its shebang and mode are part of what is tested.
r=""
[ -x "$PLOT" ] || r="not executable"
[ -z "$r" ] && [ "$(head -n 1 "$PLOT")" != "#!/usr/bin/python3" ] && r="first line is not #!/usr/bin/python3"
check "$PLOT is an executable with #!/usr/bin/python3" "$r"
[ -z "$r" ] || PLOT="$PY $PLOT"

T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM

cat >"$T/p.ini" <<EOF
[run]
name = p
out_dir = $T/ck
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
epochs = 1
threshold = 0.05
EOF
cat >"$T/scratch.ini" <<EOF
[run]
name = scratch
out_dir = $T/ck
[data]
dataset = synthetic
[model]
depth = 8
[train]
epochs = 2
batch_size = 32
lr = 0.05
weight_decay = 5e-3
EOF
P=$T/ck/p/stage-02.h5
S=$T/ck/scratch/stage-00.h5
for run in p scratch; do
    if ! "$PIPE" run "$T/$run.ini" >"$T/run.out" 2>&1; then
        not_ok "the $run run failed: $(tail -n 3 "$T/run.out")"
        exit 1
    fi
done
if [ ! -f "$P" ] || [ ! -f "$S" ]; then
    not_ok "the runs did not write $P and $S"
    exit 1
fi

# plot OUT-PREFIX ARGS...: runs the script with stdout in OUT-PREFIX.out, stderr in
# OUT-PREFIX.err; sets rc.
plot() { o=$1; shift; $PLOT "$@" >"$o.out" 2>"$o.err"; rc=$?; }
# fails DESCRIPTION WANT-IN-MESSAGE: the last plot exited 1 with one line on stderr that names
# the problem, and printed nothing on stdout.
fails() {
    r=""
    if [ "$rc" -ne 1 ]; then r="exit $rc, want 1"
    elif [ "$(lines "$T/e.err")" -ne 1 ]; then r="stderr has $(lines "$T/e.err") lines, want 1: $(head -n 2 "$T/e.err" | tr '\n' '|')"
    elif ! grep -q -- "$2" "$T/e.err"; then r="stderr lacks \"$2\": $(cat "$T/e.err")"
    elif [ -s "$T/e.out" ]; then r="stdout not empty: $(head -n 1 "$T/e.out")"
    fi
    check "$1" "$r"
}

# Two checkpoints, PNG (the default).
F=$T/fig
plot "$T/two" "$P" "$S" --out "$F"
r=""
[ "$rc" -eq 0 ] || r="exit $rc: $(head -n 1 "$T/two.err")"
check "plot of two runs exits 0" "$r"
printf '%s\n' "$F/accuracy.png" "$F/filters.png" "$F/gamma_hist.png" "$F/clamp.png" >"$T/want"
r=""
cmp -s "$T/want" "$T/two.out" || r="got: $(tr '\n' ' ' <"$T/two.out")"
check "stdout lists the four files written, one a line" "$r"
for name in accuracy filters gamma_hist clamp; do
    f=$F/$name.png
    r=""
    if [ ! -f "$f" ]; then r="missing"
    elif [ "$(hexbytes "$f" 0 8)" != "89504e470d0a1a0a" ]; then r="no PNG signature: $(hexbytes "$f" 0 8)"
    elif [ "$(hexbytes "$f" 12 4)" != "49484452" ]; then r="first chunk is not IHDR"
    elif [ "$(size "$f")" -lt 20000 ]; then r="only $(size "$f") bytes"
    else
        w=$(be32 "$f" 16)
        h=$(be32 "$f" 20)
        # 6.4 in wide or more at 200 dpi; a blank or collapsed figure would be far smaller.
        if [ "$w" -lt 1000 ] || [ "$h" -lt 400 ] || [ "$w" -gt 6000 ] || [ "$h" -gt 6000 ]; then
            r="${w}x$h pixels"
        fi
    fi
    check "$name.png is a PNG of at least 20 kB and a paper figure's size" "$r"
done
r=""
[ "$(find "$F" -type f | wc -l | tr -d ' ')" -eq 4 ] || r="$(ls "$F" | tr '\n' ' ')"
check "nothing else is written to --out" "$r"

# PDF output of one checkpoint, into a directory that does not exist yet.
G=$T/new/pdf
plot "$T/pdf" "$P" --out "$G" --format pdf
r=""
if [ "$rc" -ne 0 ]; then r="exit $rc: $(head -n 1 "$T/pdf.err")"; else
    for name in accuracy filters gamma_hist clamp; do
        f=$G/$name.pdf
        if [ ! -f "$f" ]; then r="$r $name.pdf missing"
        elif [ "$(hexbytes "$f" 0 5)" != "255044462d" ]; then r="$r $name.pdf has no %PDF- header"
        elif [ "$(size "$f")" -lt 5000 ]; then r="$r $name.pdf only $(size "$f") bytes"
        fi
    done
fi
check "--format pdf writes four PDFs, creating --out" "$r"

# Error exits: one line on stderr, exit 1, no figures.
plot "$T/e" "$T/none.h5" --out "$T/e1"
fails "a missing checkpoint fails naming it" "$T/none.h5: no such file"
r=""
[ ! -e "$T/e1" ] || r="$T/e1 was created"
check "a failed plot writes nothing" "$r"

plot "$T/e" "$P" "$T/none.h5" --out "$T/e2"
fails "a missing second checkpoint fails too" "$T/none.h5"
r=""
[ ! -e "$T/e2" ] || r="$T/e2 was created"
check "no figures of the good checkpoint either" "$r"

if "$PIPE" run "$T/p.ini" --out "$T/half" --stop-after-steps 1 >"$T/run.out" 2>&1 && [ -f "$T/half/last.h5" ]; then
    plot "$T/e" "$T/half/last.h5" --out "$T/e3"
    fails "a checkpoint without finished stages fails" "nstages = 0"
else
    not_ok "--stop-after-steps 1 did not write last.h5: $(tail -n 1 "$T/run.out")"
fi

plot "$T/e" "$T/p.ini" --out "$T/e4"
fails "a file that is not HDF5 fails" "not an HDF5 file"

plot "$T/e" "$T/ck" --out "$T/e5"
fails "a directory fails" "is a directory"

plot "$T/e" "$P"
r=""
[ "$rc" -ne 0 ] || r="exit 0"
grep -q -- "--out" "$T/e.err" || r="$r; stderr does not mention --out"
check "--out is required" "$r"

echo "# plot: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
