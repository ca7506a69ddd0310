#!/bin/sh
# cli_filter.sh: `trawl --filter` end to end: ranking, byte-exact output for names that
# are not UTF-8, NUL-separated input and output, exit codes and error messages.
set -u
trawl=${TRAWL_BUILD:-build}/trawl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib/check.sh"

printf '%s\n' /etc/nginx/conf.d/default.conf /usr/share/doc/nginx/README \
	/etc/nginx/nginx.conf /srv/www/index.html >"$tmp/paths"
out=$("$trawl" --filter 'nginx conf' <"$tmp/paths")
check "ranks the exact stem first" "/etc/nginx/nginx.conf
/etc/nginx/conf.d/default.conf" "$out"

"$trawl" --filter zzz <"$tmp/paths" >/dev/null
check "exits 1 when nothing matches" 1 $?

"$trawl" --filter index <"$tmp/paths" >/dev/null
check "exits 0 when something matches" 0 $?

err=$("$trawl" --filter 'a !' <"$tmp/paths" 2>&1 >/dev/null)
code=$?
check "exits 2 on a bad query" 2 $code
check "names the problem in a bad query" "trawl: bad query at byte 2: empty negation" "$err"

out=$("$trawl" --filter index --limit 1 -n 1 <"$tmp/paths")
check "honours --limit" /srv/www/index.html "$out"

err=$("$trawl" --filter x --limit ten </dev/null 2>&1)
check "rejects a bad --limit" "trawl: --limit: not a count: 'ten'" "$err"

printf '/data/\377\376-report\n/data/other\n' >"$tmp/raw"
"$trawl" --filter report <"$tmp/raw" >"$tmp/out"
printf '/data/\377\376-report\n' >"$tmp/expect"
cmp -s "$tmp/expect" "$tmp/out"
check "prints names that are not UTF-8 byte for byte" 0 $?

printf '/a/with\nnewline\0/b/plain\0' | "$trawl" --filter newline --read0 -0 >"$tmp/out"
printf '/a/with\nnewline\0' >"$tmp/expect"
cmp -s "$tmp/expect" "$tmp/out"
check "reads and writes NUL-separated paths" 0 $?

out=$("$trawl" --filter nginx --color=always --limit 1 <"$tmp/paths" | od -An -c | tr -d ' \n')
case "$out" in
*033*) check "highlights matches with --color=always" yes yes ;;
*) check "highlights matches with --color=always" yes no ;;
esac

"$trawl" --help | grep -q -- '--filter QUERY'
check "--help documents --filter" 0 $?

check_summary
