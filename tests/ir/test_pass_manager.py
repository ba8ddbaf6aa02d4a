"""The pass manager (ir/passes/__init__.py): registration, `--passes` text,
verification after every pass, the `after` callback, and plugins."""

from __future__ import annotations

import pytest

from tinyvm.ir import passes as P
from tinyvm.ir.nodes import Instr
from tinyvm.ir.text import parse_function

IR = """\
fn f(v0: any, v1: int) -> int
b0:
  jump b1
b1: preds b0
  return v1
"""


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch):
    """A registry of two toy passes (the real ones are left alone)."""
    monkeypatch.setattr(P, "REGISTRY", {})
    monkeypatch.setattr(P, "_loaded", True)
    seen: list[str] = []

    @P.register("first", doc="records its name", order=1)
    def first(fn, ctx):
        seen.append("first")
        return False

    @P.register("second", doc="records its name", order=2)
    def second(fn, ctx):
        seen.append("second")
        return True

    @P.register("extra", doc="not in the default pipeline", order=3, default=False)
    def extra(fn, ctx):
        seen.append("extra")
        return False

    return seen


def test_default_pipeline_is_the_default_passes_in_order(registry) -> None:
    assert P.default_pipeline() == ["first", "second"]


@pytest.mark.parametrize(
    "text, pipeline",
    [
        ("default", ["first", "second"]),
        ("none", []),
        ("second,first", ["second", "first"]),
        ("default,-first", ["second"]),
        ("default,+extra", ["first", "second", "extra"]),
        ("extra, first", ["extra", "first"]),
    ],
)
def test_passes_text(registry, text: str, pipeline: list[str]) -> None:
    assert P.parse_passes(text) == pipeline


def test_an_unknown_pass_is_named_with_a_suggestion(registry) -> None:
    with pytest.raises(P.PassError, match=r"unknown pass 'secnd' \(did you mean 'second'\?\)"):
        P.parse_passes("default,secnd")


def test_run_pipeline_runs_in_order_and_reports_each_pass(registry) -> None:
    fn = parse_function(IR)
    after: list[tuple[str, bool]] = []
    P.run_pipeline(fn, ["second", "first", "extra"], verify_each=True, after=lambda name, f, changed: after.append((name, changed)))
    assert registry == ["second", "first", "extra"]
    assert after == [("second", True), ("first", False), ("extra", False)]


def test_a_pass_that_breaks_the_ir_is_named(registry) -> None:
    @P.register("breaker", doc="uses a value it never defines", order=9, default=False)
    def breaker(fn, ctx):
        b = fn.blocks[1]
        b.terminator.args = [Instr(99, "const", attrs=(1,), type=None)]
        return True

    with pytest.raises(P.PassError, match="pass 'breaker' left invalid IR in f"):
        P.run_pipeline(parse_function(IR), ["breaker"], verify_each=True)


def test_registering_two_passes_under_one_name_is_refused(registry) -> None:
    with pytest.raises(P.PassError, match="registered twice"):

        @P.register("first", doc="a clash", order=5)
        def other(fn, ctx):
            return False


def test_plugins_come_from_the_entry_point_group(monkeypatch: pytest.MonkeyPatch, registry) -> None:
    import importlib.metadata as md

    plugin = P.Pass("plugged", lambda fn, ctx: False, "a plugin's pass", 50, default=False)

    class EP:
        name, value = "plugged", "plugin_pkg:PASS"

        def load(self):
            return plugin

    class Broken(EP):
        name, value = "broken", "nowhere:PASS"

        def load(self):
            raise ImportError("No module named 'nowhere'")

    groups = {"tinyvm.passes": [EP()]}
    monkeypatch.setattr(md, "entry_points", lambda group: groups.get(group, []))
    monkeypatch.setattr(P, "_loaded", False)
    monkeypatch.setattr(P, "_MODULES", ())
    P.load()
    assert P.REGISTRY["plugged"] is plugin
    assert P.parse_passes("default,+plugged")[-1] == "plugged"

    groups["tinyvm.passes"] = [Broken()]
    monkeypatch.setattr(P, "_loaded", False)
    with pytest.raises(P.PassError, match="pass plugin 'broken' \\(nowhere:PASS\\) failed to load: ImportError"):
        P.load()
