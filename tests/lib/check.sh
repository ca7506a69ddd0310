# check.sh: the pass/fail bookkeeping the shell tests share. Source it, call
# `check NAME EXPECTED ACTUAL` for each check, and end with `check_summary`.
# check returns 1 on a failure, so a caller can stop what depends on it.
failures=0
checks=0

check() { # NAME EXPECTED ACTUAL
	checks=$((checks + 1))
	if [ "$2" = "$3" ]; then
		echo "ok - $1"
	else
		echo "not ok - $1"
		printf '  expected: %s\n  actual:   %s\n' "$2" "$3"
		failures=$((failures + 1))
		return 1
	fi
}

# Print the tally; succeed only when nothing failed.
check_summary() {
	echo "$((checks - failures)) passed, $failures failed"
	[ "$failures" -eq 0 ]
}
