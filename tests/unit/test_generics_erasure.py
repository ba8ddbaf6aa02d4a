"""TinyLang 1.1 generics are erased (docs/tinylang-1.1.md): generic code compiles
to the instructions, constants and recorded types of its version with `any` for
each type parameter and the raw class for each generic instance, so generics
cost nothing at run time; interfaces reach the bytecode only as class names."""

from __future__ import annotations

from tinyvm.bytecode.code import CLASS_INTERFACE, ClassInfo, Code
from tinyvm.lang.driver import compile_program

GENERIC = """
class Stack<T> {
  var items: [T] = []
  fn push(x: T) { self.items.push(x) }
  fn pop() -> T? { if len(self.items) == 0 { return nil }; return self.items.pop() }
}
fn first<T>(xs: [T]) -> T? { if len(xs) == 0 { return nil }; return xs[0] }
fn max_by<T: Comparable>(xs: [T]) -> T? {
  var best: T? = nil
  for x in xs { if best == nil or x.compare(best) > 0 { best = x } }
  return best
}
let s = Stack<int>()
s.push(1)
let a = first([1, 2])
let b = max_by<int>([3, 4])
let c = Stack()
"""

ERASED = """
class Stack {
  var items: [any] = []
  fn push(x: any) { self.items.push(x) }
  fn pop() -> any { if len(self.items) == 0 { return nil }; return self.items.pop() }
}
fn first(xs: [any]) -> any { if len(xs) == 0 { return nil }; return xs[0] }
fn max_by(xs: [any]) -> any {
  var best: any = nil
  for x in xs { if best == nil or x.compare(best) > 0 { best = x } }
  return best
}
let s = Stack()
s.push(1)
let a = first([1, 2])
let b = max_by([3, 4])
let c = Stack()
"""


def codes(tmp_path, source: str, name: str) -> dict[str, Code]:
    path = tmp_path / f"{name}.tl"
    path.write_text(source)
    init = compile_program(str(path)).modules[name].init
    out: dict[str, Code] = {}

    def walk(code: Code) -> None:
        out[code.name] = code
        for k in code.consts:
            if isinstance(k, Code):
                walk(k)

    walk(init)
    return out


def shape(code: Code) -> tuple:
    """What runs: instructions, names, non-code constants, recorded types."""
    consts = tuple(k for k in code.consts if not isinstance(k, Code))
    return (code.code, code.names, consts, code.local_types, code.ret_type, code.arity, code.nlocals)


def test_generic_code_compiles_as_its_erased_version(tmp_path):
    g = codes(tmp_path, GENERIC, "generic")
    e = codes(tmp_path, ERASED, "erased")
    assert set(g) == set(e)
    for name in g:
        if name == "<module>":
            continue
        assert shape(g[name]) == shape(e[name]), name
    # The module body too, but for the path-dependent parts.
    assert g["<module>"].code == e["<module>"].code and g["<module>"].names == e["<module>"].names


def test_interfaces_reach_the_bytecode_as_names(tmp_path):
    source = """
interface Shape { fn area() -> float }
interface Named { fn name() -> string }
class Circle implements Shape { fn area() -> float { return 1.0 } }
class Ring extends Circle implements Named { fn name() -> string { return "r" } }
"""
    init = codes(tmp_path, source, "ifaces")["<module>"]
    infos = {k.name: k for k in init.consts if isinstance(k, ClassInfo)}
    assert infos["Shape"].flags & CLASS_INTERFACE and infos["Shape"].methods == ()
    assert not infos["Circle"].flags & CLASS_INTERFACE
    assert infos["Circle"].interfaces == ("Shape",)
    assert infos["Ring"].interfaces == ("Named", "Shape")  # its own first, then inherited


def test_subclass_of_a_generic_class_keeps_proven_calls(tmp_path):
    # Methods without the parent's type parameters are called as without
    # generics (CALL_METHOD_TYPED: the callee skips its entry checks), and a
    # generic method proven against its instantiation records the erased types.
    from tinyvm.bytecode.disasm import instructions

    source = """
class Base<R> {
  fn run() -> R { throw Error("abstract") }
  fn put(r: R, n: int) { }
}
class Ten extends Base<int> {
  fn helper(n: int) -> int { return n }
  fn run() -> int { self.put(1, 2); return self.helper(1) }
}
"""
    run = codes(tmp_path, source, "sub")["Ten.run"]
    typed = [i for i in instructions(run) if i.opname == "CALL_METHOD_TYPED"]
    assert len(typed) == 2
    assert {run.consts[i.operands[-1]] for i in typed} == {("int",), ("", "int")}
