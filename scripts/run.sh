#!/bin/sh
# `make run`: start trawld on its default roots (the whole filesystem, as updatedb sees
# it) unless one already answers, wait for its first walk, then open the picker on a
# terminal; elsewhere show the daemon's status and a sample query.
set -eu
build=${1:-build}
query=${TRAWL_SAMPLE_QUERY:-"etc conf"}

if ! "$build/trawl" --status >/dev/null 2>&1; then
	echo "trawl: starting $build/trawld on the whole filesystem (log: ${XDG_STATE_HOME:-$HOME/.local/state}/trawl/trawld.log)"
fi
# A query starts the daemon when none answers, and waits for its first walk.
"$build/trawl" --limit 1 -- "$query" >/dev/null || true

if [ -t 0 ] && [ -t 1 ]; then
	echo "trawl: opening the picker (Esc leaves it; '$build/trawl --stop' stops the daemon)"
	exec "$build/trawl"
fi
"$build/trawl" --status
echo
echo "trawl: $build/trawl '$query'"
"$build/trawl" --limit 15 -- "$query"
echo
echo "trawl: on a terminal, '$build/trawl' with no query opens the picker; '$build/trawl --stop' stops the daemon"
