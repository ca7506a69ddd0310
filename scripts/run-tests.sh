#!/bin/sh
# Runs every test executable given on the command line, then prints one summary line.
# Each is a cmocka program (C tests) or a script; a failure does not stop the others.
set -u
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
