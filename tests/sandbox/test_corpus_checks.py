"""The corpus's own checks catch what they are meant to catch (a check that cannot fail is a defect)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import Attempt, Fixture, Outcome, clean_problems, parse_attempt


@pytest.fixture
def fx(tmp_path):
    return Fixture.make(tmp_path)


PROBE = Path(__file__).resolve().parent / "attempts" / "reflection" / "typeof_everything.tl"  # any guest program


def _attempt(**kw) -> Attempt:
    a = Attempt(PROBE, tries="probe", status=kw.pop("status", 1))
    for k, v in kw.items():
        setattr(a, k, v)
    return a


def _problems(fx, out, a=None, before=None, after=None):
    snap = fx.snapshot()
    return clean_problems(a or _attempt(), fx, out, before or snap, after or snap)


def test_a_clean_run_has_no_problems(fx):
    assert _problems(fx, Outcome(1, "", "error: TypeError: x\n  at <module> (probe.tl:1:1)\n")) == []


@pytest.mark.parametrize(
    "stderr, what",
    [
        ("Traceback (most recent call last):\n", "traceback"),
        ("error: InternalError: KeyError: 'x'\n", "InternalError"),
        ("<tinyvm.heap.objects.Array object at 0x7f00deadbeef>\n", "repr"),
        ('  File "/x/machine.py", line 3, in run\n', "frame"),
        ("<class 'dict'>\n", "repr"),
    ],
)
def test_host_leaks_are_problems(fx, stderr, what):
    probs = _problems(fx, Outcome(1, "", stderr))
    assert any(what in p for p in probs), probs


def test_the_canary_and_host_paths_are_problems(fx):
    assert any("canary" in p for p in _problems(fx, Outcome(1, fx.canary, "")))
    assert any("host path" in p for p in _problems(fx, Outcome(1, "", f"at {fx.outside}/lib.tl")))


def test_a_side_effect_is_a_problem(fx):
    before = fx.snapshot()
    (fx.outside / "pwned.txt").write_text("x")
    probs = _problems(fx, Outcome(1, "", ""), before=before, after=fx.snapshot())
    assert any("outside/pwned.txt was created" in p for p in probs), probs


def test_status_hang_and_expected_messages(fx):
    a = _attempt(status=0, error=None, stdout=["a"], stderr=["needle"])
    probs = _problems(fx, Outcome(2, "b\n", "hay\n"), a)
    assert len(probs) == 3, probs
    assert any("did not end" in p for p in _problems(fx, Outcome(None, "", "")))
    assert any("signal 9" in p for p in _problems(fx, Outcome(-9, "", "")))


def test_a_header_without_tries_or_status_is_malformed(tmp_path):
    p = tmp_path / "bad.tl"
    p.write_text("// status: 1\nprint(1)\n")
    assert parse_attempt(p).problems == ["no 'tries:' line: say what the attempt tries"]
