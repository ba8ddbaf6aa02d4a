"""sema/signatures.py mirrors what the VM provides; these tests fail when the two drift.

* every built-in method typed by the checker exists in the VM's method tables
  (vm/methods.py make_methods, and PRELUDE_METHODS for the ones written in
  TinyLang), and every VM method is typed;
* every typed built-in function is a VM built-in and every public VM built-in is
  typed (a signature, a variadic entry, `abs`, or a built-in error class); the
  resolver knows exactly those names;
* the standard modules export the same names in the checker, the driver and the VM;
* arities: a native called with a signature's minimum and maximum argument
  counts (with sample values of the parameter types) does not raise an arity
  TypeError, and with one argument more it does.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from tinyvm.api import VM
from tinyvm.lang.driver import compile_program
from tinyvm.lang.tinylang.pipeline import STD_MODULES
from tinyvm.lang.diagnostics import CompileError
from tinyvm.heap.objects import Array, Class, Instance, Map, Native, map_key
from tinyvm.lang.tinylang import signatures as S
from tinyvm.lang.tinylang.resolver import BUILTIN_NAMES
from tinyvm.lang.tinylang.types import ANY, BOOL, FLOAT, INT, NIL, STRING, ArrayT, FnT, GenericT, MapT, Type
from tinyvm.sched.concurrency import BlockingNative
from tinyvm.vm import machine as vm_machine
from tinyvm.runtime.errors import RtError
from tinyvm.runtime.methods import GUEST_FALLBACKS as METHOD_FALLBACKS
from tinyvm.runtime.methods import PRELUDE_METHODS

# Built-ins that may park the calling fiber take (fiber, args, ret), not plain
# arguments: the concurrency language tests (tests/lang/09_concurrency) check them.
SCHEDULER_BUILTINS = {"sleep", "yield_now"}

# How many arguments the checker takes for the generic array methods (see
# MemberChecks.generic_array_method): (min, max).
GENERIC_COUNTS = {"map": (1, 1), "filter": (1, 1), "reduce": (2, 2), "sort": (0, 1)}

# "len expects 1 argument, got 2", "array.slice expects 1 or 2 arguments, got 3",
# "min expects at least 1 argument, got 0", "TypeError.init expects at most 1 argument, got 2"
ARITY_MESSAGE = re.compile(r"expects (\d+|\d+ or \d+|at least \d+|at most \d+) arguments?, got \d+$")


@pytest.fixture(scope="module")
def machine():
    return VM(stdout=io.StringIO(), stdin=io.StringIO("a line\n" * 10)).machine


def typed_methods() -> dict[str, dict[str, S.Sig]]:
    return {"array": S.array_methods(ANY), "string": S.STRING_METHODS, "map": S.map_methods(ANY, ANY), **S.SCALAR_METHODS}


def typed_builtins() -> set[str]:
    return set(S.BUILTIN_SIGS) | set(S.VARIADIC_BUILTINS) | {"abs"} | set(S.LIBRARY_BUILTINS)


def public(names) -> set[str]:
    return {n for n in names if not n.startswith("__")}


# --------------------------------------------------------------------------- sample values


def sample(t: Type) -> Any:
    """A value of type t, good as an argument of the natives below (0 is a valid
    index of the sample receivers and a key of the sample map)."""
    if t is INT or t is ANY:
        return 0
    if t is FLOAT:
        return 1.5
    if t is STRING:
        return ","
    if t is BOOL:
        return True
    if t is NIL:
        return None
    if isinstance(t, ArrayT):
        return Array([sample(t.elem), sample(t.elem)])
    if isinstance(t, MapT):
        return Map({map_key(sample(t.key)): sample(t.value)})
    raise AssertionError(f"no sample value for {t}")


def receiver(kind: str) -> Any:
    """A fresh receiver (methods such as pop and remove change it)."""
    if kind == "array":
        a = Array([0, 1, 2])
        a.mark = 0  # (as Heap.alloc would: the methods' write barrier reads it)
        return a
    if kind == "string":
        return "a,b,c"
    if kind in ("int", "float"):  # (1.1: Comparable's compare)
        return 1 if kind == "int" else 1.5
    m = Map({map_key(0): "zero", map_key(1): "one"})
    m.mark = 0  # (set_default and merge store values: the write barrier)
    return m


def is_arity_error(e: BaseException) -> bool:
    return isinstance(e, RtError) and e.cls == "TypeError" and bool(ARITY_MESSAGE.search(e.message))


def call_ok(fn, *args: Any) -> Any:
    """Call a native; fail the test on an arity TypeError (other errors pass through)."""
    try:
        return fn(*args)
    except RtError as e:
        if is_arity_error(e):
            pytest.fail(f"unexpected arity error: {e.message}")
        raise


def call_bad_count(fn, *args: Any) -> None:
    """The call must raise an arity TypeError."""
    with pytest.raises(RtError) as info:
        fn(*args)
    assert is_arity_error(info.value), info.value.message


def method_cases():
    for kind, table in typed_methods().items():
        for name, sig in table.items():
            if name in PRELUDE_METHODS.get(kind, {}):  # (sort_by, find: test_prelude_method_arity)
                continue
            yield pytest.param(kind, name, sig, id=f"{kind}.{name}")


# --------------------------------------------------------------------------- methods


@pytest.mark.parametrize("kind", ["array", "string", "map"])
def test_method_names_match_the_vm(machine, kind):
    typed = set(typed_methods()[kind])
    vm_names = set(machine.methods[kind]) | set(PRELUDE_METHODS.get(kind, {}))
    if kind == "array":
        typed |= set(S.GENERIC_ARRAY_METHODS)
    assert typed - vm_names == set(), "typed methods the VM does not have"
    assert vm_names - typed == set(), "VM methods the checker does not type"


def test_vm_method_kinds_are_typed(machine):
    # (Set, and re's Pattern and Match, are `any` to the checker until generics land.)
    assert set(machine.methods) - {"chan", "task", "weakref", "weakmap", "Set", "Pattern", "Match"} == set(typed_methods())
    assert set(PRELUDE_METHODS) <= set(typed_methods())


@pytest.mark.parametrize("kind", ["WeakRef", "WeakMap"])
def test_weak_methods_match_the_vm(machine, kind):
    typed = S.generic_methods(GenericT(kind, ANY, ANY if kind == "WeakMap" else None))
    assert set(typed) == set(machine.methods[kind.lower()])
    weak = machine.builtins[kind].fn(*([Array([])] if kind == "WeakRef" else []))
    for name, sig in typed.items():
        fn = machine.methods[kind.lower()][name]
        args = [Array([]) if t is ANY else sample(t) for t in sig.params]
        call_ok(fn, weak, *args[: sig.min_args])
        call_ok(fn, weak, *args)
        call_bad_count(fn, weak, *args, 0)


@pytest.mark.parametrize("kind", ["Chan", "Task", "Gen"])
def test_concurrency_methods_match_the_vm(machine, kind):
    typed = set(S.generic_methods(GenericT(kind, ANY)))
    vm_kind = kind.lower() if kind != "Task" else "task"
    vm_names = set(machine.methods.get(vm_kind, {})) | set(machine.blocking_methods.get(vm_kind, {}))
    assert typed == vm_names


def test_generic_array_methods_are_the_prelude_ones():
    # sort_by and find (1.1) are the prelude's too, with ordinary signatures.
    assert set(S.GENERIC_ARRAY_METHODS) == set(PRELUDE_METHODS["array"]) - {"sort_by", "find"} == set(GENERIC_COUNTS)


@pytest.mark.parametrize("name", ["sort_by", "find"])
def test_prelude_method_arity(machine, name):
    sig = S.array_methods(ANY)[name]
    assert machine.prelude_fn(PRELUDE_METHODS["array"][name]).arity == len(sig.params) + 1


@pytest.mark.parametrize("kind, name, sig", list(method_cases()))
def test_method_arity(machine, kind, name, sig):
    fn = machine.methods[kind][name]
    args = [sample(t) for t in sig.params]
    # Sample values of the parameter types are accepted: no error at all.
    call_ok(fn, receiver(kind), *args[: sig.min_args])
    call_ok(fn, receiver(kind), *args)
    call_bad_count(fn, receiver(kind), *args, 0)
    if sig.min_args:  # the checker asks for no more than the VM needs
        call_bad_count(fn, receiver(kind), *args[: sig.min_args - 1])


@pytest.mark.parametrize("name", S.GENERIC_ARRAY_METHODS)
def test_generic_method_counts_match_the_prelude(machine, name):
    lo, hi = GENERIC_COUNTS[name]
    fn = machine.prelude_fn(PRELUDE_METHODS["array"][name])
    assert fn.arity == hi + 1  # the receiver comes first
    if name in machine.methods["array"]:  # sort(): the native takes the other count
        call_ok(machine.methods["array"][name], receiver("array"), *[0] * lo)


@pytest.mark.parametrize("name", S.GENERIC_ARRAY_METHODS)
def test_generic_method_counts_match_the_checker(name):
    lo, hi = GENERIC_COUNTS[name]
    args = {"reduce": ["fn(a, b) => a", "0"], "filter": ["fn(a) => a > 1"]}.get(name, ["fn(a) => a"])

    def check(n: int) -> list[str]:
        src = f"let xs = [3, 1, 2]\nxs.{name}({', '.join(args[:n] + ['0'] * (n - len(args)))})\n"
        try:
            compile_program("<sig>.tl", source=src, check_only=True)
        except CompileError as e:
            return [d.message for d in e.diagnostics]
        return []

    assert check(lo) == []
    assert check(hi) == []
    assert any("expects" in m for m in check(hi + 1))


def test_method_guest_fallbacks_exist(machine):
    for kind, table in METHOD_FALLBACKS.items():
        for name, target in table.items():
            assert name in machine.methods[kind]
            fn = machine.prelude_fn(target)
            assert fn.arity == len(typed_methods()[kind][name].params) + 1


# --------------------------------------------------------------------------- built-in functions


def test_typed_builtins_are_vm_builtins(machine):
    missing = typed_builtins() - set(machine.builtins)
    assert missing == set(), f"typed built-ins the VM lacks: {sorted(missing)}"


def test_vm_builtins_are_typed(machine):
    untyped = public(machine.builtins) - typed_builtins() - set(S.ERROR_CLASSES) - set(S.BUILTIN_INTERFACES)
    assert untyped == set(), "VM built-ins the checker does not type"


def test_builtin_tables_do_not_overlap():
    assert not set(S.BUILTIN_SIGS) & set(S.VARIADIC_BUILTINS)
    assert "abs" not in S.BUILTIN_SIGS and "abs" not in S.VARIADIC_BUILTINS
    assert not typed_builtins() & set(S.ERROR_CLASSES)


def test_resolver_knows_exactly_the_typed_names():
    assert set(BUILTIN_NAMES) == typed_builtins() | set(S.ERROR_CLASSES) | set(S.BUILTIN_INTERFACES)


def test_error_classes_match_the_vm(machine):
    assert set(S.ERROR_NAMES) == set(vm_machine.ERROR_CLASSES)
    vm_classes = {n for n, v in machine.builtins.items() if isinstance(v, Class)}
    assert vm_classes == set(S.ERROR_CLASSES) | set(S.BUILTIN_INTERFACES)
    for name, sym in S.ERROR_CLASSES.items():
        cls = machine.builtins[name]
        parent = sym.parent.name if sym.parent is not None else None
        assert (cls.parent.name if cls.parent is not None else None) == parent
    assert set(S.ERROR_CLASSES["Error"].fields) == set(machine.builtins["Error"].template)


def test_error_init_arity(machine):
    cls = machine.builtins["ValueError"]
    init = cls.init.fn
    new = lambda: Instance(cls, dict(cls.template))  # noqa: E731
    sig = S.ERROR_INIT
    call_ok(init, new(), *[sample(t) for t in sig.params[: sig.min_args]])
    call_ok(init, new(), *[sample(t) for t in sig.params])
    call_bad_count(init, new(), *[sample(t) for t in sig.params], 0)


# Arguments of the right types for built-ins whose parameters are `any` but
# which want a particular kind of value.
BUILTIN_SAMPLES = {"Set": [Array([1])], "ord": ["a"], "chr": [65], "WeakRef": [Array([])], "len": ["abc"], "int": ["12"], "float": ["1.5"], "sqrt": [4], "floor": [1.5], "ceil": [1.5], "round": [1.5]}


@pytest.mark.parametrize("name", sorted(S.BUILTIN_SIGS))
def test_builtin_arity(machine, name):
    native = machine.builtins[name]
    if name in SCHEDULER_BUILTINS:
        assert isinstance(native, BlockingNative)
        pytest.skip(f"{name}: a blocking built-in, tested by tests/lang/09_concurrency")
    sig = S.BUILTIN_SIGS[name]
    assert isinstance(native, Native)
    fixed = sig.min_args == len(sig.params)
    assert native.arity == (len(sig.params) if fixed else -1)
    args = BUILTIN_SAMPLES.get(name) or [sample(t) for t in sig.params]
    call_ok(native.fn, *args[: sig.min_args])
    call_ok(native.fn, *args)
    call_bad_count(native.fn, *args, 0)
    if sig.min_args:
        call_bad_count(native.fn, *args[: sig.min_args - 1])


@pytest.mark.parametrize("name", sorted(S.VARIADIC_BUILTINS))
def test_variadic_builtin_minimum(machine, name):
    native = machine.builtins[name]
    least = S.VARIADIC_BUILTINS[name]
    assert native.arity == -1
    call_ok(native.fn, *[Array([1, 2])] * least)
    call_ok(native.fn, *[1] * (least + 3))
    if least:
        call_bad_count(native.fn, *[0] * (least - 1))


def test_abs_arity(machine):
    native = machine.builtins["abs"]
    assert native.arity == 1
    assert call_ok(native.fn, -2) == 2
    call_bad_count(native.fn, 1, 2)


# --------------------------------------------------------------------------- standard modules


def test_std_modules_are_the_vms_and_the_front_ends():
    from tinyvm.stdlib import NAMES

    # Every standard module the VM can build is typed for the checker, and the
    # front end resolves imports of exactly those (in the same export order).
    assert set(S.STD_MODULE_TYPES) == set(NAMES) == set(STD_MODULES)
    for name, mt in S.STD_MODULE_TYPES.items():
        assert mt.name == name
        assert tuple(n for n, _ in mt.exports) == STD_MODULES[name]


# Modules whose functions act on the host (files, sockets, the environment, the
# process): only their argument counts are checked here (before any capability
# check); tests/unit/test_capabilities.py and test_io.py run them for real.
HOST_MODULES = {"fs", "os", "net"}
# gc.collect is a blocking built-in (it collects at the next dispatch,
# stdlib/gc.py): its arity is checked as a host module's; tests/gc runs it.
PARKING_MODULES = {"gc"}


@pytest.mark.parametrize("name", sorted(S.STD_MODULE_TYPES))
def test_std_modules_match_the_vm(machine, name):
    module = machine.std_module(name)
    mt = S.STD_MODULE_TYPES[name]
    assert set(module.exports) == {n for n, _ in mt.exports}
    for export, t in mt.exports:
        value = machine.module_get(module, export)
        if isinstance(t, FnT):
            assert isinstance(value, Native), export
            if name in HOST_MODULES or name in PARKING_MODULES:
                check_host_fn_arity(value, t)
            else:
                check_module_fn(name, export, value, t)
        elif t is FLOAT:
            assert type(value) is float, export
        elif t == ArrayT(STRING):
            assert type(value) is Array and all(type(x) is str for x in value.items), export
        elif t is ANY:  # a function of several arities (gc.mode), checked at run time
            assert isinstance(value, Native), export
        else:
            raise AssertionError(f"{name}.{export}: no test for exports of type {t}")


# Arguments for module functions that want particular values.
MODULE_SAMPLES = {("json", "parse"): ["[1]"], ("random", "int"): [1, 2]}


def check_host_fn_arity(native: Native, t: FnT) -> None:
    n = len(t.params)
    args = [sample(p) for p in t.params]
    if isinstance(native, BlockingNative):  # fn(fiber, args, continuation)
        call = lambda *a: native.fn(None, list(a), None)  # noqa: E731
    else:
        assert native.arity in (-1, n)
        call = native.fn
    call_bad_count(call, *args, 0)
    if n:
        call_bad_count(call, *args[:-1])


def check_module_fn(module: str, export: str, native: Native, t: FnT) -> None:
    """Arity (declared and enforced) and result type of a module function."""
    n = len(t.params)
    if native.arity >= 0:
        assert native.arity == n
    args = MODULE_SAMPLES.get((module, export)) or [2.0 if p is FLOAT else sample(p) for p in t.params]
    result = call_ok(native.fn, *args)
    call_bad_count(native.fn, *args, 0)
    if n:
        call_bad_count(native.fn, *args[:-1])
    if t.ret is FLOAT:
        assert type(result) is float
    elif t.ret is INT:
        assert type(result) is int
    elif t.ret is NIL:
        assert result is None
