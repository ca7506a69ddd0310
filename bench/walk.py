#!/usr/bin/env python3
"""Walk, rescan and look-up: how long trawld takes to a complete index of a tree, warm and
cold, beside bfs, fd, find and plocate's updatedb on the same tree; how long an
incremental rescan of the unchanged tree takes; and the round trip of look-ups through
the socket beside plocate's. `make bench-walk`; bench/README.md says more.

Trees: this machine's `/` (one filesystem) and a tree materialised from the first
`--entries` paths of the Debian corpus under /var/tmp (outside updatedb's PRUNEPATHS)."""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import daemon_test  # noqa: E402

CORPUS = os.environ.get("TRAWL_CORPUS", "/tmp/trawl-corpus/debian-paths.txt")


def drop_caches():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def can_drop_caches():
    try:
        drop_caches()
        return True
    except OSError:
        return False


def materialise(root, n_paths):
    """Create the first n_paths files of the corpus under root; return the entry count."""
    made = set()
    n = 0
    with open(CORPUS, "rb") as f:
        for line in f:
            if n >= n_paths:
                break
            p = line.rstrip(b"\n")
            if not p.startswith(b"/") or b"/../" in p or p.endswith(b"/.."):
                continue
            full = root.encode() + p
            d = os.path.dirname(full)
            if d not in made:
                try:
                    os.makedirs(d, exist_ok=True)
                except (FileExistsError, NotADirectoryError):
                    continue  # listed as a file elsewhere in the corpus
                made.add(d)
            try:
                os.close(os.open(full, os.O_CREAT | os.O_WRONLY, 0o644))
            except (IsADirectoryError, NotADirectoryError, FileExistsError):
                continue
            n += 1
    entries = 0
    for _, dirs, files in os.walk(root):
        entries += len(dirs) + len(files)
    return entries


def timed(cmd, cold):
    if cold:
        drop_caches()
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def trawld_walk(work, root, cold):
    """Seconds from starting trawld (no snapshot) to a complete index, the walk's own
    elapsed time, and the daemon (still running)."""
    state = tempfile.mkdtemp(dir=work, prefix="state.")
    args = ["--root", root, "--state-dir", state, "--watch", "off"]
    d = daemon_test.Daemon(work, args, name=os.path.basename(state))
    d.poll_s = 0.005
    if cold:
        drop_caches()
    t0 = time.perf_counter()
    d.start(wait=False)
    st = d.wait_ready(walks=1)
    return time.perf_counter() - t0, st["walk"]["elapsed_ms"] / 1000, st, d


def rescan(d):
    st = d.rescan()
    return st["walk"]["elapsed_ms"] / 1000, st


def lookups(d, db, names, trawl):
    c = d.client()
    sock, plo, cli = [], [], []
    for name in names:
        t0 = time.perf_counter()
        c.query(f"'{name}", limit=50)
        sock.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run([trawl, "--socket", d.sock, "--no-start", "-n", "50", f"'{name}"],
                       stdout=subprocess.DEVNULL, check=False)
        cli.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run(["plocate", "-d", db, "-l", "50", name], stdout=subprocess.DEVNULL,
                       check=False)
        plo.append(time.perf_counter() - t0)
    c.close()
    return sock, cli, plo


def ms(v):
    return f"{1000 * v:.1f}"


def bench_tree(args, work, label, root, is_whole_fs):
    trawl = os.path.abspath(os.path.join(args.build, "trawl"))
    fd = shutil.which("fdfind") or shutil.which("fd")
    tools = [("bfs", ["bfs", root, "-xdev"] if is_whole_fs else ["bfs", root]),
             ("fd -HI", [fd, "-HI", "--one-file-system", ".", root] if fd else None),
             ("find", ["find", root, "-xdev"] if is_whole_fs else ["find", root])]
    db = os.path.join(work, "".join(ch if ch.isalnum() else "-" for ch in label) + ".db")
    updatedb = ["updatedb.plocate", "-U", root, "-o", db, "--prunepaths", "",
                "--prunenames", "", "-l", "0"]
    modes = ["warm"] + (["cold"] if args.cold else [])
    rows = []
    for mode in modes:
        cold = mode == "cold"
        if not cold:  # fill the cache first
            timed(["find", root], False)
        total, walk_s, st, d = trawld_walk(work, root, cold)
        entries = st["entries"]
        if not cold:
            inc, _ = rescan(d)
            keep = d
        else:
            d.stop()
        row = {"mode": mode, "trawld": total, "walk": walk_s, "entries": entries}
        for name, cmd in tools:
            row[name] = timed(cmd, cold) if cmd else None
        row["updatedb"] = timed(updatedb, cold)
        rows.append(row)
    print(f"### {label}: {rows[0]['entries']:,} entries")
    print()
    print("| cache | trawld to a complete index | its walk | bfs | fd -HI | find | plocate updatedb |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [f"{r[k]:.2f} s" if r.get(k) is not None else "–"
                 for k in ("trawld", "walk", "bfs", "fd -HI", "find", "updatedb")]
        print(f"| {r['mode']} | " + " | ".join(cells) + " |")
    print()
    print(f"Incremental rescan of the unchanged tree (warm): {inc:.2f} s, "
          f"{100 * inc / rows[0]['walk']:.0f}% of the full walk's {rows[0]['walk']:.2f} s.")
    print()
    # Look-ups: basenames of random files of the tree, exact substring in both.
    rng = random.Random(1)
    names = []
    for dirpath, _, files in os.walk(root):
        if files and rng.random() < 0.02:
            names.append(rng.choice(files))
        if len(names) >= args.lookups:
            break
    sock, cli, plo = lookups(keep, db, names, trawl)
    keep.stop()
    print(f"Look-ups of {len(names)} file names (exact substring, 50 results at most):")
    print()
    print("| | p50 | p90 | p99 |")
    print("|---|---|---|---|")
    for name, v in (("trawl, socket round trip", sock), ("trawl command", cli),
                    ("plocate command", plo)):
        v = sorted(v)
        print(f"| {name} | {ms(statistics.median(v))} ms | {ms(v[int(0.9 * (len(v) - 1))])} ms "
              f"| {ms(v[int(0.99 * (len(v) - 1))])} ms |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--entries", type=int, default=1000000, help="corpus paths to materialise")
    ap.add_argument("--lookups", type=int, default=200)
    ap.add_argument("--trees", default="root,corpus")
    ap.add_argument("--no-cold", dest="cold", action="store_false")
    args = ap.parse_args()
    daemon_test.TRAWLD = os.path.abspath(os.path.join(args.build, "trawld"))
    if args.cold and not can_drop_caches():
        print("(cannot drop caches: cold runs left out)")
        args.cold = False
    work = tempfile.mkdtemp(prefix="trawl-bench-walk.")
    tree = tempfile.mkdtemp(dir="/var/tmp", prefix="trawl-bench-tree.")
    try:
        print(f"# trawl walk, rescan and look-ups ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
              f"load {open('/proc/loadavg').read().split()[0]}, {os.cpu_count()} CPUs)")
        print()
        if "root" in args.trees:
            bench_tree(args, work, "this machine's /", "/", True)
        if "corpus" in args.trees:
            t0 = time.perf_counter()
            n = materialise(tree, args.entries)
            print(f"(materialised {args.entries:,} corpus paths, {n:,} entries, under {tree} "
                  f"in {time.perf_counter() - t0:.0f} s)")
            print()
            bench_tree(args, work, "Debian corpus tree", tree, False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    main()
