"""Hand-made bytecode the VM runs: what the verifier lets through must run to its
end or to a guest error, never to an InternalError or a host exception; the
runtime library's private built-ins stay private; nothing shows a host address.

Each test here failed before its fix (see the issue 11 notes in the commit log).
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tvm_samples import asm  # noqa: E402

from tinyvm.api import VM  # noqa: E402
from tinyvm.bytecode.code import FLAG_MODULE, Bundle, LoadError, ModuleCode  # noqa: E402
from tinyvm.bytecode.tvmfile import dump_bundle, load_bundle, write_file  # noqa: E402
from tinyvm.cli.main import main  # noqa: E402
from tinyvm.runtime.errors import GuestException  # noqa: E402


def module(init, nglobals: int = 0) -> Bundle:
    globals_ = tuple(f"g{i}" for i in range(nglobals))
    return Bundle("m", {"m": ModuleCode("m.tl", "00", globals_, (), (), init)})


def run(bundle: Bundle, verify: bool = True) -> tuple[str, GuestException | None]:
    """(stdout, the uncaught guest error or None), through the .tvm loader when `verify`."""
    if verify:
        bundle = load_bundle(dump_bundle(bundle))
    out = io.StringIO()
    vm = VM(stdout=out)
    try:
        vm.run_bundle(bundle)
    except GuestException as e:
        return out.getvalue(), e
    return out.getvalue(), None


BOOM = asm("boom", [("LOAD_CONST", 0), ("THROW",)], consts=("boom",), line=50)


def test_a_call_followed_by_a_jump_is_caught_by_its_own_handler():
    # The call is protected by handler h1; the instruction before the JUMP's
    # target is protected by h2, whose depth the call's stack cannot give.
    # The VM used to look the frame up at the jump target's offset minus one.
    main_code = asm(
        "m",
        [("MAKE_CLOSURE", 1), ("STORE_GLOBAL", 0),
         "call", ("LOAD_GLOBAL", 0), ("CALL", 0), "after", ("JUMP", "far"),
         ("LOAD_NIL",), ("LOAD_NIL",), ("LOAD_NIL",), "prot", ("JUMP", "h2"), "far", ("POP",), ("LOAD_NIL",), ("RETURN",),
         "h1", ("PRINT", 0), ("LOAD_CONST", 2), ("PRINT", 0), ("LOAD_NIL",), ("RETURN",),
         "h2", ("PRINT", 0), ("POP",), ("POP",), ("LOAD_NIL",), ("RETURN",)],
        consts=("x", BOOM, "caught by the call's handler"),
        handlers=(("call", "after", "h1", 0), ("prot", "far", "h2", 2)),
        flags=FLAG_MODULE,
    )  # fmt: skip
    out, err = run(module(main_code, 1))
    assert err is None, err
    assert out == "boom\ncaught by the call's handler\n"


def test_a_call_followed_by_a_jump_is_traced_at_the_call():
    main_code = asm(
        "m",
        [("MAKE_CLOSURE", 0), ("STORE_GLOBAL", 0), ("LOAD_GLOBAL", 0), ("CALL", 0), ("JUMP", "far"), ("LOAD_NIL",), "far", ("RETURN",)],
        consts=(BOOM,),
        flags=FLAG_MODULE,
        line=10,
    )
    _, err = run(module(main_code, 1))
    assert err is not None and err.message == "boom"
    assert err.trace == ["at boom (test.tl:51:1)", "at m (test.tl:13:1)"]  # the CALL's line, not the JUMP target's


def test_build_string_of_no_parts_is_the_empty_string():
    main_code = asm("m", [("BUILD_STRING", 0), ("PRINT", 0), ("LOAD_NIL",), ("RETURN",)], flags=FLAG_MODULE)
    out, err = run(module(main_code))
    assert err is None, err
    assert out == "\n"


def private_builtin_module(name: str = "__id") -> Bundle:
    return module(asm("m", [("LOAD_BUILTIN", 0), ("LOAD_NIL",), ("BUILD_ARRAY", 0), ("CALL", 1), ("PRINT", 0), ("LOAD_NIL",), ("RETURN",)], names=(name,), flags=FLAG_MODULE))


def test_private_builtins_are_refused_when_a_tvm_file_loads(tmp_path):
    with pytest.raises(LoadError, match="LOAD_BUILTIN of '__id': built-ins starting with '__' are private"):
        load_bundle(dump_bundle(private_builtin_module()))
    path = tmp_path / "spy.tvm"
    write_file(path, private_builtin_module())
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", str(path)], stdout=out, stderr=err) == 2
    assert out.getvalue() == ""
    assert re.fullmatch(r"error: .*spy\.tvm: bad \.tvm file: module 'm': verify: function m at offset 0: LOAD_BUILTIN of '__id': .*\n", err.getvalue())


@pytest.mark.parametrize("name", ["__id", "__fields", "__kind"])
def test_private_builtins_are_not_resolved_for_user_code(name):
    # Code that skipped the verifier (a bundle handed to the embedding API) does
    # not reach them either: only the prelude's code does.
    out, err = run(private_builtin_module(name), verify=False)
    assert out == ""
    assert err is not None and err.message == f"built-in '{name}' is not available in this version"


def test_prelude_formatting_still_finds_cycles():
    # The prelude's formatter (an instance with str() inside a cyclic array)
    # keys the containers on its path by __id.
    out = io.StringIO()
    VM(stdout=out).run_source('class P {\n  fn str() -> string { return "p" }\n}\nlet a: [any] = [P()]\na.push(a)\nprint(a, [a])\n')
    assert out.getvalue() == "[p, [...]] [[p, [...]]]\n"


def test_identities_are_serial_numbers_not_addresses():
    from tinyvm.heap.heap import Heap
    from tinyvm.heap.objects import Array
    from tinyvm.runtime.builtins import Identities

    heap = Heap()
    ident = Identities(heap)
    a, b = heap.alloc(Array([])), heap.alloc(Array([]))
    assert (ident(a), ident(b), ident(a)) == (1, 2, 1)
    assert ident(b) != id(b)


def test_identities_of_collected_objects_are_dropped():
    from tinyvm.heap.heap import Heap
    from tinyvm.heap.objects import Array
    from tinyvm.runtime.builtins import Identities

    heap = Heap()
    ident = Identities(heap)
    keep = heap.alloc(Array([]))
    ident(keep)
    for _ in range(5000):
        ident(heap.alloc(Array([])))
        if len(heap.objects) > 100:
            heap.collect([keep])
    assert len(ident.table) < 1000  # about the live objects, not every one ever seen
    assert ident(keep) == 1 and ident(heap.alloc(Array([]))) == 5002
