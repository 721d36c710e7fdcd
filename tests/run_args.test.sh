#!/bin/sh
# The command line's paths and sizes (issue 11, items 7, 8 and 11): an empty or over-long --out,
# export onto its own input, and a model too large for memory are one-line errors that name the
# option or key and the fix, and change no file.
set -u
. tests/lib.sh

# expect_error DESCRIPTION NEEDLE1 NEEDLE2 CMD...: CMD fails (exit 1..127) with one stderr line
# containing both needles.
expect_error() {
    desc=$1 n1=$2 n2=$3
    shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$? why=""
    [ "$rc" -eq 0 ] && why="exit 0"
    [ "$rc" -ge 128 ] && why="crashed (exit $rc)"
    [ "$(lines "$TMP/err")" -eq 1 ] || why="${why:+$why; }$(lines "$TMP/err") lines on stderr"
    grep -qF -- "$n1" "$TMP/err" || why="${why:+$why; }no '$n1'"
    [ -z "$n2" ] || grep -qF -- "$n2" "$TMP/err" || why="${why:+$why; }no '$n2'"
    check "$desc" "${why:+$why: $(head -c 300 "$TMP/err")}"
}

cat >"$TMP/t.ini" <<INI
[run]
name = t
out_dir = $TMP/ck
[data]
dataset = synthetic
synthetic_train = 64
synthetic_test = 32
[model]
depth = 8
[train]
epochs = 1
batch_size = 32
INI

# 7. --out "" once read uninitialised stack in make_dirs and named an empty path.
expect_error "run --out \"\" names the option and the fix" "--out is empty" "e.g. --out" \
    "$PIPE" run "$TMP/t.ini" --out ""

# 8. A directory longer than the limit was cut short silently and the run wrote elsewhere.
# Components stay under the file system's 255 bytes, so only the limit can refuse them.
edge=$TMP
while [ $((${#edge} + 101)) -lt 511 ]; do edge=$edge/$(printf '%0100d' 0); done
edge=$edge/$(printf '%0*d' $((511 - ${#edge} - 1)) 0)
long=$edge/$(printf '%0100d' 1)
expect_error "run --out of 600+ bytes is refused" "--out" "at most 511" "$PIPE" run "$TMP/t.ini" --out "$long"
[ -z "$(find "$TMP" -name '*.h5')" ] && ok "nothing written for a refused --out" || not_ok "nothing written for a refused --out"

# A directory of exactly the limit works end to end (stage-00.h5 and its temporary file fit).
if "$PIPE" run "$TMP/t.ini" --out "$edge" >"$TMP/edge.log" 2>&1 && [ -f "$edge/stage-00.h5" ]; then
    ok "--out of 511 bytes runs and writes there"
else
    not_ok "--out of 511 bytes runs and writes there: $(tail -1 "$TMP/edge.log")"
fi
expect_error "resume --out \"\" is refused" "--out is empty" "" "$PIPE" resume "$edge/stage-00.h5" --out ""

# 11. export --seed-only X X replaced X by its own export; so did other spellings of X.
"$PIPE" run "$TMP/t.ini" --set train.trainable=bn --out "$TMP/bn" >"$TMP/bn.log" 2>&1 || not_ok "BN-only run"
cp "$TMP/bn/stage-00.h5" "$TMP/x.h5"
sum=$(cksum <"$TMP/x.h5")
expect_error "export --seed-only X X is refused" "same file" "another path" \
    "$PIPE" export --seed-only "$TMP/x.h5" "$TMP/x.h5"
mkdir "$TMP/sub"
ln -s "$TMP/x.h5" "$TMP/link.h5"
expect_error "export --seed-only X DIR/../X is refused" "same file" "" \
    "$PIPE" export --seed-only "$TMP/x.h5" "$TMP/sub/../x.h5"
expect_error "export --seed-only X LINK-TO-X is refused" "same file" "" \
    "$PIPE" export --seed-only "$TMP/link.h5" "$TMP/x.h5"
[ "$(cksum <"$TMP/x.h5")" = "$sum" ] && ok "X is unchanged" || not_ok "X is unchanged"
if "$PIPE" export --seed-only "$TMP/x.h5" "$TMP/y.h5" >/dev/null 2>&1 && [ -f "$TMP/y.h5" ]; then
    ok "export to another file still works"
else
    not_ok "export to another file still works"
fi

# 11. A model too large for the machine: one line naming the keys and the memory it needs, not
# "out of memory allocating 56996371460 x 4 bytes".
expect_error "depth 866 width 64 names model.depth, model.width and the size" \
    "model.depth = 866 with model.width = 64 needs" "GiB" \
    "$PIPE" run "$TMP/t.ini" --set model.depth=866 --set model.width=64

finish run_args
