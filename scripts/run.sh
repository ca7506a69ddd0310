#!/bin/sh
# `make run`: until the daemon exists, rank the paths of this machine's root filesystem
# with a sample query, to show the matcher at work.
set -eu
build=${1:-build}
query=${TRAWL_SAMPLE_QUERY:-"etc conf"}
echo "trawl: the daemon (trawld) is not built yet; ranking the paths under / with"
echo "trawl: 'find / -xdev | $build/trawl --filter \"$query\" --limit 15'"
echo
find / -xdev 2>/dev/null | "$build/trawl" --filter "$query" --limit 15
