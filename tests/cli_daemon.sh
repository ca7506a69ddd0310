#!/bin/sh
# cli_daemon.sh: `trawl QUERY` against a real trawld on a temporary tree: ranked output,
# --limit, --under, --type, byte-exact -0 for names that are not UTF-8, --json, --status,
# --rescan, --stop, exit codes and messages, and starting the daemon when none answers
# (two clients at once start one daemon).
set -u
build=$(cd "${TRAWL_BUILD:-build}" && pwd)
trawl=$build/trawl
trawld=$build/trawld
tmp=$(mktemp -d /tmp/trawl-cli.XXXXXX)
daemons="" # pids to kill on the way out
cleanup() {
	# Daemons this test started, and those trawl started (their pids are in "starts").
	for pid in $daemons $(cat "$tmp/starts" 2>/dev/null); do
		kill "$pid" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' INT TERM
. "$(dirname "$0")/lib/check.sh"

# Nothing of the user's: no socket, state, cache or configuration from outside.
export HOME="$tmp/home" XDG_CACHE_HOME="$tmp/cache" XDG_STATE_HOME="$tmp/state"
export XDG_CONFIG_HOME="$tmp/config" XDG_RUNTIME_DIR="$tmp/run"
unset TRAWL_SOCKET TRAWL_NO_START
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"

# Queries whose output is compared whole are exact ('x): a fuzzy one could also match
# letters of the random temporary directory.
tree=$tmp/tree
mkdir -p "$tree/etc/nginx/conf.d" "$tree/srv/www" "$tree/data"
touch "$tree/etc/nginx/nginx.conf" "$tree/etc/nginx/conf.d/default.conf" \
	"$tree/srv/www/index.html" "$tree/data/$(printf '\377\376-report')"
ln -s ../etc/nginx "$tree/srv/nginx-link"

# wait_ready SOCKET: until the daemon there has finished its first walk (5 s at most).
wait_ready() {
	i=0
	while [ $i -lt 100 ]; do
		case $("$trawl" --socket "$1" --no-start --status --json 2>/dev/null) in
		*'"ready":true'*) return 0 ;;
		esac
		sleep 0.05
		i=$((i + 1))
	done
	echo "trawld on '$1' never became ready:" >&2
	cat "$tmp"/*.log >&2
	return 1
}

sock=$tmp/d.sock
"$trawld" --socket "$sock" --root "$tree" --state-dir "$tmp/d-state" --rescan-interval 0 \
	</dev/null >"$tmp/d.log" 2>&1 &
pid=$!
daemons="$daemons $pid"
wait_ready "$sock" || exit 1
q() { "$trawl" --socket "$sock" --no-start "$@"; }

for query in 'nginx conf' conf index 'data !html'; do
	expect=$(find "$tree" | "$trawl" --filter "$query")
	# Unquoted: trawl joins its QUERY words with spaces.
	# shellcheck disable=SC2086
	check "ranks '$query' as trawl --filter ranks the same paths" "$expect" "$(q -n 100 $query)"
done
out=$(q nginx conf | while read -r p; do [ "${p#"$tree"/}" != "$p" ] && [ -e "$p" ] || echo "$p"; done)
check "prints absolute paths of the tree, one a line" "" "$out"

out=$(TRAWL_SOCKET=$sock "$trawl" --no-start nginx.conf | head -n 1)
check "finds the socket in TRAWL_SOCKET" "$tree/etc/nginx/nginx.conf" "$out"

check "honours --limit" 1 "$(q --limit 1 conf | wc -l | tr -d ' ')"
check "honours -n" 2 "$(q -n 2 conf | wc -l | tr -d ' ')"

out=$(q --under "$tree/srv" \'index)
check "keeps to --under" "$tree/srv/www/index.html" "$out"
out=$(cd "$tree" && q --under ./etc/../srv \'index)
check "resolves a relative --under" "$tree/srv/www/index.html" "$out"
q --under "$tree/etc" \'index.html >/dev/null
check "exits 1 when nothing is under --under" 1 $?
err=$(q --under "$tree/nowhere" x 2>&1)
check "refuses a missing --under" \
	"trawl: --under: cannot resolve '$tree/nowhere': No such file or directory" "$err"

out=$(q --type d nginx | while read -r p; do [ -d "$p" ] && [ ! -L "$p" ] || echo "$p"; done)
check "--type d gives directories only" "" "$out"
out=$(q --type f conf | while read -r p; do [ -f "$p" ] && [ ! -L "$p" ] || echo "$p"; done)
check "--type f gives files only" "" "$out"
check "--type l gives the symlink" "$tree/srv/nginx-link" "$(q --type l nginx)"

q -0 \'report >"$tmp/out"
printf '%s/data/\377\376-report\0' "$tree" >"$tmp/expect"
cmp -s "$tmp/expect" "$tmp/out"
check "prints a name that is not UTF-8 byte for byte with -0" 0 $?
q \'report >"$tmp/out"
printf '%s/data/\377\376-report\n' "$tree" >"$tmp/expect"
cmp -s "$tmp/expect" "$tmp/out"
check "prints a name that is not UTF-8 byte for byte" 0 $?

out=$(q --json conf | python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin]
assert lines[-1]["done"] is True, lines[-1]
assert lines[:-1] and all(l["path"].endswith("conf") or "conf" in l["path"] for l in lines[:-1])
assert all("positions" in l and "score" in l for l in lines[:-1])
print("parsed")' 2>&1)
check "--json prints the protocol's lines" parsed "$out"
out=$(q --json \'report | python3 -c '
import base64, json, sys
lines = [json.loads(l) for l in sys.stdin]
print(base64.b64decode(lines[0]["path_bytes"]).endswith(b"/data/\xff\xfe-report"))' 2>&1)
check "--json sends a name that is not UTF-8 as path_bytes" True "$out"

out=$(q --color=always -n 1 nginx.conf | od -An -c | tr -d ' \n')
case "$out" in
*033*) check "highlights matches with --color=always" yes yes ;;
*) check "highlights matches with --color=always" yes no ;;
esac

out=$(q --status)
case "$out" in
*"ready:     yes"*"entries:   "*) check "--status says ready and how many entries" yes yes ;;
*) check "--status says ready and how many entries" "ready and entries" "$out" ;;
esac
out=$(q --status --json | python3 -c '
import json, sys
st = json.load(sys.stdin)
print(st["ready"], st["entries"] >= 9)' 2>&1)
check "--status --json has ready and entries" "True True" "$out"

q zzzqqqxxx >/dev/null
check "exits 1 when nothing matches" 1 $?
q nginx >/dev/null
check "exits 0 when something matches" 0 $?
err=$(q 'a !' 2>&1 >/dev/null)
code=$?
check "exits 2 on a bad query" 2 $code
check "says where a query is wrong" "trawl: bad query at byte 2: empty negation" "$err"
err=$(TRAWL_NO_START=1 "$trawl" --socket "$tmp/none.sock" nginx 2>&1)
code=$?
check "exits 2 when no daemon answers" 2 $code
check "says which socket did not answer" \
	"trawl: cannot connect to '$tmp/none.sock': No such file or directory" "$err"

touch "$tree/srv/www/fresh-file.txt"
q --rescan
check "--rescan succeeds" 0 $?
i=0
until q \'fresh-file >/dev/null || [ $i -ge 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
check "finds a new file after --rescan" "$tree/srv/www/fresh-file.txt" "$(q \'fresh-file)"

q --stop
check "--stop succeeds" 0 $?
wait "$pid"
check "--stop ends the daemon cleanly" 0 $?
q --status 2>/dev/null
check "nothing answers after --stop" 2 $?
q --stop 2>/dev/null
check "--stop without a daemon exits 1" 1 $?

# Starting: a copy of trawl beside a "trawld" that records each start and runs the real
# daemon on the tree, for trawl runs the trawld next to it.
mkdir -p "$tmp/bin"
cp "$trawl" "$tmp/bin/trawl"
cat >"$tmp/bin/trawld" <<EOF
#!/bin/sh
echo \$\$ >>"$tmp/starts"
exec "$trawld" --root "$tree" --state-dir "$tmp/auto-state" --rescan-interval 0 "\$@"
EOF
chmod +x "$tmp/bin/trawld"
auto=$tmp/auto/socket
"$tmp/bin/trawl" --socket "$auto" nginx.conf >"$tmp/out1" 2>"$tmp/err1" &
first=$!
"$tmp/bin/trawl" --socket "$auto" nginx.conf >"$tmp/out2" 2>"$tmp/err2" &
second=$!
wait $first
code1=$?
wait $second
code2=$?
check "two clients with no daemon both get answers" "0 0" "$code1 $code2"
check "the first started client prints the results" "$tree/etc/nginx/nginx.conf" \
	"$(head -n 1 "$tmp/out1")"
check "the second started client prints the results" "$tree/etc/nginx/nginx.conf" \
	"$(head -n 1 "$tmp/out2")"
check "two clients at once start one daemon" 1 "$(wc -l <"$tmp/starts" | tr -d ' ')"
check "the started daemon's output goes to its log" yes \
	"$([ -f "$XDG_STATE_HOME/trawl/trawld.log" ] && echo yes)"
"$tmp/bin/trawl" --socket "$auto" nginx.conf >/dev/null
check "a third client finds it running" 1 "$(wc -l <"$tmp/starts" | tr -d ' ')"
"$tmp/bin/trawl" --socket "$auto" --stop
check "--stop ends the started daemon" 0 $?
"$tmp/bin/trawl" --socket "$auto" --no-start nginx 2>/dev/null
check "--no-start starts nothing" "2 1" "$? $(wc -l <"$tmp/starts" | tr -d ' ')"

"$trawl" 2>/dev/null </dev/null
check "no query and no terminal is a usage error" 2 $?

check_summary
