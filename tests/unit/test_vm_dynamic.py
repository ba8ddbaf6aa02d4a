"""The VM capabilities added for dynamically typed front ends (issue 5, Lox),
tested on hand-assembled code so that they do not depend on a compiler:
truthiness (JUMP_IF_FALSY, JUMP_IF_TRUTHY, FALSY), PRINT and its two modes,
ASSIGN_GLOBAL, open classes, CLASS_EXTENDS, message keys rendered per
language, and what the verifier accepts of them."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tvm_samples import asm  # noqa: E402

from tinyvm.api import VM  # noqa: E402
from tinyvm.bytecode.code import CLASS_EXTENDS, CLASS_OPEN, FLAG_METHOD, FLAG_MODULE, Bundle, ClassInfo, ModuleCode  # noqa: E402
from tinyvm.bytecode.tvmfile import dump_bundle, load_bundle  # noqa: E402
from tinyvm.bytecode.verifier import VerifyError, verify_module  # noqa: E402
from tinyvm.runtime.errors import GuestException  # noqa: E402


def module(ops: list, *, consts: tuple = (), names: tuple = (), globals_: tuple = (), lang: str = "tinylang") -> Bundle:
    init = asm("<module>", ops, consts=consts, names=names, flags=FLAG_MODULE, path="m.x", local_names=("<module>",))
    return Bundle("m", {"m": ModuleCode("m.x", "00" * 32, globals_, (), (), init, lang)})


def run(bundle: Bundle) -> str:
    verify_module(bundle.modules["m"])
    out = io.StringIO()
    VM(stdout=out).run_bundle(bundle)
    return out.getvalue()


END = [("THIS_MODULE",), ("RETURN",)]


def test_truthiness() -> None:
    values = [None, False, True, 0, 0.0, "", 1.5]
    ops: list = []
    for i, _ in enumerate(values):
        ops += [("LOAD_CONST", i), ("JUMP_IF_FALSY", f"f{i}"), ("LOAD_CONST", 7), ("PRINT", 0), ("JUMP", f"n{i}"),
                f"f{i}", ("LOAD_CONST", 8), ("PRINT", 0), f"n{i}"]  # fmt: skip
    for i, _ in enumerate(values):
        ops += [("LOAD_CONST", i), ("FALSY",), ("PRINT", 0)]
    ops += [("LOAD_CONST", 0), ("JUMP_IF_TRUTHY", "t"), ("LOAD_CONST", 8), ("PRINT", 0), "t"]
    ops += END
    out = run(module(ops, consts=tuple(values) + ("truthy", "falsy")))
    assert out.split() == ["falsy", "falsy", "truthy", "truthy", "truthy", "truthy", "truthy",
                           "true", "true", "false", "false", "false", "false", "false", "falsy"]  # fmt: skip


def test_print_modes() -> None:
    # A class with a str() method: mode 0 runs it (the prelude's print), mode 1
    # prints clox's form.
    meth = asm("P.str", [("LOAD_CONST", 0), ("RETURN",)], arity=1, consts=("P!",), flags=FLAG_METHOD, local_names=("", "self"))
    info = ClassInfo("P", (), (), ("str",))
    ops = [("LOAD_NIL",), ("MAKE_CLOSURE", 0), ("MAKE_CLASS", 1, 1), ("CALL", 0), ("DUP",), ("PRINT", 0), ("PRINT", 1)]
    for i in range(2, 7):
        ops += [("LOAD_CONST", i), ("DUP",), ("PRINT", 0), ("PRINT", 1)]
    ops += [("LOAD_BUILTIN", 0), ("PRINT", 1)]
    ops += END
    consts = (meth, info, 3.0, 1e20, -0.0, 0.1 + 0.2, 123456789)
    out = run(module(ops, consts=consts, names=("print",)))
    assert out.split("\n") == [
        "P!", "P instance",
        "3.0", "3", "1e+20", "1e+20", "-0.0", "-0", "0.30000000000000004", "0.3", "123456789", "1.23457e+08",
        "<native fn>", "",
    ]  # fmt: skip


def test_assign_global_needs_a_value() -> None:
    ops = [("LOAD_CONST", 0), ("STORE_GLOBAL", 0), ("LOAD_CONST", 1), ("ASSIGN_GLOBAL", 0),
           ("LOAD_GLOBAL", 0), ("PRINT", 0), ("LOAD_CONST", 1), ("ASSIGN_GLOBAL", 1)] + END  # fmt: skip
    with pytest.raises(GuestException) as e:
        run(module(ops, consts=(1, 2), globals_=("a", "b")))
    assert e.value.message == "'b' is used before its declaration has run"  # TinyLang's text
    with pytest.raises(GuestException) as e:
        run(module(ops, consts=(1, 2), globals_=("a", "b"), lang="lox"))
    assert e.value.message == "Undefined variable 'b'."  # the same error, in Lox
    assert [f.line for f in e.value.frames] == [8]


def test_open_and_closed_classes() -> None:
    def prog(flags: int) -> Bundle:
        ops = [("LOAD_NIL",), ("MAKE_CLASS", 0, 0), ("CALL", 0), ("DUP",), ("LOAD_CONST", 1), ("SET_FIELD", 0),
               ("GET_FIELD", 0), ("PRINT", 0)] + END  # fmt: skip
        return module(ops, consts=(ClassInfo("C", (), (), (), flags=flags), 5), names=("x",))

    assert run(prog(CLASS_OPEN)) == "5\n"
    with pytest.raises(GuestException) as e:
        run(prog(0))
    assert e.value.message == "C has no field 'x'"


def test_class_extends_rejects_nil() -> None:
    ops = [("LOAD_NIL",), ("MAKE_CLASS", 0, 0), ("POP",)] + END
    assert run(module(ops, consts=(ClassInfo("C", (), (), ()),))) == ""  # nil: no parent
    with pytest.raises(GuestException) as e:
        run(module(ops, consts=(ClassInfo("C", (), (), (), flags=CLASS_EXTENDS),), lang="lox"))
    assert e.value.message == "Superclass must be a class."


def test_verifier_and_tvm_round_trip() -> None:
    good = module([("LOAD_NIL",), ("PRINT", 1)] + END, lang="lox")
    data = dump_bundle(good)
    assert load_bundle(data).modules["m"].lang == "lox"
    with pytest.raises(VerifyError, match="PRINT mode 2"):
        verify_module(module([("LOAD_NIL",), ("PRINT", 2)] + END).modules["m"])
    with pytest.raises(VerifyError, match="unknown language 'cobol'"):
        verify_module(module(END, lang="cobol").modules["m"])
    bad_flags = module([("LOAD_NIL",), ("MAKE_CLASS", 0, 0), ("POP",)] + END, consts=(ClassInfo("C", (), (), (), flags=32),))  # (4 is CLASS_INTERFACE, 8 CLASS_ENUM: TinyLang 1.1; 16 CLASS_EARLY_SUPER)
    with pytest.raises(VerifyError, match="malformed class info"):
        verify_module(bad_flags.modules["m"])
    flagged = module([("LOAD_NIL",), ("MAKE_CLASS", 0, 0), ("POP",)] + END, consts=(ClassInfo("C", (), (), (), flags=CLASS_OPEN | CLASS_EXTENDS),))
    again = load_bundle(dump_bundle(flagged)).modules["m"].init.consts[0]
    assert again.flags == CLASS_OPEN | CLASS_EXTENDS
