#!/bin/sh
# Runs every test executable given on the command line, then prints one summary line.
# Each is a cmocka program (C tests) or a script; a failure does not stop the others.
set -u
# Any sanitizer report fails the test that caused it.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
passed=0
failed=0
failed_names=""
for t in "$@"; do
	echo "== $t"
	if "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failed_names="$failed_names $t"
	fi
done
echo
[ "$failed" -eq 0 ] || echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
