#!/usr/bin/env python3
"""Soak: many clients query one trawld for a long time while its tree churns; does the
load hold and does its memory stay flat? `bench/soak.py [BUILD] [--duration S]`.

An optimised trawld watches a temporary tree of --files files. A churn process creates,
renames and deletes files and directories in it at --churn-rate operations a second. The
clients (--clients, spread over --procs processes) each type queries keystroke by
keystroke, as a picker does: for a file of the tree, a query people type for it
(bench/rank.py: its name, parent and stem, initials and a prefix), sent one prefix at a
time, each answered (limit 50, with positions) before the next goes. The report gives
queries a second, latency percentiles, trawld's VmRSS when the load starts, after a
warm-up and at the end, and whether the index matched the tree once the churn stopped.
"""

import argparse
import array
import multiprocessing
import os
import random
import re
import selectors
import shutil
import socket
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)
import daemon_test  # noqa: E402
from rank import is_operator_free, queries_for  # noqa: E402

WORDS = ["src", "lib", "share", "doc", "include", "linux", "python3", "site-packages",
         "tests", "data", "config", "local", "bin", "man", "icons", "locale", "kernel",
         "drivers", "net", "projects", "build", "assets", "fonts", "themes", "cache"]
STEMS = ["readme", "main", "index", "config", "setup", "utils", "server", "client",
         "parser", "engine", "widget", "schema", "report", "notes", "logo", "changelog"]
EXTS = [".c", ".h", ".py", ".txt", ".md", ".json", ".png", ".conf", ".html", ".rs"]
ELAPSED = re.compile(rb'"elapsed_us":(\d+)')
WARMUP_S = 10  # load before the "warm" memory figure, which the end is compared with


def pct(values, p):
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def make_tree(root, n_files, n_dirs, seed):
    """n_dirs directories a few levels deep, n_files files with names people have.
    Returns the files and the directories."""
    rng = random.Random(seed)
    dirs = []
    for k in range(n_dirs):
        depth = rng.randrange(1, 4)
        d = os.path.join(root, *(f"{rng.choice(WORDS)}{rng.randrange(10)}"
                                 for _ in range(depth)), f"{rng.choice(WORDS)}-{k}")
        os.makedirs(d, exist_ok=True)
        dirs.append(d)
    files = []
    for k in range(n_files):
        f = f"{rng.choice(dirs)}/{rng.choice(STEMS)}_{k}{rng.choice(EXTS)}"
        open(f, "w").close()
        files.append(f)
    return files, dirs


def keystrokes(files, seed):
    """Endless prefixes of queries typed for files of the tree."""
    rng = random.Random(seed)
    while True:
        path = rng.choice(files)
        candidates = [q for _, q in queries_for(path) if is_operator_free(q)]
        if not candidates:
            continue
        query = rng.choice(candidates)
        for n in range(1, len(query) + 1):
            if query[n - 1] != " ":
                yield query[:n]


class Conn:
    def __init__(self, path, queries):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.setblocking(False)
        self.queries = queries
        self.buf = bytearray()
        self.next_id = 0
        self.sent_at = 0.0

    def send_next(self):
        self.next_id += 1
        q = next(self.queries).replace("\\", "\\\\").replace('"', '\\"')
        line = ('{"id":%d,"op":"query","query":"%s","limit":50,"positions":true}\n'
                % (self.next_id, q)).encode()
        self.sent_at = time.perf_counter()
        self.sock.sendall(line)  # a short line always fits the socket's buffer

    def answered(self):
        """("done", the daemon's elapsed_us) or ("error", None) once the buffer ends with
        the line that ends the answer (one query is in flight at a time), else None."""
        if not self.buf.endswith(b"\n"):
            return None
        start = self.buf.rfind(b"\n", 0, len(self.buf) - 1) + 1
        last = bytes(self.buf[start:])
        if b'"done":true' in last:
            m = ELAPSED.search(last)
            return "done", int(m.group(1)) if m else 0
        if last.startswith(b'{"id":') and b'"error":' in last:
            return "error", None
        return None


def clients(sock_path, n, files, seed, started, duration_s, out):
    """One process: n connections in a closed loop until the end; sends back the finish
    time (since `started`), latency and the daemon's own time of every query, and the
    errors."""
    sel = selectors.DefaultSelector()
    conns = [Conn(sock_path, keystrokes(files, seed * 1000 + k)) for k in range(n)]
    done_at = array.array("d")
    latency = array.array("d")
    served_us = array.array("d")
    errors = []
    end = started + duration_s
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ, c)
        c.send_next()
    while time.perf_counter() < end:
        for key, _ in sel.select(timeout=0.5):
            c = key.data
            data = c.sock.recv(1 << 18)
            if not data:
                raise SystemExit("trawld closed a connection")
            c.buf += data
            ended = c.answered()
            if not ended:
                continue
            now = time.perf_counter()
            if ended[0] == "error":
                if len(errors) < 10:
                    errors.append(bytes(c.buf[-300:]).decode(errors="replace"))
            else:
                served_us.append(ended[1])
            done_at.append(now - started)
            latency.append(now - c.sent_at)
            c.buf.clear()
            if now < end:
                c.send_next()
    for c in conns:
        c.sock.close()
    out.send((done_at, latency, served_us, errors))
    out.close()


def churn(tree, dirs, rate, started, duration_s, seed, out):
    """Creates, renames and deletes at `rate` operations a second until the end, in the
    tree's directories and in directories of its own; the tree keeps about its size and
    the files queries are typed for stay. Sends back the count of operations done."""
    rng = random.Random(seed)
    made_files, made_dirs = [], [tree] + dirs
    n_kept = len(made_dirs)  # the tree's own directories are never removed
    n_ops = 0
    end = started + duration_s
    while time.perf_counter() < end:
        target = started + n_ops / rate
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        op = rng.random()
        try:
            if op < 0.4 or len(made_files) < 50:
                p = f"{rng.choice(made_dirs)}/{rng.choice(STEMS)}-churn{rng.randrange(10**9)}.tmp"
                open(p, "w").close()
                made_files.append(p)
            elif op < 0.6:
                p = made_files.pop(rng.randrange(len(made_files)))
                q = f"{rng.choice(made_dirs)}/moved{rng.randrange(10**9)}.txt"
                os.rename(p, q)
                made_files.append(q)
            elif op < 0.95:
                os.unlink(made_files.pop(rng.randrange(len(made_files))))
            elif op < 0.98 or len(made_dirs) == n_kept:
                p = f"{rng.choice(made_dirs)}/churn-dir{rng.randrange(10**9)}"
                os.mkdir(p)
                made_dirs.append(p)
            else:
                k = rng.randrange(n_kept, len(made_dirs))
                p = made_dirs.pop(k)
                shutil.rmtree(p)
                made_files = [f for f in made_files if not f.startswith(p + "/")]
                made_dirs = [d for d in made_dirs if not d.startswith(p + "/")]
        except OSError:
            pass
        n_ops += 1
    out.send(n_ops)
    out.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    """User and system CPU seconds the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def entries_under(d, tree):
    c = d.client()
    try:
        _, done = c.query("", under=tree, limit=1)
    finally:
        c.close()
    return done["matched"], done.get("matched_is_estimate", False)


def count_entries(tree):
    return sum(len(dn) + len(fn) for _, dn, fn in os.walk(tree))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--duration", type=float, default=600, help="seconds of load (600)")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--procs", type=int, default=2, help="client processes (2)")
    ap.add_argument("--files", type=int, default=100000)
    ap.add_argument("--dirs", type=int, default=2000)
    ap.add_argument("--churn-rate", type=float, default=200, help="operations a second (200)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    daemon_test.TRAWLD = os.path.abspath(os.path.join(args.build, "trawld"))
    if not os.access(daemon_test.TRAWLD, os.X_OK):
        raise SystemExit(f"soak: no {daemon_test.TRAWLD}; build it first")

    work = tempfile.mkdtemp(prefix="trawl-bench-soak.")
    d = None
    try:
        tree = f"{work}/tree"
        t0 = time.perf_counter()
        files, dirs = make_tree(tree, args.files, args.dirs, args.seed)
        made_s = time.perf_counter() - t0
        d = daemon_test.Daemon(work, ["--root", tree, "--state-dir", f"{work}/state"],
                               name="soak").start()
        d.wait_ready(walks=1)
        time.sleep(1)  # the catch-up rescan after the first walk
        st = d.status()
        pid = d.proc.pid
        rss_idle = rss_kib(pid)
        load = open("/proc/loadavg").read().split()[0]

        ctx = multiprocessing.get_context("fork")
        started = time.perf_counter() + 0.5
        pipes, procs = [], []
        per = [args.clients // args.procs + (k < args.clients % args.procs)
               for k in range(args.procs)]
        for k, n in enumerate(per):
            r, w = ctx.Pipe(duplex=False)
            p = ctx.Process(target=clients, args=(d.sock, n, files, args.seed + k, started,
                                                  args.duration, w))
            p.start()
            w.close()  # the child's copy stays: its end is an EOF here
            pipes.append(r)
            procs.append(p)
        r, w = ctx.Pipe(duplex=False)
        churner = ctx.Process(target=churn, args=(tree, dirs, args.churn_rate, started,
                                                  args.duration, args.seed, w))
        churner.start()
        w.close()

        samples = []  # (seconds since start, VmRSS KiB)
        cpu_start = cpu_s(pid)
        while time.perf_counter() < started + args.duration:
            if d.proc.poll() is not None:
                raise SystemExit("trawld died:\n" + d.log_text()[-3000:])
            samples.append((time.perf_counter() - started, rss_kib(pid)))
            time.sleep(1)
        results = [p.recv() for p in pipes]
        n_churn = r.recv()
        for p in procs + [churner]:
            p.join()
        rss_end = rss_kib(pid)
        cpu_used = cpu_s(pid) - cpu_start

        # Once the churn stops, the index must hold the tree exactly.
        deadline = time.time() + 30
        while True:
            indexed, is_estimate = entries_under(d, tree)
            actual = count_entries(tree)
            if (indexed == actual and not is_estimate) or time.time() > deadline:
                break
            time.sleep(0.2)
        final = d.status()
        d.stop()
        log = [ln for ln in d.log_text().splitlines()
               if not ln.startswith("trawld: serving on") and "shutting down" not in ln]
    finally:
        if d and d.proc and d.proc.poll() is None:
            d.proc.kill()
        shutil.rmtree(work, ignore_errors=True)

    done_at = array.array("d")
    latency = array.array("d")
    served_ms = []
    errors = []
    for a, b, c, e in results:
        done_at.extend(a)
        latency.extend(b)
        served_ms += [us / 1000 for us in c]
        errors += e
    served_ms.sort()
    lat_ms = sorted(x * 1000 for x in latency)
    n = len(lat_ms)
    warm = [kib for t, kib in samples if t >= WARMUP_S][:1] or [samples[-1][1]]
    rss_warm = warm[0]
    print(f"# trawl soak: {args.clients} clients for {args.duration:.0f} s while the tree "
          f"churns")
    print()
    print(f"trawld {args.build}/trawld; tree of {args.files} files in {args.dirs} "
          f"directories ({st['entries']} entries, made in {made_s:.0f} s); watch "
          f"{st['watch']['backend']}; {args.procs} client processes; load average "
          f"{load} at the start; {os.cpu_count()} CPUs.")
    print()
    print("| clients | queries | queries/s | p50 | p90 | p99 | max | search p50 | search p99 "
          "| trawld CPU | errors | churn ops/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.clients} | {n} | {n / args.duration:,.0f} | {pct(lat_ms, 50):.2f} ms | "
          f"{pct(lat_ms, 90):.2f} ms | {pct(lat_ms, 99):.2f} ms | {lat_ms[-1]:.1f} ms | "
          f"{pct(served_ms, 50):.2f} ms | {pct(served_ms, 99):.2f} ms | "
          f"{100 * cpu_used / args.duration:.0f} % of a core | "
          f"{len(errors)} | {n_churn / args.duration:,.0f} |")
    print()
    print("Latency is from a query's send to its done line, queueing included (each client "
          "has one query in flight);\n"
          "search is the daemon's own elapsed_us.")
    print()
    print("| VmRSS idle, after the walk | after the first "
          f"{WARMUP_S} s of load | at the end | growth since warm |")
    print("|---|---|---|---|")
    grown = rss_end - rss_warm
    print(f"| {rss_idle / 1024:.1f} MiB | {rss_warm / 1024:.1f} MiB | {rss_end / 1024:.1f} MiB "
          f"| {grown / 1024:+.1f} MiB ({100 * grown / rss_warm:+.1f} %) |")
    print()
    # The run in tenths: throughput, latency and memory over time show a trend that the
    # totals hide.
    # Under churn VmRSS is a sawtooth: the delta of changes grows, and a rebuild folds it
    # into a new base (the old one freed). Growth shows in the lows, after rebuilds.
    print("| from | to | queries/s | p99 | VmRSS low | VmRSS high |")
    print("|---|---|---|---|---|---|")
    step = args.duration / 10
    pairs = sorted(zip(done_at, latency))
    for k in range(10):
        lo, hi = k * step, (k + 1) * step
        part = sorted(x * 1000 for t, x in pairs if lo <= t < hi)
        rss = [kib for t, kib in samples if lo <= t < hi] or [0]
        if part:
            print(f"| {lo:.0f} s | {hi:.0f} s | {len(part) / step:,.0f} | "
                  f"{pct(part, 99):.2f} ms | {min(rss) / 1024:.1f} MiB | "
                  f"{max(rss) / 1024:.1f} MiB |")
    print()
    print(f"After the churn: the index holds {indexed} entries under the tree, the tree "
          f"{actual}: {'consistent' if indexed == actual else 'NOT CONSISTENT'}. "
          f"Watch events {final['watch']['events']}, overflows "
          f"{final['watch']['overflows']}, walks {final['walk']['walks']}.")
    if errors:
        print("\nerror lines (first ones):\n" + "\n".join(errors))
    if log:
        print("\ntrawld said:\n" + "\n".join(log[-20:]))
    if errors or indexed != actual:
        sys.exit(1)


if __name__ == "__main__":
    main()
