"""The hook API (vm/hooks.py): which events fire, in what order, with what
data, identically on every tier; and that hooks end cleanly."""

from __future__ import annotations

import io

import pytest

from tinyvm.api import VM
from tinyvm.vm.hooks import EVENTS, HookError

PROGRAM = """\
fn add(a: int, b: int) -> int {
  let c = a + b
  return c
}
var total = 0
for i in 0..2 {
  total = add(total, i)
}
print(total)
"""

EXPECTED = [
    ("call", "<module>", 1),
    ("line", "<module>", 1),
    ("line", "<module>", 5),
    ("line", "<module>", 6),
    ("line", "<module>", 7),
    ("call", "add", 2),
    ("line", "add", 2),
    ("line", "add", 3),
    ("return", "add", 0),
    ("line", "<module>", 7),
    ("line", "<module>", 6),
    ("line", "<module>", 7),
    ("call", "add", 2),
    ("line", "add", 2),
    ("line", "add", 3),
    ("return", "add", 1),
    ("line", "<module>", 7),
    ("line", "<module>", 6),
    ("line", "<module>", 9),
]

TIERS = [
    {},
    {"fuse": False},
    {"meter_fuel": True},
    {"jit": "eager"},
    {"jit": "eager", "fuse": False},
]


def _record(vm: VM, kinds=("line", "call", "return")) -> list:
    log: list = []
    for kind in kinds:
        if kind == "return":
            vm.machine.hooks.add(kind, lambda e: log.append((e.kind, e.data["code"].name, e.data["value"])))
        else:
            vm.machine.hooks.add(kind, lambda e: log.append((e.kind, e.code.name, e.line)))
    return log


@pytest.mark.parametrize("tier", TIERS, ids=lambda t: ",".join(f"{k}={v}" for k, v in t.items()) or "fused")
def test_line_call_return_same_on_every_tier(tmp_path, tier):
    f = tmp_path / "p.tl"
    f.write_text(PROGRAM)
    out = io.StringIO()
    vm = VM(stdout=out, **tier)
    log = _record(vm)
    vm.run_file(str(f))
    assert log == EXPECTED
    assert out.getvalue() == "1\n"


def test_count_is_deterministic_and_muted_code_is_not_counted(tmp_path):
    f = tmp_path / "p.tl"
    f.write_text(PROGRAM)
    counts = []
    for tier in TIERS:
        vm = VM(stdout=io.StringIO(), **tier)
        vm.machine.hooks.add("line", lambda e: None)
        vm.run_file(str(f))
        counts.append(vm.machine.hooks.count)
    assert len(set(counts)) == 1 and counts[0] > 20


def test_instruction_hook_sees_opcodes_and_stack(tmp_path):
    f = tmp_path / "p.tl"
    f.write_text("let x = 2 + 3\nprint(x * 4)\n")
    vm = VM(stdout=io.StringIO())
    seen = []
    vm.machine.hooks.add("instruction", lambda e: seen.append((e.data["op"], list(e.data["stack"]))), every=1)
    vm.run_file(str(f))
    ops = [op for op, _ in seen]
    assert "ADD" in ops or any(op.startswith("ADD") for op in ops)
    # Before the multiplication runs, both operands are on the stack.
    mul = next(i for i, op in enumerate(ops) if op.startswith("MUL"))
    assert seen[mul][1][-2:] == [5, 4]


def test_sampling_does_not_step_and_is_deterministic(tmp_path):
    f = tmp_path / "p.tl"
    f.write_text("var s = 0\nfor i in 0..20000 { s = s + i }\nprint(s)\n")
    runs = []
    for _ in range(2):
        # A VM that counts fuel samples by instructions, exactly on the JIT too.
        vm = VM(stdout=io.StringIO(), jit="on", jit_threshold="1,2", meter_fuel=True)
        samples = []
        vm.machine.hooks.add("instruction", lambda e, s=samples: s.append((e.code.name if e.code else None, e.pc)), every=500)
        vm.run_file(str(f))
        assert not vm.machine.hooks.stepping
        assert vm.machine.hooks.count == 0  # nothing stepped
        runs.append(samples)
    assert runs[0] == runs[1] and len(runs[0]) >= 5


def test_exception_event_knows_caught_from_uncaught(tmp_path):
    f = tmp_path / "p.tl"
    f.write_text(
        'fn boom(n: int) -> int {\n  if n == 0 { throw ValueError("zero") }\n  return boom(n - 1)\n}\n'
        'try { boom(2) } catch e { print("caught") }\nboom(1)\n'
    )
    vm = VM(stdout=io.StringIO())
    seen = []
    vm.machine.hooks.add("exception", lambda e: seen.append((e.code.name, e.line, e.depth, e.data["caught"], e.data["message"])))
    with pytest.raises(Exception, match="zero"):
        vm.run_file(str(f))
    assert seen == [("boom", 2, 4, True, "ValueError: zero"), ("boom", 2, 3, False, "ValueError: zero")]


def test_return_event_of_unwound_frames(tmp_path):
    f = tmp_path / "p.tl"
    f.write_text('fn f() -> int { throw "x" }\ntry { f() } catch e { print(e) }\n')
    vm = VM(stdout=io.StringIO())
    log = []
    vm.machine.hooks.add("return", lambda e: log.append((e.data["code"].name, e.data["unwound"])))
    vm.run_file(str(f))
    assert ("f", True) in log


def test_fiber_gc_and_jit_events(tmp_path):
    f = tmp_path / "p.tl"
    f.write_text("let t = spawn fn() -> int { return 42 }()\nvar xs = []\nfor i in 0..50 { xs.push([i]) }\nprint(await t)\n")
    vm = VM(stdout=io.StringIO(), gc_stress=True, jit="eager")
    seen: dict = {k: [] for k in ("fiber", "gc", "jit")}
    for k in seen:
        vm.machine.hooks.add(k, lambda e: seen[e.kind].append(e.data))
    vm.run_file(str(f))
    assert [d["action"] for d in seen["fiber"]][:2] == ["spawn", "switch"]
    assert "end" in [d["action"] for d in seen["fiber"]]
    assert seen["gc"] and all(d["ms"] >= 0 and d["live"] > 0 for d in seen["gc"])
    assert any(d["action"] == "compile" for d in seen["jit"])


def test_lox_lines(tmp_path):
    f = tmp_path / "p.lox"
    f.write_text("fun f(x) {\n  return x + 1;\n}\nvar a = f(1);\nprint a;\n")
    vm = VM(stdout=io.StringIO())
    log = _record(vm, kinds=("line",))
    vm.run_file(str(f))
    # (clox's positions: a function declaration is at its closing brace,
    # the module's implicit return at the end of the file)
    assert [x[2] for x in log] == [3, 4, 2, 4, 5, 6]


def test_hook_error_ends_the_run_and_remove_restores(tmp_path):
    f = tmp_path / "p.tl"
    f.write_text(PROGRAM)
    vm = VM(stdout=io.StringIO())
    hooks = vm.machine.hooks

    def bad(e):
        raise RuntimeError("nope")

    h = hooks.add("line", bad)
    with pytest.raises(HookError, match="nope"):
        vm.run_file(str(f))
    hooks.remove(h)
    assert not hooks.active and not hooks.stepping
    out = io.StringIO()
    vm2 = VM(stdout=out)
    vm2.run_file(str(f))
    assert out.getvalue() == "1\n"


def test_muted_suppresses_events(tmp_path):
    f = tmp_path / "p.tl"
    f.write_text(PROGRAM)
    vm = VM(stdout=io.StringIO())
    log = _record(vm)
    with vm.machine.hooks.muted():
        vm.run_file(str(f))
    assert log == [] and vm.machine.hooks.count == 0


def test_bad_registrations():
    vm = VM()
    with pytest.raises(ValueError, match="unknown hook event"):
        vm.machine.hooks.add("lines", lambda e: None)
    with pytest.raises(ValueError, match="every"):
        vm.machine.hooks.add("line", lambda e: None, every=3)
    with pytest.raises(ValueError, match="positive"):
        vm.machine.hooks.add("instruction", lambda e: None, every=0)
    assert set(EVENTS) == {"line", "call", "return", "exception", "instruction", "fiber", "gc", "jit"}
