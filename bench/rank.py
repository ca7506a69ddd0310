#!/usr/bin/env python3
"""Ranking-quality benchmark: where each fuzzy finder ranks the path a query was typed for.

Samples intended paths from the corpus, derives the queries people type for them, runs
trawl, fzf (both schemes) and fzy on each query and reports top-1, top-10 and mean
reciprocal rank, overall and per query kind. bench/README.md explains the method;
bench/rank.sh is the usual entry point. Standard library only.
"""

import argparse
import datetime
import os
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DEFAULT_CORPUS = Path(os.environ.get("TMPDIR", "/tmp")) / "trawl-corpus" / "debian-paths.txt"

# A rank past this counts as not found: reciprocal rank 0.
MAX_RANK = 1000

KINDS = ("basename", "nopunct", "parent-stem", "abbrev-prefix")

# Variables that would change what the peers do; the benchmark runs them on defaults.
SCRUBBED_ENV = ("FZF_DEFAULT_OPTS", "FZF_DEFAULT_OPTS_FILE", "FZF_DEFAULT_COMMAND")


@dataclass(frozen=True)
class Tool:
    name: str  # the column name in the TSV and the --tools value
    label: str  # how the tables show it
    template: tuple  # the command line, with {q} for the query
    joins_terms: bool = False  # fzy: no multi-term syntax, so the query is typed without spaces

    @property
    def binary(self) -> str:
        return self.template[0]

    def query(self, query: str) -> str:
        """The query as a user of this tool would type it."""
        return query.replace(" ", "") if self.joins_terms else query

    def argv(self, query: str) -> list:
        return [arg.replace("{q}", self.query(query)) for arg in self.template]


def make_tools(trawl_bin: str, names: list) -> list:
    # fzf gets --filter=Q so that a query starting with '-' cannot be read as an option.
    every = {
        "trawl": Tool("trawl", "`trawl --filter`", (trawl_bin, "--filter", "{q}")),
        "fzf": Tool("fzf", "`fzf --filter`", ("fzf", "--filter={q}")),
        "fzf-path": Tool(
            "fzf-path", "`fzf --filter --scheme=path`", ("fzf", "--filter={q}", "--scheme=path")
        ),
        "fzy": Tool("fzy", "`fzy -e` (spaces removed)", ("fzy", "-e", "{q}"), joins_terms=True),
    }
    unknown = [n for n in names if n not in every]
    if unknown:
        die(f"unknown tool {', '.join(unknown)}: choose from {', '.join(every)}")
    return [every[n] for n in names]


@dataclass
class Query:
    index: int
    kind: str
    text: str
    intended: str


@dataclass
class Run:
    """One tool's answer to one query: its first MAX_RANK lines and how many it printed."""

    head: list = field(default_factory=list)  # of bytes, without '\n'
    n_lines: int = 0
    error: str = ""  # empty when the tool succeeded


def die(message: str) -> None:
    print(f"rank.py: {message}", file=sys.stderr)
    sys.exit(2)


def warn(message: str) -> None:
    print(f"rank.py: warning: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Queries


def is_sampleable(line: bytes) -> bool:
    """Paths the benchmark can type: ASCII, no whitespace, a non-empty basename."""
    return (
        line.startswith(b"/")
        and not line.endswith(b"/")
        and line.isascii()
        and not re.search(rb"\s", line)
    )


def sample_paths(corpus: Path, seed: int, count: int) -> tuple:
    """`count` distinct sampleable paths drawn uniformly by a Random(seed), and the
    number of lines in the corpus.

    Draws line numbers one at a time and skips unusable lines, so that a smaller
    --count gives a prefix of a larger one with the same seed.
    """
    lines = corpus.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    rng = random.Random(seed)
    seen = set()
    picked = []
    while len(picked) < count:
        if len(seen) == len(lines):
            die(f"'{corpus}' has only {len(picked)} sampleable paths")
        i = rng.randrange(len(lines))
        if i in seen:
            continue
        seen.add(i)
        if is_sampleable(lines[i]):
            picked.append(lines[i].decode("ascii"))
    return picked, len(lines)


def first_alnum(s: str) -> str:
    m = re.search(r"[0-9a-z]", s)
    return m.group(0) if m else ""


def queries_for(path: str) -> list:
    """(kind, query) pairs typed for `path`, lowercased, in KINDS order (bench/README.md)."""
    parts = path.lower().split("/")[1:]
    base, dirs = parts[-1], parts[:-1]
    out = [("basename", base)]
    nopunct = re.sub(r"[^0-9a-z]", "", base)
    if nopunct and nopunct != base:
        out.append(("nopunct", nopunct))
    if dirs:
        dot = base.rfind(".")
        stem = base[:dot] if dot > 0 else base
        out.append(("parent-stem", f"{dirs[-1]} {stem}"))
    if len(dirs) >= 2:
        initials = first_alnum(dirs[-2]) + first_alnum(dirs[-1])
        if len(initials) == 2:
            out.append(("abbrev-prefix", f"{initials} {base[:4]}"))
    return out


def is_operator_free(query: str) -> bool:
    """Whether fzf and trawl (docs/QUERY.md) both read every term as a plain fuzzy term:
    no `'x`, `^x`, `!x`, `x$` nor `|`, and no backslash (trawl's escape character).
    """
    if "\\" in query:
        return False
    for term in query.split(" "):
        if term.startswith(("'", "^", "!")) or term == "|":
            return False
        if term != "$" and term.endswith("$"):
            return False
    return True


def make_queries(corpus: Path, seed: int, count: int) -> tuple:
    """The benchmark's queries, how many were dropped as operator syntax, and the number
    of lines in the corpus."""
    queries, dropped = [], 0
    paths, n_lines = sample_paths(corpus, seed, count)
    for path in paths:
        for kind, text in queries_for(path):
            if is_operator_free(text):
                queries.append(Query(len(queries), kind, text, path))
            else:
                dropped += 1
    return queries, dropped, n_lines


# ---------------------------------------------------------------------------------------
# Running the tools


class Prefilter:
    """A bench/prefilter process that holds the corpus in memory and writes, per query, the
    corpus lines any tool could match (bench/prefilter.c). Safe to share between threads.
    """

    def __init__(self, binary: str, corpus: Path):
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            [binary, str(corpus)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def write_subset(self, query: str, out_path: str) -> int:
        """Write the candidates for `query` to `out_path`; return how many there are."""
        with self.lock:
            try:
                self.proc.stdin.write(f"{query}\t{out_path}\n")
                self.proc.stdin.flush()
                answer = self.proc.stdout.readline()
            except BrokenPipeError:
                answer = ""
        if not answer.strip().isdigit():
            status = self.proc.poll()
            raise RuntimeError(f"prefilter failed on query '{query}' (exit status {status})")
        return int(answer)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def tool_env() -> dict:
    env = dict(os.environ)
    for name in SCRUBBED_ENV:
        env.pop(name, None)
    return env


def run_tool(argv: list, input_path: str, timeout_s: float) -> Run:
    """Run `argv` with `input_path` on stdin; keep its first MAX_RANK output lines.

    fzf exits 1 when nothing matches, so 0 and 1 both count as success. A tool that
    fails or runs past `timeout_s` gets `error` set; its answer counts as not found.
    """
    run = Run()
    with open(input_path, "rb") as stdin, tempfile.TemporaryFile() as stderr:
        try:
            # A session of its own, so that a timeout kills anything it started too.
            proc = subprocess.Popen(
                argv, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, env=tool_env(),
                start_new_session=True,
            )
        except OSError as e:
            run.error = f"cannot run {argv[0]}: {e.strerror}"
            return run
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        head, head_newlines, last = bytearray(), 0, b"\n"
        # Read everything, so that the tool never sees a closed pipe, but keep only the head.
        while chunk := proc.stdout.read(1 << 20):
            newlines = chunk.count(b"\n")
            if head_newlines < MAX_RANK:
                head += chunk
                head_newlines += newlines
            run.n_lines += newlines
            last = chunk[-1:]
        if last != b"\n":
            run.n_lines += 1
        rc = proc.wait()
        timer.cancel()
        run.head = bytes(head).split(b"\n")[: min(MAX_RANK, run.n_lines)]
        if timed_out.is_set():
            run.error = f"timed out after {timeout_s:g} s"
        elif rc not in (0, 1):
            stderr.seek(0)
            why = stderr.read(300).decode("utf-8", "replace").strip().splitlines()
            run.error = (f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}") + (
                f": {why[0]}" if why else ""
            )
    if run.error:
        run.head, run.n_lines = [], 0
    return run


def rank_of(run: Run, intended: str):
    """1-based rank of `intended` in the run's output, or None past MAX_RANK."""
    try:
        return run.head.index(intended.encode()) + 1
    except ValueError:
        return None


def check_tools(tools: list) -> None:
    for tool in tools:
        if tool.name == "trawl":
            if not os.access(tool.binary, os.X_OK):
                die(
                    f"'{tool.binary}' is missing: build it with 'make', "
                    "or leave trawl out with --tools fzf,fzf-path,fzy"
                )
        elif not shutil.which(tool.binary):
            die(
                f"{tool.binary} is not installed: run 'scripts/deps.sh bench' "
                f"or apt-get install {tool.binary}"
            )


def version_of(argv: list) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, env=tool_env())
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = out.stdout.strip().splitlines()
    return lines[0] if out.returncode == 0 and lines else ""


def versions(tools: list) -> str:
    seen = []
    for tool in tools:
        if tool.name == "trawl":
            rev = subprocess.run(
                ["git", "-C", str(REPO_DIR), "describe", "--always", "--dirty"],
                capture_output=True, text=True,
            ).stdout.strip()
            v = version_of([tool.binary, "--version"]) or "trawl"
            seen.append(f"{v} ({tool.binary}, git {rev or 'without commits'})")
        elif tool.binary == "fzf" and not any(s.startswith("fzf") for s in seen):
            seen.append(f"fzf {version_of(['fzf', '--version'])}")
        elif tool.binary == "fzy":
            m = re.match(r"fzy \S+", version_of(["fzy", "--version"]))
            seen.append(m.group(0) if m else "fzy")
    return ", ".join(seen)


def run_all(jobs: int, one, queries: list, workdir: str, prefilter: Prefilter) -> None:
    """Call one(query, workdir) for every query on `jobs` threads; stop at the first error."""
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        for future in [pool.submit(one, q, workdir) for q in queries]:
            future.result()
    except RuntimeError as e:
        pool.shutdown(cancel_futures=True)
        prefilter.close()
        die(str(e))
    pool.shutdown()
    prefilter.close()


# ---------------------------------------------------------------------------------------
# The benchmark


def benchmark(args, tools: list, queries: list) -> tuple:
    """Run every tool on every query; returns ({(query index, tool name): rank or None},
    {query index: candidate count}, {(query index, tool name) whose run failed})."""
    prefilter = Prefilter(args.prefilter, args.corpus)
    ranks, candidates, failed = {}, {}, set()
    done, lock, start = 0, threading.Lock(), time.monotonic()

    def one(q: Query, workdir: str) -> None:
        nonlocal done
        subset = os.path.join(workdir, f"q{q.index}.txt")
        n = prefilter.write_subset(q.text, subset)
        results = {}
        for tool in tools:
            run = run_tool(tool.argv(q.text), subset, args.timeout)
            if run.error:
                warn(f"{tool.name} on '{tool.query(q.text)}': {run.error}; counted as not found")
            results[tool.name] = (rank_of(run, q.intended), bool(run.error))
        os.unlink(subset)
        with lock:
            candidates[q.index] = n
            for name, (rank, has_failed) in results.items():
                ranks[q.index, name] = rank
                if has_failed:
                    failed.add((q.index, name))
            done += 1
            if args.verbose or done % 25 == 0 or done == len(queries):
                line = " ".join(f"{name}={rank or '-'}" for name, (rank, _) in results.items())
                print(
                    f"[{done}/{len(queries)} {time.monotonic() - start:.0f} s] "
                    f"{q.kind} '{q.text}' ({n} lines): {line}",
                    file=sys.stderr, flush=True,
                )

    with tempfile.TemporaryDirectory(prefix="trawl-rank-") as workdir:
        run_all(args.jobs, one, queries, workdir, prefilter)
    return ranks, candidates, failed


def write_tsv(path: Path, tools, queries, ranks: dict, candidates: dict, failed: set) -> None:
    """One row per query; a rank is `-` past MAX_RANK and `fail` when the tool failed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        cols = ["kind", "query", "intended", "candidates"] + [f"rank_{t.name}" for t in tools]
        print("\t".join(cols), file=f)
        for q in queries:
            row = [q.kind, q.text, q.intended, str(candidates[q.index])]
            row += [
                "fail" if (q.index, t.name) in failed else str(ranks[q.index, t.name] or "-")
                for t in tools
            ]
            print("\t".join(row), file=f)


def scores(rs: list) -> tuple:
    """(top-1 rate, top-10 rate, MRR, found rate) of a list of ranks (None: not found)."""
    n = len(rs) or 1
    return (
        sum(r == 1 for r in rs) / n,
        sum(r is not None and r <= 10 for r in rs) / n,
        sum(1 / r for r in rs if r) / n,
        sum(r is not None for r in rs) / n,
    )


def typed_for(corpus: Path, queries: list) -> dict:
    """For each (kind, query), how many corpus paths the same query is typed for.

    A query generated from several paths at once cannot tell them apart: no ranking can
    put the intended one first more often than one time in that many."""
    wanted = {(q.kind, q.text) for q in queries}
    counts = dict.fromkeys(wanted, 0)
    with open(corpus, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if not is_sampleable(line):
                continue
            for kq in queries_for(line.decode("ascii")):
                if kq in counts:
                    counts[kq] += 1
    return counts


def markdown(args, tools, queries, dropped, ranks, candidates, failed, elapsed_s) -> str:
    kinds = [k for k in KINDS if any(q.kind == k for q in queries)]
    sizes = sorted(candidates.values())
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    took = f"{elapsed_s:.0f} s" if elapsed_s < 120 else f"{elapsed_s / 60:.1f} min"
    out = [
        f"### Ranking quality: seed {args.seed}, {args.count} paths, {len(queries)} queries",
        "",
        f"- Command: `{args.command}`",
        f"- Date: {now}; run time {took} with {args.jobs} jobs on {os.cpu_count()} CPUs",
        f"- Corpus: `{args.corpus}`, {args.corpus_lines:,} paths",
        f"- Tools: {versions(tools)}",
        f"- Queries per kind: "
        + ", ".join(f"{k} {sum(q.kind == k for q in queries)}" for k in kinds)
        + f"; {dropped} dropped as operator syntax",
        f"- Prefiltered input per query: median {statistics.median(sizes):,.0f} lines, "
        f"max {sizes[-1]:,}" if sizes else "- no queries",
    ]
    n_failed = {t.name: sum(name == t.name for _, name in failed) for t in tools}
    if failed:
        counts = ", ".join(f"{name} {n}" for name, n in n_failed.items() if n)
        out.append(f"- Failed runs, counted as not found: {counts}")
    out += [
        "",
        f"| tool | top-1 | top-10 | MRR | in top {MAX_RANK} |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for t in tools:
        s = scores([ranks[q.index, t.name] for q in queries])
        out.append(f"| {t.label} | {s[0]:.1%} | {s[1]:.1%} | {s[2]:.3f} | {s[3]:.1%} |")
    out += [
        "",
        f"| kind | queries | tool | top-1 | top-10 | MRR | in top {MAX_RANK} |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for k in kinds:
        of_kind = [q for q in queries if q.kind == k]
        for t in tools:
            s = scores([ranks[q.index, t.name] for q in of_kind])
            out.append(
                f"| {k} | {len(of_kind)} | {t.label} | {s[0]:.1%} | {s[1]:.1%} | "
                f"{s[2]:.3f} | {s[3]:.1%} |"
            )
    typed = typed_for(args.corpus, queries)
    ceiling = sum(1 / max(1, typed[q.kind, q.text]) for q in queries) / (len(queries) or 1)
    unique = [q for q in queries if typed[q.kind, q.text] == 1]
    out += [
        "",
        f"**Ceiling.** Many queries are typed alike for several paths (a basename such as "
        f"`copyright` is shared by thousands). The intended path is drawn uniformly, so no "
        f"ranker can expect to pick it among its look-alikes more often than "
        f"**{ceiling:.1%}** top-1 on this set (a given run may land above by chance); per kind: "
        + ", ".join(
            f"{k} {sum(1 / max(1, typed[q.kind, q.text]) for q in queries if q.kind == k) / max(1, sum(q.kind == k for q in queries)):.1%}"
            for k in kinds
        )
        + f". {len(unique)} queries are typed for their intended path alone; on those:",
        "",
        f"| tool | queries | top-1 | top-10 | MRR |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for t in tools:
        s = scores([ranks[q.index, t.name] for q in unique])
        out.append(f"| {t.label} | {len(unique)} | {s[0]:.1%} | {s[1]:.1%} | {s[2]:.3f} |")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------
# Verifying that the prefilter changes no answer


def verify(args, tools: list, queries: list) -> int:
    """Run `args.verify` queries with each tool on the whole corpus and on the prefiltered
    subset; the first MAX_RANK lines and the number of matches must be identical."""
    k = min(args.verify, len(queries))
    picked = [queries[i * len(queries) // k] for i in range(k)]
    prefilter = Prefilter(args.prefilter, args.corpus)
    results, lock, start = [], threading.Lock(), time.monotonic()

    def one(q: Query, workdir: str) -> None:
        subset = os.path.join(workdir, f"q{q.index}.txt")
        n = prefilter.write_subset(q.text, subset)
        for tool in tools:
            full = run_tool(tool.argv(q.text), str(args.corpus), args.timeout)
            cut = run_tool(tool.argv(q.text), subset, args.timeout)
            with lock:
                results.append((q, tool, n, full, cut))
                print(
                    f"[{len(results)}/{k * len(tools)} {time.monotonic() - start:.0f} s] "
                    f"{tool.name} '{tool.query(q.text)}': {full.n_lines} matches in "
                    f"{args.corpus_lines:,} lines, {cut.n_lines} in {n:,}",
                    file=sys.stderr, flush=True,
                )
        os.unlink(subset)

    with tempfile.TemporaryDirectory(prefix="trawl-verify-") as workdir:
        run_all(args.jobs, one, picked, workdir, prefilter)

    bad = 0
    print(f"### Prefilter check: seed {args.seed}, {k} queries, `{args.command}`\n")
    print(f"| tool | queries | same first {MAX_RANK} lines | same match count | errors |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for tool in tools:
        mine = [r for r in results if r[1] is tool]
        errors = sum(bool(full.error or cut.error) for _, _, _, full, cut in mine)
        same_head = sum(not full.error and full.head == cut.head for _, _, _, full, cut in mine)
        same_count = sum(
            not full.error and full.n_lines == cut.n_lines for _, _, _, full, cut in mine
        )
        print(f"| {tool.label} | {len(mine)} | {same_head} | {same_count} | {errors} |")
    sizes = [n for _, _, n, _, _ in results]
    matches = [full.n_lines for _, _, _, full, _ in results]
    print(
        f"\nPrefiltered input: {min(sizes):,} to {max(sizes):,} lines of {args.corpus_lines:,}; "
        f"matches on the whole corpus: {min(matches):,} to {max(matches):,}."
    )
    for q, tool, _, full, cut in sorted(results, key=lambda r: (r[0].index, r[1].name)):
        if full.error or cut.error:
            bad += 1
            print(f"- ERROR {tool.name} '{q.text}': {full.error or cut.error}")
        elif full.head != cut.head or full.n_lines != cut.n_lines:
            bad += 1
            diff = next((i for i, (a, b) in enumerate(zip(full.head, cut.head)) if a != b), None)
            print(
                f"- MISMATCH {tool.name} '{q.text}': {full.n_lines} vs {cut.n_lines} matches, "
                f"first difference at line {diff + 1 if diff is not None else '(none in the head)'}"
            )
    print("\nAll identical." if bad == 0 else f"\n{bad} runs differ or failed.")
    return 1 if bad else 0


# ---------------------------------------------------------------------------------------


def parse_args():
    p = argparse.ArgumentParser(
        description="Ranking-quality benchmark of trawl, fzf and fzy (see bench/README.md).",
    )
    p.add_argument(
        "--seed", type=int, default=2, help="query set: 1 for tuning, 2 (default) is reported"
    )
    p.add_argument("--count", type=int, default=100, help="intended paths to sample (default 100)")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"default {DEFAULT_CORPUS}")
    p.add_argument("--trawl", default=str(REPO_DIR / "build" / "trawl"), help="the trawl binary")
    p.add_argument("--prefilter", default=str(REPO_DIR / "build" / "bench" / "prefilter"),
                   help="the bench/prefilter binary")
    p.add_argument("--tools", default="trawl,fzf,fzf-path,fzy",
                   help="comma-separated, from trawl,fzf,fzf-path,fzy (default all)")
    p.add_argument("--jobs", type=int, default=2, help="queries run in parallel (default 2)")
    p.add_argument("--timeout", type=float, default=120, help="seconds per tool run (default 120)")
    p.add_argument("--out", type=Path, help="per-query TSV (default bench/out/rank-SEED.tsv)")
    p.add_argument("--verify", type=int, metavar="K",
                   help="instead: check on K queries that the prefilter changes no tool's output")
    p.add_argument("--print-queries", action="store_true", help="instead: print the queries as TSV")
    p.add_argument("--command", help="the command line to report (default: this one)")
    p.add_argument("-v", "--verbose", action="store_true", help="a progress line per query")
    args = p.parse_args()
    if min(args.count, args.jobs, args.timeout, 1 if args.verify is None else args.verify) <= 0:
        p.error("--count, --jobs, --timeout and --verify must be positive")
    if args.command is None:
        args.command = shlex.join(["bench/rank.py", *sys.argv[1:]])
    return args


def main() -> int:
    args = parse_args()
    if not args.corpus.is_file() or args.corpus.stat().st_size == 0:
        die(
            f"corpus '{args.corpus}' is missing: bench/rank.sh makes it "
            "with shared/corpus/debian-paths.sh"
        )
    started = time.monotonic()
    queries, dropped, args.corpus_lines = make_queries(args.corpus, args.seed, args.count)
    if args.print_queries:
        for q in queries:
            print(f"{q.kind}\t{q.text}\t{q.intended}")
        return 0

    tools = make_tools(args.trawl, [t for t in args.tools.split(",") if t])
    check_tools(tools)
    if not os.access(args.prefilter, os.X_OK):
        target = os.path.relpath(args.prefilter, REPO_DIR)
        die(f"'{args.prefilter}' is missing: build it with 'make {target}'")
    if args.verify is not None:
        return verify(args, tools, queries)

    ranks, candidates, failed = benchmark(args, tools, queries)
    out = args.out or BENCH_DIR / "out" / f"rank-{args.seed}.tsv"
    write_tsv(out, tools, queries, ranks, candidates, failed)
    md = markdown(args, tools, queries, dropped, ranks, candidates, failed,
                  time.monotonic() - started)
    out.with_suffix(".md").write_text(md)
    print(md, end="")
    print(f"rank.py: per-query ranks in {out}, this table in {out.with_suffix('.md')}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
