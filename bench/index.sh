#!/bin/sh
# Index benchmark (bench/README.md): builds the index from the Debian corpus and samples
# of it, and replays bench/keystrokes.txt keystroke by keystroke, top-50, on 2 threads.
# Usage: bench/index.sh BUILD_DIR [SAMPLE...]   (default samples: 1M 2M 4M and all)
set -eu
build=${1:?usage: bench/index.sh BUILD_DIR [SAMPLE...]}
shift
bench=$(cd "$(dirname "$0")" && pwd)
corpus=${TRAWL_CORPUS:-${TMPDIR:-/tmp}/trawl-corpus/debian-paths.txt}
if [ ! -s "$corpus" ]; then
	sh "${TRAWL_CORPUS_SCRIPT:-$bench/../../shared/corpus/debian-paths.sh}" "$corpus" >&2
fi
[ -x "$build/bench/index_bench" ] || {
	echo "index.sh: '$build/bench/index_bench' is missing: run 'make $build/bench/index_bench'" >&2
	exit 2
}
[ $# -gt 0 ] || set -- 1000000 2000000 4000000 0
echo "- Command: \`bench/index.sh $build${*:+ $*}\`; $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs"
echo "- Corpus: \`$corpus\`, $(wc -l <"$corpus") paths; queries: bench/keystrokes.txt, each keystroke a query, limit 50, 2 threads"
echo
echo "| entries | build s | RSS B/entry | store B/entry | postings B/entry | index B/entry | keystrokes | p50 ms | p99 ms | mean ms |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in "$@"; do
	"$build/bench/index_bench" "$corpus" --sample "$n" --threads 2 --limit 50 \
		--queries "$bench/keystrokes.txt"
done

# The same keystrokes typed into one session, as the daemon serves a picker's or Emacs's
# connection: a keystroke that extends the one before searches only what it left.
last=0
for n in "$@"; do last=$n; done
echo
echo "The same keystrokes through one search session (\`--session\`), on the last sample:"
echo
echo "| entries | build s | RSS B/entry | store B/entry | postings B/entry | index B/entry | keystrokes | p50 ms | p99 ms | mean ms |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
"$build/bench/index_bench" "$corpus" --sample "$last" --threads 2 --limit 50 \
	--queries "$bench/keystrokes.txt" --session

# The peers on the same list, in the same run: a query's whole cost for a tool that
# has no index is reading and ranking the list (wall time and peak memory).
echo
echo "Peers on the whole list (\`/usr/bin/time\`; each reads the list and ranks it, every query):"
echo
echo "| tool | query | wall s | peak RSS MB |"
echo "| --- | --- | ---: | ---: |"
for q in nginxconf 'nginx conf'; do
	for tool in fzf fzy; do
		command -v "$tool" >/dev/null 2>&1 || continue
		if [ "$tool" = fzf ]; then set -- fzf "--filter=$q"; else set -- fzy -e "$(printf %s "$q" | tr -d ' ')"; fi
		/usr/bin/time -f '%e %M' -o /tmp/trawl-bench-time.$$ "$@" <"$corpus" >/dev/null 2>&1 || true
		read -r wall kb </tmp/trawl-bench-time.$$
		echo "| \`$*\` | \`$q\` | $wall | $((kb / 1024)) |"
	done
done
rm -f /tmp/trawl-bench-time.$$
