#!/bin/sh
# emacs.sh: emacs/trawl.el: byte-compiles with warnings as errors, checkdoc and
# package-lint clean, then the ERT suite (tests/emacs/trawl-test.el) in batch Emacs
# against a real trawld on a temporary tree and socket.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build=${TRAWL_BUILD:-build}
case "$build" in /*) ;; *) build=$here/$build ;; esac
emacs=${EMACS:-emacs}
# A UTF-8 locale, so that Emacs encodes file names as the daemon sends them.
export LANG=C.UTF-8 LC_ALL=C.UTF-8

if ! command -v "$emacs" >/dev/null 2>&1; then
	echo "emacs.sh: no emacs (Debian: emacs-nox); run scripts/deps.sh test" >&2
	exit 1
fi

tmp=$(mktemp -d)
daemon_pid=
cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	# A daemon a test started itself (detached) and could not stop.
	if [ -s "$tmp/started.pid" ]; then
		kill "$(cat "$tmp/started.pid")" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Debian's ELPA packages (vertico, consult, package-lint, compat...) are outside
# `emacs -Q`'s load-path.
set --
for d in /usr/share/emacs/site-lisp/elpa/*/; do
	[ -d "$d" ] && set -- "$@" -L "$d"
done

failed=0

echo "== byte-compile emacs/trawl.el (warnings are errors)"
mkdir -p "$tmp/el"
cp "$here/emacs/trawl.el" "$tmp/el/"
if ! "$emacs" -Q --batch -L "$tmp/el" --eval '(setq byte-compile-error-on-warn t)' \
	-f batch-byte-compile "$tmp/el/trawl.el"; then
	echo "not ok - byte-compile"
	failed=1
fi

echo "== checkdoc and package-lint"
if ! (cd "$here/emacs" && "$emacs" -Q --batch "$@" -l "$here/tests/emacs/lint.el" \
	-f trawl-lint-batch trawl.el); then
	echo "not ok - checkdoc / package-lint"
	failed=1
fi

trawld=$build/trawld
if [ ! -x "$trawld" ]; then
	echo "not ok - no $trawld: build it with make"
	exit 1
fi

# The tree: ASCII, Unicode, a name that is not UTF-8 and a directory that is not.
tree=$tmp/tree
mkdir -p "$tree/alpha/beta" "$tree/proj/src" "$tree/other" "$tree/$(printf 'raw\377dir')"
printf 'gamma\n' >"$tree/alpha/beta/gamma.txt"
printf 'notes\n' >"$tree/alpha/notes.md"
printf 'maintainers\n' >"$tree/alpha/maintainers.txt"
printf 'proj main\n' >"$tree/proj/src/main.c"
printf 'util\n' >"$tree/proj/src/util.c"
printf 'domain\n' >"$tree/proj/src/domain.h"
printf 'readme\n' >"$tree/proj/README"
printf 'other main\n' >"$tree/other/main.c"
printf 'latin1 bytes\n' >"$tree/$(printf 'caf\351-latin1.txt')"
printf 'unicode\n' >"$tree/café-ünïcödé.txt"
printf 'inside\n' >"$tree/$(printf 'raw\377dir')/inside.txt"

echo "== ERT against trawld"
"$trawld" --socket "$tmp/sock" --root "$tree" --state-dir "$tmp/state" \
	>"$tmp/trawld.log" 2>&1 &
daemon_pid=$!

# Ready: answers status with ready true and its walk idle.
ready=$(python3 - "$tmp/sock" <<'EOF'
import json, socket, sys, time
deadline = time.time() + 20
while time.time() < deadline:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(sys.argv[1])
        s.sendall(b'{"id":1,"op":"status"}\n')
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        st = json.loads(buf.split(b"\n")[0])
        if st.get("ready") and st.get("walk", {}).get("state") == "idle":
            print("ready")
            sys.exit(0)
    except (OSError, ValueError):
        pass
    time.sleep(0.05)
print("never ready")
EOF
)
if [ "$ready" != ready ]; then
	echo "not ok - trawld never became ready; its log:"
	cat "$tmp/trawld.log"
	exit 1
fi

if ! TRAWL_TEST_SOCKET=$tmp/sock TRAWL_TEST_TREE=$tree TRAWL_TEST_TRAWLD=$trawld \
	TRAWL_TEST_TMP=$tmp timeout 120 "$emacs" -Q --batch "$@" -L "$tmp/el" \
	-l "$tmp/el/trawl.elc" -l "$here/tests/emacs/trawl-test.el" \
	-f ert-run-tests-batch-and-exit; then
	echo "not ok - ERT; trawld's log:"
	cat "$tmp/trawld.log"
	failed=1
fi

# What Emacs sent must not have tripped the daemon (a sanitizer build reports here).
kill "$daemon_pid" 2>/dev/null
wait "$daemon_pid" 2>/dev/null
daemon_pid=
if grep -q 'Sanitizer\|runtime error' "$tmp/trawld.log"; then
	echo "not ok - trawld reported errors:"
	cat "$tmp/trawld.log"
	failed=1
fi

exit $failed
