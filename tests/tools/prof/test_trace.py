"""tvm run --trace and tools/trace.py: each instruction with pc, opcode,
operands, line and operand stack; filters; the limit; records from the API."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from prof_programs import FIBERS, tvm

from tinyvm import VM
from tinyvm.bytecode.disasm import instructions
from tinyvm.tools.trace import (
    Tracer,
    TraceRecord,
    format_record,
    parse_lines,
    short_repr,
)

ADD = """fn add(a, b) {
  return a + b
}
let xs = [1, 2]
print(add(40, 2))
print(add(1, 1))
"""


def trace(source: str, jit: str = "off", **kw) -> tuple[Tracer, str]:
    out = io.StringIO()
    vm = VM(stdout=out, jit=jit)
    with Tracer(vm, **kw) as t:
        vm.run_source(source, "add.tl")
    return t, out.getvalue()


def test_records_follow_the_program():
    t, out = trace(ADD)
    assert out == "42\n2\n"
    recs = t.records
    assert all(isinstance(r, TraceRecord) for r in recs)
    counts = [r.count for r in recs]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    add = [r for r in recs if r.function == "add"]
    # add runs twice: LOAD_LOCAL a, LOAD_LOCAL b, ADD, RETURN each time
    ops = [r.op for r in add]
    assert ops[: len(ops) // 2] == ops[len(ops) // 2 :]
    assert "ADD" in ops and ops[-1] == "RETURN"
    first_add = next(r for r in add if r.op == "ADD")
    assert first_add.stack == ("40", "2") and first_add.line == 2 and first_add.path == "add.tl"
    second_add = [r for r in add if r.op == "ADD"][1]
    assert second_add.stack == ("1", "1")
    ret = next(r for r in add if r.op == "RETURN")
    assert ret.stack == ("42",)
    # operands decoded as the disassembler does
    loads = [r for r in add if r.op == "LOAD_LOCAL"]
    assert [r.argrepr for r in loads[:2]] == ["a", "b"]
    top = {r.depth for r in recs if r.function == "<module>"}
    assert len(top) == 1 and {r.depth for r in add} == {top.pop() + 1}  # one frame deeper


def test_operands_match_the_disassembler():
    t, _ = trace(ADD)
    vm_code = None
    for r in t.records:
        if r.function == "add":
            vm_code = r
            break
    assert vm_code is not None
    # every record's (pc, op) is an instruction of its code
    fn_code = next(c for c in t._listings if c.name == "add")
    table = {i.offset: i for i in instructions(fn_code)}
    for r in t.records:
        if r.function == "add":
            assert table[r.pc].opname == r.op and table[r.pc].operands == r.operands


def test_filters():
    t, _ = trace(ADD, fn="add")
    assert t.records and {r.function for r in t.records} == {"add"}
    t, _ = trace(ADD, lines=(4, 4))
    assert t.records and {r.line for r in t.records} == {4}
    assert any(r.op == "MAKE_ARRAY" or r.op.startswith("MAKE") for r in t.records) or t.records


def test_limit_truncates_and_the_run_goes_on():
    out = io.StringIO()
    vm = VM(stdout=io.StringIO())
    t = Tracer(vm, limit=5, out=out).start()
    vm.run_source(ADD, "add.tl")
    t.finish()
    assert len(t.records) == 5 and t.truncated
    lines = out.getvalue().splitlines()
    assert len(lines) == 6 and lines[-1].startswith("trace truncated")
    assert vm.machine.hooks.stepping is False  # the hook is gone: full speed again


def test_not_truncated_when_it_fits():
    t, _ = trace(ADD, limit=100000)
    assert not t.truncated and len(t.records) > 10


def test_jit_on_traces_the_same_instructions():
    plain, _ = trace(ADD)
    jitted, out = trace(ADD, jit="eager")
    assert out == "42\n2\n"
    key = lambda t: [(r.function, r.pc, r.op, r.stack) for r in t.records]
    assert key(plain) == key(jitted)


def test_fibers_are_named_in_records():
    t, _ = trace(FIBERS, fn="work", limit=200)
    assert len({r.fiber for r in t.records}) >= 1 and all(r.fiber != 0 for r in t.records)
    text = format_record(t.records[0], fibers=True)
    assert text.split()[1] == f"f{t.records[0].fiber}"


def test_short_repr():
    assert short_repr("x" * 100).endswith("...") and len(short_repr("x" * 100)) == 24
    assert short_repr(None) == "nil" and short_repr(True) == "true" and short_repr(1.5) == "1.5"


def test_parse_lines():
    assert parse_lines("3-7") == (3, 7) and parse_lines("5") == (5, 5)
    for bad in ("a-b", "7-3", "0-2", ""):
        with pytest.raises(ValueError):
            parse_lines(bad)


# ----------------------------------------------------------------- the command


def test_cli_trace_to_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "add.tl").write_text(ADD)
    code, out, err = tvm(["run", "--trace", "--trace-fn", "add", "add.tl"])
    assert code == 0 and out == "42\n2\n"
    lines = err.splitlines()
    assert lines and all(" add " in line for line in lines)
    adds = [line for line in lines if " ADD " in line]
    assert len(adds) == 2 and adds[0].endswith("[40, 2]") and "add.tl:2:" in adds[0]


def test_cli_trace_out_limit_and_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "add.tl").write_text(ADD)
    code, out, err = tvm(["run", "--trace", "--trace-out", "t.txt", "--trace-limit", "3", "add.tl"])
    assert code == 0 and out == "42\n2\n" and err == ""
    lines = (tmp_path / "t.txt").read_text().splitlines()
    assert len(lines) == 4 and "trace truncated" in lines[-1]
    code, _, err = tvm(["run", "--trace", "--trace-lines", "5-5", "add.tl"])
    assert code == 0 and err and all("add.tl:5:" in line for line in err.splitlines())
    assert tvm(["run", "--trace-lines", "x", "add.tl"])[0] == 64
    # a --trace-* option alone traces
    code, _, err = tvm(["run", "--trace-fn", "add", "--trace-limit", "2", "add.tl"])
    assert code == 0 and len(err.splitlines()) == 3 and " add " in err.splitlines()[0]
    code, _, err = tvm(["run", "--trace", "--trace-out", "/nonexistent/t.txt", "add.tl"])
    assert code == 1 and "cannot write the trace to /nonexistent/t.txt" in err


def test_lox_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "add.lox").write_text("fun add(a, b) { return a + b; }\nprint add(40, 2);\n")
    code, out, err = tvm(["run", "--trace-fn", "add", "add.lox"])
    assert code == 0 and out == "42\n"
    adds = [line for line in err.splitlines() if " ADD " in line]
    assert len(adds) == 1 and adds[0].endswith("[40.0, 2.0]") and "add.lox:1:" in adds[0]  # (Lox numbers are floats)


@pytest.mark.parametrize("jit", ["off", "eager"])
def test_past_the_limit_the_run_is_fused_again(jit: str):
    # Stepping runs plain instructions; once the tracer removes its hook the
    # run goes back to the fused ops. A VM that does not
    # count fuel counts dispatches: about as many as untraced, far fewer than
    # one per instruction.
    source = "fn work(n) {\n  var s = 0\n  for i in 0..n { s = s + i * 2 - 1 }\n  return s\n}\nfn main() { return work(30000) }\nprint(main())\n"

    def dispatches(limit: int | None, tier: str = jit) -> tuple[int, str]:
        out = io.StringIO()
        vm = VM(stdout=out, jit=tier)
        t = Tracer(vm, limit=limit).start() if limit is not None else None
        vm.run_source(source, "w.tl")
        if t is not None:
            assert t.truncated
        return vm.machine.limits.spent, out.getvalue()

    plain_vm = VM(stdout=io.StringIO(), fuse=False)
    plain_vm.run_source(source, "w.tl")
    # (with the JIT: the frame that was stepped goes on in the fused
    # interpreter, as after a deopt, until its function is called again)
    untraced, out = dispatches(None, "off")
    for limit in (0, 20, 500):
        traced, traced_out = dispatches(limit)
        assert traced_out == out
        assert traced <= untraced + limit + 50 < plain_vm.machine.limits.spent


def test_run_imports_no_tool_unless_asked(tmp_path: Path):
    # `tvm run` stays lean: the tools are imported only for their options
    probe = (
        "import sys\nfrom tinyvm.cli.main import main\n"
        "main(sys.argv[1:])\n"
        "print(sorted(m for m in sys.modules if m.startswith('tinyvm.tools.') or m == 'prometheus_client'), file=sys.stderr)\n"
    )
    def loaded(*argv: str) -> str:
        r = subprocess.run([sys.executable, "-c", probe, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True)
        return r.stderr.strip().splitlines()[-1]

    assert loaded("run", "-e", "print(1)") == "[]"
    assert loaded("run", "--trace", "--trace-limit", "1", "-e", "print(1)") == "['tinyvm.tools.runtools', 'tinyvm.tools.trace']"
