#!/usr/bin/env python3
"""trawld under faults: a kill during a snapshot write, a full state disk, no file
descriptors left, a tree 10,000 levels deep, a 100 MB line, 1,000 clients at once and
clients that stop reading. After each, the daemon is alive (unless the fault was to kill
it), answers a fresh client correctly and has no sanitizer report in its log.
Run by `make test`; $TRAWL_BUILD names the build."""

import os
import random
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_test import (TIMEOUT_S, TRAWLD, Client, Daemon, make_tree, raw_path,  # noqa: E402
                         tree_entries)

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error", "LeakSanitizer")
WORDS = ["src", "lib", "usr", "share", "doc", "include", "linux", "python3", "site-packages",
         "tests", "data", "config", "local", "bin", "man", "icons", "locale", "kernel",
         "drivers", "net", "home", "projects", "build", "assets", "fonts", "themes"]
EXTS = [".c", ".h", ".py", ".txt", ".md", ".json", ".png", ".conf", ".so", ".html"]


class Skip(Exception):
    """The test cannot run here; its message says why."""


class FaultDaemon(Daemon):
    """A Daemon that may start under a file descriptor limit, and that is always
    stopped by the harness, whatever the test did."""

    running = []

    def __init__(self, work, args, name, nofile=None, is_memory_measured=False):
        super().__init__(work, args, name)
        self.nofile = nofile
        self.env = None
        if is_memory_measured:
            # ASan keeps freed blocks in a quarantine of up to 256 MiB: VmRSS would
            # measure it rather than the daemon.
            opts = os.environ.get("ASAN_OPTIONS", "")
            self.env = dict(os.environ, ASAN_OPTIONS=opts + (":" if opts else "") +
                            "quarantine_size_mb=1")

    def start(self, wait=True):
        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)

        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [TRAWLD, "--socket", self.sock, "--rescan-interval", "0"] + self.args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env,
                preexec_fn=limit if self.nofile else None)
        FaultDaemon.running.append(self)
        if wait:
            self.wait_ready()
        return self

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def assert_clean_log(self):
        log = self.log_text()
        assert not any(m in log for m in SANITIZER_MARKS), "sanitizer report:\n" + log

    def stop_cleanly(self):
        """SIGTERM: the daemon must exit 0, with nothing from the sanitizers."""
        assert self.proc.poll() is None, f"trawld died:\n{self.log_text()[-3000:]}"
        rc = self.stop()
        assert rc == 0, f"trawld exited with {rc}:\n{self.log_text()[-3000:]}"
        self.assert_clean_log()


def wait_until(what, check, timeout=TIMEOUT_S, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"not within {timeout} s: {what}")


def assert_serves(d, query, expected, **fields):
    """The daemon is alive and a fresh client's query puts `expected` (bytes) first."""
    assert d.proc.poll() is None, f"trawld died:\n{d.log_text()[-3000:]}"
    c = d.client()
    try:
        results, _ = c.query(query, **fields)
    finally:
        c.close()
    assert results and raw_path(results[0]) == expected, (query, results[:3])


def small_tree(work):
    tree = os.path.join(work, "tree")
    os.makedirs(tree)
    make_tree(tree)
    return tree


def serves_small_tree(d, tree):
    assert_serves(d, "nginxconf", f"{tree}/etc/nginx/nginx.conf".encode(), limit=5)


def generate_paths(n, seed):
    """n distinct absolute paths that look like a system's: a few thousand directories
    a few levels deep, files with the usual extensions."""
    rng = random.Random(seed)
    dirs = ["/" + "/".join(f"{rng.choice(WORDS)}{rng.randrange(8)}"
                           for _ in range(rng.randrange(2, 6))) for _ in range(max(1, n // 40))]
    return [f"{rng.choice(dirs)}/{rng.choice(WORDS)}-{k}{rng.choice(EXTS)}" for k in range(n)]


def write_list(path, paths):
    """Replace the list file at once: the daemon never reads half of one."""
    with open(path + ".new", "w") as f:
        f.write("\n".join(paths) + "\n")
    os.replace(path + ".new", path)


def list_daemon(work, name, paths, **kw):
    os.makedirs(f"{work}/{name}", exist_ok=True)
    listing = f"{work}/{name}/list"
    write_list(listing, paths)
    return FaultDaemon(work, ["--from-list", listing, "--state-dir", f"{work}/{name}/state"],
                       name, **kw), listing


# ---- the tests ----

# 150,000 listed paths make a snapshot of some 15 MB, whose write (to its temporary file,
# fsync, rename) takes 20-35 ms with ASan: kills are aimed within its first 12 ms.
KILL_PATHS = 150000
KILL_AIM_S = 0.012
KILL_ATTEMPTS = 4


def test_a_kill_during_a_snapshot_write_leaves_the_old_or_the_new_one(work):
    base = generate_paths(KILL_PATHS, seed=1)

    def generation(k):  # each generation one marker more, so its entry count tells it
        return base + [f"/gen/marker-{j:02d}.txt" for j in range(k + 1)]

    d, listing = list_daemon(work, "kill", generation(0))
    d.start()
    st = d.status()
    snap, state = st["snapshot"]["path"], os.path.dirname(st["snapshot"]["path"])
    n0 = st["entries"]
    wait_until("the first snapshot", lambda: os.path.exists(snap))

    def temps():
        return [n for n in os.listdir(state) if ".tmp." in n]

    rng = random.Random(8)
    mid_write = 0
    for k in range(1, KILL_ATTEMPTS + 1):
        write_list(listing, generation(k))
        c = d.client()
        c.answer(dict(op="rescan"))
        c.close()
        if k == KILL_ATTEMPTS:
            # Anywhere in the rescan: reading the list, building, or writing.
            time.sleep(rng.uniform(0, 1.5))
        else:
            # Within the write: from its temporary file's first byte to its rename.
            wait_until("the snapshot write", temps, step=0.001)
            time.sleep(rng.uniform(0, KILL_AIM_S))
        d.proc.kill()
        d.proc.wait()
        killed = d.proc.pid
        mid_write += any(n.endswith(f".tmp.{killed}") for n in temps())
        d.assert_clean_log()

        log_at = len(d.log_text())
        inode = os.stat(snap).st_ino
        d.start(wait=False)
        first = wait_until("an answer after the restart", lambda: _status_or_none(d))
        assert first["snapshot"]["loaded"] is True, (k, first)
        # The old snapshot or the new one (or, if the list was read again already, the
        # list itself): never anything else.
        assert first["entries"] in (n0 + k - 1, n0 + k), (k, first["entries"], n0)
        d.wait_ready(walks=1)
        assert "not used" not in d.log_text()[log_at:], d.log_text()[log_at:]
        c = d.client()
        results, _ = c.query("'marker-", under="/gen", limit=100)
        c.close()
        assert sorted(map(raw_path, results)) == [
            f"/gen/marker-{j:02d}.txt".encode() for j in range(k + 1)], results
        # The restarted daemon saves the list it read; the killed save's temporary file
        # is gone, not left to fill the disk crash after crash.
        wait_until("the restarted daemon's save", lambda: os.stat(snap).st_ino != inode)
        assert not any(n.endswith(f".tmp.{killed}") for n in temps()), os.listdir(state)
    assert mid_write >= 1, "no kill landed inside a snapshot write"
    print(f"  {mid_write} of {KILL_ATTEMPTS} kills landed inside a snapshot write")
    assert_serves(d, "'marker-00", b"/gen/marker-00.txt")
    d.stop_cleanly()


def _status_or_none(d):
    try:
        return d.status()
    except (OSError, EOFError):
        assert d.proc.poll() is None, f"trawld died:\n{d.log_text()[-3000:]}"
        return None


def _status_if_let_in(d):
    c = d.client()
    try:
        lines = c.answer(dict(op="status"))
    except AssertionError:  # the line refusing the connection has no id
        return None
    finally:
        c.close()
    return lines[-1]


def test_a_full_state_disk_fails_the_save_and_serving_goes_on(work):
    if os.geteuid() != 0:
        raise Skip("needs root to mount a tiny tmpfs as the state directory")
    state = f"{work}/full/state"
    os.makedirs(state)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", state],
                      capture_output=True).returncode != 0:
        raise Skip("cannot mount a tmpfs here")
    try:
        _full_disk(work, state)
    finally:
        for d in FaultDaemon.running:
            if d.proc and d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()
        subprocess.run(["umount", state], check=False)


def _full_disk(work, state):
    paths = generate_paths(20000, seed=2)
    d, listing = list_daemon(work, "full", paths)  # its state directory is the tmpfs
    d.start()
    first = paths[0].encode()

    # 64 KiB hold no snapshot of 20,000 paths.
    st = wait_until("the failed save", lambda: d.status()["snapshot"].get("error"))
    assert st == "No space left on device", st
    assert "save snapshot" in d.log_text() and "No space left" in d.log_text(), d.log_text()
    assert os.listdir(state) == [], os.listdir(state)  # no half-written file stays
    assert_serves(d, "'" + paths[0], first)

    # Space freed: the next save (after a rescan) succeeds.
    subprocess.run(["mount", "-o", "remount,size=16m", state], check=True)
    d.rescan()
    st = wait_until("a save once there is room",
                    lambda: (lambda s: s if "error" not in s and s["saved_at"] else None)(
                        d.status()["snapshot"]))
    size = os.path.getsize(st["path"])
    assert size > 64 * 1024, size

    # Full again: the save fails and the old snapshot stays whole.
    inode = os.stat(st["path"]).st_ino
    with open(f"{state}/ballast", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    paths.append("/added/while/full/newcomer.txt")
    write_list(listing, paths)
    d.rescan()
    wait_until("the second failed save", lambda: d.status()["snapshot"].get("error"))
    assert os.stat(st["path"]).st_ino == inode and os.path.getsize(st["path"]) == size
    assert sorted(os.listdir(state)) == ["ballast", os.path.basename(st["path"])]
    assert_serves(d, "newcomer", b"/added/while/full/newcomer.txt")

    # Room again, then a shutdown saves what the failed save could not.
    os.unlink(f"{state}/ballast")
    d.stop_cleanly()
    d.start(wait=False)
    st = d.wait_ready(walks=0)
    assert st["snapshot"]["loaded"] is True, st
    assert_serves(d, "newcomer", b"/added/while/full/newcomer.txt")
    d.stop_cleanly()


def test_no_descriptors_left_refuses_new_clients_and_recovers(work):
    tree = small_tree(work)
    d = FaultDaemon(work, ["--root", tree, "--state-dir", f"{work}/state"], "fds",
                    nofile=(64, 64)).start()
    held = d.client()
    serves_small_tree(d, tree)

    flood = []
    for _ in range(100):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        flood.append(s)
    # Each connection is either taken, or told so and closed; none is left hanging.
    told = set()
    deadline = time.time() + 2
    while time.time() < deadline:
        ready, _, _ = select.select([s for s in flood if s not in told], [], [], 0.2)
        for s in ready:
            data = b""
            s.settimeout(TIMEOUT_S)
            while chunk := s.recv(4096):
                data += chunk
            assert data == b'{"id":null,"error":"too many connections"}\n', data
            told.add(s)
    taken = [s for s in flood if s not in told]
    assert told and taken, (len(told), len(taken))
    print(f"  {len(taken)} connections taken, {len(told)} refused with an error line")
    for s in taken[:5]:
        s.sendall(b'{"id":1,"op":"hello"}\n')
        assert b'"protocol":1' in s.recv(4096)

    # A client connected before the shortage is served, and a rescan that cannot open
    # the root keeps the index as it was (it used to empty it).
    results, _ = held.query("", under=tree, limit=10000)
    assert set(map(raw_path, results)) == tree_entries(tree)
    with open(f"{tree}/made-while-short.txt", "w") as f:
        f.write("x")
    walks = held.answer(dict(op="status"))[-1]["walk"]["walks"]
    held.answer(dict(op="rescan"))
    wait_until("the rescan", lambda: held.answer(dict(op="status"))[-1]["walk"]["walks"] > walks
               and held.answer(dict(op="status"))[-1]["walk"]["state"] == "idle")
    results, _ = held.query("", under=tree, limit=10000)
    assert set(map(raw_path, results)) >= tree_entries(tree) - {
        f"{tree}/made-while-short.txt".encode()}, "the rescan lost entries"

    for s in flood:
        s.close()
    wait_until("the flood's connections freed",
               lambda: held.answer(dict(op="status"))[-1]["clients"] == 1)
    held.close()
    serves_small_tree(d, tree)
    d.rescan()
    assert_serves(d, "made-while-short", f"{tree}/made-while-short.txt".encode())
    log = d.log_text()
    assert log.count("refusing clients") <= 3, "one log line per refused client:\n" + log
    d.stop_cleanly()


DEPTH = 10000
LONG_NAMES = 10  # directories of 255-byte names at the top of the deep tree


def _deep_names():
    names = [(chr(ord("a") + k) * 255).encode() for k in range(LONG_NAMES)]
    names += [b"d"] * (DEPTH - LONG_NAMES)
    leaf = b"zz-deepest-leaf-" + b"q" * (255 - 16 - 4) + b".txt"
    return names, leaf


def make_deep_tree(root):
    """DEPTH nested directories and a file at the bottom, built relative to one
    directory descriptor at a time: the path is far beyond PATH_MAX."""
    names, leaf = _deep_names()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in names:
            os.mkdir(name, dir_fd=fd)
            nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.close(os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    return root.encode() + b"/" + b"/".join(names) + b"/" + leaf


def remove_deep_tree(root):
    """Bottom-up, one level at a time through '..', never naming a long path."""
    names, leaf = _deep_names()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    depth = 0
    for name in names:
        try:
            nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        except FileNotFoundError:
            break
        os.close(fd)
        fd = nfd
        depth += 1
    if depth == len(names):
        try:
            os.unlink(leaf, dir_fd=fd)
        except FileNotFoundError:
            pass
    for name in reversed(names[:depth]):
        parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = parent
        os.rmdir(name, dir_fd=fd)
    os.close(fd)
    os.rmdir(root)


def test_a_tree_ten_thousand_levels_deep_is_indexed(work):
    mount = f"{work}/fs"
    os.makedirs(mount)
    # A tmpfs when root: ten thousand directories made and removed in no time, and no
    # other test's fanotify watcher sees them.
    is_mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mount],
        capture_output=True).returncode == 0
    root = f"{mount}/deep"
    os.makedirs(root)
    try:
        leaf = make_deep_tree(root)
        # 256 descriptors leave the walk 64 anchors: past them, paths from the last
        # anchor outgrow PATH_MAX and are opened in hops.
        d = FaultDaemon(work, ["--root", root, "--state-dir", f"{work}/deep-state"],
                        "deep", nofile=(256, 256))
        d.ready_timeout = 120  # 10,000 levels under ASan on a busy machine
        d.start()
        assert len(leaf) > 4 * 4096, len(leaf)
        assert_serves(d, "zz-deepest-leaf", leaf)
        names, _ = _deep_names()
        assert_serves(d, "'" + "a" * 255, root.encode() + b"/" + names[0], type="d")
        st = d.status()
        assert st["entries"] == DEPTH + 2, st["entries"]  # and the leaf, and the root
        assert st["walk"]["errors"] == 0, st["walk"]
        d.stop_cleanly()
    finally:
        for d in FaultDaemon.running:
            if d.proc and d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()
        try:
            remove_deep_tree(root)
        finally:
            if is_mounted:
                subprocess.run(["umount", mount], check=False)


def test_a_100mb_line_gets_one_error_and_costs_no_memory(work):
    tree = small_tree(work)
    d = FaultDaemon(work, ["--root", tree, "--state-dir", f"{work}/state"], "big",
                    is_memory_measured=True).start()
    rss_before = d.rss_kib()
    flooder = d.client()
    sent = []

    def flood():
        chunk = b"a" * (1 << 20)
        flooder.send_raw(b'{"id":1,"op":"query","query":"')
        for _ in range(100):
            flooder.send_raw(chunk)
        sent.append(True)

    t = threading.Thread(target=flood)
    t.start()
    rss_peak = rss_before
    served = 0
    while t.is_alive() or not served:
        serves_small_tree(d, tree)
        served += 1
        rss_peak = max(rss_peak, d.rss_kib())
    t.join()
    assert sent, "the 100 MB were not all sent"
    flooder.send_raw(b'"}\n{"id":2,"op":"hello"}\n')
    msg = flooder.line()
    assert msg["id"] is None and "longer than 65536" in msg["error"], msg
    msg = flooder.line()  # the very next line answers the hello: one error, no more
    assert msg["id"] == 2 and msg["protocol"] == 1, msg
    flooder.close()
    print(f"  {served} queries served meanwhile; VmRSS {rss_before} -> peak {rss_peak} KiB")
    assert rss_peak - rss_before < 16 * 1024, (rss_before, rss_peak)
    serves_small_tree(d, tree)
    d.stop_cleanly()


def test_a_thousand_clients_at_once_are_all_answered(work):
    want = 1100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        raise Skip(f"needs {want} file descriptors; the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    tree = small_tree(work)
    # Started with the usual soft limit of 1024: the daemon raises its own.
    d = FaultDaemon(work, ["--root", tree, "--state-dir", f"{work}/state"], "many",
                    nofile=(1024, hard)).start()
    clients = []
    try:
        # Connected as fast as can be: a connect that finds the backlog full fails
        # (the socket has a timeout, so it is nonblocking) rather than waits.
        clients = [d.client() for _ in range(1000)]
        for c in clients:
            c.send(dict(op="query", query="nginxconf", limit=3))
        for c in clients:
            first = c.line()
            assert raw_path(first) == f"{tree}/etc/nginx/nginx.conf".encode(), first
            while "done" not in c.line():
                pass
        # Up to 1024 at once; the next is told so.
        clients += [d.client() for _ in range(24)]
        for c in clients[-24:]:
            assert c.answer(dict(op="hello"))[-1]["protocol"] == 1
        extra = Client(d.sock)
        assert extra.line() == {"id": None, "error": "too many connections"}
        try:
            assert extra.sock.recv(1) == b""
        except ConnectionResetError:
            pass
        extra.close()
        clients.pop().close()
        st = wait_until("a status once a slot is free", lambda: _status_if_let_in(d))
        assert st["clients"] == 1024, st["clients"]
    finally:
        for c in clients:
            c.close()
    wait_until("every connection freed", lambda: d.status()["clients"] == 1)
    assert "accept:" not in d.log_text(), d.log_text()
    serves_small_tree(d, tree)
    d.stop_cleanly()


def test_clients_that_stop_reading_hold_up_nobody(work):
    paths = generate_paths(30000, seed=3)
    d, _ = list_daemon(work, "stall", paths, is_memory_measured=True)
    d.start()
    rss_before = d.rss_kib()
    stalled = []
    for _ in range(8):
        c = d.client()
        c.send(dict(op="query", query="", limit=10000))
        stalled.append(c)
    # One more pipelines queries without end: the daemon stops reading it.
    pipeliner = d.client()
    pipeliner.sock.setblocking(False)
    line = b'{"id":1,"op":"query","query":"","limit":10000}\n'
    try:
        for _ in range(100000):
            pipeliner.sock.send(line)
    except BlockingIOError:
        pass
    stalled.append(pipeliner)

    target = paths[123].encode()
    latencies = []
    for _ in range(40):
        t0 = time.monotonic()
        assert_serves(d, "'" + paths[123], target)
        latencies.append(time.monotonic() - t0)
    latencies.sort()
    print(f"  beside {len(stalled)} stalled clients: median {1000 * latencies[20]:.0f} ms, "
          f"max {1000 * latencies[-1]:.0f} ms; VmRSS {rss_before} -> {d.rss_kib()} KiB")
    assert latencies[-1] < 5, latencies
    assert d.status()["clients"] == 1 + len(stalled)
    # Each stalled answer is bounded by the out buffer's high water, whatever was asked.
    assert d.rss_kib() - rss_before < 64 * 1024, (rss_before, d.rss_kib())
    # A stalled client that reads at last gets its whole answer.
    results = []
    while "done" not in (msg := stalled[0].line()):
        results.append(msg)
    assert len(results) == 10000 and msg["matched"] >= len(paths), (len(results), msg)
    for c in stalled:
        c.close()
    wait_until("the stalled clients freed", lambda: d.status()["clients"] == 1)
    assert_serves(d, "'" + paths[123], target)
    d.stop_cleanly()


def _remove(path):
    try:
        shutil.rmtree(path, ignore_errors=True)
    except RecursionError:  # what is left of a deep tree that a failure left behind
        print(f"  could not remove '{path}'", file=sys.stderr)


TESTS = [v for k, v in list(globals().items()) if k.startswith("test_")]


def main():
    if not os.access(TRAWLD, os.X_OK):
        print(f"fault_test: no {TRAWLD}; build it first", file=sys.stderr)
        return 2
    only = sys.argv[1:]
    root = tempfile.mkdtemp(prefix="trawl-fault-test.")
    os.chmod(root, 0o700)
    failed = passed = 0
    try:
        for t in TESTS:
            name = t.__name__
            if only and not any(o in name for o in only):
                continue
            work = os.path.join(root, name)
            os.makedirs(work)
            started = time.monotonic()
            try:
                t(work)
                print(f"ok   {name} ({time.monotonic() - started:.1f} s)")
                passed += 1
            except Skip as e:
                print(f"skip {name}: {e}")
            except Exception:  # noqa: BLE001 - every failure is reported
                failed += 1
                print(f"FAIL {name}")
                traceback.print_exc()
                for d in FaultDaemon.running:
                    if d.work == work:
                        print(f"daemon log ({d.log}):\n" + d.log_text()[-3000:])
            finally:
                for d in FaultDaemon.running:
                    if d.proc and d.proc.poll() is None:
                        d.proc.kill()
                        d.proc.wait()
                FaultDaemon.running.clear()
                _remove(work)
    finally:
        _remove(root)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
