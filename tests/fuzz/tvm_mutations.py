"""Mutation operators for `.tvm` files, used by tests/fuzz/test_fuzz_tvm.py.

Two families, both driven by a seeded `random.Random` so every case reproduces:

* structure-aware edits of a decoded `Bundle` (`mutate_bundle`): the result is
  dumped again, so it is a well-formed file with a valid checksum whose
  contents are wrong in one or a few places. Operators on a code object change
  an opcode for another with the same operand kinds, an operand for another
  in-range one, insert / delete / duplicate / swap instructions (jump targets,
  the line table and the handler table follow the moved offsets, so most edits
  stay decodable), truncate the code, splice in a run of instructions from
  another program, edit constants, class constants, the handler table, sizes,
  flags, declared types, captures and names; on a module, its dialect,
  globals and imports.
* byte-level edits of a whole file's payload, with a recomputed checksum
  (`truncate`, `splice`, `break_utf8`): they exercise the reader.

Not a test module (no `test_` prefix): pytest collects nothing here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random

from tinyvm.bytecode.code import (
    CLASS_EXTENDS,
    CLASS_OPEN,
    FLAG_ASYNC,
    FLAG_GENERATOR,
    FLAG_INIT,
    FLAG_METHOD,
    FLAG_MODULE,
    Bundle,
    ClassInfo,
    Code,
)
from tinyvm.bytecode.opcodes import BY_NAME, OPCODES
from tinyvm.bytecode.tvmfile import FORMAT_VERSION, HEADER_SIZE, MAGIC

JUMP_KIND = "jump"  # (opcodes.JUMP is the JUMP opcode's number)
INTERESTING = (0, 1, 2, 3, -1, 7, 63, 64, 255, 256, 2**16, 2**31, 2**63 - 1, -(2**63))
CONSTS = (
    None, True, False, 0, 1, -1, 2**63 - 1, -(2**63), 2**70, 1.5, float("nan"), "", "x", "init", "\u00e9\U0001f600",
    ("a",), ("a", "b"), ("int", "x"), ("recv",), ("send", "default"), ("sleep",), ("bogus",), (),
)  # fmt: skip
TYPES = ("", "int", "float", "string", "bool", "any", "int?", "[int]", "fn(int) -> int", "Point", "{x: int}", "[string: int]", "nil", "(")
NAMES = ("x", "init", "str", "len", "print", "__id", "__fields", "__kind", "__sort_by_keys", "push", "send", "recv", "$fields", "message", "nope", "clock")
# Operand kinds of the same shape: an opcode may be swapped for another of these.
_BY_OPERANDS: dict[tuple, list[int]] = {}
for _op in OPCODES:
    _BY_OPERANDS.setdefault(_op.operands, []).append(_op.code)
_PUSHERS = [BY_NAME[n].code for n in ("LOAD_NIL", "LOAD_TRUE", "LOAD_CONST", "LOAD_LOCAL", "LOAD_GLOBAL", "DUP", "LOAD_BUILTIN", "THIS_MODULE", "LOAD_UPVAL", "LOAD_CELL", "GET_ITER", "MAKE_CLOSURE")]
_CALLS = [BY_NAME[n].code for n in ("CALL", "CALL_GLOBAL", "CALL_METHOD", "AWAIT", "TO_STR", "IMPORT")]


def with_payload(payload: bytes) -> bytes:
    """A file holding `payload`, with a valid header and checksum."""
    return MAGIC + FORMAT_VERSION.to_bytes(2, "big") + hashlib.sha256(payload).digest() + payload


# --------------------------------------------------------------------------- byte level


def truncate(rng: random.Random, data: bytes) -> bytes:
    """The file cut short anywhere in its payload (checksum recomputed)."""
    payload = data[HEADER_SIZE:]
    return with_payload(payload[: rng.randrange(len(payload) + 1)])


def splice(rng: random.Random, a: bytes, b: bytes) -> bytes:
    """A prefix of one file's payload followed by a suffix of another's."""
    pa, pb = a[HEADER_SIZE:], b[HEADER_SIZE:]
    return with_payload(pa[: rng.randrange(len(pa) + 1)] + pb[rng.randrange(len(pb) + 1) :])


_BAD_UTF8 = (b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xc3\x28", b"\xf4\x90\x80\x80", b"\x80")


def break_utf8(rng: random.Random, data: bytes) -> bytes:
    """An invalid UTF-8 sequence written over the bytes of a string (a letter
    of the payload), keeping every length prefix as it was."""
    payload = bytearray(data[HEADER_SIZE:])
    letters = [i for i, c in enumerate(payload) if 97 <= c <= 122]
    if letters:
        i = rng.choice(letters)
        bad = rng.choice(_BAD_UTF8)
        payload[i : i + len(bad)] = bad
    return with_payload(bytes(payload))


# --------------------------------------------------------------------------- code objects


def decode(code: tuple) -> list | None:
    """[[opcode, [operands], original offset], ...] or None when the stream
    does not decode."""
    out = []
    pc = 0
    while pc < len(code):
        op = code[pc]
        if type(op) is not int or not 0 <= op < len(OPCODES) or pc + OPCODES[op].size > len(code):
            return None
        out.append([op, list(code[pc + 1 : pc + OPCODES[op].size]), pc])
        pc += OPCODES[op].size
    return out


def assemble(c: Code, ins: list) -> Code:
    """`c` with the instructions `ins` laid out again. Offsets that pointed at an
    instruction (jump operands, line and handler entries) follow it; an offset
    whose instruction was deleted goes to the next one kept. New instructions
    have None as their original offset."""
    new_of: dict[int, int] = {}
    pc = 0
    for op, args, old in ins:
        if old is not None:
            new_of.setdefault(old, pc)
        pc += 1 + len(args)
    end = pc
    olds = sorted(new_of)

    def remap(o: int) -> int:
        if o in new_of:
            return new_of[o]
        later = [x for x in olds if x > o]
        return new_of[later[0]] if later else end

    seq: list[int] = []
    for op, args, _old in ins:
        seq.append(op)
        seq.extend(remap(v) if kind == JUMP_KIND else v for kind, v in zip(OPCODES[op].operands, args))
    lines = {}
    for off, line, col in c.lines:
        if remap(off) < end:
            lines[remap(off)] = (remap(off), line, col)
    handlers = tuple((remap(s), remap(e), remap(t), d) for s, e, t, d in c.handlers)
    return dataclasses.replace(c, code=tuple(seq), lines=tuple(sorted(lines.values())), handlers=handlers)


def operand(rng: random.Random, c: Code, kind: str, nglobals: int, ins: list) -> int:
    """A value for an operand of `kind`, in range for its table."""
    sizes = {"const": len(c.consts), "local": c.nlocals, "upval": len(c.captures), "global": nglobals, "name": len(c.names)}
    if kind in sizes:
        return rng.randrange(sizes[kind]) if sizes[kind] else 0
    if kind == JUMP_KIND:  # an instruction's original offset (assemble moves it)
        olds = [x[2] for x in ins if x[2] is not None]
        return rng.choice(olds) if olds else 0
    return rng.choice((0, 1, 1, 2, 3, rng.randrange(8)))


def instruction(rng: random.Random, c: Code, nglobals: int, ins: list, choices: list | None = None) -> list:
    op = rng.choice(choices) if choices else rng.randrange(len(OPCODES))
    return [op, [operand(rng, c, k, nglobals, ins) for k in OPCODES[op].operands], None]


def mutate_class(rng: random.Random, k: ClassInfo) -> ClassInfo:
    what = rng.randrange(5)
    if what == 0:
        return dataclasses.replace(k, flags=k.flags ^ rng.choice((CLASS_OPEN, CLASS_EXTENDS)))
    if what == 1 and len(k.methods) > 1:
        methods = list(k.methods)
        rng.shuffle(methods)
        return dataclasses.replace(k, methods=tuple(methods))
    if what == 2 and k.methods:
        methods = list(k.methods)
        methods[rng.randrange(len(methods))] = rng.choice(("init", "$fields", "str", "x"))
        return dataclasses.replace(k, methods=tuple(methods))
    if what == 3:
        types = k.field_types + (rng.choice(TYPES),) if k.field_types else ()
        return dataclasses.replace(k, fields=k.fields + ("zz",), defaults=k.defaults + (rng.choice(CONSTS[:10]),), field_types=types)
    return dataclasses.replace(k, field_types=tuple(rng.choice(TYPES) for _ in k.fields))


def mutate_code(rng: random.Random, c: Code, nglobals: int, donors: list[Code]) -> Code:
    """One edit of code object `c` (see the module docstring)."""
    ins = decode(c.code)
    what = rng.randrange(25)
    if not ins or what == 0:  # a raw instruction word
        seq = list(c.code)
        if seq:
            i = rng.randrange(len(seq))
            seq[i] = rng.choice(INTERESTING + (seq[i] + 1, seq[i] - 1, rng.randrange(100)))
        return dataclasses.replace(c, code=tuple(seq))
    i = rng.randrange(len(ins))
    op, args, old = ins[i]
    if what <= 3:  # another opcode with the same operand kinds (or count)
        same = _BY_OPERANDS[OPCODES[op].operands]
        if rng.random() < 0.3:
            same = [o.code for o in OPCODES if len(o.operands) == len(args)]
        ins[i] = [rng.choice(same), args, old]
    elif what <= 6:  # another operand, mostly in range for its kind
        if args:
            j = rng.randrange(len(args))
            args = list(args)
            args[j] = operand(rng, c, OPCODES[op].operands[j], nglobals, ins) if rng.random() < 0.8 else args[j] + rng.choice((-1, 1))
            ins[i] = [op, args, old]
    elif what == 7:
        ins.insert(i, instruction(rng, c, nglobals, ins))
    elif what == 8:
        del ins[i]
    elif what == 9 and i + 1 < len(ins):
        ins[i], ins[i + 1] = ins[i + 1], ins[i]
    elif what == 10:
        ins.insert(i, [op, list(args), None])
    elif what == 11:  # truncated: the code ends early, with a return
        ins = ins[:i] + [[BY_NAME["LOAD_NIL"].code, [], None], [BY_NAME["RETURN"].code, [], None]]
    elif what == 12:  # a run of instructions from another program
        dins = decode(rng.choice(donors).code) or []
        if dins:
            a = rng.randrange(len(dins))
            piece = [[o, list(p), None] for o, p, _ in dins[a : a + rng.randint(1, 6)]]
            for p in piece:  # jumps of the piece land in this code
                p[1] = [operand(rng, c, k, nglobals, ins) if k == JUMP_KIND else v for k, v in zip(OPCODES[p[0]].operands, p[1])]
            ins[i : i + rng.randint(0, 3)] = piece
    elif what == 13:  # a balanced pair: a value pushed, then something using it
        ins.insert(i, instruction(rng, c, nglobals, ins, _PUSHERS))
        ins.insert(i + 1, instruction(rng, c, nglobals, ins))
    elif what == 14:  # a call-like instruction followed by a JUMP (return addresses)
        ins.insert(i, instruction(rng, c, nglobals, ins, _CALLS))
        ins.insert(i + 1, [BY_NAME["JUMP"].code, [operand(rng, c, JUMP_KIND, nglobals, ins)], None])
    elif what == 15 and c.consts:
        return dataclasses.replace(c, consts=_mutate_consts(rng, c.consts, donors))
    elif what == 16:
        return dataclasses.replace(c, handlers=_mutate_handlers(rng, c, [x[2] for x in ins if x[2] is not None]))
    elif what == 17:
        field = rng.choice(("arity", "max_stack"))
        return dataclasses.replace(c, **{field: max(0, getattr(c, field) + rng.choice((-1, 1, 2)))})
    elif what == 18:
        if rng.random() < 0.5 and c.nlocals > 1:
            return dataclasses.replace(c, nlocals=c.nlocals - 1, local_names=c.local_names[:-1], local_types=c.local_types[: c.nlocals - 1])
        return dataclasses.replace(c, nlocals=c.nlocals + 1, local_names=c.local_names + ("extra",))
    elif what == 19:
        return dataclasses.replace(c, flags=c.flags ^ rng.choice((FLAG_METHOD, FLAG_INIT, FLAG_GENERATOR, FLAG_ASYNC, FLAG_MODULE)))
    elif what == 20:
        if rng.random() < 0.3:
            return dataclasses.replace(c, ret_type=rng.choice(TYPES))
        types = list(c.local_types) + [""] * (c.nlocals - len(c.local_types))
        if types:
            types[rng.randrange(len(types))] = rng.choice(TYPES)
        return dataclasses.replace(c, local_types=tuple(types))
    elif what == 21 and c.captures:
        caps = list(c.captures)
        j = rng.randrange(len(caps))
        from_local, k = caps[j]
        caps[j] = (not from_local, k) if rng.random() < 0.5 else (from_local, max(0, k + rng.choice((-1, 1))))
        return dataclasses.replace(c, captures=tuple(caps))
    elif what == 22 and c.names:
        names = list(c.names)
        names[rng.randrange(len(names))] = rng.choice(NAMES + c.names)
        return dataclasses.replace(c, names=tuple(names))
    elif what == 23:  # a local's kind changes: MAKE_CELL removed or added
        cell = BY_NAME["MAKE_CELL"].code
        cells = [j for j, x in enumerate(ins) if x[0] == cell]
        if cells and rng.random() < 0.6:
            del ins[rng.choice(cells)]
        elif c.nlocals > 1:
            ins.insert(i, [cell, [rng.randrange(1, c.nlocals)], None])
    else:  # an instruction moved elsewhere
        j = rng.randrange(len(ins))
        ins.insert(j, ins.pop(i))
    return assemble(c, ins)


def _mutate_consts(rng: random.Random, consts: tuple, donors: list[Code]) -> tuple:
    out = list(consts)
    j = rng.randrange(len(out))
    k = out[j]
    if type(k) is ClassInfo:
        out[j] = mutate_class(rng, k)
    elif type(k) is Code:  # another function (of this code, or another program)
        out[j] = rng.choice([x for x in out if type(x) is Code] + donors[:50])
    elif rng.random() < 0.5:
        out[j] = rng.choice(CONSTS)
    else:  # another constant of this code: kinds the compiler uses elsewhere
        out[j] = rng.choice([x for x in out if type(x) is not Code])
    return tuple(out)


def _mutate_handlers(rng: random.Random, c: Code, starts: list[int]) -> tuple:
    hs = list(c.handlers)
    n = len(c.code)
    r = rng.random()
    if hs and r < 0.5:
        j = rng.randrange(len(hs))
        h = list(hs[j])
        f = rng.randrange(4)
        h[f] = h[f] + rng.choice((-1, 1, 2)) if f == 3 else rng.choice(starts + [n])
        hs[j] = tuple(h)
    elif hs and r < 0.65:
        del hs[rng.randrange(len(hs))]
    elif hs and r < 0.75:
        hs.reverse()  # inner and outer exchanged
    else:
        a, b = sorted(rng.sample(starts + [n], 2)) if len(starts) > 1 else (0, n)
        hs.insert(rng.randrange(len(hs) + 1), (a, b, rng.choice(starts), rng.randrange(4)))
    return tuple(hs)


def all_codes(code: Code) -> list[Code]:
    out = [code]
    for k in code.consts:
        if type(k) is Code:
            out += all_codes(k)
    return out


def replace_code(code: Code, target: Code, new: Code) -> Code:
    """`code` with its nested code object `target` (or itself) replaced by `new`."""
    if code is target:
        return new
    if not any(type(k) is Code for k in code.consts):
        return code
    return dataclasses.replace(code, consts=tuple(replace_code(k, target, new) if type(k) is Code else k for k in code.consts))


def mutate_bundle(rng: random.Random, bundle: Bundle, donors: list[Code]) -> Bundle:
    """One to three edits of `bundle`: mostly of its code objects, sometimes of
    a module's dialect, globals or imports."""
    modules = dict(bundle.modules)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        key = rng.choice(list(modules))
        m = modules[key]
        r = rng.random()
        if r < 0.9:
            target = rng.choice(all_codes(m.init))
            modules[key] = dataclasses.replace(m, init=replace_code(m.init, target, mutate_code(rng, target, len(m.globals), donors)))
        elif r < 0.94:
            modules[key] = dataclasses.replace(m, lang=rng.choice(("tinylang", "lox")))
        elif r < 0.97:
            names = list(m.globals)
            if names and rng.random() < 0.5:
                names.pop()
            else:
                names.append("extra")
            modules[key] = dataclasses.replace(m, globals=tuple(names), exports=tuple(e for e in m.exports if e in names))
        else:
            modules[key] = dataclasses.replace(m, imports=m.imports + ("./" + rng.choice(list(modules)),))
    return Bundle(bundle.main, modules)

