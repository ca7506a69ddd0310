#!/usr/bin/env python3
"""Picker latency: keystroke to updated screen, each picker driven on a pseudo-terminal.

Starts trawld on the corpus (--from-list, no watching, no rescans) and waits until it is
ready and has saved its snapshot; runs the real `trawl` picker on a pseudo-terminal of
fixed size (40x120) and types the lines of bench/keystrokes.txt into it one key at a
time, ctrl-u between lines; then does the same with fzf (and, with --tools, fzy) reading
the same list on stdin, once it has read all of it. Standard library only.

What is measured, per keystroke: the time from writing the key to the pty to the arrival
of the last output that changed the screen. A small terminal emulator replays the output
(cursor moves, erases, colours: whatever trawl, fzf and fzy send), so a repaint of what
is already there (trawl redraws on every status answer) is no change, and a frame that
only recolours (new highlights over the same paths) is one. Every tool draws at least
twice per key, the echo of the key and then the results (fzf also "(42%)" while it
searches), and the last change is the results frame.

When the screen has settled: it shows the query on the prompt line, it shows the answer
to it, and no byte has come for --gap-ms (1000 ms). The answer is known for every trawl
key (the daemon is asked the picker's own request from a second connection just before
the key; the screen must show its count and its best paths) and every fzy key (`fzy -e`);
for fzf, whose --filter takes seconds per query here, on the last key of the first
--fzf-checks lines, and otherwise the screen must not say "(N%)". A quiet gap alone is
not enough: a 40 ms gap ends after the echo when a search takes longer than that, and
the results frame would be counted for the next key. The longest stall (the longest time
between two changes of one keystroke's screen) is reported so that the gap can be seen
to be longer than any silence fzf kept while searching. The screen is replayed only
after the output went quiet, so its cost never delays a timestamp.

Pauses: --pause-ms (150) before each key, after the screen settled and the reference
query was answered. Keys are typed one at a time, each on a settled screen: this
measures each keystroke's own latency, not the backlog of a fast typist.

For trawl, the daemon alone is timed on the same request just before each key (wall
time to the `done` line and its own `elapsed_us`), at the picker's limit and at others
(--daemon-limits), so that the picker's own cost (the latency less the daemon's) and
the cost of the limit it asks for can be read from the same run.

Outputs a Markdown report (--out, default bench/out/picker-latency.md) and a TSV of
every keystroke beside it.
"""

import argparse
import codecs
import datetime
import fcntl
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
import unicodedata
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DEFAULT_CORPUS = Path(os.environ.get("TMPDIR", "/tmp")) / "trawl-corpus" / "debian-paths.txt"

# The picker's first request (client/picker_impl.h PICKER_FIRST_LIMIT is 200 before the
# fix that asks for two screenfuls instead): the daemon-only pass asks the same.
QUICK_LINES = 1_000_000
CTRL_U = b"\x15"
# fzf's "(N%)" with no output for this long is left over, not a search still running:
# searching, fzf updates it at least every second even on a loaded machine.
STALE_BUSY_S = 5
ESC = b"\x1b"
# Variables that would change what the tools do; every tool runs on its defaults.
SCRUBBED_ENV = ("FZF_DEFAULT_OPTS", "FZF_DEFAULT_OPTS_FILE", "FZF_DEFAULT_COMMAND", "NO_COLOR",
                "TRAWL_SOCKET", "TRAWL_HEIGHT", "TRAWL_NO_START")


def die(message):
    print(f"picker_latency: {message}", file=sys.stderr)
    sys.exit(2)


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# A terminal emulator, just enough for what trawl, fzf and fzy write: it keeps the cells
# (character and attributes) so that a frame that repaints what is already there is not a
# change, and one that only recolours (new highlights over the same paths) is.

PRINTABLE = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")


def char_width(ch):
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


class Screen:
    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.state = "ground"
        self.seq = ""
        self.attrs = {(): 0}  # SGR state -> small int, so cells compare cheaply
        self.sgr = {}
        self.attr = 0
        self.main = self.blank_grid()
        self.alt = self.blank_grid()
        self.grid = self.main
        self.x = self.y = 0
        self.saved = (0, 0)
        self.top, self.bottom = 0, rows - 1
        self.pending_wrap = False
        self.autowrap = True  # DECAWM: fzy turns it off around each result line
        self.is_cursor_visible = True
        self.shown_cursor = (0, 0)

    def blank_grid(self):
        return [[(" ", 0)] * self.cols for _ in range(self.rows)]

    def snapshot(self):
        """The cells and where the cursor shows: a typed space moves only the cursor. A
        hidden cursor (pickers hide it while they draw a frame, which may be cut across
        reads) keeps the place it last showed at."""
        if self.is_cursor_visible:
            self.shown_cursor = (self.x, self.y)
        return tuple(tuple(row) for row in self.grid), self.shown_cursor

    def row_text(self, y):
        return "".join(ch for ch, _ in self.grid[y])

    def text(self):
        return "\n".join(self.row_text(y).rstrip() for y in range(self.rows))

    # -- input --

    def feed(self, data):
        text = self.decoder.decode(data)
        i, n = 0, len(text)
        while i < n:
            st = self.state
            if st == "ground":
                m = PRINTABLE.match(text, i)
                if m:
                    self.put_text(m.group())
                    i = m.end()
                    continue
                ch = text[i]
                i += 1
                if ch == "\x1b":
                    self.state, self.seq = "esc", ""
                elif ch == "\r":
                    self.x, self.pending_wrap = 0, False
                elif ch in "\n\x0b\x0c":
                    self.linefeed()
                elif ch == "\b":
                    self.x, self.pending_wrap = max(0, self.x - 1), False
                elif ch == "\t":
                    self.x = min(self.cols - 1, (self.x // 8 + 1) * 8)
            elif st == "esc":
                ch = text[i]
                i += 1
                self.state = "ground"
                if ch == "[":
                    self.state, self.seq = "csi", ""
                elif ch in "]PX^_":
                    self.state = "string"
                elif ch in "()*+#%":
                    self.state = "charset"
                elif ch == "7":
                    self.saved = (self.x, self.y)
                elif ch == "8":
                    self.x, self.y = self.saved
                elif ch == "D":
                    self.linefeed()
                elif ch == "E":
                    self.x = 0
                    self.linefeed()
                elif ch == "M":
                    self.reverse_index()
                elif ch == "c":
                    self.__init__(self.rows, self.cols)
            elif st == "charset":
                i += 1
                self.state = "ground"
            elif st == "csi":
                ch = text[i]
                i += 1
                if "\x40" <= ch <= "\x7e":
                    self.state = "ground"
                    self.csi(self.seq, ch)
                elif ch == "\x1b":
                    self.state = "esc"
                else:
                    self.seq += ch
            else:  # "string": OSC, DCS and the like, up to BEL or ST
                ch = text[i]
                i += 1
                if ch == "\x07" or ch == "\x9c":
                    self.state = "ground"
                elif ch == "\x1b":
                    self.state = "string_esc"
                    if st == "string_esc":
                        self.state = "string"
                elif st == "string_esc":
                    self.state = "ground" if ch == "\\" else "string"

    def put_text(self, s):
        row = self.grid[self.y]
        for ch in s:
            w = char_width(ch)
            if w == 0:
                continue
            if not self.autowrap:
                self.pending_wrap = False
                self.x = min(self.x, self.cols - w)  # the last column is overwritten
            elif self.pending_wrap or self.x + w > self.cols:
                self.x = 0
                self.pending_wrap = False
                self.linefeed()
                row = self.grid[self.y]
            row[self.x] = (ch, self.attr)
            if w == 2:
                row[self.x + 1] = ("", self.attr)
            self.x += w
            if self.x >= self.cols:
                self.x = self.cols - 1
                self.pending_wrap = True

    def linefeed(self):
        self.pending_wrap = False
        if self.y == self.bottom:
            del self.grid[self.top]
            self.grid.insert(self.bottom, [(" ", 0)] * self.cols)
        elif self.y < self.rows - 1:
            self.y += 1

    def reverse_index(self):
        if self.y == self.top:
            del self.grid[self.bottom]
            self.grid.insert(self.top, [(" ", 0)] * self.cols)
        elif self.y > 0:
            self.y -= 1

    def erase(self, y, x0, x1):
        row = self.grid[y]
        for x in range(max(0, x0), min(self.cols, x1)):
            row[x] = (" ", 0)

    def set_sgr(self, params):
        sgr = dict(self.sgr)
        nums = [int(p) if p.isdigit() else 0 for p in params.replace(":", ";").split(";")]
        i = 0
        while i < len(nums):
            n = nums[i]
            if n == 0:
                sgr = {}
            elif n in (38, 48, 58):
                key = {38: "fg", 48: "bg", 58: "ul"}[n]
                if i + 1 < len(nums) and nums[i + 1] == 5:
                    sgr[key] = tuple(nums[i + 1:i + 3])
                    i += 2
                elif i + 1 < len(nums) and nums[i + 1] == 2:
                    sgr[key] = tuple(nums[i + 1:i + 5])
                    i += 4
            elif 30 <= n <= 37 or 90 <= n <= 97:
                sgr["fg"] = n
            elif n == 39:
                sgr.pop("fg", None)
            elif 40 <= n <= 47 or 100 <= n <= 107:
                sgr["bg"] = n
            elif n == 49:
                sgr.pop("bg", None)
            elif 1 <= n <= 9:
                sgr[n] = True
            elif n == 22:
                sgr.pop(1, None)
                sgr.pop(2, None)
            elif 23 <= n <= 29:
                sgr.pop(n - 20, None)
            i += 1
        self.sgr = sgr
        key = tuple(sorted(sgr.items(), key=str))
        self.attr = self.attrs.setdefault(key, len(self.attrs))

    def csi(self, seq, final):
        private = seq[:1] in ("?", ">", "<", "=")
        body = seq[1:] if private else seq
        if private:
            if final in "hl" and seq[0] == "?":
                for mode in body.split(";"):
                    if mode == "7":
                        self.autowrap = final == "h"
                    elif mode == "25":
                        self.is_cursor_visible = final == "h"
                    elif mode in ("1049", "1047", "47"):
                        if final == "h" and self.grid is self.main:
                            if mode == "1049":
                                self.saved = (self.x, self.y)
                            self.alt = self.blank_grid()
                            self.grid = self.alt
                        elif final == "l" and self.grid is self.alt:
                            self.grid = self.main
                            if mode == "1049":
                                self.x, self.y = self.saved
            return
        if final == "m":
            self.set_sgr(body)
            return
        args = [int(p) if p.isdigit() else 0 for p in body.split(";")] if body else []

        def arg(i, default):
            return args[i] if i < len(args) and args[i] else default

        self.pending_wrap = False
        if final == "A":
            self.y = max(self.top if self.y >= self.top else 0, self.y - arg(0, 1))
        elif final in "Be":
            self.y = min(self.bottom if self.y <= self.bottom else self.rows - 1,
                         self.y + arg(0, 1))
        elif final in "Ca":
            self.x = min(self.cols - 1, self.x + arg(0, 1))
        elif final == "D":
            self.x = max(0, self.x - arg(0, 1))
        elif final == "E":
            self.x, self.y = 0, min(self.rows - 1, self.y + arg(0, 1))
        elif final == "F":
            self.x, self.y = 0, max(0, self.y - arg(0, 1))
        elif final in "G`":
            self.x = min(self.cols - 1, arg(0, 1) - 1)
        elif final == "d":
            self.y = min(self.rows - 1, arg(0, 1) - 1)
        elif final in "Hf":
            self.y = min(self.rows - 1, arg(0, 1) - 1)
            self.x = min(self.cols - 1, arg(1, 1) - 1)
        elif final == "J":
            mode = arg(0, 0)
            if mode == 0:
                self.erase(self.y, self.x, self.cols)
                for y in range(self.y + 1, self.rows):
                    self.erase(y, 0, self.cols)
            elif mode == 1:
                self.erase(self.y, 0, self.x + 1)
                for y in range(0, self.y):
                    self.erase(y, 0, self.cols)
            else:
                for y in range(self.rows):
                    self.erase(y, 0, self.cols)
        elif final == "K":
            mode = arg(0, 0)
            if mode == 0:
                self.erase(self.y, self.x, self.cols)
            elif mode == 1:
                self.erase(self.y, 0, self.x + 1)
            else:
                self.erase(self.y, 0, self.cols)
        elif final == "X":
            self.erase(self.y, self.x, self.x + arg(0, 1))
        elif final == "P":
            row = self.grid[self.y]
            n = min(arg(0, 1), self.cols - self.x)
            del row[self.x:self.x + n]
            row.extend([(" ", 0)] * n)
        elif final == "@":
            row = self.grid[self.y]
            n = min(arg(0, 1), self.cols - self.x)
            row[self.x:self.x] = [(" ", 0)] * n
            del row[self.cols:]
        elif final in "LM" and self.top <= self.y <= self.bottom:
            for _ in range(min(arg(0, 1), self.bottom - self.y + 1)):
                if final == "L":
                    del self.grid[self.bottom]
                    self.grid.insert(self.y, [(" ", 0)] * self.cols)
                else:
                    del self.grid[self.y]
                    self.grid.insert(self.bottom, [(" ", 0)] * self.cols)
        elif final in "ST":
            for _ in range(arg(0, 1)):
                if final == "S":
                    del self.grid[self.top]
                    self.grid.insert(self.bottom, [(" ", 0)] * self.cols)
                else:
                    del self.grid[self.bottom]
                    self.grid.insert(self.top, [(" ", 0)] * self.cols)
        elif final == "r":
            top, bottom = arg(0, 1) - 1, arg(1, self.rows) - 1
            if 0 <= top < bottom < self.rows:
                self.top, self.bottom = top, bottom
                self.x, self.y = 0, 0
        elif final == "s":
            self.saved = (self.x, self.y)
        elif final == "u":
            self.x, self.y = self.saved


# ---------------------------------------------------------------------------------------
# A program on a pseudo-terminal: keys in, timestamped output out.

class PtyProgram:
    def __init__(self, argv, rows, cols, stdin_path=None, env=None):
        self.rows, self.cols = rows, cols
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        stdin = open(stdin_path, "rb") if stdin_path else slave
        try:
            # The pty becomes the controlling terminal, /dev/tty for the program.
            self.proc = subprocess.Popen(
                argv, stdin=stdin, stdout=slave, stderr=slave, env=env, close_fds=True,
                start_new_session=True,
                preexec_fn=lambda: fcntl.ioctl(1, termios.TIOCSCTTY, 0))
        finally:
            if stdin_path:
                stdin.close()
            os.close(slave)
        self.fd = master
        self.screen = Screen(rows, cols)
        self.bytes_read = 0

    def write(self, data):
        """Write a key; returns the time it was written."""
        t = time.monotonic()
        os.write(self.fd, data)
        return t

    def read_until_quiet(self, gap_s, cap_s):
        """Read until no byte has come for gap_s (or cap_s has passed); returns the
        chunks as (time read, bytes). The screen is not fed here, so that its cost never
        delays a timestamp."""
        chunks = []
        start = last = time.monotonic()
        while True:
            now = time.monotonic()
            wait = min(gap_s - (now - last), cap_s - (now - start))
            if wait <= 0:
                return chunks
            r, _, _ = select.select([self.fd], [], [], wait)
            if not r:
                continue
            try:
                data = os.read(self.fd, 1 << 16)
            except OSError:  # EIO: the program has exited and closed the terminal
                data = b""
            t = time.monotonic()
            if not data:
                if self.proc.poll() is not None:
                    return chunks
                time.sleep(0.01)
                continue
            if b"\x1b[6n" in data:  # a cursor position request (inline UIs) gets an answer
                os.write(self.fd, b"\x1b[1;1R")
            chunks.append((t, data))
            self.bytes_read += len(data)
            last = t

    def feed(self, chunks):
        """Feed chunks to the screen; returns the times of the chunks that changed it
        (a repaint of what is already there is no change)."""
        changes = []
        for t, data in chunks:
            before = self.screen.snapshot()
            self.screen.feed(data)
            if self.screen.snapshot() != before:
                changes.append(t)
        return changes

    def close(self):
        if self.proc.poll() is None:
            try:
                os.write(self.fd, ESC)
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.fd)


# ---------------------------------------------------------------------------------------
# trawld and its socket.

class Client:
    """One connection to trawld: requests, and the lines answering them."""

    def __init__(self, path, timeout_s=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout_s)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def close(self):
        self.sock.close()

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("trawld closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def answer(self, obj):
        """Send a request; returns its lines up to the one that ends it."""
        rid = self.next_id
        self.next_id += 1
        self.sock.sendall(json.dumps(dict(obj, id=rid)).encode() + b"\n")
        lines = []
        while True:
            msg = self.line()
            if msg.get("id") != rid:
                continue
            lines.append(msg)
            if "path" not in msg and "path_bytes" not in msg:
                return lines


class Daemon:
    def __init__(self, trawld, corpus, workdir):
        self.sock = os.path.join(workdir, "d.sock")
        self.log_path = os.path.join(workdir, "d.log")
        self.argv = [trawld, "--from-list", str(corpus), "--socket", self.sock,
                     "--state-dir", os.path.join(workdir, "state"), "--watch", "off",
                     "--rescan-interval", "0"]
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                         stderr=log_file, start_new_session=True)

    def status(self):
        c = Client(self.sock, timeout_s=10)
        try:
            return c.answer({"op": "status"})[-1]
        finally:
            c.close()

    def wait_ready(self, timeout_s):
        """Until the index is built, served and its snapshot saved (the save would
        otherwise compete with the first keystrokes). Returns the status."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die(f"trawld exited with {self.proc.returncode}: "
                    + Path(self.log_path).read_text(errors="replace"))
            try:
                st = self.status()
                if (st.get("ready") and st["walk"]["state"] == "idle"
                        and st.get("snapshot", {}).get("saved_at")):
                    return st
            except (OSError, EOFError, ValueError):
                pass
            time.sleep(0.2)
        die(f"trawld was not ready after {timeout_s} s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def picker_request(query, limit):
    """The request the picker sends for this text (client/picker_daemon.c send_query)."""
    return {"op": "query", "query": query, "limit": limit,
            "positions": query.strip(" ") != "", "frecency": True}


# ---------------------------------------------------------------------------------------
# What each tool's screen should say: the prompt, and where the answer is known, the count
# and the best results. A keystroke's screen has settled only when it says so.

def format_count(n):
    """client/picker_draw.c picker_format_count."""
    if n < 10000:
        return str(n)
    if n < 100000:
        return f"{n // 1000}.{n // 100 % 10}k"
    if n < 1000000:
        return f"{n // 1000}k"
    if n < 10000000:
        return f"{n // 1000000}.{n // 100000 % 10}M"
    if n < 1000000000:
        return f"{n // 1000000}M"
    return f"{n // 1000000000}.{n // 100000000 % 10}G"


def shown_fits(row, path, cut_marks):
    """Whether a result row (its gutter removed) shows `path`, whole or cut where the
    tool cuts long lines."""
    row = row.rstrip().rstrip("\u2502").rstrip()  # fzf's scroll bar in the last column
    if row == path:
        return True
    pieces = [row]
    for mark in cut_marks:
        pieces = [q for p in pieces for q in p.split(mark)]
    pieces = [p for p in pieces if p]
    return bool(pieces) and all(p in path for p in pieces)


class Expect:
    """What a tool shows once it has answered a query: the count (None: not shown or not
    known) and the best paths in order."""

    def __init__(self, matched, paths, is_estimate=False):
        self.matched, self.paths, self.is_estimate = matched, paths, is_estimate


class Tool:
    """How to run a picker, and how to read its screen."""

    def __init__(self, name, argv, stdin_path=None):
        self.name, self.argv, self.stdin_path = name, argv, stdin_path

    def prompt_row(self, screen):
        # trawl and fzf: the prompt on the last line, the info line above it, the best
        # result above that. fzy: the prompt on its first line, the results below.
        if self.name != "fzy":
            return screen.rows - 1
        return next((y for y in range(screen.rows) if screen.row_text(y).startswith(">")), 0)

    def result_rows(self, screen, n):
        """The first n results on screen, without the gutter."""
        if self.name == "fzy":  # a long line's end overwrites its last column: drop it
            top = self.prompt_row(screen) + 1
            return [screen.row_text(y)[:-1] for y in range(top, min(screen.rows, top + n))]
        return [screen.row_text(screen.rows - 3 - i)[2:] for i in range(min(n, screen.rows - 2))]

    def is_loaded(self, screen, total):
        """Whether the program has read its input and drawn its first full screen."""
        text = screen.text()
        if self.name == "trawl":  # the info line: matched/entries
            return re.search(r"^  \S+/\S+\s*$", text, re.M) is not None
        if self.name == "fzf":  # the info line: all of the list read, no spinner
            return re.search(rf"^\s+{total}/{total}(\s|$)", text, re.M) is not None
        return re.search(r"^>", text, re.M) is not None  # fzy reads everything first

    def is_busy(self, screen):
        """fzf says when a search runs: "(42%)" on the info line."""
        return self.name == "fzf" and re.search(r"\(\d+%\)", screen.row_text(screen.rows - 2))

    def problem(self, screen, query, expect):
        """"" when the screen shows the answer to `query`, else what differs."""
        prompt = screen.row_text(self.prompt_row(screen)).rstrip()
        want = ("> " + query).rstrip()
        if prompt != want:
            return f"prompt line {prompt!r}, not {want!r}"
        if self.is_busy(screen):
            return "still searching"
        if expect is None:
            return ""
        if expect.matched is not None:
            info = screen.row_text(screen.rows - 2).strip()
            if self.name == "trawl":
                # An estimate is an upper bound that varies from run to run of a query.
                want = "~" if expect.is_estimate else format_count(expect.matched) + "/"
            else:
                want = f"{expect.matched}/"
            if not info.startswith(want):
                return f"info line {info!r}, expected {want}..."
        cut = {"trawl": ("\u2026",), "fzf": ("..",)}.get(self.name, ())
        for i, (row, path) in enumerate(zip(self.result_rows(screen, len(expect.paths)),
                                            expect.paths)):
            if path.isprintable() and path.isascii() and not shown_fits(row, path, cut):
                return f"result {i + 1} shows {row.rstrip()!r}, expected {path!r}"
        return ""


def tool_env():
    env = {k: v for k, v in os.environ.items()
           if k not in SCRUBBED_ENV and k not in ("COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", LC_ALL="C.UTF-8")
    return env


# ---------------------------------------------------------------------------------------
# Oracles: before each key, what the tool should show once it has answered (not timed).
# For trawl they also time the daemon alone on the same request, a moment before the
# picker sends it, so that the two figures see the same load.

class DaemonOracle:
    def __init__(self, sock, limits, rows):
        self.client = Client(sock)
        self.limits, self.rows = limits, rows

    def __call__(self, query):
        timings = {}
        expect = None
        for limit in self.limits:
            t = time.monotonic()
            lines = self.client.answer(picker_request(query, limit))
            wall_ms = (time.monotonic() - t) * 1000
            done = lines[-1]
            if "error" in done:
                die(f"trawld: query {query!r}: {done['error']}")
            timings[limit] = (wall_ms, done.get("elapsed_us", 0) / 1000)
            if expect is None:  # the picker's own limit comes first
                expect = Expect(done.get("matched", 0),
                                [r.get("path", "") for r in lines[:-1]][:self.rows - 2],
                                bool(done.get("matched_is_estimate")))
        return expect, timings

    def close(self):
        self.client.close()


def run_filter(argv, corpus, n):
    """The first n lines a filter prints for the corpus on stdin."""
    with open(corpus, "rb") as f:
        p = subprocess.Popen(argv, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             env=tool_env())
        out = []
        for line in p.stdout:
            if len(out) < n:
                out.append(line.decode("utf-8", "replace").rstrip("\n"))
        p.wait()
    return out


class FzfOracle:
    """fzf --filter ranks as interactive fzf does (same algorithm and tie-break); one run
    costs seconds on the whole corpus, so only the queries given are checked this way.
    The others rely on the quiet gap and on fzf's own "(42%)" while it searches."""

    def __init__(self, corpus, queries, rows):
        self.known = {}
        for q in queries:
            log(f"fzf --filter={q!r}, to check fzf's screen for it")
            with open(corpus, "rb") as f:
                out = subprocess.run(["fzf", f"--filter={q}"], stdin=f, capture_output=True,
                                     env=tool_env()).stdout
            paths = out.decode("utf-8", "replace").splitlines()
            self.known[q] = Expect(len(paths), paths[:rows - 2])

    def __call__(self, query):
        return self.known.get(query), {}

    def close(self):
        pass


class FzyOracle:
    """fzy -e QUERY: the same ranking as interactive fzy; fzy shows no count."""

    def __init__(self, corpus, rows):
        self.corpus, self.rows = corpus, rows

    def __call__(self, query):
        return Expect(None, run_filter(["fzy", "-e", query], self.corpus, self.rows - 2)), {}

    def close(self):
        pass


# ---------------------------------------------------------------------------------------
# Typing.

def keystroke_plan(lines, sample):
    """The words to type, in order: whole lines of keystrokes.txt until `sample`
    keystrokes (the last line cut short); 0: all."""
    plan, total = [], 0
    for line in lines:
        if sample and total >= sample:
            break
        if sample and total + len(line) > sample:
            line = line[:sample - total]
        plan.append(line)
        total += len(line)
    return plan


def settle(prog, tool, query, expect, t_key, args):
    """Read until the screen shows the answer to `query` and then nothing has come for the
    quiet gap (or the cap has passed). Returns (times of the screen changes, bytes read,
    problem left)."""
    changes, n_bytes = [], 0
    last_output = t_key
    while True:
        left = args.cap_s - (time.monotonic() - t_key)
        chunks = prog.read_until_quiet(args.gap_ms / 1000, max(0.0, left))
        n_bytes += sum(len(d) for _, d in chunks)
        changes += prog.feed(chunks)
        last_output = chunks[-1][0] if chunks else last_output
        problem = tool.problem(prog.screen, query, expect)
        if not problem:
            return changes, n_bytes, ""
        if problem == "still searching" and time.monotonic() - last_output >= STALE_BUSY_S:
            # fzf sometimes leaves its last "(N%)" on screen after the results frame.
            return changes, n_bytes, "stale"
        if time.monotonic() - t_key >= args.cap_s or prog.proc.poll() is not None:
            return changes, n_bytes, problem + f" (after {args.cap_s:g} s)"


def measure(tool, args, plan, total_lines, oracle):
    """Type the plan into the tool; returns (records, load seconds)."""
    prog = PtyProgram(tool.argv, args.rows, args.cols, tool.stdin_path, tool_env())
    records = []
    pause_s = args.pause_ms / 1000
    try:
        t0 = time.monotonic()
        while True:
            chunks = prog.read_until_quiet(1.0, 1.0)
            prog.feed(chunks)
            if tool.is_loaded(prog.screen, total_lines) and not chunks:
                break
            if prog.proc.poll() is not None:
                die(f"{tool.name} exited with {prog.proc.returncode} before it was ready:\n"
                    + prog.screen.text())
            if time.monotonic() - t0 > args.load_timeout:
                die(f"{tool.name} not loaded after {args.load_timeout} s:\n" + prog.screen.text())
        load_s = time.monotonic() - t0 - 1.0
        log(f"{tool.name}: ready in {load_s:.1f} s; typing {sum(len(w) for w in plan)} keys")
        for word in plan:
            for k in range(len(word)):
                query = word[:k + 1]
                expect, timings = oracle(query)
                time.sleep(pause_s)
                t_key = prog.write(word[k].encode())
                changes, n_bytes, problem = settle(prog, tool, query, expect, t_key, args)
                gaps = [b - a for a, b in zip([t_key] + changes, changes)]
                rec = {
                    "tool": tool.name, "query": query,
                    "echo_ms": (changes[0] - t_key) * 1000 if changes else None,
                    "last_ms": (changes[-1] - t_key) * 1000 if changes else None,
                    "stall_ms": max(gaps) * 1000 if gaps else None,
                    "changes": len(changes), "bytes": n_bytes,
                    "checked": expect is not None and (expect.matched is not None
                                                       or bool(expect.paths)),
                    "problem": "" if problem == "stale" else problem,
                    "is_stale_busy": problem == "stale", "daemon": timings,
                }
                records.append(rec)
                if args.verbose or problem:
                    log(f"{tool.name} {query!r}: {fmt_ms(rec['last_ms'])} ms "
                        f"(echo {fmt_ms(rec['echo_ms'])}, {rec['changes']} changes, "
                        f"{n_bytes} B)"
                        + "".join(f", trawld L{l} {w:.1f}" for l, (w, _) in timings.items())
                        + (f"  PROBLEM: {problem}" if problem else ""))
                if args.dump_screens:
                    print(f"--- {tool.name} {query!r}\n{prog.screen.text()}", file=sys.stderr)
            # Clear the query for the next word and let the screen settle; not timed.
            time.sleep(pause_s)
            settle(prog, tool, "", None, prog.write(CTRL_U), args)
    finally:
        prog.close()
    return records, load_s


# ---------------------------------------------------------------------------------------
# Figures.

def percentile(values, p):
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    v = sorted(values)
    if not v:
        return float("nan")
    return v[max(0, -(-len(v) * p // 100) - 1)]


def fmt_ms(v):
    return "-" if v is None else f"{v:.1f}"


def summary(values):
    return [percentile(values, p) for p in (50, 90, 99)] + [max(values) if values else float("nan")]


def markdown(args, command, tools, results, loads, plan, versions, loadavg, corpus_lines):
    n_keys = sum(len(w) for w in plan)
    now = datetime.datetime.now(datetime.timezone.utc)
    out = [
        f"- Command: `{command}`; {now:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs",
        f"- Load average (1, 5, 15 min) at the start, after each tool: " + "; ".join(loadavg),
        f"- Corpus: `{args.corpus}`" + (f" (its first {QUICK_LINES} lines)" if args.quick else "")
        + f", {corpus_lines} paths; {n_keys} keystrokes ({len(plan)} lines of "
        f"{args.keystrokes.name}), ctrl-u between lines",
        f"- Terminal {args.rows}x{args.cols}; {args.pause_ms:g} ms pause before each key; "
        f"settled: the screen shows the answer and no byte for {args.gap_ms:g} ms",
        "- Versions: " + "; ".join(f"{t.name} {versions[t.name]}" for t in tools),
        "",
        "Keystroke to the last screen change it caused, ms:",
        "",
        "| tool | keys | p50 | p90 | p99 | max | ≤ 33 ms | echo p50 | longest stall | checked / failed | ready s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in tools:
        recs = results[t.name]
        last = [r["last_ms"] for r in recs if r["last_ms"] is not None]
        echo = [r["echo_ms"] for r in recs if r["echo_ms"] is not None]
        stall = max((r["stall_ms"] for r in recs if r["stall_ms"] is not None), default=0)
        p50, p90, p99, mx = summary(last)
        within = sum(1 for v in last if v <= 33) / len(last) * 100 if last else 0
        checked = sum(1 for r in recs if r["checked"])
        failed = sum(1 for r in recs if r["problem"])
        label = " ".join(["`" + t.name] + t.argv[1:]) + "`" if t.name != "trawl" else "`trawl`"
        out.append(f"| {label} | {len(recs)} | {p50:.1f} | {p90:.1f} | {p99:.1f} | {mx:.1f} | "
                   f"{within:.0f}% | {percentile(echo, 50):.1f} | {stall:.0f} | "
                   f"{checked} / {failed} | {loads[t.name]:.1f} |")
    for t in tools:
        stale = sum(1 for r in results[t.name] if r["is_stale_busy"])
        if stale:
            out += ["", f"{t.name} left its \"(N%)\" on screen after the last frame on {stale} "
                    f"keys (settled after {STALE_BUSY_S} s without output)."]
    recs = results.get("trawl", [])
    limits = list(recs[0]["daemon"]) if recs and recs[0]["daemon"] else []
    if limits:
        out += ["", "trawld alone on the picker's request (positions, frecency), sent just before "
                "each key from a second connection: wall ms to the `done` line, and the "
                "daemon's own `elapsed_us`:", "",
                "| request | p50 | p90 | p99 | max | elapsed p50 | elapsed p99 |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for limit in limits:
            wall = [r["daemon"][limit][0] for r in recs]
            el = [r["daemon"][limit][1] for r in recs]
            p50, p90, p99, mx = summary(wall)
            out.append(f"| limit {limit} | {p50:.1f} | {p90:.1f} | {p99:.1f} | {mx:.1f} | "
                       f"{percentile(el, 50):.1f} | {percentile(el, 99):.1f} |")
        over = [r["last_ms"] - r["daemon"][limits[0]][0] for r in recs if r["last_ms"] is not None]
        p50, p90, p99, mx = summary(over)
        out += ["", f"The picker's latency less the daemon's (limit {limits[0]}) on the same "
                f"keystroke, ms: p50 {p50:.1f}, p90 {p90:.1f}, p99 {p99:.1f}, max {mx:.1f}"]
    return "\n".join(out) + "\n"


def write_tsv(path, tools, results):
    with open(path, "w") as f:
        limits = []
        for t in tools:
            for r in results[t.name]:
                limits = limits or list(r["daemon"])
        f.write("\t".join(["tool", "query", "last_ms", "echo_ms", "stall_ms", "changes", "bytes",
                           "checked", "problem"]
                          + [f"trawld_L{l}_ms\ttrawld_L{l}_elapsed_ms" for l in limits]) + "\n")
        for t in tools:
            for r in results[t.name]:
                row = [r["tool"], r["query"], fmt_ms(r["last_ms"]), fmt_ms(r["echo_ms"]),
                       fmt_ms(r["stall_ms"]), str(r["changes"]), str(r["bytes"]),
                       str(int(r["checked"])), r["problem"]]
                for l in limits:
                    w, e = r["daemon"].get(l, (None, None))
                    row += [fmt_ms(w), fmt_ms(e)]
                f.write("\t".join(row) + "\n")


# ---------------------------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(
        description="Keystroke-to-screen latency of the trawl picker next to fzf (and fzy), "
                    "each driven on a pseudo-terminal over the same path list.")
    p.add_argument("--build", type=Path, default=REPO_DIR / "build",
                   help="where trawl and trawld are (default build)")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"default {DEFAULT_CORPUS}")
    p.add_argument("--quick", action="store_true",
                   help=f"only the first {QUICK_LINES} lines of the corpus: a check, not a figure")
    p.add_argument("--keystrokes", type=Path, default=BENCH_DIR / "keystrokes.txt")
    p.add_argument("--sample", type=int, default=0, metavar="N",
                   help="type at most N keystrokes: whole lines of the keystroke file in order, "
                        "the last one cut short (default 0: all)")
    p.add_argument("--tools", default="trawl,fzf", help="comma-separated: trawl, fzf, fzy "
                   "(default trawl,fzf)")
    p.add_argument("--pause-ms", type=float, default=150,
                   help="pause before each key, after the screen settled (default 150)")
    p.add_argument("--gap-ms", type=float, default=1000,
                   help="settled also means no byte for this long (default 1000)")
    p.add_argument("--cap-s", type=float, default=60,
                   help="give up on a keystroke's screen after this (default 60)")
    p.add_argument("--rows", type=int, default=40)
    p.add_argument("--cols", type=int, default=120)
    p.add_argument("--load-timeout", type=float, default=600,
                   help="seconds to index or read the list (default 600)")
    p.add_argument("--daemon-limits",
                   help="limits of the trawld-alone requests before each key; the first must be "
                        "the picker's own, two screenfuls of results (client/picker_impl.h "
                        "PICKER_FIRST_SCREENS); default: that (76 on 40 rows), 200 (what the "
                        "picker asked before) and 50 (bench/index.sh's)")
    p.add_argument("--fzf-checks", type=int, default=2, metavar="K",
                   help="check fzf's screen against `fzf --filter` on the last key of the first "
                        "K lines (default 2; each costs a whole fzf run)")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "out" / "picker-latency.md",
                   help="the Markdown report; a TSV of every keystroke goes beside it")
    p.add_argument("--command", help="the command line to report (default: this one)")
    p.add_argument("--trawl-label", help="how the report names the trawl build (default: the "
                   "work tree's commit)")
    p.add_argument("--dump-screens", action="store_true", help="print each settled screen")
    p.add_argument("-v", "--verbose", action="store_true", help="a line per keystroke")
    return p.parse_args()


def loadavg():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def trawl_version():
    def git(*a):
        return subprocess.run(["git", "-C", str(REPO_DIR)] + list(a), capture_output=True,
                              text=True).stdout.strip()
    dirty = git("status", "--porcelain", "--", "client", "daemon", "index")
    return "at " + git("rev-parse", "--short", "HEAD") + (" (modified)" if dirty else "")


def version_of(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def on_signal(signo, _frame):
    sys.exit(128 + signo)  # through the finally blocks: every program started is stopped


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    command = args.command or "bench/picker_latency.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    names = [t for t in args.tools.split(",") if t]
    for n in names:
        if n not in ("trawl", "fzf", "fzy"):
            die(f"unknown tool '{n}' (trawl, fzf, fzy)")
    if not args.corpus.is_file():
        die(f"no corpus '{args.corpus}': make it with ../shared/corpus/debian-paths.sh")
    trawl, trawld = str(args.build / "trawl"), str(args.build / "trawld")
    if "trawl" in names and not (os.access(trawl, os.X_OK) and os.access(trawld, os.X_OK)):
        die(f"'{trawl}' or '{trawld}' is missing: run 'make'")
    for n in names:
        if n != "trawl" and not shutil.which(n):
            die(f"{n} is not installed (scripts/deps.sh bench installs it)")
    plan = keystroke_plan([l for l in args.keystrokes.read_text().splitlines() if l], args.sample)
    limits = ([int(x) for x in args.daemon_limits.split(",") if x] if args.daemon_limits
              else [2 * (args.rows - 2), 200, 50])

    workdir = tempfile.mkdtemp(prefix="trawl-picker-bench.")
    daemon = oracle = None
    loads = [loadavg()]
    try:
        corpus = args.corpus
        if args.quick:
            corpus = Path(workdir) / "corpus.txt"
            with open(args.corpus, "rb") as src, open(corpus, "wb") as dst:
                for i, line in enumerate(src):
                    if i == QUICK_LINES:
                        break
                    dst.write(line)
        with open(corpus, "rb") as f:
            corpus_lines = sum(c.count(b"\n") for c in iter(lambda: f.read(1 << 24), b""))
        sock = os.path.join(workdir, "d.sock")
        tools = {
            "trawl": Tool("trawl", [trawl, "--socket", sock, "--no-start"]),
            "fzf": Tool("fzf", ["fzf"], stdin_path=str(corpus)),
            # As many result lines as trawl and fzf show: the terminal less two lines.
            "fzy": Tool("fzy", ["fzy", "-l", str(args.rows - 2)], stdin_path=str(corpus)),
        }
        tools = [tools[n] for n in names]
        versions = {t.name: (args.trawl_label or trawl_version()) if t.name == "trawl" else
                    version_of([t.name, "--version"]) for t in tools}
        results, ready_s = {}, {}
        for tool in tools:
            if tool.name == "trawl":
                log(f"trawld: indexing {corpus}")
                t = time.monotonic()
                daemon = Daemon(trawld, corpus, workdir)
                st = daemon.wait_ready(args.load_timeout)
                log(f"trawld: ready in {time.monotonic() - t:.1f} s, {st['entries']} entries")
                oracle = DaemonOracle(sock, limits, args.rows)
            elif tool.name == "fzf":
                oracle = FzfOracle(corpus, plan[:args.fzf_checks], args.rows)
            else:
                oracle = FzyOracle(corpus, args.rows)
            results[tool.name], ready_s[tool.name] = measure(tool, args, plan, corpus_lines,
                                                             oracle)
            oracle.close()
            oracle = None
            if daemon:
                daemon.stop()
                daemon = None
            loads.append(f"{loadavg()} after {tool.name}")
        report = markdown(args, command, tools, results, ready_s, plan, versions, loads,
                          corpus_lines)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
        write_tsv(args.out.with_suffix(".tsv"), tools, results)
        print(report)
        log(f"wrote {args.out} and {args.out.with_suffix('.tsv')}")
    finally:
        if oracle:
            oracle.close()
        if daemon:
            daemon.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
