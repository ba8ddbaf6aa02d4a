"""Hand-assembled code objects shared by the bytecode tooling tests.

`asm` turns a readable instruction list into a `Code`, resolving labels and
computing `max_stack` by its own flow walk (independent of the verifier, so the
verifier's depth check is tested against something). The `sample_*` functions
build small but realistic functions -- recursion, a loop, a try handler, a
closure, a class -- and `sample_bundle` puts them into a two-module bundle.

Imported by tests in tests/unit and tests/fuzz (which adds this directory to
sys.path), so it is not itself a test module.
"""

from __future__ import annotations

import dataclasses
import struct

from tinyvm.bytecode.code import FLAG_INIT, FLAG_METHOD, FLAG_MODULE, Bundle, ClassInfo, Code, ModuleCode
from tinyvm.bytecode.opcodes import BY_NAME, stack_effect

JUMP_KIND = "jump"  # not opcodes.JUMP: that name is the JUMP opcode number


def asm(
    name: str,
    ops: list,
    *,
    arity: int = 0,
    local_names: tuple[str, ...] | None = None,
    consts: tuple = (),
    names: tuple[str, ...] = (),
    captures: tuple = (),
    upval_names: tuple[str, ...] | None = None,
    handlers: tuple = (),
    lines: tuple | None = None,
    flags: int = 0,
    path: str = "test.tl",
    line: int = 1,
    max_stack: int | None = None,
    local_types: tuple[str, ...] = (),
    ret_type: str = "",
) -> Code:
    """Assemble `ops`: items are label strings or (OPNAME, *operands) tuples;
    JUMP operands and handler (start, end, target, depth) entries may be labels.
    `lines` entries are (label-or-offset, line, col); by default each
    instruction gets its own line, line+1, line+2, ..."""
    labels: dict[str, int] = {}
    pc = 0
    for item in ops:
        if isinstance(item, str):
            labels[item] = pc
        else:
            pc += 1 + len(item) - 1
    labels.setdefault("end", pc)

    def res(v):
        return labels[v] if isinstance(v, str) else v

    seq: list[int] = []
    default_lines = []
    for item in ops:
        if isinstance(item, str):
            continue
        info = BY_NAME[item[0]]
        default_lines.append((len(seq), line + len(default_lines), 1))
        seq.append(info.code)
        for kind, v in zip(info.operands, item[1:]):
            seq.append(res(v) if kind == JUMP_KIND else v)
        seq.extend(item[1 + len(info.operands) :])  # extra ints, for malformed tests
    hs = tuple((res(a), res(b), res(c), d) for a, b, c, d in handlers)
    if lines is None:
        ln = tuple(default_lines)
    else:
        ln = tuple((res(o), li, co) for o, li, co in lines)
    if local_names is None:
        local_names = (name,) + tuple(f"p{i}" for i in range(1, arity + 1))
    if upval_names is None:
        upval_names = tuple(f"u{i}" for i in range(len(captures)))
    code = tuple(seq)
    if max_stack is None:
        max_stack = flow_max_stack(code, hs)
    return Code(
        name=name,
        path=path,
        line=line,
        col=1,
        arity=arity,
        nlocals=len(local_names),
        local_names=tuple(local_names),
        code=code,
        consts=tuple(consts),
        names=tuple(names),
        captures=tuple(captures),
        upval_names=tuple(upval_names),
        lines=ln,
        handlers=hs,
        max_stack=max_stack,
        flags=flags,
        local_types=local_types,
        ret_type=ret_type,
    )


def flow_max_stack(code: tuple[int, ...], handlers: tuple = ()) -> int:
    """Deepest operand stack over all paths (tolerant of malformed code)."""
    from tinyvm.bytecode.opcodes import OPCODES

    depth: dict[int, int] = {}
    work = [(0, 0)] + [(h[2], h[3] + 1) for h in handlers]
    best = 0
    while work:
        pc, d = work.pop()
        if pc in depth or not 0 <= pc < len(code) or not 0 <= code[pc] < len(OPCODES):
            continue
        depth[pc] = d
        best = max(best, d)
        info = OPCODES[code[pc]]
        operands = code[pc + 1 : pc + info.size]
        if len(operands) < len(info.operands):
            continue
        if not info.terminal:
            work.append((pc + info.size, d + stack_effect(info, operands)))
            best = max(best, d + stack_effect(info, operands))
        if info.branch is not None:
            work.append((operands[0], d + stack_effect(info, operands, branch=True)))
    return best


# -- sample functions -----------------------------------------------------------


def sample_fib() -> Code:
    """fn fib(n) { if n < 2 { return n } return fib(n - 1) + fib(n - 2) }  (fib is global 0)"""
    return asm(
        "fib",
        [
            ("LOAD_LOCAL", 1),
            ("LOAD_CONST", 0),
            ("LT",),
            ("JUMP_IF_FALSE", "recurse"),
            ("LOAD_LOCAL", 1),
            ("RETURN",),
            "recurse",
            ("LOAD_LOCAL", 1),
            ("LOAD_CONST", 1),
            ("SUB",),
            ("CALL_GLOBAL", 0, 1),
            ("LOAD_LOCAL", 1),
            ("LOAD_CONST", 0),
            ("SUB",),
            ("CALL_GLOBAL", 0, 1),
            ("ADD",),
            ("RETURN",),
        ],
        arity=1,
        local_names=("fib", "n"),
        consts=(2, 1),
        path="fib.tl",
        line=1,
        local_types=("", "int"),
        ret_type="int",
    )


def sample_loop() -> Code:
    """fn sum(n) { var s = 0  var i = 0  while i < n { s = s + i  i = i + 1 } return s }"""
    return asm(
        "sum",
        [
            ("LOAD_CONST", 0),
            ("STORE_LOCAL", 2),
            ("LOAD_CONST", 0),
            ("STORE_LOCAL", 3),
            "top",
            ("LOAD_LOCAL", 3),
            ("LOAD_LOCAL", 1),
            ("LT",),
            ("JUMP_IF_FALSE", "done"),
            ("LOAD_LOCAL", 2),
            ("LOAD_LOCAL", 3),
            ("ADD",),
            ("STORE_LOCAL", 2),
            ("LOAD_LOCAL", 3),
            ("LOAD_CONST", 1),
            ("ADD",),
            ("STORE_LOCAL", 3),
            ("JUMP", "top"),
            "done",
            ("LOAD_LOCAL", 2),
            ("RETURN",),
        ],
        arity=1,
        local_names=("sum", "n", "s", "i"),
        consts=(0, 1),
        line=10,
    )


def sample_try() -> Code:
    """fn safe(x) { try { return 10 / x } catch e { return -1 } }"""
    return asm(
        "safe",
        [
            "try",
            ("LOAD_CONST", 0),
            ("LOAD_LOCAL", 1),
            ("DIV",),
            ("RETURN",),
            "handler",
            ("STORE_LOCAL", 2),
            ("LOAD_CONST", 1),
            ("RETURN",),
        ],
        arity=1,
        local_names=("safe", "x", "e"),
        consts=(10, -1),
        handlers=(("try", "handler", "handler", 0),),
        line=20,
    )


def sample_closure() -> Code:
    """fn make_adder(n) { return fn add(x) { return n + x } }"""
    add = asm(
        "add",
        [("LOAD_UPVAL", 0), ("LOAD_LOCAL", 1), ("ADD",), ("RETURN",)],
        arity=1,
        local_names=("add", "x"),
        captures=((True, 1),),
        upval_names=("n",),
        line=31,
    )
    return asm(
        "make_adder",
        [("MAKE_CELL", 1), ("MAKE_CLOSURE", 0), ("RETURN",)],
        arity=1,
        local_names=("make_adder", "n"),
        consts=(add,),
        line=30,
    )


def sample_class_init() -> Code:
    """init(self, x, y) { self.x = x  self.y = y }"""
    return asm(
        "init",
        [
            ("LOAD_LOCAL", 1),
            ("LOAD_LOCAL", 2),
            ("SET_FIELD", 0),
            ("LOAD_LOCAL", 1),
            ("LOAD_LOCAL", 3),
            ("SET_FIELD", 1),
            ("LOAD_LOCAL", 1),
            ("RETURN",),
        ],
        arity=3,
        local_names=("init", "self", "x", "y"),
        names=("x", "y"),
        flags=FLAG_METHOD | FLAG_INIT,
        line=41,
    )


# Constants that stress the encoding: signed zero, nan, infinities, big ints,
# non-ASCII text, nested tuples.
TRICKY_CONSTS = (
    -0.0,
    float("nan"),
    float("inf"),
    float("-inf"),
    2**200 + 12345,
    -(2**100),
    -1,
    0,
    9223372036854775807,
    "héllo ✓ \U0001f600 \x00 \"q\"\n",
    "",
    ((1, (2.5, ("a", None, True, False))), ()),
    ("x", "y"),
)


def sample_main() -> ModuleCode:
    fib, loop, safe, adder = sample_fib(), sample_loop(), sample_try(), sample_closure()
    point = ClassInfo("Point", ("x", "y"), (0, None), ("init",), line=40)
    consts = (fib, loop, safe, adder, point, "lib", 10) + TRICKY_CONSTS
    k = {v: i for i, v in enumerate(("fib", "loop", "safe", "adder", "point", "lib", "ten"))}
    first_tricky = 7
    ops = [
        ("MAKE_CLOSURE", k["fib"]),
        ("STORE_GLOBAL", 0),
        ("MAKE_CLOSURE", k["loop"]),
        ("STORE_GLOBAL", 1),
        ("MAKE_CLOSURE", k["safe"]),
        ("STORE_GLOBAL", 2),
        ("MAKE_CLOSURE", k["adder"]),
        ("STORE_GLOBAL", 3),
        ("LOAD_NIL",),
        ("MAKE_CLOSURE", len(consts)),  # the init method, appended below
        ("MAKE_CLASS", k["point"], 1),
        ("STORE_GLOBAL", 4),
        ("IMPORT", k["lib"]),
        ("STORE_GLOBAL", 5),
        ("LOAD_CONST", k["ten"]),
        ("CALL_GLOBAL", 0, 1),
        ("POP",),
    ]
    for i in range(len(TRICKY_CONSTS)):
        ops += [("LOAD_CONST", first_tricky + i), ("POP",)]
    ops += [
        ("LOAD_CONST", k["ten"]),
        ("LOAD_CONST", k["ten"]),
        ("BUILD_RECORD", len(consts) - 1, 2),  # ("x", "y") is the last tricky const
        ("POP",),
        ("LOAD_NIL",),
        ("RETURN",),
    ]
    init = asm(
        "main",
        ops,
        local_names=("main",),
        consts=consts + (sample_class_init(),),
        flags=FLAG_MODULE,
        path="main.tl",
    )
    return ModuleCode(
        path="main.tl",
        source_hash="ab" * 32,
        globals=("fib", "sum", "safe", "make_adder", "Point", "lib"),
        exports=("fib", "Point"),
        imports=("lib.tl",),
        init=init,
    )


def sample_lib() -> ModuleCode:
    init = asm(
        "lib",
        [("LOAD_CONST", 0), ("STORE_GLOBAL", 0), ("LOAD_NIL",), ("RETURN",)],
        local_names=("lib",),
        consts=(3.14,),
        flags=FLAG_MODULE,
        path="lib.tl",
    )
    return ModuleCode("lib.tl", "cd" * 32, ("pi",), ("pi",), (), init, lang="lox")


def sample_bundle() -> Bundle:
    return Bundle("main.tl", {"main.tl": sample_main(), "lib.tl": sample_lib()})


# -- structural equality -----------------------------------------------------------


def same(a: object, b: object) -> bool:
    """Deep structural equality; floats compare by bit pattern (nan == nan, -0.0 != 0.0)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return struct.pack(">d", a) == struct.pack(">d", b)
    if type(a) in (tuple, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return a == b


def replace(obj, /, **changes):
    """dataclasses.replace, usable with a `code=` field change."""
    return dataclasses.replace(obj, **changes)
