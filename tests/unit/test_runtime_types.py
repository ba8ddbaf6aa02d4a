"""Run-time type boundary checks (issue 3): CHECK_TYPE, parameter checks on
function entry, field checks on SET_FIELD, and their verifier, .tvm and
disassembler support. Code objects are assembled by hand (tvm_samples.asm) and
run in a real VM, so these tests do not depend on the compiler."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tvm_samples import asm, replace, same  # noqa: E402

from tinyvm.api import VM  # noqa: E402
from tinyvm.bytecode.code import FLAG_INIT, FLAG_METHOD, FLAG_MODULE, Bundle, ClassInfo, Code, ModuleCode  # noqa: E402
from tinyvm.bytecode.disasm import format_code, instructions  # noqa: E402
from tinyvm.bytecode.tvmfile import FORMAT_VERSION, dump_bundle, load_bundle  # noqa: E402
from tinyvm.bytecode.verifier import VerifyError, verify_code, verify_module  # noqa: E402
from tinyvm.heap.objects import Array, BoundMethod, Class, Function, Instance, Map, Native, Record  # noqa: E402
from tinyvm.runtime.errors import GuestException, RtError  # noqa: E402
from tinyvm.vm.typecheck import TypeChecks, compile_check, identity, inline_test  # noqa: E402

# --------------------------------------------------------------------------- a tiny program builder


class Prog:
    """A one-module program: functions and classes bound to globals, in order.
    Global indexes are fixed up front (`g(name)`) so code can refer to them."""

    def __init__(self, *names: str) -> None:
        self.names = names
        self.items: list[tuple] = []

    def g(self, name: str) -> int:
        return self.names.index(name)

    def fn(self, name: str, code: Code) -> "Prog":
        self.items.append(("fn", name, code))
        return self

    def cls(self, name: str, info: ClassInfo, parent: str | None = None, methods: tuple = ()) -> "Prog":
        self.items.append(("cls", name, info, parent, methods))
        return self

    def bundle(self) -> Bundle:
        consts: list = []
        ops: list = []
        for item in self.items:
            if item[0] == "fn":
                _, name, code = item
                consts.append(code)
                ops += [("MAKE_CLOSURE", len(consts) - 1), ("STORE_GLOBAL", self.g(name))]
            else:
                _, name, info, parent, methods = item
                ops.append(("LOAD_GLOBAL", self.g(parent)) if parent else ("LOAD_NIL",))
                for m in methods:
                    consts.append(m)
                    ops.append(("MAKE_CLOSURE", len(consts) - 1))
                consts.append(info)
                ops += [("MAKE_CLASS", len(consts) - 1, len(methods)), ("STORE_GLOBAL", self.g(name))]
        ops += [("LOAD_NIL",), ("RETURN",)]
        init = asm("<module>", ops, consts=tuple(consts), flags=FLAG_MODULE, path="t.tl", local_names=("<module>",))
        m = ModuleCode("t.tl", "00" * 32, tuple(self.names), tuple(self.names), (), init)
        return Bundle("t", {"t": m})

    def run(self) -> VM:
        b = self.bundle()
        for m in b.modules.values():
            verify_module(m)  # hand-made code must pass the verifier like any .tvm
        vm = VM(stdout=io.StringIO(), gc_stress=os.environ.get("TVM_GC_STRESS") == "1")
        vm.run_bundle(b)
        return vm


def fn(name: str, ops: list, *, arity: int = 1, types: tuple[str, ...] = (), **kw) -> Code:
    names = kw.pop("local_names", None) or (name,) + tuple(f"p{i}" for i in range(1, arity + 1))
    return asm(name, ops, arity=arity, local_names=names, local_types=types, **kw)


def method(cls: str, name: str, params: tuple[str, ...], types: tuple[str, ...], ops: list, **kw) -> Code:
    flags = FLAG_METHOD | (FLAG_INIT if name == "init" else 0)
    kw.setdefault("local_types", ("", cls) + types)  # as the compiler records self
    return asm(f"{cls}.{name}", ops, arity=1 + len(params), local_names=(name, "self") + params, flags=flags, **kw)


def guest_error(call, *args) -> GuestException:
    with pytest.raises(GuestException) as info:
        call(*args)
    return info.value


# Two shapes of the same code: fused into an expression block (vm/blocks.py),
# and kept apart by NOPs so each instruction runs its own pre-decoded closure.
SHAPES = ("fused", "plain")


def spread(ops: list, shape: str) -> list:
    if shape == "fused":
        return ops
    out = []
    for op in ops:
        out += [op, ("NOP",)]
    return out[:-1]


# --------------------------------------------------------------------------- values


def animals() -> Prog:
    """Classes Animal, Dog extends Animal, and Cat (unrelated)."""
    p = Prog("check", "Animal", "Dog", "Cat", "xy", "x_only")
    p.cls("Animal", ClassInfo("Animal", (), (), ()))
    p.cls("Dog", ClassInfo("Dog", (), (), ()), parent="Animal")
    p.cls("Cat", ClassInfo("Cat", (), (), ()))
    return p


def check_prog(type_text: str, shape: str = "fused", place: str = "value of x") -> VM:
    p = animals()
    ops = spread([("LOAD_LOCAL", 1), ("CHECK_TYPE", 0), ("RETURN",)], shape)
    p.fn("check", fn("check", ops, consts=((type_text, place),)))
    return p.run()


def instance_of(vm: VM, cls_name: str) -> Instance:
    cls = vm.get(cls_name)
    return vm.machine.heap.alloc(Instance(cls, dict(cls.template)))


# --------------------------------------------------------------------------- CHECK_TYPE


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "type_text, value",
    [
        ("int", 3),
        ("float", 2.5),
        ("bool", True),
        ("string", "s"),
        ("nil", None),
        ("int?", None),
        ("int?", 7),
        ("string?", None),
        ("[int]", [1, 2]),
        ("[int]", ["not checked: shallow"]),
        ("[string: int]", {"a": 1}),
        ("any", "anything"),
        ("any", None),
    ],
)
def test_check_type_passes(type_text, value, shape):
    vm = check_prog(type_text, shape)
    assert vm.call("check", value) == value


@pytest.mark.parametrize("shape", SHAPES)
def test_check_type_widens_int_to_float(shape):
    vm = check_prog("float", shape)
    got = vm.call("check", 3)
    assert got == 3.0 and type(got) is float
    vm = check_prog("float?", shape)
    got = vm.call("check", 4)
    assert got == 4.0 and type(got) is float
    assert vm.call("check", None) is None


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "type_text, value, actual",
    [
        ("int", "3", "string"),
        ("int", 3.0, "float"),
        ("int", True, "bool"),  # bool is not an int
        ("float", True, "bool"),  # nor a number to widen
        ("float", "1.5", "string"),
        ("float", None, "nil"),
        ("float?", "x", "string"),
        ("bool", 1, "int"),
        ("string", None, "nil"),
        ("nil", 0, "int"),
        ("int?", 1.5, "float"),
        ("[int]", {"a": 1}, "map"),
        ("[string: int]", [1], "array"),
        ("{x: int}", [1], "array"),
        ("fn(int) -> int", 3, "int"),
        ("Animal", 3, "int"),
        ("Task<int>", [1], "array"),
        ("Chan<int>?", 1, "int"),
    ],
)
def test_check_type_fails_with_message(type_text, value, actual, shape):
    vm = check_prog(type_text, shape, place="argument 'n' of fib")
    e = guest_error(vm.call, "check", value)
    assert e.class_name == "TypeError"
    assert e.message == f"argument 'n' of fib: expected {type_text}, got {actual}"


@pytest.mark.parametrize("shape", SHAPES)
def test_check_type_error_points_at_the_instruction(shape):
    vm = check_prog("int", shape)
    e = guest_error(vm.call, "check", "s")
    line = 1 + (2 if shape == "plain" else 1)  # asm gives instruction i the line 1 + i
    assert e.trace[0] == f"at check (test.tl:{line}:1)"


def test_check_type_is_catchable():
    p = Prog("check")
    ops = [
        "try",
        ("LOAD_LOCAL", 1),
        ("CHECK_TYPE", 0),
        ("RETURN",),
        "handler",
        ("GET_FIELD", 0),
        ("RETURN",),
    ]
    p.fn("check", fn("check", ops, consts=(("int", "x"),), names=("message",), handlers=(("try", "handler", "handler", 0),)))
    vm = p.run()
    assert vm.call("check", 1) == 1
    assert vm.call("check", [1]) == "x: expected int, got array"


@pytest.mark.parametrize("shape", SHAPES)
def test_check_type_records_need_their_field_names(shape):
    p = animals()
    ops = [("LOAD_LOCAL", 1), ("CHECK_TYPE", 0), ("RETURN",)]
    maker = [("LOAD_CONST", 0), ("LOAD_CONST", 1), ("BUILD_RECORD", 2, 2), ("RETURN",)]
    p.fn("check", fn("check", spread(ops, shape), consts=(("{x: int, y: float}", "p"),)))
    p.fn("xy", fn("xy", maker, arity=0, consts=(1, "not checked", ("x", "y"))))
    p.fn("x_only", fn("x_only", [("LOAD_CONST", 0), ("BUILD_RECORD", 1, 1), ("RETURN",)], arity=0, consts=(1, ("x",))))
    vm = p.run()
    rec = vm.machine.run_function(vm.get("xy"), [])
    assert vm.call("check", rec) == {"x": 1, "y": "not checked"}  # shallow: field types unchecked
    e = guest_error(vm.call, "check", vm.machine.run_function(vm.get("x_only"), []))
    assert e.message == "p: expected {x: int, y: float}, got record"


@pytest.mark.parametrize("shape", SHAPES)
def test_check_type_classes_by_name_along_the_parent_chain(shape):
    vm = check_prog("Animal", shape)
    dog, animal, cat = instance_of(vm, "Dog"), instance_of(vm, "Animal"), instance_of(vm, "Cat")
    assert vm.call("check", animal).value is animal
    assert vm.call("check", dog).value is dog  # a subclass instance fits
    e = guest_error(vm.call, "check", cat)
    assert e.message == "value of x: expected Animal, got Cat"
    vm = check_prog("Dog?", shape)
    dog = instance_of(vm, "Dog")
    assert vm.call("check", dog).value is dog and vm.call("check", None) is None
    assert guest_error(vm.call, "check", instance_of(vm, "Animal")).message == "value of x: expected Dog?, got Animal"


def test_check_type_builtin_error_classes():
    vm = check_prog("Error")
    err = vm.machine.make_error("ValueError", "boom")
    assert vm.call("check", err).value is err
    vm = check_prog("ValueError")
    assert guest_error(vm.call, "check", vm.machine.make_error("TypeError", "x")).message == "value of x: expected ValueError, got TypeError"


@pytest.mark.parametrize("shape", SHAPES)
def test_check_type_fn_accepts_every_callable(shape):
    vm = check_prog("fn(int) -> string", shape)
    m = vm.machine
    callables = [vm.get("check"), m.builtins["print"], m.builtins["len"], vm.get("Animal")]
    callables.append(m.heap.alloc(BoundMethod(instance_of(vm, "Dog"), vm.get("check"))))
    for f in callables:
        assert vm.call("check", f).value is f
    assert guest_error(vm.call, "check", "f").message == "value of x: expected fn(int) -> string, got string"
    assert guest_error(vm.call, "check", instance_of(vm, "Cat")).message == "value of x: expected fn(int) -> string, got Cat"


# --------------------------------------------------------------------------- vm/typecheck.py directly


def test_compile_check_common_cases():
    assert compile_check("any", "p") is identity
    assert compile_check("any?", "p") is identity
    assert compile_check("int", "p")(5) == 5
    assert type(compile_check("float", "p")(5)) is float
    with pytest.raises(RtError) as info:
        compile_check("int", "argument 'n' of fib")(True)
    assert (info.value.cls, info.value.message) == ("TypeError", "argument 'n' of fib: expected int, got bool")


def test_compile_check_containers_and_callables():
    assert compile_check("[int]", "p")(a := Array([])) is a
    assert compile_check("[string: [int]]", "p")(m := Map({})) is m
    r = Record({"x": 1, "y": 2, "z": 3})
    assert compile_check("{x: int, y: int}", "p")(r) is r  # width: extra fields are fine
    assert compile_check("{}", "p")(r) is r
    with pytest.raises(RtError, match=r"^p: expected \{x: int, w: int\}, got record$"):
        compile_check("{x: int, w: int}", "p")(r)
    native = Native("f", lambda: None, 0)
    cls = Class("C", None, None)
    for v in (native, cls, BoundMethod(None, native)):
        assert compile_check("fn() -> nil", "p")(v) is v
    assert compile_check("(fn(int) -> int)?", "p")(None) is None


def test_compile_check_generics_by_typeof():
    class FakeTask:
        type_name = "task"

    t = FakeTask()
    assert compile_check("Task<int>", "p")(t) is t
    with pytest.raises(RtError, match="expected Chan<int>, got task"):
        compile_check("Chan<int>", "p")(t)
    # An instance of a user class named "task" is not a task.
    inst = Instance(Class("task", None, None), {})
    with pytest.raises(RtError, match="expected Task<int>, got task"):
        compile_check("Task<int>", "p")(inst)


def test_inline_tests_for_blocks():
    assert inline_test("int") == "type({v}) is int"
    assert inline_test("float?") == "type({v}) is float or {v} is None"
    assert inline_test("bool") == "{v} is True or {v} is False"
    for text in ("[int]", "Point", "any", "fn() -> int", "[int", 3):
        assert inline_test(text) is None


def test_compile_check_rejects_bad_text():
    from tinyvm.bytecode.types import TypeTextError

    with pytest.raises(TypeTextError):
        compile_check("class Point", "p")


def test_type_checks_cache_per_instance():
    a, b = TypeChecks(), TypeChecks()
    assert a.check("int", "p") is a.check("int", "p")
    assert a.check("int", "p") is not b.check("int", "p")
    bad = a.check("[int", "p")  # unverified code only: raises when run
    with pytest.raises(RtError, match="malformed type"):
        bad(1)
    with pytest.raises(RtError, match="malformed type"):
        a.check_const(("int",))(1)


def test_param_check_table():
    tc = TypeChecks()
    code = fn("f", [("LOAD_NIL",), ("RETURN",)], arity=4, types=("", "int", "", "any", "float"))
    checks = tc.params(code)
    assert [slot for slot, _ in checks.items] == [1, 4]
    assert checks.sig == ("int", "", "", "float")  # `any` is no type to check
    assert tc.params(code) is checks  # built once per code object
    # Equal signatures are one object: proven call sites compare by identity.
    other = fn("o", [("LOAD_NIL",), ("RETURN",)], arity=4, types=("", "int", "any", "", "float"))
    assert tc.params(other).sig is checks.sig
    assert tc.sig(("int", "any", "", "float")) is checks.sig
    assert tc.sig(("int", 3)) is None and tc.sig("int") is None  # malformed constants
    assert tc.params(fn("g", [("LOAD_NIL",), ("RETURN",)], arity=2, types=("", "", "any"))) is None
    assert tc.params(fn("h", [("LOAD_NIL",), ("RETURN",)], arity=2)) is None  # no local_types at all
    # Locals past the parameters are not checked, whatever their types.
    code = fn("k", [("LOAD_NIL",), ("RETURN",)], arity=1, local_names=("k", "a", "b"), types=("", "", "int"))
    assert tc.params(code) is None


# --------------------------------------------------------------------------- parameter checks


def typed_program(shape: str = "fused") -> Prog:
    """callee(n: int, x: float, s) returns [n, x, s]; callers by CALL and
    CALL_GLOBAL; class C { init(a: Animal); m(x: float) }, Sub extends C."""
    p = Prog("callee", "via_call", "via_call_global", "Animal", "Dog", "C", "via_method", "via_bound", "make_c", "Sub")
    ret3 = [("LOAD_LOCAL", 1), ("LOAD_LOCAL", 2), ("LOAD_LOCAL", 3), ("BUILD_ARRAY", 3), ("RETURN",)]
    p.fn("callee", fn("callee", ret3, arity=3, local_names=("callee", "n", "x", "s"), types=("", "int", "float", "")))
    call = [("LOAD_GLOBAL", p.g("callee")), ("LOAD_LOCAL", 1), ("LOAD_LOCAL", 2), ("LOAD_LOCAL", 3), ("CALL", 3), ("RETURN",)]
    p.fn("via_call", fn("via_call", spread(call, shape), arity=3))
    call_global = [("LOAD_LOCAL", 1), ("LOAD_LOCAL", 2), ("LOAD_LOCAL", 3), ("CALL_GLOBAL", p.g("callee"), 3), ("RETURN",)]
    p.fn("via_call_global", fn("via_call_global", spread(call_global, shape), arity=3))
    init = method("C", "init", ("a",), ("Animal",), [("LOAD_LOCAL", 1), ("RETURN",)])
    m = method("C", "m", ("x",), ("float",), [("LOAD_LOCAL", 2), ("RETURN",)])
    p.cls("Animal", ClassInfo("Animal", (), (), ()))
    p.cls("Dog", ClassInfo("Dog", (), (), ()), parent="Animal")
    p.cls("C", ClassInfo("C", (), (), ("init", "m")), methods=(init, m))
    # fn via_method(obj, v) { return obj.m(v) }
    by_method = [("LOAD_LOCAL", 1), ("LOAD_LOCAL", 2), ("CALL_METHOD", 0, 1), ("RETURN",)]
    p.fn("via_method", fn("via_method", spread(by_method, shape), arity=2, names=("m",)))
    # fn via_bound(obj, v) { let f = obj.m; return f(v) }
    bound = [("LOAD_LOCAL", 1), ("GET_FIELD", 0), ("LOAD_LOCAL", 2), ("CALL", 1), ("RETURN",)]
    p.fn("via_bound", fn("via_bound", spread(bound, shape), arity=2, names=("m",)))
    # fn make_c(a) { return C(a) }
    p.fn("make_c", fn("make_c", [("LOAD_GLOBAL", p.g("C")), ("LOAD_LOCAL", 1), ("CALL", 1), ("RETURN",)]))
    # class Sub extends C { m(x) { return super.m(x) } }  (Sub.m is untyped: C.m checks)
    super_m = [("LOAD_LOCAL", 1), ("LOAD_LOCAL", 2), ("LOAD_GLOBAL", p.g("C")), ("SUPER_CALL", 0, 1), ("RETURN",)]
    sub_m = method("Sub", "m", ("x",), ("",), super_m, names=("m",))
    p.cls("Sub", ClassInfo("Sub", (), (), ("m",)), parent="C", methods=(sub_m,))
    return p


@pytest.mark.parametrize("shape", SHAPES)
def test_call_checks_parameters_and_widens_into_the_slot(shape):
    vm = typed_program(shape).run()
    got = vm.call("via_call", 1, 2, "any")
    assert got == [1, 2.0, "any"] and type(got[1]) is float
    e = guest_error(vm.call, "via_call", "1", 2.0, None)
    assert (e.class_name, e.message) == ("TypeError", "argument 'n' of callee: expected int, got string")
    e = guest_error(vm.call, "via_call", 1, None, None)
    assert e.message == "argument 'x' of callee: expected float, got nil"


@pytest.mark.parametrize("shape", SHAPES)
def test_parameter_error_is_reported_at_the_call_site(shape):
    vm = typed_program(shape).run()
    e = guest_error(vm.call, "via_call", "1", 2.0, None)
    call_index = 4 if shape == "fused" else 8  # the CALL instruction
    assert e.trace == [f"at via_call (test.tl:{1 + call_index}:1)"]


@pytest.mark.parametrize("shape", SHAPES)
def test_call_global_does_not_check_parameters(shape):
    vm = typed_program(shape).run()
    got = vm.call("via_call_global", "not an int", 2, None)
    assert got == ["not an int", 2, None] and type(got[1]) is int


def test_host_calls_check_parameters():
    vm = typed_program().run()
    assert vm.call("callee", 1, 2, 3) == [1, 2.0, 3]
    e = guest_error(vm.call, "callee", 1.5, 2, 3)
    assert e.message == "argument 'n' of callee: expected int, got float"


@pytest.mark.parametrize("shape", SHAPES)
def test_method_calls_check_parameters(shape):
    vm = typed_program(shape).run()
    c = vm.call("make_c", instance_of(vm, "Dog"))  # init(a: Animal) accepts a Dog
    got = vm.call("via_method", c, 3)
    assert got == 3.0 and type(got) is float
    e = guest_error(vm.call, "via_method", c, "3")
    assert e.message == "argument 'x' of C.m: expected float, got string"
    assert e.trace[0].startswith("at via_method ")
    got = vm.call("via_bound", c, 4)
    assert got == 4.0 and type(got) is float
    assert guest_error(vm.call, "via_bound", c, [4]).message == "argument 'x' of C.m: expected float, got array"


def test_constructor_checks_init_parameters():
    vm = typed_program().run()
    e = guest_error(vm.call, "make_c", 5)
    assert e.message == "argument 'a' of C.init: expected Animal, got int"
    assert e.trace == ["at make_c (test.tl:3:1)"]


def test_super_call_checks_parameters():
    vm = typed_program().run()
    sub = instance_of(vm, "Sub")
    got = vm.call("via_method", sub, 2)
    assert got == 2.0 and type(got) is float
    e = guest_error(vm.call, "via_method", sub, "2")
    assert e.message == "argument 'x' of C.m: expected float, got string"
    assert e.trace[0].startswith("at Sub.m ")


def proven_program() -> Prog:
    """Call sites that proved their arguments (CALL_TYPED, CALL_METHOD_TYPED)
    against the callee's declared types, or against other types."""
    p = Prog("callee", "typed_same", "typed_other", "C", "via_method_typed", "make_c_typed", "Animal")
    ret2 = [("LOAD_LOCAL", 1), ("LOAD_LOCAL", 2), ("BUILD_ARRAY", 2), ("RETURN",)]
    p.fn("callee", fn("callee", ret2, arity=2, local_names=("callee", "n", "s"), types=("", "int", "")))
    for name, sig in (("typed_same", ("int", "")), ("typed_other", ("float", "any"))):
        ops = [("LOAD_GLOBAL", p.g("callee")), ("LOAD_LOCAL", 1), ("LOAD_LOCAL", 2), ("CALL_TYPED", 2, 0), ("RETURN",)]
        p.fn(name, fn(name, ops, arity=2, consts=(sig,)))
    p.cls("Animal", ClassInfo("Animal", (), (), ()))
    init = method("C", "init", ("a",), ("Animal",), [("LOAD_LOCAL", 1), ("RETURN",)])
    m = method("C", "m", ("x",), ("float",), [("LOAD_LOCAL", 2), ("RETURN",)])
    p.cls("C", ClassInfo("C", (), (), ("init", "m")), methods=(init, m))
    ops = [("LOAD_LOCAL", 1), ("LOAD_LOCAL", 2), ("CALL_METHOD_TYPED", 0, 1, 0), ("RETURN",)]
    p.fn("via_method_typed", fn("via_method_typed", ops, arity=2, names=("m",), consts=(("float",),)))
    ops = [("LOAD_GLOBAL", p.g("C")), ("LOAD_LOCAL", 1), ("CALL_TYPED", 1, 0), ("RETURN",)]
    p.fn("make_c_typed", fn("make_c_typed", ops, consts=(("Animal",),)))
    return p


def test_proven_call_sites_skip_entry_checks_of_matching_callees():
    vm = proven_program().run()
    # Proven against the callee's own types: no entry check (a wrong value
    # passes through, which only compiler-proven code can rely on).
    assert vm.call("typed_same", "not an int", 1) == ["not an int", 1]
    c = vm.call("make_c_typed", 5)  # init(a: Animal), proven: not checked
    assert vm.call("via_method_typed", c, "x") == "x"
    # Proven against other types: the callee checks as usual.
    e = guest_error(vm.call, "typed_other", "not an int", 1)
    assert e.message == "argument 'n' of callee: expected int, got string"


def test_method_self_is_not_checked():
    # The compiler records self's (inferred) type; the VM never checks slot 1 of
    # a method, and the verifier accepts any text there.
    tc = TypeChecks()
    m = method("C", "m", ("x",), ("int",), [("LOAD_NIL",), ("RETURN",)], local_types=("", "C", "int"))
    assert [slot for slot, _ in tc.params(m).items] == [2]
    m = method("C", "m", ("x",), ("",), [("LOAD_NIL",), ("RETURN",)], local_types=("", "class C", ""))
    assert tc.params(m) is None
    verify_code(m, 0)
    # A plain function's slot 1 is a parameter like any other.
    f = fn("f", [("LOAD_NIL",), ("RETURN",)], arity=1, types=("", "class C"))
    rejects(f, "parameter slot 1 has malformed type 'class C'")


def test_functions_carry_their_checks():
    vm = typed_program().run()
    callee = vm.get("callee")
    assert type(callee) is Function and [slot for slot, _ in callee.checks.items] == [1, 2]
    assert vm.get("via_call").checks is None
    assert vm.get("C").methods["m"].checks is not None
    # One table per code object, shared by every closure of it.
    assert vm.machine.type_checks.params(callee.code) is callee.checks


# --------------------------------------------------------------------------- field checks


def field_program(shape: str = "fused") -> Prog:
    """Base(x: int, y), Sub extends Base (z: float), Plain (untyped), Sub2 extends Base (w)."""
    p = Prog("Base", "Sub", "Plain", "Sub2", "set_x", "set_y", "set_z", "set_x_proven", "set_w")
    p.cls("Base", ClassInfo("Base", ("x", "y"), (0, None), (), field_types=("int", "")))
    p.cls("Sub", ClassInfo("Sub", ("z",), (0.0,), (), field_types=("float",)), parent="Base")
    p.cls("Plain", ClassInfo("Plain", ("x",), (0,), ()))
    p.cls("Sub2", ClassInfo("Sub2", ("w",), (None,), ()), parent="Base")
    for name, op in (("x", "SET_FIELD"), ("y", "SET_FIELD"), ("z", "SET_FIELD"), ("x_proven", "SET_FIELD_PROVEN"), ("w", "SET_FIELD")):
        ops = [("LOAD_LOCAL", 1), ("LOAD_LOCAL", 2), (op, 0), ("LOAD_LOCAL", 1), ("GET_FIELD", 0), ("RETURN",)]
        p.fn(f"set_{name}", fn(f"set_{name}", spread(ops, shape), arity=2, names=(name.split("_")[0],)))
    return p


@pytest.mark.parametrize("shape", SHAPES)
def test_set_field_checks_typed_fields(shape):
    vm = field_program(shape).run()
    base = instance_of(vm, "Base")
    assert vm.call("set_x", base, 5) == 5
    e = guest_error(vm.call, "set_x", base, "5")
    assert (e.class_name, e.message) == ("TypeError", "field 'x' of Base: expected int, got string")
    assert base.fields["x"] == 5
    assert vm.call("set_y", base, "untyped") == "untyped"


@pytest.mark.parametrize("shape", SHAPES)
def test_set_field_checks_inherited_fields_and_widens(shape):
    vm = field_program(shape).run()
    sub = instance_of(vm, "Sub")
    got = vm.call("set_z", sub, 2)
    assert got == 2.0 and type(got) is float
    e = guest_error(vm.call, "set_x", sub, 1.5)
    assert e.message == "field 'x' of Base: expected int, got float"
    sub2 = instance_of(vm, "Sub2")  # no typed field of its own: inherits Base's checks
    assert guest_error(vm.call, "set_x", sub2, None).message == "field 'x' of Base: expected int, got nil"
    assert vm.call("set_w", sub2, "anything") == "anything"


@pytest.mark.parametrize("shape", SHAPES)
def test_set_field_proven_does_not_check(shape):
    vm = field_program(shape).run()
    base = instance_of(vm, "Base")
    assert vm.call("set_x_proven", base, "trusted") == "trusted"


@pytest.mark.parametrize("shape", SHAPES)
def test_untyped_classes_have_no_field_checks(shape):
    vm = field_program(shape).run()
    assert vm.get("Plain").field_checks is None
    assert set(vm.get("Base").field_checks) == {"x"}
    assert set(vm.get("Sub").field_checks) == {"x", "z"}
    assert vm.get("Sub2").field_checks is vm.get("Base").field_checks
    plain = instance_of(vm, "Plain")
    assert vm.call("set_x", plain, "no check") == "no check"
    e = guest_error(vm.call, "set_z", plain, 1)  # no such field: the usual error
    assert e.message == "Plain has no field 'z'"


@pytest.mark.parametrize("shape", SHAPES)
def test_set_field_on_records_is_unchanged(shape):
    vm = field_program(shape).run()
    rec = vm.machine.heap.alloc(Record({"x": 1}))
    assert vm.call("set_x", rec, "s") == "s"
    assert vm.call("set_x_proven", rec, 2) == 2


def test_field_error_points_at_set_field():
    vm = field_program("plain").run()
    e = guest_error(vm.call, "set_x", instance_of(vm, "Base"), "s")
    assert e.trace == ["at set_x (test.tl:5:1)"]  # SET_FIELD is instruction 4 (NOPs between)
    vm = field_program("fused").run()
    e = guest_error(vm.call, "set_x", instance_of(vm, "Base"), "s")
    assert e.trace == ["at set_x (test.tl:3:1)"]


def test_subclass_redeclaring_a_field_overrides_its_check():
    p = Prog("Base", "Sub", "set_x")
    p.cls("Base", ClassInfo("Base", ("x",), (0,), (), field_types=("int",)))
    p.cls("Sub", ClassInfo("Sub", ("x",), (0,), (), field_types=("string",)), parent="Base")
    ops = [("LOAD_LOCAL", 1), ("LOAD_LOCAL", 2), ("SET_FIELD", 0), ("LOAD_NIL",), ("RETURN",)]
    p.fn("set_x", fn("set_x", ops, arity=2, names=("x",)))
    vm = p.run()
    vm.call("set_x", instance_of(vm, "Sub"), "s")
    assert guest_error(vm.call, "set_x", instance_of(vm, "Sub"), 1).message == "field 'x' of Sub: expected string, got int"


# --------------------------------------------------------------------------- verifier


def rejects(code: Code, pattern: str) -> str:
    with pytest.raises(VerifyError, match=pattern) as info:
        verify_code(code, 0)
    return str(info.value)


def check_fn(const) -> Code:
    return asm("f", [("LOAD_NIL",), ("CHECK_TYPE", 0), ("RETURN",)], consts=(const,))


def test_verifier_accepts_check_type():
    texts = ("int", "float?", "[int]", "[string: int]", "{x: int, y: float}", "fn(int) -> string", "Point", "Task<int>", "any", "nil", "(fn() -> int)?")
    for text in texts:
        verify_code(check_fn((text, "place")), 0)


@pytest.mark.parametrize(
    "const, pattern",
    [
        ("int", r"CHECK_TYPE needs a \(type, place\) pair of strings, got str"),
        (("int",), r"got a tuple of 1: \(str\)"),
        (("int", "p", "q"), r"got a tuple of 3"),
        (("int", 3), r"got a tuple of 2: \(str, int\)"),
        ((1, "p"), r"got a tuple of 2: \(int, str\)"),
        (5, r"got int"),
    ],
)
def test_verifier_rejects_bad_check_type_constants(const, pattern):
    msg = rejects(check_fn(const), pattern)
    assert msg.startswith("verify: function f at offset 1: ")


@pytest.mark.parametrize("text", ["", "[int", "int int", "class Point", "fn", "{x}", "Task<int", "?", "[" * 5000 + "int" + "]" * 5000])
def test_verifier_rejects_malformed_check_type(text):
    rejects(check_fn((text, "p")), "CHECK_TYPE of malformed type")


def test_verifier_rejects_deeply_nested_type_text():
    text = "[" * 1500 + "int" + "]" * 1500  # under MAX_TYPE_TEXT: the parser's recursion fails
    rejects(check_fn((text, "p")), "CHECK_TYPE of malformed type")


def class_fn(info: ClassInfo) -> Code:
    return asm("f", [("LOAD_NIL",), ("MAKE_CLASS", 0, 0), ("RETURN",)], consts=(info,))


def test_verifier_field_types():
    verify_code(class_fn(ClassInfo("P", ("x", "y"), (None, None), ())), 0)
    verify_code(class_fn(ClassInfo("P", ("x", "y"), (None, None), (), field_types=("int", ""))), 0)
    verify_code(class_fn(ClassInfo("P", (), (), (), field_types=())), 0)
    rejects(class_fn(ClassInfo("P", ("x", "y"), (None, None), (), field_types=("int",))), "class P has 1 field types for 2 fields")
    rejects(class_fn(ClassInfo("P", ("x",), (None,), (), field_types=("[int",))), r"field 'x' of class P has malformed type '\[int'")
    rejects(class_fn(ClassInfo("P", ("x",), (None,), (), field_types=(1,))), "malformed class info")
    rejects(class_fn(ClassInfo("P", ("x",), (None,), (), field_types=["int"])), "malformed class info")


def test_verifier_local_types():
    ops = [("LOAD_NIL",), ("RETURN",)]
    names = ("f", "a", "b", "c")
    # Parameter slots must parse; other slots may hold any text (inferred types
    # such as `class Point` or `module math` cannot be written back as types).
    verify_code(asm("f", ops, arity=2, local_names=names, local_types=("", "int", "", "class Point")), 0)
    verify_code(asm("f", ops, arity=2, local_names=names, local_types=("whatever", "any", "fn(int) -> int", "range")), 0)
    verify_code(asm("f", ops, arity=2, local_names=names, local_types=()), 0)
    verify_code(asm("f", ops, arity=2, local_names=names, local_types=("", "int")), 0)  # shorter than nlocals
    rejects(asm("f", ops, arity=2, local_names=names, local_types=("", "int", "class Point", "")), r"parameter slot 2 has malformed type 'class Point'")
    rejects(asm("f", ops, arity=1, local_names=names, local_types=("", "[int")), r"parameter slot 1 has malformed type")


# --------------------------------------------------------------------------- .tvm and disassembler


def test_tvm_round_trip_of_field_types():
    info = ClassInfo("P", ("x", "y", "z"), (0, None, 1.5), (), line=3, field_types=("int", "", "float?"), early=("y",))
    plain = ClassInfo("Q", ("a",), (None,), ())
    ops = [("LOAD_NIL",), ("MAKE_CLASS", 0, 0), ("POP",), ("LOAD_NIL",), ("MAKE_CLASS", 1, 0), ("POP",)]
    ops += [("LOAD_NIL",), ("CHECK_TYPE", 2), ("RETURN",)]
    init = asm("m", ops, consts=(info, plain, ("int?", "value of x")), flags=FLAG_MODULE, path="m.tl")
    b = Bundle("m", {"m": ModuleCode("m.tl", "00" * 32, (), (), (), init)})
    data = dump_bundle(b)
    assert int.from_bytes(data[4:6], "big") == FORMAT_VERSION == 7
    loaded = load_bundle(data)
    assert same(loaded, b)
    got = loaded.modules["m"].init.consts
    assert got[0].field_types == ("int", "", "float?") and got[1].field_types == ()
    assert got[0].early == ("y",) and got[1].early == ()
    assert dump_bundle(loaded) == data


def test_tvm_loader_verifies_field_types():
    bad = ClassInfo("P", ("x",), (None,), (), field_types=("int", "int"))
    init = asm("m", [("LOAD_NIL",), ("MAKE_CLASS", 0, 0), ("RETURN",)], consts=(bad,), flags=FLAG_MODULE, path="m.tl")
    data = dump_bundle(Bundle("m", {"m": ModuleCode("m.tl", "00" * 32, (), (), (), init)}))
    with pytest.raises(VerifyError, match="2 field types for 1 fields"):
        load_bundle(data)


def test_disassembler_shows_check_type():
    code = asm(
        "fib",
        [("LOAD_LOCAL", 1), ("CHECK_TYPE", 0), ("SET_FIELD_PROVEN", 0), ("LOAD_NIL",), ("RETURN",)],
        arity=1,
        local_names=("fib", "n"),
        consts=(("int", "argument 'n' of fib"),),
        names=("x",),
    )
    ins = instructions(code)
    assert ins[1].opname == "CHECK_TYPE" and ins[1].argrepr == "int, argument 'n' of fib"
    assert ins[2].opname == "SET_FIELD_PROVEN" and ins[2].argrepr == "x"
    assert "CHECK_TYPE        0 (int, argument 'n' of fib)" in format_code(code)
    # A malformed constant (unverified code) shows as any other constant.
    assert instructions(replace(code, consts=(("int",),)))[1].argrepr == '("int",)'
    escaped = replace(code, consts=(("{x: int}", 'field "a\nb"'),))
    assert instructions(escaped)[1].argrepr == '{x: int}, field "a\\nb"'
