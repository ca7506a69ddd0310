#!/usr/bin/env python3
"""trawld --system end to end: one root daemon, real users and groups made for the test,
each connecting as itself and seeing only what it could list by walking down the tree.
Needs root and useradd (CI runs it as root); skips otherwise. Run by `make test`;
$TRAWL_BUILD names the build."""

import grp
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_test import TIMEOUT_S, TRAWLD, Client, Daemon, raw_path, run_each, work_dir  # noqa: E402

# How soon a chmod must show, in ms. The daemon takes a few (ENGINE_COALESCE_MS and a
# directory read), each poll a fork and a query; the rest is room for a sanitizer build
# on a busy machine.
CHMOD_BOUND_MS = 250


class Users:
    """Users and groups made for this run, with unique names; removed by remove()."""

    def __init__(self):
        self.tag = "trawl" + secrets.token_hex(3)
        self.users, self.groups = [], []

    def group(self, short):
        name = f"{self.tag}{short}"
        subprocess.run(["groupadd", name], check=True, capture_output=True)
        self.groups.append(name)
        return grp.getgrnam(name).gr_gid

    def user(self, short, extra_groups=()):
        name = f"{self.tag}{short}"
        self.groups.append(name)  # its own group, from --user-group
        cmd = ["useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin"]
        if extra_groups:
            cmd += ["--groups", ",".join(f"{self.tag}{g}" for g in extra_groups)]
        subprocess.run(cmd + [name], check=True, capture_output=True)
        self.users.append(name)
        pw = pwd.getpwnam(name)
        groups = os.getgrouplist(name, pw.pw_gid)
        return dict(name=name, uid=pw.pw_uid, gid=pw.pw_gid, groups=groups)

    def remove(self):
        for u in self.users:
            subprocess.run(["userdel", u], capture_output=True)
        for g in self.groups:
            subprocess.run(["groupdel", g], capture_output=True)


def as_user(user, sock, requests, walk_root=None):
    """Send `requests` over one connection as `user` (a forked child with the user's uid,
    gid and groups); return each request's answer lines, and with `walk_root` the paths
    the user can list by walking down from it."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        out = {}
        try:
            os.setgroups(user["groups"])
            os.setresgid(user["gid"], user["gid"], user["gid"])
            os.setresuid(user["uid"], user["uid"], user["uid"])
            c = Client(sock)
            out["answers"] = [c.answer(dict(req)) for req in requests]
            c.close()
            if walk_root:
                seen = []
                for dirpath, dirnames, filenames in os.walk(walk_root):
                    seen += [os.path.join(dirpath, n) for n in dirnames + filenames]
                out["walk"] = seen
        except BaseException as e:  # noqa: BLE001 - reported through the pipe
            out["error"] = repr(e)
        data = json.dumps(out).encode()
        while data:
            data = data[os.write(w, data):]
        os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    out = json.loads(b"".join(chunks))
    assert "error" not in out, f"as {user['name']}: {out['error']}"
    return out


def listing(user, env, query="", **fields):
    """The paths `user` gets for `query` (every one) and the done line."""
    lines = as_user(user, env["sock"], [dict(op="query", query=query, limit=10000,
                                             **fields)])["answers"][0]
    assert lines[-1].get("done"), lines[-1]
    return [raw_path(x).decode() for x in lines[:-1]], lines[-1]


def make_tree(env):
    t, u = env["tree"], env["users"]
    files = ["home/alice/notes/plan.txt", "home/alice/diary.txt", "home/bob/readme.txt",
             "srv/team/roadmap.txt", "srv/drop/inner/leak.txt", "pub/hello.txt"]
    for f in files:
        os.makedirs(os.path.dirname(os.path.join(t, f)), exist_ok=True)
        with open(os.path.join(t, f), "w") as fh:
            fh.write("x")
    alice, bob = u["alice"], u["bob"]
    for dirpath, dirnames, filenames in os.walk(f"{t}/home/alice"):
        for n in [dirpath] + [os.path.join(dirpath, f) for f in filenames]:
            os.chown(n, alice["uid"], alice["gid"])
    os.chmod(f"{t}/home/alice", 0o700)
    os.chown(f"{t}/home/bob", bob["uid"], bob["gid"])
    os.chown(f"{t}/srv/team", 0, env["team_gid"])
    os.chmod(f"{t}/srv/team", 0o750)
    # Others may enter the drop box but not list it: what is in it stays unseen.
    os.chmod(f"{t}/srv/drop", 0o711)


def wait_until(predicate, what):
    """Poll until predicate() holds; return the ms it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > TIMEOUT_S:
            raise AssertionError(f"{what}: not within {TIMEOUT_S} s")
        time.sleep(0.002)
    return (time.monotonic() - started) * 1000


# ---- the tests ----

def test_each_user_sees_exactly_what_it_could_list(env):
    t = env["tree"]
    for who in ("alice", "bob", "carol"):
        user = env["users"][who]
        out = as_user(user, env["sock"], [dict(op="query", query="", limit=10000)],
                      walk_root=t)
        lines = out["answers"][0]
        got = {raw_path(x).decode() for x in lines[:-1]} - {t}
        want = set(out["walk"])
        assert got == want, f"{who}: extra {sorted(got - want)}, missing {sorted(want - got)}"
        assert lines[-1]["matched"] == len(want) + 1, (who, lines[-1], len(want))


def test_another_users_private_home_is_invisible(env):
    t = env["tree"]
    bob = env["users"]["bob"]
    paths, done = listing(bob, env)
    assert f"{t}/home/alice" in paths, "the home itself is listed in /home"
    assert not [p for p in paths if p.startswith(f"{t}/home/alice/")], paths
    paths, done = listing(bob, env, "plan")
    assert paths == [] and done["matched"] == 0, (paths, done)
    for who in (env["users"]["alice"], env["root"]):
        paths, done = listing(who, env, "plan")
        assert paths[0] == f"{t}/home/alice/notes/plan.txt", (who["name"], paths)


def test_group_readable_directories_are_visible_to_the_group_only(env):
    t = env["tree"]
    paths, done = listing(env["users"]["carol"], env, "roadmap")
    assert paths == [f"{t}/srv/team/roadmap.txt"] and done["matched"] == 1, (paths, done)
    for who in ("alice", "bob"):
        paths, done = listing(env["users"][who], env, "roadmap")
        assert paths == [] and done["matched"] == 0, (who, paths, done)


def test_a_directory_one_may_enter_but_not_list_hides_its_contents(env):
    t = env["tree"]
    paths, done = listing(env["users"]["bob"], env, "leak")
    assert paths == [] and done["matched"] == 0, (paths, done)
    paths, _ = listing(env["users"]["bob"], env, "drop")
    assert paths == [f"{t}/srv/drop"], paths


def test_a_hidden_scope_answers_as_a_missing_one(env):
    t = env["tree"]
    bob = env["users"]["bob"]
    answers = as_user(bob, env["sock"], [
        dict(op="query", query="", under=f"{t}/home/alice/notes"),
        dict(op="query", query="", under=f"{t}/home/alice/no-such-dir"),
        dict(op="query", query="", under=f"{t}/home/alice"),
    ])["answers"]
    assert answers[0] == [{"id": 1, "error": "under: no such directory in the index"}], answers
    assert answers[1] == [{"id": 2, "error": "under: no such directory in the index"}], answers
    assert answers[2][-1]["matched"] == 0 and len(answers[2]) == 1, answers[2]


def test_status_counts_only_what_the_user_sees(env):
    t = env["tree"]
    for who in ("alice", "bob", "carol"):
        user = env["users"][who]
        out = as_user(user, env["sock"], [dict(op="status")], walk_root=t)
        st = out["answers"][0][-1]
        assert st["entries"] == len(out["walk"]) + 1, (who, st, len(out["walk"]))
        assert st["system"] is True and st["ready"] is True, st
        leaks = {"index", "directories", "clients", "picks", "snapshot", "watch"} & set(st)
        assert not leaks and set(st["walk"]) == {"state"}, (who, st)
    st = env["daemon"].status()
    assert st["system"] is True and "index" in st and "clients" in st, st


def test_only_root_may_stop_or_rescan_and_picks_are_not_kept(env):
    t = env["tree"]
    answers = as_user(env["users"]["bob"], env["sock"], [
        dict(op="shutdown"), dict(op="rescan"),
        dict(op="pick", path=f"{t}/pub/hello.txt"), dict(op="hello"),
    ])["answers"]
    assert "only root" in answers[0][0]["error"], answers
    assert "only root" in answers[1][0]["error"], answers
    assert answers[2] == [{"id": 3, "ok": True}], answers
    hello = answers[3][0]
    assert hello["system"] is True and "pick" not in hello["capabilities"], hello
    assert "frecency" not in hello["capabilities"], hello
    assert env["daemon"].proc.poll() is None
    assert env["daemon"].status()["picks"] == 0


def test_a_chmod_takes_effect_at_once(env):
    t = env["tree"]
    bob = env["users"]["bob"]
    home = f"{t}/home/alice"

    def bob_sees_diary():
        return f"{home}/diary.txt" in listing(bob, env, "diary")[0]

    try:
        os.chmod(home, 0o755)
        shown = wait_until(bob_sees_diary, "after chmod 755")
        os.chmod(home, 0o700)
        hidden = wait_until(lambda: not bob_sees_diary(), "after chmod 700")
    finally:
        os.chmod(home, 0o700)
    print(f"  chmod 755 shown in {shown:.0f} ms, chmod 700 hidden in {hidden:.0f} ms")
    assert shown < CHMOD_BOUND_MS and hidden < CHMOD_BOUND_MS, (shown, hidden)


def test_a_chgrp_moves_a_directory_to_another_group(env):
    t = env["tree"]
    team = f"{t}/srv/team"
    bob, carol = env["users"]["bob"], env["users"]["carol"]

    def sees(user):
        return f"{team}/roadmap.txt" in listing(user, env, "roadmap")[0]

    try:
        os.chown(team, 0, bob["gid"])
        ms = wait_until(lambda: sees(bob) and not sees(carol), "after chgrp")
    finally:
        os.chown(team, 0, env["team_gid"])
    wait_until(lambda: sees(carol) and not sees(bob), "after chgrp back")
    print(f"  chgrp took effect in {ms:.0f} ms")


def test_a_directory_renamed_into_a_closed_one_disappears(env):
    t = env["tree"]
    bob = env["users"]["bob"]
    src, dst = f"{t}/pub/moving", f"{t}/home/alice/moving"
    os.makedirs(f"{src}/inside")
    with open(f"{src}/inside/wanderer.txt", "w") as fh:
        fh.write("x")
    try:
        wait_until(lambda: f"{src}/inside/wanderer.txt" in listing(bob, env, "wanderer")[0],
                   "bob sees the new directory")
        os.rename(src, dst)
        ms = wait_until(lambda: listing(env["root"], env, "wanderer")[0]
                        == [f"{dst}/inside/wanderer.txt"], "root sees the move")
        paths, done = listing(bob, env, "wanderer")
        assert paths == [] and done["matched"] == 0, (paths, done)
        os.rename(dst, src)
        wait_until(lambda: f"{src}/inside/wanderer.txt" in listing(bob, env, "wanderer")[0],
                   "bob sees it back")
    finally:
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(dst, ignore_errors=True)
    print(f"  moved out of sight in {ms:.0f} ms")


def test_new_entries_under_a_closed_directory_stay_hidden(env):
    t = env["tree"]
    bob = env["users"]["bob"]
    path = f"{t}/home/alice/notes/fresh-secret.txt"
    with open(path, "w") as fh:
        fh.write("x")
    try:
        wait_until(lambda: listing(env["root"], env, "fresh-secret")[0] == [path],
                   "new file indexed")
        paths, done = listing(bob, env, "fresh-secret")
        assert paths == [] and done["matched"] == 0, (paths, done)
        paths, done = listing(bob, env, "")
        assert path not in paths, paths
    finally:
        os.unlink(path)


def test_system_mode_needs_root(env):
    bob = env["users"]["bob"]

    def become_bob():
        os.setgroups([])
        os.setresgid(bob["gid"], bob["gid"], bob["gid"])
        os.setresuid(bob["uid"], bob["uid"], bob["uid"])

    p = subprocess.run([TRAWLD, "--system", "--socket", f"{env['work']}/bob.sock",
                        "--root", env["tree"], "--state-dir", f"{env['work']}/bob-state"],
                       capture_output=True, timeout=TIMEOUT_S, preexec_fn=become_bob)
    assert p.returncode == 1 and b"must run as root" in p.stderr, p
    p = subprocess.run([TRAWLD, "--system", "--from-list", "/dev/null"], capture_output=True,
                       timeout=TIMEOUT_S)
    assert p.returncode == 2 and b"--from-list" in p.stderr, p


TESTS = [
    test_each_user_sees_exactly_what_it_could_list,
    test_another_users_private_home_is_invisible,
    test_group_readable_directories_are_visible_to_the_group_only,
    test_a_directory_one_may_enter_but_not_list_hides_its_contents,
    test_a_hidden_scope_answers_as_a_missing_one,
    test_status_counts_only_what_the_user_sees,
    test_only_root_may_stop_or_rescan_and_picks_are_not_kept,
    test_a_chmod_takes_effect_at_once,
    test_a_chgrp_moves_a_directory_to_another_group,
    test_a_directory_renamed_into_a_closed_one_disappears,
    test_new_entries_under_a_closed_directory_stay_hidden,
    test_system_mode_needs_root,
]


def main():
    if os.geteuid() != 0:
        print("skipped: trawld --system needs root, and so do the users this test makes")
        return 0
    missing = [c for c in ("useradd", "userdel", "groupadd", "groupdel") if not shutil.which(c)]
    if missing:
        print(f"skipped: no {', '.join(missing)} to make the test's users and groups")
        return 0
    users = Users()
    work = work_dir("trawl-system-test.")
    d = None
    failed = 0
    try:
        team_gid = users.group("team")
        env = dict(work=work, tree=os.path.join(work, "tree"), team_gid=team_gid,
                   root=dict(name="root", uid=0, gid=0, groups=[0]),
                   users=dict(alice=users.user("alice"), bob=users.user("bob"),
                              carol=users.user("carol", extra_groups=["team"])))
        # Every user must reach the socket and the tree through the work directory.
        os.chmod(work, 0o755)
        os.makedirs(env["tree"])
        make_tree(env)
        d = Daemon(work, ["--system", "--root", env["tree"], "--state-dir", f"{work}/state"])
        d.sock = os.path.join(work, "run", "socket")
        env.update(daemon=d, sock=d.sock)
        d.start()
        failed += run_each(TESTS, lambda t: t(env))
        failed += d.finish()
    except Exception:  # noqa: BLE001 - setting up failed: report, clean up
        failed += 1
        traceback.print_exc()
    finally:
        if d and d.proc:
            d.proc.kill()
            d.proc.wait()
        if failed and d:
            print(f"daemon log ({d.log}):\n" + d.log_text()[-4000:])
        users.remove()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(TESTS) - failed if failed <= len(TESTS) else 0} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
