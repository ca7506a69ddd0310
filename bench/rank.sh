#!/usr/bin/env bash
# Runs the ranking-quality benchmark (bench/README.md) against the binaries in BUILD_DIR,
# making the Debian path corpus first when it is missing.
# Usage: bench/rank.sh BUILD_DIR [rank.py options, e.g. --seed 1, --verify 40, --tools fzf,fzy]
set -euo pipefail

if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
	echo "usage: bench/rank.sh BUILD_DIR [rank.py options]   (bench/rank.py --help lists them)" >&2
	exit 2
fi
build=$1
shift

bench=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$bench")
corpus=${TRAWL_CORPUS:-${TMPDIR:-/tmp}/trawl-corpus/debian-paths.txt}
# shared/ sits beside the work tree, on developers' machines and in CI alike.
make_corpus=${TRAWL_CORPUS_SCRIPT:-$repo/../shared/corpus/debian-paths.sh}

command -v python3 >/dev/null 2>&1 || {
	echo "rank.sh: python3 is missing: apt-get install python3" >&2
	exit 2
}
make_var=
[ "$build" = build ] || make_var="BUILD=$build "
if [ ! -d "$build" ]; then
	echo "rank.sh: build directory '$build' does not exist: run 'make ${make_var}bench-rank'" >&2
	exit 2
fi
if [ ! -x "$build/bench/prefilter" ]; then
	echo "rank.sh: '$build/bench/prefilter' is missing: run 'make $make_var$build/bench/prefilter'" >&2
	exit 2
fi

if [ ! -s "$corpus" ]; then
	if [ ! -f "$make_corpus" ]; then
		echo "rank.sh: corpus '$corpus' is missing and so is '$make_corpus' to make it" >&2
		exit 2
	fi
	echo "rank.sh: making the corpus '$corpus' (downloads Debian's Contents indexes)" >&2
	sh "$make_corpus" "$corpus" >&2 || {
		echo "rank.sh: could not make the corpus '$corpus'" >&2
		exit 2
	}
fi

# The command line to report, each argument quoted only when the shell needs it.
cmd=bench/rank.sh
for arg in "$build" "$@"; do
	if [[ $arg =~ ^[A-Za-z0-9_./=,:+@%-]+$ ]]; then cmd+=" $arg"; else cmd+=" ${arg@Q}"; fi
done
exec python3 "$bench/rank.py" --corpus "$corpus" --trawl "$build/trawl" \
	--prefilter "$build/bench/prefilter" --command "$cmd" "$@"
