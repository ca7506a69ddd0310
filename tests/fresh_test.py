#!/usr/bin/env python3
"""trawld stays fresh: changes to a watched tree show in queries without a rescan, with
fanotify (when root) and with inotify (forced), through churn and a queue overflow.
Run by `make test`; $TRAWL_BUILD names the build."""

import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_test import TRAWLD, Daemon, raw_path, tree_entries  # noqa: E402

SETTLE_S = 10  # how long a change may take to show before the test calls it lost


def listing(d, tree):
    c = d.client()
    try:
        results, _ = c.query("", under=tree, limit=10000)
    finally:
        c.close()
    return set(map(raw_path, results))


def wait_until(what, check, timeout=SETTLE_S):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return time.time()
        time.sleep(0.01)
    raise AssertionError(f"not seen within {timeout} s: {what}")


def finds(d, tree, query, path):
    c = d.client()
    try:
        results, _ = c.query(query, under=tree, limit=50)
    finally:
        c.close()
    return path.encode() in map(raw_path, results)


def check_single_changes(d, tree):
    os.makedirs(f"{tree}/a/b")
    os.makedirs(f"{tree}/c")
    wait_until("new directories", lambda: listing(d, tree) == tree_entries(tree))

    t0 = time.time()
    with open(f"{tree}/a/b/quokka.txt", "w") as f:
        f.write("x")
    seen = wait_until("a created file", lambda: finds(d, tree, "quokka", f"{tree}/a/b/quokka.txt"))
    print(f"  created file visible after {1000 * (seen - t0):.0f} ms")

    os.rename(f"{tree}/a/b/quokka.txt", f"{tree}/a/b/wombat.txt")
    wait_until("a rename within a directory",
               lambda: finds(d, tree, "wombat", f"{tree}/a/b/wombat.txt")
               and not finds(d, tree, "quokka", f"{tree}/a/b/quokka.txt"))

    os.rename(f"{tree}/a/b/wombat.txt", f"{tree}/c/wombat.txt")
    wait_until("a rename across directories",
               lambda: finds(d, tree, "wombat", f"{tree}/c/wombat.txt")
               and not finds(d, tree, "wombat", f"{tree}/a/b/wombat.txt"))

    os.makedirs(f"{tree}/a/b/deep/er")
    with open(f"{tree}/a/b/deep/er/platypus.md", "w") as f:
        f.write("x")
    wait_until("a new subtree", lambda: finds(d, tree, "platypus", f"{tree}/a/b/deep/er/platypus.md"))
    os.rename(f"{tree}/a", f"{tree}/moved")
    wait_until("a directory rename moves its subtree",
               lambda: finds(d, tree, "platypus", f"{tree}/moved/b/deep/er/platypus.md")
               and listing(d, tree) == tree_entries(tree))

    with open(f"{tree}/c/new.txt", "w") as f:
        f.write("y")
    os.replace(f"{tree}/c/new.txt", f"{tree}/c/wombat.txt")
    wait_until("a file replaced by rename", lambda: listing(d, tree) == tree_entries(tree))

    os.unlink(f"{tree}/c/wombat.txt")
    wait_until("a deleted file", lambda: not finds(d, tree, "wombat", f"{tree}/c/wombat.txt"))
    shutil.rmtree(f"{tree}/moved")
    wait_until("a deleted subtree", lambda: listing(d, tree) == tree_entries(tree))


def churn(tree, n_ops, seed):
    """Random creates, renames and deletes of files and directories."""
    rng = random.Random(seed)
    dirs = [tree]
    files = []
    for _ in range(n_ops):
        op = rng.random()
        try:
            if op < 0.35 or not files:
                p = os.path.join(rng.choice(dirs), f"f{rng.randrange(10**6)}")
                open(p, "w").close()
                files.append(p)
            elif op < 0.5:
                p = os.path.join(rng.choice(dirs), f"d{rng.randrange(10**6)}")
                os.mkdir(p)
                dirs.append(p)
            elif op < 0.7:
                p = files.pop(rng.randrange(len(files)))
                q = os.path.join(rng.choice(dirs), f"r{rng.randrange(10**6)}")
                os.rename(p, q)
                files.append(q)
            elif op < 0.85:
                os.unlink(files.pop(rng.randrange(len(files))))
            elif len(dirs) > 1:
                k = rng.randrange(1, len(dirs))
                p = dirs[k]
                if op < 0.93:
                    q = os.path.join(rng.choice(dirs[:k] + dirs[k + 1:]), f"m{rng.randrange(10**6)}")
                    if q.startswith(p + "/"):
                        continue
                    os.rename(p, q)
                else:
                    shutil.rmtree(p)
                # Directories and files below it moved or went: list them again.
                dirs = [tree] + [os.path.join(dp, n) for dp, dns, _ in os.walk(tree) for n in dns]
                files = [os.path.join(dp, n) for dp, _, fns in os.walk(tree) for n in fns]
        except FileNotFoundError:
            pass


def check_churn(d, tree):
    stop = threading.Event()
    errors = []

    def query_loop():
        c = d.client()
        try:
            while not stop.is_set():
                c.query("f", under=tree, limit=20)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            c.close()

    q = threading.Thread(target=query_loop)
    q.start()
    churn(tree, 3000, seed=7)
    stop.set()
    q.join()
    assert not errors, errors
    wait_until("the churned tree, exactly", lambda: listing(d, tree) == tree_entries(tree))


def check_overflow(d, tree):
    # Stopped, the daemon reads no events: its tiny queue overflows for sure.
    os.makedirs(f"{tree}/flood")
    wait_until("the flood's directory", lambda: listing(d, tree) == tree_entries(tree))
    os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        for k in range(500):
            open(f"{tree}/flood/x{k}", "w").close()
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    wait_until("every file of a flood", lambda: listing(d, tree) == tree_entries(tree))


def run(backend, work, check, extra=()):
    tree = tempfile.mkdtemp(dir=work, prefix=f"{backend}-")
    d = Daemon(work, ["--root", tree, "--state-dir", f"{tree}.state", "--watch", backend] +
               list(extra), name=os.path.basename(tree)).start()
    try:
        st = d.status()
        assert st["watch"]["backend"] == backend, st["watch"]
        check(d, tree)
        return d.status()
    finally:
        d.stop()
        log = d.log_text()
        if "runtime error" in log or "AddressSanitizer" in log or "LeakSanitizer" in log:
            raise AssertionError("sanitizer report in the daemon's log:\n" + log)


def set_queue(n):
    with open("/proc/sys/fs/inotify/max_queued_events", "r+") as f:
        old = int(f.read())
        f.seek(0)
        f.write(str(n))
    return old


def main():
    if not os.access(TRAWLD, os.X_OK):
        print(f"fresh_test: no {TRAWLD}; build it first", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="trawl-fresh-test.")
    backends = ["inotify"]
    if os.geteuid() == 0:
        backends.insert(0, "fanotify")
    else:
        print("  fanotify: skipped, needs CAP_SYS_ADMIN")
    failed = passed = 0
    cases = []
    for b in backends:
        cases += [(f"{b}: single changes show", b, check_single_changes),
                  (f"{b}: churn leaves nothing lost or stale", b, check_churn)]
    for name, backend, check in cases:
        try:
            run(backend, work, check)
            print(f"ok   {name}")
            passed += 1
        except Exception:  # noqa: BLE001 - every failure is reported
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
    # A queue overflow: inotify's queue made tiny (root only), then flooded.
    name = "inotify: a queue overflow is followed by a rescan"
    if os.geteuid() != 0:
        print(f"skip {name}: needs root to shrink fs.inotify.max_queued_events")
    else:
        old = set_queue(16)
        try:
            st = run("inotify", work, check_overflow)
            assert st["watch"]["overflows"] >= 1, st["watch"]
            print(f"ok   {name}")
            passed += 1
        except Exception:  # noqa: BLE001
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
        finally:
            set_queue(old)
    shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
