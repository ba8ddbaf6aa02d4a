"""Raw slots (heap/layout.py "Raw slots", vm/object_ops.py `unboxed_fields`).

A field declared `int` (`bool`) that nothing sees holding anything but an
int (a bool) is kept as a C int64 (a byte) in its shape's slot. These tests check which fields
qualify (the early-assignment analysis, lang/tinylang/definite.py
`early_fields`, and the run-time rules: every declaration `int`, no
`$fields` first), that a raw shape is what the rest of the VM expects
(its refs, free, size, view, CPython's collector), and the debugger's
field writes. Raw slots are made in a VM with the native tier and under
TVM_TIER=packed (`Heap.unboxes`); elsewhere every field is boxed. The language-level behaviour, on every tier and on dict
instances, is tests/lang/06_classes/unboxed_fields.tl's.
"""

from __future__ import annotations

import gc
import io
import weakref
from pathlib import Path

import pytest

from tinyvm.api import VM
from tinyvm.heap.layout import FieldView, SlotInstance, make_shape
from tinyvm.heap.objects import _POISON

LANG = Path(__file__).resolve().parents[1] / "lang" / "06_classes" / "unboxed_fields.tl"


def _classes(src: str) -> dict:
    vm = VM(stdout=io.StringIO())
    vm.run_source(src, "t.tl")
    from tinyvm.heap.objects import Class

    return {o.name: o for o in vm.machine.heap.all_objects() if type(o) is Class}


def test_which_fields_of_the_language_tests_classes_are_raw() -> None:
    got = {name: set(c.unboxed) for name, c in _classes(LANG.read_text()).items() if c.info is not None}
    assert got["Counter"] == {"n", "big"}  # (constant int defaults)
    assert got["Peek"] == set()  # (a method call sees self first)
    assert got["Closure"] == set()  # (a closure captures self first)
    assert got["Early"] == {"a"}  # (a `let` before it sees nothing; `b`'s value reads self)
    assert got["Late"] == {"a"}  # (super.init first: the parent's; `c` after it)
    assert got["NoSuper"] == {"b"}  # (its own init, no super.init)
    assert got["Inherit"] == {"a"}  # (no init: the parent's)
    assert got["Flags"] == {"on", "seen"}  # (bools: a constant default, and assigned before a method call sees self)


@pytest.mark.parametrize(
    "src, want",
    [
        # a `$fields` method runs before init and could read the field
        ("class C { var a: int\n var l = [1]\n fn init() { self.a = 1 } }", set()),
        ("class C { var a: int\n var k: int = 2\n var l = [1]\n fn init() { self.a = 1 } }", {"k"}),
        # declared int here, any in a subclass: the subclass's is an object slot
        ("class C { var a: int = 1 }\nclass D extends C { var a: any = \"s\" }", {"C": {"a"}, "D": set()}),
        ("class C { var a: any = 1 }\nclass D extends C { var a: int = 2 }", {"C": set(), "D": set()}),
        # optional, float, any: not raw; bool is; an int default without
        # a type makes the field an int (checked as one)
        ("class C { var a = 1\n var b: int? = 1\n var c: float = 1\n var d: bool = true\n var e: any = 1\n var f: bool? = false }", {"a": "i", "d": "b"}),
        # a bool declared int somewhere else in the chain: not raw
        ("class C { var a: int = 1 }\nclass D extends C { var a: bool = true }", {"C": {"a": "i"}, "D": {}}),
        ("class C { var a: bool\n fn init() { self.a = true } }", {"a": "b"}),
        # a return before the assignment, a parameter default seeing self
        ("class C { var a: int\n fn init(x: bool) { if x { self.a = 1\n return }\n self.a = 2 } }", set()),
        ("class C { var a: int\n fn init(f: any = nil) { self.a = 1 } }", {"a"}),
        # super.init given self: the parent's early fields are not
        ("class P { var a: int\n fn init(o: any) { self.a = 1 } }\nclass C extends P { var b: int\n fn init() { self.b = 2\n super.init(self) } }", {"P": {"a"}, "C": {"b"}}),
        # assignments before super.init are early, as are the parent's
        ("class P { var a: int\n fn init() { self.a = 1 } }\nclass C extends P { var b: int\n fn init() { self.b = 2\n super.init() } }", {"P": {"a"}, "C": {"a", "b"}}),
        # a compound assignment reads the field first
        ("class C { var a: int = 0\n var b: int\n fn init() { self.a += 1\n self.b = 1 } }", {"a"}),
    ],
)
def test_the_rules(src: str, want: object) -> None:
    classes = _classes(src)
    if isinstance(want, set) or all(isinstance(v, str) for v in want.values()):  # type: ignore[union-attr]
        want = {"C": want}  # (C's fields: their names, or name -> kind)
    for name, fields in want.items():  # type: ignore[union-attr]
        got = classes[name].unboxed
        assert (got if isinstance(fields, dict) else set(got)) == fields, (name, src)


def test_a_raw_shape_is_a_shape_to_the_vm() -> None:
    shape = make_shape(("o", "n", "p", "q"), ("", "i", "", "b"))
    plain = make_shape(("o", "n", "p", "q"))
    assert shape.__base__ is SlotInstance and shape.__basicsize__ == plain.__basicsize__
    assert shape.RAW == ("", "i", "", "b") and plain.RAW == ("", "", "", "")
    assert shape.SIZE == plain.SIZE  # (the same accounting as any instance of three fields)

    class K:  # (a class object stand-in: the maker reads its template)
        template = {"o": None, "n": None, "p": "s", "q": None}

    obj = shape.MAKE(K)
    assert obj.values_list() == [None, 0, "s", False]  # (a raw slot's nil before init assigns it is 0, false)
    K.template = {"o": [1], "n": -(2**63), "p": 2**63 - 1, "q": True}
    obj = shape.MAKE(K)
    assert obj.values_list() == [[1], -(2**63), 2**63 - 1, True]
    assert obj.refs() == [[1], -(2**63), 2**63 - 1, True, K]  # (a dict instance's refs: every value, then the class)
    assert obj.refs() == SlotInstance.refs(obj)  # (the generated refs, the reference loop)
    view = FieldView(obj)
    view["n"] = 42
    view["q"] = False
    assert view["n"] == 42 and dict(view.items()) == {"o": [1], "n": 42, "p": 2**63 - 1, "q": False}
    with pytest.raises(OverflowError):
        view["n"] = 2**63  # (never a guest's: its ints are int64; CPython leaves -1 in the slot then)
    view["n"] = 42
    with pytest.raises(TypeError):
        view["q"] = 1  # (a bool slot checks first: the value stays)
    assert view["q"] is False
    # CPython's collector visits the object slots only, and frees a cycle
    # through one (the marker the cycle holds dies with it)
    class Marker:
        pass

    cyc = shape.MAKE(K)
    cyc.DESCS[0].__set__(cyc, cyc)
    marker = Marker()
    cyc.DESCS[2].__set__(cyc, marker)
    alive = weakref.ref(marker)
    del marker
    assert cyc in gc.get_referents(cyc) and alive() in gc.get_referents(cyc)
    assert not any(type(r) is int and r == 42 for r in gc.get_referents(obj))
    del cyc
    gc.collect()
    assert alive() is None
    obj.free()
    assert obj.cls is _POISON and obj.DESCS[0].__get__(obj) is _POISON and obj.DESCS[1].__get__(obj) == 42
    SlotInstance.free(obj)  # (the reference loop: skips the raw slot too)


def test_the_debugger_sets_a_raw_field_only_to_an_int(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyvm.heap.heap import Heap
    from tinyvm.tools.debugger.inspect import EvalError, set_child

    monkeypatch.setattr(Heap, "unboxes", True)  # (as in a VM with the native tier)
    vm = VM(stdout=io.StringIO())
    vm.run_source("class C { var n: int = 1\n var s: string = \"x\"\n var b: bool = true }\nlet c = C()", "t.tl")
    c = vm.get("c")
    assert type(c).RAW == ("i", "", "b")
    set_child(c, "n", 7)
    assert c.fields["n"] == 7
    with pytest.raises(EvalError, match="expected int, got string"):
        set_child(c, "n", "seven")
    with pytest.raises(EvalError, match="expected string, got int"):
        set_child(c, "s", 3)  # (the declared type, on any field)
    with pytest.raises(EvalError, match="expected bool, got int"):
        set_child(c, "b", 1)
    set_child(c, "b", False)
    assert c.fields["n"] == 7 and c.fields["s"] == "x" and c.fields["b"] is False


def test_only_a_native_vm_or_the_packed_tier_keeps_them_raw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyvm.cli.main import main
    from tinyvm.heap import layout

    src = "class C { var n: int = 1 }\nlet c = C()\n"
    vm = VM(stdout=io.StringIO())
    vm.run_source(src, "t.tl")
    assert type(vm.get("c")).RAW == ("",)  # (the interpreter boxes at each access: boxed)
    (tmp_path / "t.tl").write_text(src + "print(c.n + 1)\n")
    seen: list = []
    orig = layout.make_shape
    monkeypatch.setattr(layout, "make_shape", lambda names, raw=(): seen.append(raw) or orig(names, raw))
    monkeypatch.setenv("TVM_TIER", "packed")
    out = io.StringIO()
    assert main(["run", str(tmp_path / "t.tl")], stdout=out, stderr=io.StringIO()) == 0
    assert out.getvalue() == "2\n" and ("i",) in seen
    pytest.importorskip("llvmlite")
    from tinyvm.jit.native.layout import probe_raw_ok

    if probe_raw_ok():
        vm = VM(stdout=io.StringIO(), jit="native")
        vm.run_source(src, "t.tl")
        assert type(vm.get("c")).RAW == ("i",)
