#!/bin/sh
# picker.sh: the interactive picker on a real terminal (tmux) against a real trawld on a
# temporary tree: typing narrows, matches are highlighted, enter/tab/esc and their exit
# codes, -1/--exit-0, inline --height, resizing, names in CJK and not in UTF-8, signals,
# and the CTRL-T / ALT-C bindings in real bash, zsh and fish sessions.
set -u
build=$(cd "${TRAWL_BUILD:-build}" && pwd)
trawl=$build/trawl
trawld=${TRAWLD:-$build/trawld}
tmp=$(mktemp -d /tmp/trawl-picker.XXXXXX)
tmx="tmux -L trawl-picker-$$ -f /dev/null -u"
daemon=""
cleanup() {
	$tmx kill-server 2>/dev/null
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' INT TERM
. "$(dirname "$0")/lib/check.sh"
if [ ! -x "$trawld" ]; then
	echo "skip: no trawld in '$build' to test against"
	exit 0
fi
if ! command -v tmux >/dev/null; then
	echo "skip: tmux is not installed (scripts/deps.sh test installs it)"
	exit 0
fi

# Nothing of the user's: no socket, state or configuration from outside.
export HOME="$tmp/home" XDG_CACHE_HOME="$tmp/cache" XDG_STATE_HOME="$tmp/state"
export XDG_CONFIG_HOME="$tmp/config" XDG_RUNTIME_DIR="$tmp/run" LC_ALL=C.UTF-8
unset TRAWL_SOCKET TRAWL_NO_START NO_COLOR TRAWL_HEIGHT TRAWL_CTRL_T_OPTS TRAWL_ALT_C_OPTS
unset TRAWL_NO_CTRL_T TRAWL_NO_ALT_C
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"

tree=$tmp/tree
long=$tree/deep/long-directory-name
mkdir -p "$tree/etc/nginx/conf.d" "$tree/srv/www" "$tree/docs" "$tree/data" "$long" \
	"$tree/日本語" "$tree/projects/alphadir" "$tree/projects/betadir"
touch "$tree/etc/nginx/nginx.conf" "$tree/etc/nginx/conf.d/default.conf" \
	"$tree/srv/www/index.html" "$tree/docs/with space.txt" "$tree/日本語/ファイル.txt" \
	"$tree/data/$(printf '\377\376-report')" "$long/target-file.txt"
# More matches than a screen holds: item-10.txt ... item-69.txt.
mkdir -p "$tree/many"
i=10
while [ $i -lt 70 ]; do
	touch "$tree/many/item-$i.txt"
	i=$((i + 1))
done

sock=$tmp/d.sock
"$trawld" --socket "$sock" --root "$tree" --state-dir "$tmp/d-state" </dev/null \
	>"$tmp/d.log" 2>&1 &
daemon=$!
i=0
until "$trawl" --socket "$sock" --no-start --status --json 2>/dev/null | grep -q '"ready":true'; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "trawld never became ready:" >&2
		cat "$tmp/d.log" >&2
		exit 1
	fi
	sleep 0.05
done
export TRAWL_SOCKET="$sock" TRAWL_NO_START=1 PATH="$build:$PATH"

# ---- helpers: one tmux window per case, polled rather than slept on ----

# Case $n runs in window w$n; its picker's output goes to $tmp/out.$n, its exit status
# to $tmp/rc.$n, its terminal modes before and after to $tmp/stty.before.$n and .after.$n.
n=0
# start COLS ROWS COMMAND: run COMMAND in a new window for the next case. A dead daemon
# or a run far over its time (each wait gives up after 5 s) ends the test at once.
t0=$(date +%s)
start() {
	if ! kill -0 "$daemon" 2>/dev/null; then
		echo "not ok - trawld died:"
		sed 's/^/  | /' "$tmp/d.log"
		exit 1
	fi
	if [ $(($(date +%s) - t0)) -gt 90 ]; then
		echo "not ok - still running after 90 s: giving up ($failures failed so far)"
		exit 1
	fi
	win=w$n
	$tmx new-session -d -s "$win" -x "$1" -y "$2" "$3"
}
# pick [OPTION...]: start the picker (80x20, full screen unless the options say).
pick() {
	n=$((n + 1))
	start 80 20 "cd '$tmp' && stty -g >stty.before.$n; trawl $* >out.$n; echo \$? >rc.$n; \
stty -g >stty.after.$n; sleep 60"
}
screen() { $tmx capture-pane -p -t "$win"; }
keys() { $tmx send-keys -t "$win" "$@"; }
type_text() { $tmx send-keys -t "$win" -l "$1"; }
# wait_for TEXT: until the screen shows TEXT (5 s at most). Returns 1 and shows the
# screen when it never does.
wait_for() {
	i=0
	while ! screen | grep -qF -- "$1"; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "  never saw '$1' on the screen:"
			screen | sed 's/^/  | /'
			return 1
		fi
		sleep 0.05
	done
}
# wait_gone TEXT: until the screen no longer shows TEXT.
wait_gone() {
	i=0
	while screen | grep -qF -- "$1"; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "  '$1' stayed on the screen:"
			screen | sed 's/^/  | /'
			return 1
		fi
		sleep 0.05
	done
}
# status: the picker's exit status once it has exited (5 s at most), else "running".
status() {
	i=0
	while [ ! -s "$tmp/rc.$n" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	cat "$tmp/rc.$n" 2>/dev/null || echo running
}
# The info line: "  MATCHED/TOTAL", maybe more after it.
count_line() { screen | grep -E '^  ~?[0-9][0-9.kMG]*/[0-9]'; }
# wait_count MATCHED: until the info line says MATCHED matches (5 s at most).
wait_count() {
	i=0
	while ! count_line | grep -qE "^  ~?$1/"; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "  never saw $1 matches:"
			screen | sed 's/^/  | /'
			return 1
		fi
		sleep 0.05
	done
}
# wait_closed: until no picker shows (5 s at most).
wait_closed() {
	i=0
	while count_line >/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}
out() {
	status >/dev/null
	cat "$tmp/out.$n"
}
seen() { wait_for "$1" >/dev/null && echo yes || echo no; }
counted() { wait_count "$1" >/dev/null && echo yes || echo no; }
# The picker runs as the pane's shell's child.
picker_pid() { pgrep -P "$($tmx display-message -p -t "$win" '#{pane_pid}')" -x trawl; }

# ---- the picker ----

pick
check "shows the count of matches over all entries" yes "$(counted '[0-9]+')"
type_text "'index.html"
check "narrows the results as you type" yes "$(counted 1)"
check "shows the one match" yes "$(seen "$tree/srv/www/index.html")"
check "drops the others" no "$(screen | grep -qF nginx.conf && echo yes || echo no)"
esc=$(printf '\033')
$tmx capture-pane -e -p -t "$win" | grep -F "index.html" >"$tmp/colored"
check "highlights the matched characters" yes \
	"$(grep -qF "${esc}[32mindex.html" "$tmp/colored" && echo yes || echo no)"
keys Enter
check "exits 0 on enter" 0 "$(status)"
check "prints the path picked" "$tree/srv/www/index.html" "$(out)"
check "restores the terminal mode" "$(cat "$tmp/stty.before.$n")" "$(cat "$tmp/stty.after.$n")"

pick
wait_count '[0-9]+' >/dev/null
type_text "'target-file"
keys Enter
check "picks from the results of what was typed, even when enter follows at once" \
	"$long/target-file.txt" "$(out)"

pick -m
wait_count '[0-9]+' >/dev/null
type_text "'nginx.conf | 'default.conf"
wait_count 2 >/dev/null
keys Tab Tab
check "counts the marked paths" yes "$(seen '(2)')"
keys Enter
check "prints every marked path with -m" "$tree/etc/nginx/nginx.conf
$tree/etc/nginx/conf.d/default.conf" "$(out | sort -r)"

# The first answer fills the screen; moving on past it (up: the best result is at the
# bottom) asks the daemon for more.
pick
wait_count '[0-9]+' >/dev/null
type_text "'item-"
wait_count 60 >/dev/null
i=0
while [ $i -lt 40 ]; do
	keys Up
	i=$((i + 1))
done
keys Enter
picked=$(out)
number=${picked##*/item-}
number=${number%.txt}
check "scrolls past the first screen of results" yes \
	"$(case "$picked" in "$tree/many/item-"*) [ "$number" -ge 30 ] && echo yes || echo "no: $number" ;;
	*) echo "no: '$picked'" ;; esac)"

for key in Escape C-c C-g; do
	pick
	wait_count '[0-9]+' >/dev/null
	type_text "nginx"
	wait_for '> nginx' >/dev/null
	keys "$key"
	check "exits 130 on $key" 130 "$(status)"
	check "prints nothing on $key" "" "$(out)"
done

pick
wait_count '[0-9]+' >/dev/null
type_text "'zzqqxxyy"
wait_count 0 >/dev/null
keys Enter
check "exits 1 on enter when nothing matches" 1 "$(status)"

pick
wait_count '[0-9]+' >/dev/null
type_text "'nginx.confX"
wait_for '> ' >/dev/null
keys BSpace C-a C-e Left Right
type_text " 'etc"
keys C-w C-w
type_text "'index"
keys C-u
type_text "'www/index"
wait_for '> '"'"'www/index' >/dev/null
check "edits the query with backspace, ctrl-w and ctrl-u" yes "$(counted 1)"
keys C-c
status >/dev/null

pick
wait_count '[0-9]+' >/dev/null
type_text "ファイル"
check "shows wide characters" yes "$(seen "日本語/ファイル.txt")"
keys Enter
check "prints a CJK name" "$tree/日本語/ファイル.txt" "$(out)"

pick
wait_count '[0-9]+' >/dev/null
type_text "'-report"
check "shows bytes that are not UTF-8 as replacement characters" yes "$(seen "data/��-report")"
keys Enter
status >/dev/null
printf '%s/data/\377\376-report\n' "$tree" >"$tmp/expect"
check "prints a name that is not UTF-8 byte for byte" yes \
	"$(cmp -s "$tmp/expect" "$tmp/out.$n" && echo yes || echo no)"

pick --print0 -q "\\'with\\ space"
wait_count 1 >/dev/null
keys Enter
status >/dev/null
printf '%s/docs/with space.txt\0' "$tree" >"$tmp/expect"
check "ends the path with NUL with --print0, from -q" yes \
	"$(cmp -s "$tmp/expect" "$tmp/out.$n" && echo yes || echo no)"

pick -1 -q "\\'index.html"
check "-1 prints the only match without asking" 0 "$(status)"
check "-1 prints the match" "$tree/srv/www/index.html" "$(out)"
pick --exit-0 -q "\\'zzqqxxyy"
check "--exit-0 exits 1 at once when nothing matches" 1 "$(status)"
pick -1 -q "nginx"
check "-1 asks when there are several" yes "$(seen '> nginx')"
keys Escape
status >/dev/null

pick
wait_count '[0-9]+' >/dev/null
type_text "target-file"
wait_for "target-file.txt" >/dev/null
check "shows a path that fits whole" no "$(screen | grep -qF '…' && echo yes || echo no)"
$tmx resize-window -t "$win" -x 40 -y 12
check "redraws on resize, cutting long paths from the left" yes "$(seen '…')"
check "keeps the basename of a cut path" yes \
	"$(screen | grep -F '…' | grep -qF 'target-file.txt' && echo yes || echo no)"
keys Enter
check "picks after a resize" "$long/target-file.txt" "$(out)"

n=$((n + 1))
start 80 20 "cd '$tmp'; echo BEFORE-THE-PICKER; trawl --height 6 --reverse >out.$n; \
echo \$? >rc.$n; echo AFTER-THE-PICKER; sleep 60"
wait_count '[0-9]+' >/dev/null
check "draws inline below the output before it" yes \
	"$(screen | sed -n 2p | grep -q '^>' && echo yes || echo no)"
check "leaves the output before it on screen" yes "$(seen BEFORE-THE-PICKER)"
type_text "'index.html"
wait_count 1 >/dev/null
keys Enter
wait_for AFTER-THE-PICKER >/dev/null
check "erases the inline picker when done" no "$(count_line >/dev/null && echo yes || echo no)"
check "continues right below the output before it" "BEFORE-THE-PICKER
AFTER-THE-PICKER" "$(screen | sed -n 1,2p)"

n=$((n + 1))
start 80 30 "cd '$tmp'; trawl --height --reverse >out.$n; echo \$? >rc.$n; sleep 60"
wait_count '[0-9]+' >/dev/null
check "--height alone takes 40% of the lines" 12 "$(screen | grep -c .)"
keys Escape
status >/dev/null

pick
wait_count '[0-9]+' >/dev/null
pid=$(picker_pid)
if [ -n "$pid" ]; then
	kill -TERM "$pid"
	check "exits 143 on SIGTERM" 143 "$(status)"
	check "restores the terminal mode on SIGTERM" "$(cat "$tmp/stty.before.$n")" \
		"$(cat "$tmp/stty.after.$n")"
else
	check "finds the picker's pid" found none
fi

# ---- shell bindings ----

# shell_session NAME COMMAND...: an interactive shell with a plain prompt.
shell_session() {
	n=$((n + 1))
	start 80 24 "cd '$tmp'; $*"
	wait_for '$' >/dev/null
}

# bindings SHELL SOURCE_COMMAND
bindings() {
	sh=$1
	type_text "$2"
	keys Enter
	# CTRL-T: the picked path is inserted quoted, and runs as one argument.
	type_text "printf '[%s]\\n' "
	keys C-t
	wait_count '[0-9]+' >/dev/null
	type_text "'with space"
	wait_count 1 >/dev/null
	keys Enter
	wait_closed
	keys Enter
	check "$sh: CTRL-T inserts a quoted path" yes "$(seen "[$tree/docs/with space.txt]")"
	# ALT-C: cd into the directory picked.
	keys M-c
	wait_count '[0-9]+' >/dev/null
	type_text "'betadir"
	wait_count 1 >/dev/null
	keys Enter
	wait_closed
	type_text "pwd >'$tmp/pwd.$sh'"
	keys Enter
	i=0
	while [ ! -s "$tmp/pwd.$sh" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	check "$sh: ALT-C changes into the directory picked" "$tree/projects/betadir" \
		"$(cat "$tmp/pwd.$sh" 2>/dev/null)" || screen | sed 's/^/  | /'

}

shell_session "PS1='\$ ' bash --norc --noprofile -i"
bindings bash 'eval "$(trawl --bash)"'
shell_session "TRAWL_NO_CTRL_T=1 PS1='\$ ' bash --norc --noprofile -i"
type_text 'eval "$(trawl --bash)"; bind -X | grep -c __trawl >bind.count'
keys Enter
wait_for '$ ' >/dev/null
sleep 0.2
check "bash: TRAWL_NO_CTRL_T=1 leaves CTRL-T alone" 2 "$(cat "$tmp/bind.count" 2>/dev/null)"

if command -v zsh >/dev/null; then
	shell_session "PS1='\$ ' zsh -f -i"
	bindings zsh 'eval "$(trawl --zsh)"'
else
	echo "skip: zsh is not installed"
fi
if command -v fish >/dev/null; then
	shell_session "fish --no-config -i -C 'function fish_prompt; echo \"\$ \"; end'"
	bindings fish 'trawl --fish | source'
else
	echo "skip: fish is not installed"
fi

check_summary
