#!/usr/bin/env python3
"""Freshness and churn: how soon a new file can be found, and how many changes a second
trawld absorbs while it keeps answering. `make bench-fresh`; bench/README.md says more.

Freshness: a file is created (the clock starts just before open()), and a client queries
for its unique name back to back until the answer holds it; the wait is the freshness.
Churn: files are created as fast as one process can in many directories while another
client times queries; the rate is files over the time until the index holds them all.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import daemon_test  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def make_tree(root, n_dirs, n_files):
    for d in range(n_dirs):
        os.makedirs(f"{root}/d{d // 100}/d{d}")
    for k in range(n_files):
        d = k % n_dirs
        open(f"{root}/d{d // 100}/d{d}/file{k}.txt", "w").close()


def freshness(d, tree, trials, n_dirs):
    c = d.client()
    waits = []
    for t in range(trials):
        dirn = t * 7919 % n_dirs
        name = f"fresh-{t}-zq"
        path = f"{tree}/d{dirn // 100}/d{dirn}/{name}"
        t0 = time.perf_counter()
        open(path, "w").close()
        while True:
            results, _ = c.query(f"'{name}", under=tree, limit=5)
            if any(daemon_test.raw_path(r) == path.encode() for r in results):
                break
            if time.perf_counter() - t0 > 10:
                raise SystemExit(f"{path} not found within 10 s")
        waits.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.02)  # events of one trial must not run into the next
    c.close()
    return waits


def churn(d, tree, n_files, n_dirs):
    stop = threading.Event()
    lat = []

    def query_loop():
        c = d.client()
        queries = ["file1", "d3 file", "txt", "'file99", "fl2"]
        k = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            c.query(queries[k % len(queries)], under=tree, limit=50)
            lat.append((time.perf_counter() - t0) * 1000)
            k += 1
        c.close()

    idle = []
    c = d.client()
    for k in range(200):
        t0 = time.perf_counter()
        c.query(["file1", "d3 file", "txt", "'file99", "fl2"][k % 5], under=tree, limit=50)
        idle.append((time.perf_counter() - t0) * 1000)
    c.close()

    c = d.client()
    _, done = c.query("", under=tree, limit=1)
    assert not done.get("matched_is_estimate"), done
    before = done["matched"]
    c.close()

    th = threading.Thread(target=query_loop)
    th.start()
    t0 = time.perf_counter()
    for k in range(n_files):
        dirn = k % n_dirs
        open(f"{tree}/d{dirn // 100}/d{dirn}/churn{k}.dat", "w").close()
    t_written = time.perf_counter() - t0
    c = d.client()
    while True:
        _, done = c.query("", under=tree, limit=1)
        assert not done.get("matched_is_estimate"), done
        if done["matched"] >= before + n_files:
            break
        if time.perf_counter() - t0 > 120:
            raise SystemExit(f"only {done['matched'] - before} of {n_files} files indexed")
        time.sleep(0.005)
    t_indexed = time.perf_counter() - t0
    c.close()
    stop.set()
    th.join()
    return t_written, t_indexed, idle, lat


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--files", type=int, default=100000, help="files in the tree to start")
    ap.add_argument("--dirs", type=int, default=2000)
    ap.add_argument("--churn", type=int, default=50000, help="files created in the burst")
    ap.add_argument("--backends", default="fanotify,inotify")
    args = ap.parse_args()
    daemon_test.TRAWLD = os.path.abspath(os.path.join(args.build, "trawld"))

    work = tempfile.mkdtemp(prefix="trawl-bench-fresh.")
    try:
        print(f"# trawl freshness and churn ({args.files} files in {args.dirs} directories; "
              f"load {open('/proc/loadavg').read().split()[0]})")
        print()
        print("| watch | freshness p50 | p90 | p99 | max | burst files/s written | "
              "absorbed files/s | query p99 idle | query p99 in burst |")
        print("|---|---|---|---|---|---|---|---|---|")
        for backend in args.backends.split(","):
            if backend == "fanotify" and os.geteuid() != 0:
                print(f"| fanotify | (needs CAP_SYS_ADMIN) | | | | | | | |")
                continue
            tree = f"{work}/{backend}"
            os.makedirs(tree)
            make_tree(tree, args.dirs, args.files)
            d = daemon_test.Daemon(work, ["--root", tree, "--state-dir", f"{tree}.state",
                                          "--watch", backend], name=backend).start()
            try:
                d.wait_ready(walks=2)
                waits = freshness(d, tree, args.trials, args.dirs)
                written, indexed, idle, busy = churn(d, tree, args.churn, args.dirs)
            finally:
                d.stop()
            print(f"| {backend} | {statistics.median(waits):.1f} ms | {pct(waits, 90):.1f} ms | "
                  f"{pct(waits, 99):.1f} ms | {max(waits):.1f} ms | "
                  f"{args.churn / written:,.0f} | {args.churn / indexed:,.0f} | "
                  f"{pct(idle, 99):.2f} ms | {pct(busy, 99):.2f} ms |")
            shutil.rmtree(tree, ignore_errors=True)
        print()
        print("plocate, for comparison, finds a new file after its next updatedb run "
              "(daily by default on Debian).")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
