#!/bin/sh
# A full disk while saving (issue #11 item 4): the run ends with one line naming the file and the
# cause, exit 1, no crash at exit (HDF5's exit handler crashed on a failed close: SIGSEGV and a
# signal dump), no temporary file left, and the checkpoint already there untouched. Needs a small
# tmpfs: `mount -t tmpfs` (root); skipped with a message where mounting is not permitted.
# test_h5io's test_disk_full covers the same path without root (a file size limit).
set -u
. tests/lib.sh
tiny_staged_ini "$TMP/cfg.ini" full 1 "[data]" "synthetic_train = 64" "synthetic_test = 32"
"$PIPE" run "$TMP/cfg.ini" --out "$TMP/first" >"$TMP/first.log" 2>&1 || not_ok "a first run to copy a checkpoint from"
mkdir -p "$TMP/full"
if ! mount -t tmpfs -o size=1200k tmpfs "$TMP/full" 2>/dev/null; then
    echo "skip - cannot mount a small tmpfs here (needs root): the full-disk run is not tested"
    finish diskfull
    exit $?
fi
trap 'umount "$TMP/full" 2>/dev/null; rm -rf "$TMP"' EXIT
mkdir "$TMP/full/run"
cp "$TMP/first/stage-00.h5" "$TMP/full/run/stage-00.h5"   # the older checkpoint, ~0.8 MB
"$PIPE" run "$TMP/cfg.ini" --out "$TMP/full/run" >"$TMP/out.log" 2>"$TMP/err.log"
rc=$?
check "exit 1 on a full disk" "$([ $rc -eq 1 ] || echo "exit $rc: $(cat "$TMP/err.log" | head -n 3 | tr '\n' '|')")"
check "one line on stderr" "$([ "$(lines "$TMP/err.log")" -eq 1 ] || head -n 5 "$TMP/err.log" | tr '\n' '|')"
check "it names the file and the cause" \
    "$(grep -q "^pipeline: $TMP/full/run/last.h5: .*No space left on device" "$TMP/err.log" || cat "$TMP/err.log")"
check "no crash or signal report" "$(grep -i "signal\|segmentation\|\*\*\*" "$TMP/err.log" "$TMP/out.log")"
check "the older checkpoint is untouched" \
    "$(cmp "$TMP/first/stage-00.h5" "$TMP/full/run/stage-00.h5" 2>&1)"
check "no temporary file left" "$(find "$TMP/full" -name '*.tmp-*')"
umount "$TMP/full"
finish diskfull
