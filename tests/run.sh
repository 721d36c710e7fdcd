#!/bin/sh
# Runs every test binary given, then the shell-level tests (tests/*.test.sh); prints one
# closing line "N passed, N failed" and exits non-zero if anything failed.
passed=0; failed=0; failed_names=""
for t in "$@"; do
    echo "== $t"
    if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names="$failed_names $t"; fi
done
# The driver calls MPI_Init, and Open MPI's plugins leave allocations LeakSanitizer cannot even
# attribute (they are unloaded by exit); in a sanitizer build (make SANITIZE=...) the shell tests
# run with leak detection off. The cmocka tests above keep it on for the engine.
if [ -n "${SANITIZED:-}" ]; then
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
    export ASAN_OPTIONS
fi
for t in tests/*.test.sh; do
    [ -f "$t" ] || continue
    echo "== $t"
    if sh "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names="$failed_names $t"; fi
done
echo
[ "$failed" -gt 0 ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
