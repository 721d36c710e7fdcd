#!/bin/sh
# scripts/plot.py end to end: a 3-stage ResNet-8 pipeline run "p" and a 2-epoch from-scratch run
# "scratch" on synthetic data (a few seconds), then the five figures of both runs together (PNG:
# magic bytes, size, pixel dimensions), the PDF output of one, and every error exit (missing file,
# a checkpoint without /stats stages, a file that is not a checkpoint, a missing argument).
# Run from the repository root after `make tests`:
#   sh tests/plot.test.sh          PIPELINE=/path/to/driver sh tests/plot.test.sh
# Prints "ok - ..." or "not ok - ..." per check; exits non-zero if any check failed.

. tests/lib.sh
PLOT=scripts/plot.py
size() { wc -c <"$1" | tr -d ' '; }
# hexbytes FILE OFFSET COUNT: the bytes as one lowercase hex string.
hexbytes() { od -An -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }
# be32 FILE OFFSET: a big-endian 32-bit unsigned integer (PNG IHDR width and height).
be32() { od -An -tu1 -j "$2" -N 4 "$1" | awk '{ print (($1 * 256 + $2) * 256 + $3) * 256 + $4 }'; }

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


tiny_staged_ini "$TMP/p.ini" p 1
cat >"$TMP/scratch.ini" <<EOF
[run]
name = scratch
out_dir = $TMP/ck
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
P=$TMP/ck/p/stage-02.h5
S=$TMP/ck/scratch/stage-00.h5
for run in p scratch; do
    if ! "$PIPE" run "$TMP/$run.ini" >"$TMP/run.out" 2>&1; then
        not_ok "the $run run failed: $(tail -n 3 "$TMP/run.out")"
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
    elif [ "$(lines "$TMP/e.err")" -ne 1 ]; then r="stderr has $(lines "$TMP/e.err") lines, want 1: $(head -n 2 "$TMP/e.err" | tr '\n' '|')"
    elif ! grep -q -- "$2" "$TMP/e.err"; then r="stderr lacks \"$2\": $(cat "$TMP/e.err")"
    elif [ -s "$TMP/e.out" ]; then r="stdout not empty: $(head -n 1 "$TMP/e.out")"
    fi
    check "$1" "$r"
}

# Two checkpoints, PNG (the default).
F=$TMP/fig
plot "$TMP/two" "$P" "$S" --out "$F"
r=""
[ "$rc" -eq 0 ] || r="exit $rc: $(head -n 1 "$TMP/two.err")"
check "plot of two runs exits 0" "$r"
printf '%s\n' "$F/accuracy.png" "$F/filters.png" "$F/gamma_hist.png" "$F/clamp.png" "$F/gamma_share.png" >"$TMP/want"
r=""
cmp -s "$TMP/want" "$TMP/two.out" || r="got: $(tr '\n' ' ' <"$TMP/two.out")"
check "stdout lists the five files written, one a line" "$r"
for name in accuracy filters gamma_hist clamp gamma_share; do
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
[ "$(find "$F" -type f | wc -l | tr -d ' ')" -eq 5 ] || r="$(ls "$F" | tr '\n' ' ')"
check "nothing else is written to --out" "$r"

# PDF output of one checkpoint, into a directory that does not exist yet.
G=$TMP/new/pdf
plot "$TMP/pdf" "$P" --out "$G" --format pdf
r=""
if [ "$rc" -ne 0 ]; then r="exit $rc: $(head -n 1 "$TMP/pdf.err")"; else
    for name in accuracy filters gamma_hist clamp gamma_share; do
        f=$G/$name.pdf
        if [ ! -f "$f" ]; then r="$r $name.pdf missing"
        elif [ "$(hexbytes "$f" 0 5)" != "255044462d" ]; then r="$r $name.pdf has no %PDF- header"
        elif [ "$(size "$f")" -lt 5000 ]; then r="$r $name.pdf only $(size "$f") bytes"
        fi
    done
fi
check "--format pdf writes five PDFs, creating --out" "$r"

# The share-below-τ figure draws, for each run, exactly its history column gamma_below_tau
# (in %), one point per epoch; a checkpoint without that column (an older revive's) still plots,
# its run marked as having no per-epoch history.
cp "$S" "$TMP/old.h5"
"$PY" -c 'import h5py, sys; f = h5py.File(sys.argv[1], "r+"); del f["history/gamma_below_tau"]; f.close()' "$TMP/old.h5"
r=$("$PY" - "$P" "$S" "$TMP/old.h5" <<'PYEOF' 2>&1
import importlib.util, sys
import h5py, numpy as np
sys.path.insert(0, "scripts")
spec = importlib.util.spec_from_file_location("plot", "scripts/plot.py")
plot = importlib.util.module_from_spec(spec); spec.loader.exec_module(plot)
runs = [plot.load(p) for p in sys.argv[1:]]
fig = plot.plot_gamma_share(runs, plot.run_colors(len(runs)))
lines = [l for l in fig.axes[0].lines if l.get_label() and not l.get_label().startswith("_")]
for p, line in zip(sys.argv[1:3], lines):
    want = 100 * h5py.File(p, "r")["history/gamma_below_tau"][()]
    if not (len(want) > 0 and np.array_equal(line.get_ydata(), want)):
        print(f"{p}: curve {line.get_ydata()} != history {want}")
    if not np.array_equal(line.get_xdata(), np.arange(1, len(want) + 1)):
        print(f"{p}: x {line.get_xdata()}")
if len(lines) != 3 or len(lines[2].get_ydata()) != 0 or "no per-epoch" not in lines[2].get_label():
    print("the old checkpoint's run: " + (lines[2].get_label() if len(lines) > 2 else "no line"))
PYEOF
)
check "gamma_share draws each run's gamma_below_tau per epoch; an older file has an empty, labelled curve" "$r"

# A step schedule's learning-rate drop is marked on gamma_share where the history's lr falls
# within a stage (here ×0.1 from epoch 2 of 2); a cosine run gets no marks.
sed -e 's/^name = scratch/name = stepped/' -e 's/^lr = 0.05/lr = 0.05\nlr_schedule = step\nmilestone_fractions = 0.5\nlr_factor = 0.1/' \
    "$TMP/scratch.ini" >"$TMP/stepped.ini"
if "$PIPE" run "$TMP/stepped.ini" >"$TMP/run.out" 2>&1 &&
   "$PIPE" run "$TMP/scratch.ini" --set train.lr_schedule=cosine --set run.name=cos >>"$TMP/run.out" 2>&1; then
    r=$("$PY" - "$TMP/ck/stepped/stage-00.h5" "$TMP/ck/cos/stage-00.h5" <<'PYEOF' 2>&1
import importlib.util, sys
sys.path.insert(0, "scripts")
spec = importlib.util.spec_from_file_location("plot", "scripts/plot.py")
plot = importlib.util.module_from_spec(spec); spec.loader.exec_module(plot)
stepped, cos = plot.load(sys.argv[1]), plot.load(sys.argv[2])
if plot.lr_steps(stepped) != [(2, 0.1)]:
    print(f"stepped: {plot.lr_steps(stepped)}, lr {stepped['hist'].get('lr')}")
if plot.lr_steps(cos) != []:
    print(f"cosine: {plot.lr_steps(cos)}")
fig = plot.plot_gamma_share([stepped, cos], plot.run_colors(2))
marks = [l for l in fig.axes[0].lines if l.get_linestyle() == "-."]
if len(marks) != 1 or list(marks[0].get_xdata()) != [1.5, 1.5]:
    print(f"{len(marks)} lr marks at {[list(m.get_xdata()) for m in marks]}")
PYEOF
)
    check "gamma_share marks a step schedule's lr drop (×0.1 at epoch 2), none for cosine" "$r"
else
    not_ok "the stepped/cosine runs failed: $(tail -n 2 "$TMP/run.out")"
fi

# Error exits: one line on stderr, exit 1, no figures.
plot "$TMP/e" "$TMP/none.h5" --out "$TMP/e1"
fails "a missing checkpoint fails naming it" "$TMP/none.h5: no such file"
r=""
[ ! -e "$TMP/e1" ] || r="$TMP/e1 was created"
check "a failed plot writes nothing" "$r"

plot "$TMP/e" "$P" "$TMP/none.h5" --out "$TMP/e2"
fails "a missing second checkpoint fails too" "$TMP/none.h5"
r=""
[ ! -e "$TMP/e2" ] || r="$TMP/e2 was created"
check "no figures of the good checkpoint either" "$r"

if stopped "$PIPE" run "$TMP/p.ini" --out "$TMP/half" --stop-after-steps 1 >"$TMP/run.out" 2>&1 && [ -f "$TMP/half/last.h5" ]; then
    plot "$TMP/e" "$TMP/half/last.h5" --out "$TMP/e3"
    fails "a checkpoint without a finished epoch fails" "no finished epoch yet"
else
    not_ok "--stop-after-steps 1 did not write last.h5: $(tail -n 1 "$TMP/run.out")"
fi

# A last.h5 in its first stage with finished epochs (a long BN-only run stopped on the way): its
# per-epoch figures are drawn from its history, the per-stage ones need a finished stage.
steps=$("$PY" -c 'import h5py, sys; print(int(h5py.File(sys.argv[1], "r").attrs["step"]))' "$S" 2>/dev/null)
if [ -n "$steps" ] && stopped "$PIPE" run "$TMP/scratch.ini" --out "$TMP/mid" --stop-after-steps $((steps / 2 + 1)) >"$TMP/run.out" 2>&1 &&
   [ -f "$TMP/mid/last.h5" ]; then
    M=$TMP/mid/last.h5
    plot "$TMP/m1" "$M" --out "$TMP/m1"
    r=""
    if [ "$rc" -ne 0 ]; then r="exit $rc: $(head -n 1 "$TMP/m1.err")"
    elif [ "$(tr '\n' ' ' <"$TMP/m1.out")" != "$TMP/m1/accuracy.png $TMP/m1/gamma_share.png " ]; then r="wrote: $(tr '\n' ' ' <"$TMP/m1.out")"
    elif ! grep -q "$M: no finished stage yet" "$TMP/m1.err"; then r="stderr: $(cat "$TMP/m1.err")"
    fi
    check "a mid-stage-0 last.h5 alone gives accuracy and gamma_share, saying why not the rest" "$r"
    plot "$TMP/m2" "$P" "$M" --out "$TMP/m2"
    r=""
    if [ "$rc" -ne 0 ]; then r="exit $rc: $(head -n 1 "$TMP/m2.err")"
    elif [ "$(lines "$TMP/m2.out")" -ne 5 ]; then r="wrote: $(tr '\n' ' ' <"$TMP/m2.out")"
    fi
    check "beside a finished run, a mid-stage-0 last.h5 still gives all five figures" "$r"
    r=$("$PY" - "$M" <<'PYEOF' 2>&1
import importlib.util, sys
import h5py, numpy as np
sys.path.insert(0, "scripts")
spec = importlib.util.spec_from_file_location("plot", "scripts/plot.py")
plot = importlib.util.module_from_spec(spec); spec.loader.exec_module(plot)
run = plot.load(sys.argv[1], need_stages=False)
line = [l for l in plot.plot_gamma_share([run], plot.run_colors(1)).axes[0].lines if not l.get_label().startswith("_")][0]
want = 100 * h5py.File(sys.argv[1], "r")["history/gamma_below_tau"][()]
if not (len(want) >= 1 and np.array_equal(line.get_ydata(), want)):
    print(f"curve {line.get_ydata()} != history {want}")
PYEOF
)
    check "the mid-stage-0 curve is the last.h5 history's gamma_below_tau" "$r"
else
    not_ok "could not stop the scratch run half way (step $steps): $(tail -n 1 "$TMP/run.out")"
fi

plot "$TMP/e" "$TMP/p.ini" --out "$TMP/e4"
fails "a file that is not HDF5 fails" "not an HDF5 file"

plot "$TMP/e" "$TMP/ck" --out "$TMP/e5"
fails "a directory fails" "is a directory"

plot "$TMP/e" "$P"
r=""
[ "$rc" -ne 0 ] || r="exit 0"
grep -q -- "--out" "$TMP/e.err" || r="$r; stderr does not mention --out"
check "--out is required" "$r"

finish plot
