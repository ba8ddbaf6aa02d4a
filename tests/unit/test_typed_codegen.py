"""What the checker's results do to the generated code: no run-time work where
types are proven, a check where `any` meets a typed place, and the types
recorded in code objects for later tiers."""

from __future__ import annotations

from tinyvm.bytecode.code import Code
from tinyvm.bytecode.disasm import instructions
from tinyvm.lang.driver import compile_program

PROGRAM = """
fn fib(n: int) -> int {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
class Vec {
  var x: float
  var y: float
  fn init(x: float, y: float) { self.x = x; self.y = y }
  fn add(o: Vec) -> Vec { return Vec(self.x + o.x, self.y + o.y) }
  fn scale(k: float) { self.x = self.x * k }
}
fn typed_calls() -> Vec {
  let v = Vec(1, 2)
  v.scale(3)
  return v.add(Vec(0.5, 0.5))
}
fn dynamic_calls(a, v: Vec) -> int {
  v.scale(a)
  let w = Vec(a, a)
  w.x = a
  let n: int = a
  return fib(a) + n
}
fn apply(f: fn(int) -> int, x: int) -> int { return f(x) }
fn inferred(xs: [int]) {
  let total = xs.reduce(fn(acc, x) => acc + x, 0)
  let names = ["a", "b"]
  return total
}
"""


def compiled(tmp_path) -> dict[str, Code]:
    path = tmp_path / "prog.tl"
    path.write_text(PROGRAM)
    init = compile_program(str(path)).modules["prog"].init
    out: dict[str, Code] = {}

    def walk(code: Code) -> None:
        out[code.name] = code
        for k in code.consts:
            if isinstance(k, Code):
                walk(k)

    walk(init)
    return out


def ops(code: Code) -> list[str]:
    return [i.opname for i in instructions(code)]


def test_proven_code_has_no_checks(tmp_path):
    codes = compiled(tmp_path)
    for name in ("fib", "Vec.init", "Vec.add", "Vec.scale", "typed_calls", "apply"):
        assert "CHECK_TYPE" not in ops(codes[name]), name
    assert ops(codes["fib"]).count("CALL_GLOBAL") == 2
    assert "SET_FIELD" not in ops(codes["Vec.init"]) and ops(codes["Vec.init"]).count("SET_FIELD_PROVEN") == 2
    typed = ops(codes["typed_calls"])
    # Constructors and methods called with proven arguments skip entry checks.
    assert typed.count("CALL_TYPED") == 2 and typed.count("CALL_METHOD_TYPED") == 2
    assert "CALL" not in typed and "CALL_METHOD" not in typed
    assert "CALL_TYPED" in ops(codes["apply"])  # f's parameter is proven int


def test_any_values_are_checked_where_they_meet_typed_places(tmp_path):
    code = compiled(tmp_path)["dynamic_calls"]
    ins = instructions(code)
    checks = [i.argrepr for i in ins if i.opname == "CHECK_TYPE"]
    # The field store through a known class and the typed variable are checked
    # here, and so is fib's argument (CALL_GLOBAL skips fib's entry check).
    assert checks == ["float, field 'x' of Vec", "int, variable 'n'", "int, argument 'n' of fib"]
    names = [i.opname for i in ins]
    # A method or constructor given an `any` argument checks it on entry.
    assert "CALL_METHOD" in names and "CALL" in names
    assert "CALL_TYPED" not in names and "CALL_METHOD_TYPED" not in names


def test_code_objects_record_types(tmp_path):
    codes = compiled(tmp_path)
    fib = codes["fib"]
    assert fib.local_types[:2] == ("", "int") and fib.ret_type == "int"
    dyn = codes["dynamic_calls"]
    assert dict(zip(dyn.local_names, dyn.local_types)) == {"dynamic_calls": "", "a": "", "v": "Vec", "w": "Vec", "n": "int"}
    inf = codes["inferred"]
    types = dict(zip(inf.local_names, inf.local_types))
    assert types["total"] == "int" and types["names"] == "[string]" and types["xs"] == "[int]"
    assert inf.ret_type == "int"  # inferred from the return
    lam = codes["<lambda>"]
    # Inferred lambda parameters are not recorded (nor checked on entry).
    assert lam.local_types[1:3] == ("", "") and lam.ret_type == "int"
