"""The escape corpus: one test per attempt file under tests/sandbox/attempts/.

Each attempt tries to get out of the sandbox -- reach a Python object, read a
file it was not granted, leak a host path or a file's lines in a message,
exhaust the host, take the host process down -- and says in its header the
clean outcome expected (corpus.py documents the format). The test runs it in
a subprocess with a timeout and an address-space limit, inside a fresh
fixture tree, and fails on anything that is not that clean outcome.

Attempts that need an issue-12 feature not in this code base yet (`needs:`)
are skipped with the reason; attempts that show a known hole (`xfail:`,
written down in tests/sandbox/FINDINGS.md) are strict xfails, so a fix makes
them fail until the marker is removed.

The runs are subprocesses that mostly wait (a bomb for its timeout, the rest
for Python to start), so the selected attempts are started together, a few
at a time (`TVM_SANDBOX_JOBS`, default: the number of cores, at least 2, at
most 4), longest first; each test then checks its own run's outcome.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import (
    ATTEMPTS,
    Fixture,
    all_attempts,
    clean_problems,
    command,
    missing_feature,
    run,
)

ATTEMPT_LIST = all_attempts()
CATEGORIES = sorted({a.path.relative_to(ATTEMPTS).parts[0] for a in ATTEMPT_LIST})


def _param(a):
    marks = []
    if a.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=a.xfail))
    return pytest.param(a, id=a.id, marks=marks)


JOBS = int(os.environ.get("TVM_SANDBOX_JOBS", "0")) or min(4, max(2, os.cpu_count() or 1))


def _runnable(a) -> bool:
    return not a.problems and not any(missing_feature(n) for n in a.needs)


def _run_one(a, root: Path):
    fx = Fixture.make(root)
    argv = command(a, fx)
    before = fx.snapshot()
    outcome = run(a, fx, argv)
    return fx, before, outcome, fx.snapshot()


@pytest.fixture(scope="session")
def runs(request, tmp_path_factory):
    """The runs of the selected attempts, started together (module docstring):
    attempt id -> Future of (fixture, snapshot before, outcome, snapshot after)."""
    selected = [item.callspec.params["attempt"] for item in request.session.items if item.originalname == "test_attempt" and hasattr(item, "callspec")]
    todo = sorted((a for a in selected if _runnable(a)), key=lambda a: (-a.timeout if a.xfail else 0.0, a.kind != ".py"))
    pool = ThreadPoolExecutor(max_workers=JOBS, thread_name_prefix="sandbox")
    futures: dict[str, Future] = {a.id: pool.submit(_run_one, a, tmp_path_factory.mktemp("attempt")) for a in todo}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("attempt", [_param(a) for a in ATTEMPT_LIST])
def test_attempt(attempt, runs):
    assert not attempt.problems, f"{attempt.id}: malformed header: {attempt.problems}"
    for need in attempt.needs:
        if reason := missing_feature(need):
            pytest.skip(reason)
    fx, before, outcome, after = runs[attempt.id].result()
    problems = clean_problems(attempt, fx, outcome, before, after)
    assert not problems, (
        f"{attempt.id}: {attempt.tries}\n  " + "\n  ".join(problems)
        + f"\n--- stdout ---\n{outcome.stdout[-3000:]}\n--- stderr ---\n{outcome.stderr[-3000:]}"
    )  # fmt: skip


def test_corpus_size_and_spread():
    """The issue asks for at least 60 attempts over these categories."""
    assert len(ATTEMPT_LIST) >= 60, len(ATTEMPT_LIST)
    want = {"reflection", "prelude", "tvm", "messages", "imports", "api", "bombs", "host"}
    assert want <= set(CATEGORIES), want - set(CATEGORIES)


def test_every_xfail_is_a_finding():
    """A strict xfail names a hole written down in FINDINGS.md (by its F-number)."""
    findings = (Path(__file__).resolve().parent / "FINDINGS.md").read_text(encoding="utf-8")
    for a in ATTEMPT_LIST:
        if a.xfail:
            ref = a.xfail.split()[0]
            assert ref.startswith("F") and f"## {ref}" in findings, f"{a.id}: xfail {a.xfail!r} names no finding of FINDINGS.md"
