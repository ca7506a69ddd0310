#!/bin/sh
# Installs the Debian packages trawl needs to build and test, when they are missing.
# Used by `make deps`, which `make run` and `make test` run first.
# Usage: scripts/deps.sh [build|test|bench]   (each level includes the ones before it)
set -eu
level=${1:-build}
pkgs="build-essential pkg-config libutf8proc-dev liburing-dev libroaring-dev libcmocka-dev libjansson-dev"
case "$level" in
test | bench) pkgs="$pkgs tmux python3 socat emacs-nox elpa-vertico elpa-package-lint bash zsh clang libclang-rt-14-dev fish elpa-consult" ;;
esac
case "$level" in
bench) pkgs="$pkgs fzf fzy apt-file lz4 time python3 bfs fd-find plocate" ;;
esac

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	sudo="sudo -n"
else
	echo "trawl: missing Debian packages:$missing" >&2
	echo "trawl: install them with: sudo apt-get install$missing" >&2
	exit 1
fi
echo "trawl: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# An old package list may not know a package; refresh it once and retry.
$sudo apt-get install -y -qq $missing >/dev/null 2>&1 ||
	{ $sudo apt-get update -qq && $sudo apt-get install -y -qq $missing >/dev/null; }
