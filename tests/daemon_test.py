#!/usr/bin/env python3
"""trawld end to end: a real daemon on a temporary tree and socket, spoken to over the
socket as docs/PROTOCOL.md says. Run by `make test`; $TRAWL_BUILD names the build."""

import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

BUILD = os.environ.get("TRAWL_BUILD", "build")
TRAWLD = os.path.abspath(os.path.join(BUILD, "trawld"))
TIMEOUT_S = 20


class Client:
    """One connection; reads answer lines and groups them by id."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT_S)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, obj):
        if "id" not in obj:
            obj = dict(obj, id=self.next_id)
            self.next_id += 1
        self.send_raw(json.dumps(obj).encode() + b"\n")
        return obj["id"]

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("daemon closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def answer(self, obj):
        """Send a request; return its lines up to the one that ends it."""
        rid = self.send(obj)
        lines = []
        while True:
            msg = self.line()
            assert msg.get("id") == rid, f"line for another id: {msg}"
            lines.append(msg)
            if "path" not in msg and "path_bytes" not in msg:
                return lines

    def query(self, query, **fields):
        lines = self.answer(dict(op="query", query=query, **fields))
        assert "error" not in lines[-1], lines[-1]
        assert lines[-1].get("done"), lines[-1]
        return lines[:-1], lines[-1]


def raw_path(result):
    if "path" in result:
        return result["path"].encode()
    return base64.b64decode(result["path_bytes"])


class Daemon:
    def __init__(self, work, args, name="d"):
        self.work = work
        self.sock = os.path.join(work, name + ".sock")
        self.log = os.path.join(work, name + ".log")
        self.args = args
        self.proc = None
        self.poll_s = 0.05  # benchmarks poll finer
        self.ready_timeout = TIMEOUT_S  # a huge tree on a loaded machine takes longer

    def start(self, wait=True):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [TRAWLD, "--socket", self.sock, "--rescan-interval", "0"] + self.args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        if wait:
            self.wait_ready()
        return self

    def client(self):
        return Client(self.sock)

    def status(self):
        c = self.client()
        try:
            return c.answer(dict(op="status"))[-1]
        finally:
            c.close()

    def wait_ready(self, walks=1):
        """Until the daemon answers, is ready and has finished `walks` walks."""
        deadline = time.time() + self.ready_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"trawld exited with {self.proc.returncode}:\n"
                                     + self.log_text())
            try:
                st = self.status()
                if st["ready"] and st["walk"]["state"] == "idle" and st["walk"]["walks"] >= walks:
                    return st
            except (OSError, EOFError):
                pass
            time.sleep(self.poll_s)
        raise AssertionError("trawld never became ready:\n" + self.log_text())

    def rescan(self):
        walks = self.status()["walk"]["walks"]
        c = self.client()
        assert c.answer(dict(op="rescan"))[-1] == {"id": 1, "ok": True}
        c.close()
        return self.wait_ready(walks + 1)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("trawld did not stop on " + sig.name)
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        return rc

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def finish(self):
        """Stop the daemon; returns how many of its checks failed: a non-zero exit, a
        sanitizer report in its log."""
        failed = 0
        rc = self.stop()
        if rc != 0:
            failed += 1
            print(f"FAIL trawld exited with {rc}")
        log = self.log_text()
        if "ERROR: AddressSanitizer" in log or "runtime error" in log or "LeakSanitizer" in log:
            failed += 1
            print("FAIL sanitizer report in the daemon's log:\n" + log)
        return failed


def work_dir(prefix):
    """A new private directory for a test run, named prefix + digits. mkdtemp's random
    letters would be in every indexed path, and a fuzzy query can match them: a test
    expecting no match for "plan" failed once the name held an 'a' before an 'n'."""
    base = tempfile.gettempdir()
    for _ in range(1000):
        path = os.path.join(base, f"{prefix}{random.randrange(10 ** 9):09d}")
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"no free directory name {prefix}* in {base}")


def run_each(tests, run):
    """Run each test through run(test), printing ok or FAIL and the traceback; returns
    how many failed."""
    failed = 0
    for t in tests:
        try:
            run(t)
            print(f"ok   {t.__name__}")
        except Exception:  # noqa: BLE001 - every failure is reported
            failed += 1
            print(f"FAIL {t.__name__}")
            traceback.print_exc()
    return failed


def make_tree(root):
    files = [
        "etc/nginx/nginx.conf",
        "etc/nginx/conf.d/default.conf",
        "etc/nginx/sites-available/default",
        "etc/ssh/sshd_config",
        "src/trawl/daemon/server.c",
        "src/trawl/daemon/engine.c",
        "src/trawl/README.md",
        "home/me/Documents/café.txt",
        "home/me/Documents/Résumé.pdf",
        "home/me/写真/猫.jpg",
        "deep/a/b/c/d/e/f/g/h/i/j/leaf.txt",
    ]
    for f in files:
        p = os.path.join(root, f)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as fh:
            fh.write("x")
    with open(os.path.join(root.encode(), b"home/me/caf\xe9-latin1.txt"), "w") as fh:
        fh.write("x")
    os.symlink(".", os.path.join(root, "home/me/loop"))
    os.symlink("/etc", os.path.join(root, "home/me/etc-link"))
    os.makedirs(os.path.join(root, "empty-dir"))


def tree_entries(root):
    """Every entry strictly under root, as bytes, as a walk would find them."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root.encode()):
        for n in dirnames + filenames:
            out.add(os.path.join(dirpath, n))
    return out


# ---- the tests ----

def test_hello_names_the_protocol(d, tree):
    c = d.client()
    msg = c.answer(dict(op="hello"))[-1]
    assert msg["protocol"] == 1 and "query" in msg["capabilities"], msg
    c.close()


def test_query_ranks_the_file_meant_first(d, tree):
    c = d.client()
    results, done = c.query("nginxconf", limit=5)
    assert raw_path(results[0]) == f"{tree}/etc/nginx/nginx.conf".encode(), results
    assert done["matched"] >= 2 and done["elapsed_us"] >= 0, done
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    c.close()


def test_limit_caps_results_but_not_matched(d, tree):
    c = d.client()
    results, done = c.query("e", limit=2, under=tree)
    assert len(results) == 2 and done["matched"] > 2, (results, done)
    c.close()


def test_positions_are_byte_offsets_of_the_match(d, tree):
    c = d.client()
    results, _ = c.query("cafe", positions=True, under=tree, type="f")
    top = [r for r in results if r.get("path", "").endswith("café.txt")][0]
    path = top["path"].encode()
    assert [path[p:p + 1] for p in top["positions"][:3]] == [b"c", b"a", b"f"], top
    # é is two bytes in UTF-8; its match points at its first byte.
    assert path[top["positions"][3]:top["positions"][3] + 2] == "é".encode(), top
    c.close()


def test_under_and_type_restrict_results(d, tree):
    c = d.client()
    results, _ = c.query("conf", under=f"{tree}/etc/nginx", limit=100)
    assert results and all(raw_path(r).startswith(f"{tree}/etc/nginx/".encode()) for r in results)
    results, _ = c.query("nginx", under=tree, type="d", limit=100)
    assert results and all(r["type"] == "d" for r in results), results
    results, _ = c.query("'loop", under=tree, type="l")
    assert [raw_path(r) for r in results] == [f"{tree}/home/me/loop".encode()], results
    lines = c.answer(dict(op="query", query="x", under=f"{tree}/no/such/dir"))
    assert lines[-1]["error"] == "under: no such directory in the index", lines
    c.close()


def test_non_utf8_names_come_as_path_bytes(d, tree):
    c = d.client()
    results, _ = c.query("latin1", under=tree)
    assert results[0]["path_bytes"], results
    assert raw_path(results[0]) == tree.encode() + b"/home/me/caf\xe9-latin1.txt"
    c.close()


def test_empty_query_matches_every_entry_in_scope(d, tree):
    c = d.client()
    results, done = c.query("", under=tree, limit=10000)
    assert set(raw_path(r) for r in results) == tree_entries(tree)
    assert done["matched"] == len(tree_entries(tree)), done
    c.close()


def test_symlinks_are_listed_not_followed(d, tree):
    c = d.client()
    results, _ = c.query("'loop", under=tree, limit=100)
    assert [raw_path(r) for r in results] == [f"{tree}/home/me/loop".encode()], results
    assert results[0]["type"] == "l", results
    results, _ = c.query("'etc-link/", under=tree)
    assert results == [], results
    c.close()


def test_bad_requests_get_an_error_and_the_connection_stays(d, tree):
    c = d.client()
    bad = [
        (b"this is not json", "not JSON"),
        (b"[1,2,3]", "JSON object"),
        (b'{"id":5,"op":"frobnicate"}', "unknown op 'frobnicate'"),
        (b'{"id":6,"op":"query"}', "missing 'query'"),
        (b'{"id":7,"op":"query","query":"a","limit":-1}', "'limit' must be"),
        (b'{"id":8,"op":"query","query":"foo !"}', "query: empty negation"),
        (b'{"id":9,"op":"query","query":"x","type":"q"}', "'type' must be"),
    ]
    for line, message in bad:
        c.send_raw(line + b"\n")
        msg = c.line()
        assert message in msg.get("error", ""), (line, msg)
    c.send_raw(b'{"id":10,"op":"query","query":"foo !"}\n')
    msg = c.line()
    assert msg == {"id": 10, "error": "query: empty negation", "offset": 4}, msg
    assert c.answer(dict(op="hello"))[-1]["protocol"] == 1
    c.close()


def test_an_oversized_line_is_refused_and_skipped(d, tree):
    c = d.client()
    c.send_raw(b'{"id":1,"op":"query","query":"' + b"a" * 300000 + b'"}\n')
    msg = c.line()
    assert msg["id"] is None and "longer than 65536" in msg["error"], msg
    assert c.answer(dict(op="hello"))[-1]["protocol"] == 1
    c.close()


def test_requests_split_across_writes_are_joined(d, tree):
    c = d.client()
    line = b'{"id":1,"op":"hello"}\n{"id":2,"op":"hel'
    c.send_raw(line)
    time.sleep(0.05)
    c.send_raw(b'lo"}\n')
    assert c.line()["id"] == 1 and c.line()["id"] == 2
    c.close()


def test_a_newer_query_ends_the_older_one(d, tree):
    c = d.client()
    c.send_raw(b'{"id":1,"op":"query","query":"e","limit":10000}\n'
               b'{"id":2,"op":"query","query":"nginx","limit":3}\n')
    ended = {}
    seen_after_end = []
    while len(ended) < 2:
        msg = c.line()
        if msg["id"] in ended:
            seen_after_end.append(msg)
        if msg.get("done") or "error" in msg:
            ended[msg["id"]] = msg
    assert not seen_after_end, seen_after_end
    assert not ended[2].get("cancelled"), ended
    c.send_raw(b'{"id":3,"op":"cancel","target":2}\n')
    assert c.line() == {"id": 3, "ok": True}
    c.close()


def test_a_client_that_leaves_mid_answer_harms_nobody(d, tree):
    for _ in range(20):
        c = d.client()
        c.send(dict(op="query", query="", limit=10000))
        c.close()
    c = d.client()
    results, _ = c.query("sshd")
    assert results and raw_path(results[0]).endswith(b"sshd_config")
    c.close()


def test_a_hundred_clients_at_once(d, tree):
    errors = []

    def one(k):
        try:
            c = d.client()
            for _ in range(3):
                results, done = c.query("nginxconf", limit=5)
                assert raw_path(results[0]).endswith(b"/etc/nginx/nginx.conf")
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"client {k}: {e!r}")

    threads = [threading.Thread(target=one, args=(k,)) for k in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:5]


def test_rescan_sees_new_renamed_and_deleted_entries(d, tree):
    os.makedirs(f"{tree}/new/project")
    with open(f"{tree}/new/project/zebra-notes.txt", "w") as f:
        f.write("z")
    os.rename(f"{tree}/src/trawl", f"{tree}/src/trawl-renamed")
    os.unlink(f"{tree}/etc/ssh/sshd_config")
    d.rescan()
    c = d.client()
    results, _ = c.query("zebra notes", under=tree)
    assert [raw_path(r) for r in results] == [f"{tree}/new/project/zebra-notes.txt".encode()]
    results, _ = c.query("server.c", under=tree)
    assert [raw_path(r) for r in results] == [
        f"{tree}/src/trawl-renamed/daemon/server.c".encode()], results
    results, _ = c.query("sshd_config", under=tree)
    assert results == [], results
    results, done = c.query("", under=tree, limit=10000)
    assert set(raw_path(r) for r in results) == tree_entries(tree)
    c.close()


def test_a_query_typed_on_one_connection_answers_as_a_fresh_one(d, tree):
    # Each keystroke on one connection may search only what the one before could not
    # rule out: the answers must be a fresh connection's, also across a change.
    typed = d.client()

    def check(q):
        mine, _ = typed.query(q, under=tree, limit=100)
        fresh = d.client()
        theirs, _ = fresh.query(q, under=tree, limit=100)
        fresh.close()
        key = [(raw_path(r), r["score"]) for r in mine]
        assert key == [(raw_path(r), r["score"]) for r in theirs], (q, mine, theirs)
        return mine

    text = "src daemon server.c"
    for k in range(1, len(text) + 1):
        if not text[:k].endswith(" "):
            check(text[:k])
    check("zebr")
    os.makedirs(f"{tree}/zoo")
    with open(f"{tree}/zoo/zebra-stripes.txt", "w") as f:
        f.write("z")
    d.rescan()
    found = check("zebra")
    assert any(raw_path(r).endswith(b"/zoo/zebra-stripes.txt") for r in found), found
    typed.close()


def test_a_directory_replaced_by_one_of_the_same_name_is_walked_anew(d, tree):
    """A rescan goes below an unchanged directory by what the index found there on the
    way down (hints); a directory replaced by another of the same name, and the rebuild
    that follows, must leave none of the old one's entries."""
    def touch(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("x")

    touch(f"{tree}/swap/a/b/c/old-only/old-leaf.txt")
    d.rescan()
    d.rescan()  # unchanged but for racy times: walked down by hints
    shutil.rmtree(f"{tree}/swap/a")
    touch(f"{tree}/swap/a/b/c/new-only/new-leaf.txt")
    for _ in range(2):
        d.rescan()
        c = d.client()
        results, _ = c.query("leaf", under=f"{tree}/swap")
        assert [raw_path(r) for r in results] == [
            f"{tree}/swap/a/b/c/new-only/new-leaf.txt".encode()], results
        results, _ = c.query("", under=tree, limit=10000)
        assert set(map(raw_path, results)) == tree_entries(tree)
        c.close()


def test_picks_rank_higher_when_asked(d, tree):
    c = d.client()
    results, _ = c.query("default", under=f"{tree}/etc/nginx", type="f")
    assert len(results) == 2, results
    second = results[1]["path"]
    assert c.answer(dict(op="pick", path=second))[-1]["ok"]
    again, _ = c.query("default", under=f"{tree}/etc/nginx", type="f", frecency=True)
    assert again[0]["path"] == second, again
    plain, _ = c.query("default", under=f"{tree}/etc/nginx", type="f")
    assert [r["path"] for r in plain] == [r["path"] for r in results], "frecency is off unless asked"
    assert d.status()["picks"] >= 1
    c.close()


def test_status_reports_the_index_and_the_walk(d, tree):
    st = d.status()
    assert st["ready"] is True and st["entries"] >= len(tree_entries(tree)), st
    assert st["walk"]["state"] == "idle" and st["walk"]["dirs_read"] > 0, st
    assert st["walk"]["backend"] in ("io_uring", "plain"), st
    assert st["clients"] >= 1 and st["pid"] == d.proc.pid, st


def test_another_user_is_refused(d, tree):
    if os.geteuid() != 0:
        print("  skipped: needs root to connect as another user")
        return
    os.chmod(d.work, 0o711)
    os.chmod(d.sock, 0o666)  # let the other user reach the daemon's own check
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            c = Client(d.sock)
            msg = c.line()
            os.write(w, json.dumps(msg).encode())
        except BaseException as e:  # noqa: BLE001 - reported through the pipe
            os.write(w, repr(e).encode())
        os._exit(0)
    os.close(w)
    got = os.read(r, 4096).decode()
    os.close(r)
    os.waitpid(pid, 0)
    os.chmod(d.work, 0o700)
    os.chmod(d.sock, 0o600)
    assert "serves another user" in got, got


def test_a_second_daemon_on_the_same_socket_refuses_to_start(d, tree):
    p = subprocess.run([TRAWLD, "--socket", d.sock, "--root", tree, "--state-dir",
                        f"{d.work}/state2"], capture_output=True, timeout=TIMEOUT_S)
    assert p.returncode == 1 and b"already serves" in p.stderr, p


def test_shutdown_saves_a_snapshot_and_restart_uses_it(d, tree):
    c = d.client()
    before, _ = c.query("", under=tree, limit=10000)
    assert c.answer(dict(op="shutdown"))[-1]["ok"]
    c.close()
    assert d.proc.wait(TIMEOUT_S) == 0, d.log_text()
    d.proc = None
    snaps = [f for f in os.listdir(f"{d.work}/state") if f.startswith("index-")]
    assert len(snaps) == 1, snaps
    d.start(wait=False)
    # Ready at once from the snapshot, before any walk has finished.
    st = d.wait_ready(walks=0)
    assert st["snapshot"]["loaded"] is True, st
    assert st["picks"] >= 1, "the picks are saved on shutdown and loaded again"
    c = d.client()
    after, _ = c.query("", under=tree, limit=10000)
    assert sorted(map(raw_path, after)) == sorted(map(raw_path, before))
    c.close()


def test_a_corrupt_snapshot_is_ignored_and_rebuilt(d, tree):
    d.stop()
    state = f"{d.work}/state"
    snap = [f for f in os.listdir(state) if f.startswith("index-")][0]
    with open(f"{state}/{snap}", "r+b") as f:
        f.seek(200)
        f.write(b"\xff" * 64)
    d.start()
    st = d.status()
    assert st["snapshot"]["loaded"] is False, st
    assert "not used" in d.log_text(), d.log_text()
    c = d.client()
    results, _ = c.query("", under=tree, limit=10000)
    assert set(map(raw_path, results)) == tree_entries(tree)
    c.close()


def test_sigterm_saves_and_exits_cleanly(d, tree):
    with open(f"{tree}/after-sigterm.txt", "w") as f:
        f.write("x")
    d.rescan()
    assert d.stop(signal.SIGTERM) == 0, d.log_text()
    d.start(wait=False)
    d.wait_ready(walks=0)
    c = d.client()
    results, _ = c.query("after-sigterm", under=tree)
    assert results, "the snapshot saved on SIGTERM has the new file"
    c.close()


def test_plain_walker_finds_the_same_entries(d, tree):
    plain = Daemon(d.work, ["--root", tree, "--state-dir", f"{d.work}/state-plain",
                            "--no-uring"], name="plain").start()
    try:
        c = plain.client()
        results, _ = c.query("", under=tree, limit=10000)
        assert set(map(raw_path, results)) == tree_entries(tree)
        assert plain.status()["walk"]["backend"] == "plain"
        c.close()
    finally:
        plain.stop()


def test_a_list_file_is_indexed_without_walking(d, tree):
    listing = f"{d.work}/list.txt"
    with open(listing, "wb") as f:
        f.write(b"/srv/www/index.html\n/srv/www/about/team.html\n/opt/tool/bin/\n")
    listed = Daemon(d.work, ["--from-list", listing, "--state-dir", f"{d.work}/state-list"],
                    name="list").start()
    try:
        c = listed.client()
        results, _ = c.query("team")
        assert [raw_path(r) for r in results] == [b"/srv/www/about/team.html"], results
        results, _ = c.query("bin", type="d")
        assert [raw_path(r) for r in results] == [b"/opt/tool/bin"], results
        c.close()
    finally:
        listed.stop()


def test_socket_activation_serves_the_inherited_socket(d, tree):
    path = f"{d.work}/activated.sock"
    unused = f"{d.work}/not-bound.sock"
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(16)
    fd = ls.fileno()
    env = dict(os.environ, TRAWL_SOCKET=unused)
    # As systemd does: the socket on fd 3, LISTEN_PID naming the daemon itself.
    script = f'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@" 3<&{fd}'
    with open(d.log, "ab") as log:
        p = subprocess.Popen(["sh", "-c", script, TRAWLD, "--root", tree, "--state-dir",
                              f"{d.work}/state-activated", "--rescan-interval", "0"],
                             pass_fds=(fd,), env=env, stdin=subprocess.DEVNULL,
                             stdout=log, stderr=log)
    ls.close()
    try:
        deadline = time.time() + TIMEOUT_S
        while True:
            c = Client(path)
            st = c.answer(dict(op="status"))[-1]
            c.close()
            if st["ready"]:
                break
            assert time.time() < deadline, st
            time.sleep(0.05)
        assert st["roots"] == [tree] and st["pid"] == p.pid, st
        assert not os.path.exists(unused), "it bound a socket of its own"
        p.send_signal(signal.SIGTERM)
        assert p.wait(TIMEOUT_S) == 0
        assert os.path.exists(path), "the socket it was given is systemd's to remove"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


TESTS = [v for k, v in list(globals().items()) if k.startswith("test_")]


def main():
    if not os.access(TRAWLD, os.X_OK):
        print(f"daemon_test: no {TRAWLD}; build it first", file=sys.stderr)
        return 2
    work = work_dir("trawl-daemon-test.")
    os.chmod(work, 0o700)
    tree = os.path.join(work, "tree")
    os.makedirs(tree)
    make_tree(tree)
    d = Daemon(work, ["--root", tree, "--state-dir", f"{work}/state"])
    failed = 0
    try:
        d.start()
        def run(t):
            if d.proc is None or d.proc.poll() is not None:
                d.start()
            t(d, tree)

        failed += run_each(TESTS, run)
        failed += d.finish()
    finally:
        if d.proc:
            d.proc.kill()
        if failed:
            print(f"daemon log ({d.log}):\n" + d.log_text()[-4000:])
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(TESTS) - failed if failed <= len(TESTS) else 0} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
