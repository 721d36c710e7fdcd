#!/bin/sh
# The fuzz harnesses' seeds and kept regression inputs (tests/fuzz/regressions/), replayed
# through each harness without libFuzzer (build/tests/replay_NAME, built by `make tests`): every
# input must end normally. `make fuzz` is the long run; make check adds 5 s of it when clang is there.
set -u
. tests/lib.sh
R=${REPLAY_DIR:-build/tests}
# In a sanitizer build, malloc returns NULL for impossible sizes, as glibc's does: HDF5 asks for
# terabytes on one of the regression files and handles the NULL.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1
export ASAN_OPTIONS
for n in config checkpoint image; do
    if [ ! -x "$R/replay_$n" ]; then not_ok "$R/replay_$n is missing: run make tests"; continue; fi
done
mkdir -p "$TMP/seeds"
"$R/replay_checkpoint" --seeds "$TMP/seeds" 2>"$TMP/seeds.log"
check "the checkpoint harness writes its seed corpus (checkpoints and a superres state.h5)" \
    "$([ "$(ls "$TMP/seeds" | wc -l)" -ge 3 ] && [ -f "$TMP/seeds/state.h5" ] || cat "$TMP/seeds.log")"
for n in config checkpoint image; do
    case $n in config) inputs="configs tests/fuzz/regressions/config" ;;
               checkpoint) inputs="$TMP/seeds tests/fuzz/regressions/checkpoint" ;;
               image) inputs="tests/data/png tests/fuzz/regressions/image" ;; esac
    # shellcheck disable=SC2086
    if "$R/replay_$n" $inputs >"$TMP/$n.log" 2>&1; then
        ok "replay_$n: $(grep -c '^replay ' "$TMP/$n.log") inputs end normally"
    else
        not_ok "replay_$n: $(tail -n 3 "$TMP/$n.log" | tr '\n' '|')"
    fi
done
finish fuzz
