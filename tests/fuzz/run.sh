#!/bin/sh
# Runs each libFuzzer target for a while: `make fuzz` (FUZZ_SECONDS, default 300 each)
# and, briefly, `make test`. Seeds come from tests/fuzz/seeds/<target>/; the snapshot
# target is seeded with a real snapshot written by trawld. New inputs the fuzzer finds
# go to $FUZZ_BUILD/corpus/<target>/ (not committed); a crash leaves its input in
# $FUZZ_BUILD/crash-* and fails the run; add it to the seeds as a regression test.
# Usage: tests/fuzz/run.sh FUZZ_BUILD SECONDS TRAWLD
set -eu
fuzz_build=$1
seconds=$2
trawld=$3
status=0
for target in request query snapshot; do
	corpus=$fuzz_build/corpus/$target
	mkdir -p "$corpus"
	[ -d "tests/fuzz/seeds/$target" ] && cp -n tests/fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
	if [ "$target" = snapshot ] && [ -z "$(ls -A "$corpus")" ]; then
		# A small real snapshot to start from.
		work=$(mktemp -d)
		printf '/srv/www/index.html\n/srv/www/caf\351/team.html\n/opt/tool/bin/\n' >"$work/list"
		"$trawld" --socket "$work/s" --from-list "$work/list" --state-dir "$work/state" \
			--rescan-interval 0 >"$work/log" 2>&1 &
		pid=$!
		i=0
		while [ -z "$(ls "$work/state" 2>/dev/null | grep '^index-')" ] && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		cp "$work"/state/index-* "$corpus/seed" 2>/dev/null || echo "fuzz: no seed snapshot"
		rm -rf "$work"
	fi
	echo "== fuzz_$target: $seconds s"
	if ! "$fuzz_build/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$fuzz_build/crash-$target-" -max_len=65536 "$corpus" \
		>"$fuzz_build/fuzz_$target.log" 2>&1; then
		tail -n 40 "$fuzz_build/fuzz_$target.log"
		status=1
	fi
	grep -aE '^stat::number_of_executed_units|^stat::peak_rss_mb' "$fuzz_build/fuzz_$target.log" |
		sed "s/^/  fuzz_$target /"
done
exit $status
