"""The `.tvm` bytecode file: exact, checksummed serialisation of a `Bundle`.

`dump_bundle` writes every field of every code object, so
`dump_bundle(load_bundle(dump_bundle(b))) == dump_bundle(b)` and the loaded
objects are structurally equal to the originals. `load_bundle` treats its input
as hostile: whatever the bytes, it either returns a verified `Bundle` or raises
`LoadError` -- never another exception, never an allocation driven by an
unchecked length, never unbounded recursion.

File layout (version 7)
-----------------------

Version 2 (issue 3) added `field_types` to class constants; version 3 (issue
4) added the SPAWN_GLOBAL instruction, which renumbers the opcodes after it;
version 4 (issue 5, Lox) added the JUMP_IF_FALSY, JUMP_IF_TRUTHY, FALSY, PRINT
and ASSIGN_GLOBAL instructions (numbered after all earlier ones), `flags` on
class constants, and the module language "lox". Version 5 (issue 18, TinyLang 1.1) added
`interfaces` to class constants. Version 6 (issue 18, helper tldefault) added
`required` to code objects and the JUMP_IF_PASSED and LOAD_MISSING
instructions (parameter defaults evaluated by the callee). Version 7
(issue 16) added `early` to class constants (the fields init assigns
before `self` is seen: raw slots, heap/layout.py).
Files of other versions are rejected (recompile them with `tvmc`).

Header, fixed 38 bytes::

    magic     4 bytes   b"TVM\\x00"
    version   u16       big-endian, currently 7
    checksum  32 bytes  sha256 of the payload (everything after the header)

Primitive encodings used by the payload:

* `uvarint` -- unsigned LEB128 (7 bits per byte, low group first, high bit set
  on every byte but the last). Used for lengths and counts.
* `svarint` -- a zigzag-mapped integer (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...)
  written as a uvarint; any size. Used for every integer field and constant.
* `str` -- uvarint byte length, then that many bytes of UTF-8.
* `strs` -- uvarint count, then that many `str`.
* `bool` -- one byte, 0 or 1.

Payload::

    str       main module key
    uvarint   module count
    module*   in bundle order:
        str   key
        str   path
        str   source_hash
        strs  globals
        strs  exports
        strs  imports
        str   lang
        code  init

`code` (every field of `Code`, in dataclass order)::

    str      name
    str      path
    svarint  line, col, arity, nlocals
    strs     local_names
    uvarint  instruction count, then svarint per int of `code`
    uvarint  constant count, then `const` per constant
    strs     names
    uvarint  capture count, then per capture: bool from_local, svarint index
    strs     upval_names
    uvarint  line-table count, then per entry: svarint offset, line, col
    uvarint  handler count, then per entry: svarint start, end, target, depth
    svarint  max_stack, flags
    strs     local_types
    str      ret_type
    svarint  required

`const` is a one-byte tag followed by its body::

    0 nil      (no body)
    1 true     (no body)
    2 false    (no body)
    3 int      svarint
    4 float    8 bytes, IEEE 754 double, big-endian (keeps -0.0 and nan payloads)
    5 str      str
    6 tuple    uvarint count, then `const` per element
    7 code     code
    8 class    str name, strs fields, uvarint count + `const` per default,
               strs methods, svarint line, strs field_types, svarint flags,
               strs interfaces, strs early

The reader is strict, so that every accepted file is byte-for-byte what
`dump_bundle` would write for its content: varints must be canonical (no zero
final group), capture flags 0 or 1, strings valid UTF-8, module keys unique,
the main key present, and no bytes may follow the last module. Every length or
count is checked against the bytes left before anything is allocated.
Nesting of tuples and code objects is capped at `MAX_DEPTH`. After decoding,
every module is checked with `verifier.verify_module`; verification failures
are reported as `LoadError` (precisely, `VerifyError`, a subclass).
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

from .code import MAX_NESTING, Bundle, ClassInfo, Code, LoadError, ModuleCode
from .verifier import VerifyError, verify_module

__all__ = ["MAGIC", "FORMAT_VERSION", "MAX_DEPTH", "dump_bundle", "load_bundle", "write_file", "read_file"]

MAGIC = b"TVM\x00"
FORMAT_VERSION = 7
_CHECKSUM_SIZE = 32  # sha256 digest
HEADER_SIZE = len(MAGIC) + 2 + _CHECKSUM_SIZE
# Maximum nesting of tuple/code/class constants: the format's one nesting
# limit (bytecode/code.py), which the compilers respect too.
MAX_DEPTH = MAX_NESTING

T_NIL, T_TRUE, T_FALSE, T_INT, T_FLOAT, T_STR, T_TUPLE, T_CODE, T_CLASS = range(9)

_DOUBLE = struct.Struct(">d")


# ---------------------------------------------------------------------------
# Writer


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def uvarint(self, n: int) -> None:
        if n < 0:
            raise ValueError(f"negative length {n}")
        if n < 1 << 63:
            while n >= 0x80:
                self.out.append((n & 0x7F) | 0x80)
                n >>= 7
            self.out.append(n)
            return
        # Huge ints: go through the binary string, which is linear in size
        # (CPython's int <-> power-of-two-base text conversion), where
        # repeated shifting would be quadratic.
        bits = bin(n)[2:]
        bits = "0" * (-len(bits) % 7) + bits
        groups = [int(bits[i : i + 7], 2) for i in range(0, len(bits), 7)]
        groups.reverse()  # least significant group first
        self.out.extend(g | 0x80 for g in groups[:-1])
        self.out.append(groups[-1])

    def svarint(self, n: int) -> None:
        if type(n) is not int:
            raise TypeError(f"expected int, got {type(n).__name__}")
        self.uvarint(n << 1 if n >= 0 else ((-n) << 1) - 1)

    def string(self, s: str) -> None:
        if type(s) is not str:
            raise TypeError(f"expected str, got {type(s).__name__}")
        b = s.encode("utf-8")
        self.uvarint(len(b))
        self.out += b

    def strings(self, items: tuple[str, ...]) -> None:
        self.uvarint(len(items))
        for s in items:
            self.string(s)

    def const(self, v: object) -> None:
        if v is None:
            self.out.append(T_NIL)
        elif v is True:
            self.out.append(T_TRUE)
        elif v is False:
            self.out.append(T_FALSE)
        elif type(v) is int:
            self.out.append(T_INT)
            self.svarint(v)
        elif type(v) is float:
            self.out.append(T_FLOAT)
            self.out += _DOUBLE.pack(v)
        elif type(v) is str:
            self.out.append(T_STR)
            self.string(v)
        elif type(v) is tuple:
            self.out.append(T_TUPLE)
            self.uvarint(len(v))
            for x in v:
                self.const(x)
        elif type(v) is Code:
            self.out.append(T_CODE)
            self.code(v)
        elif type(v) is ClassInfo:
            self.out.append(T_CLASS)
            self.string(v.name)
            self.strings(v.fields)
            self.uvarint(len(v.defaults))
            for d in v.defaults:
                self.const(d)
            self.strings(v.methods)
            self.svarint(v.line)
            self.strings(v.field_types)
            self.svarint(v.flags)
            self.strings(v.interfaces)
            self.strings(v.early)
        else:
            raise TypeError(f"cannot serialise constant of type {type(v).__name__}")

    def code(self, c: Code) -> None:
        self.string(c.name)
        self.string(c.path)
        for n in (c.line, c.col, c.arity, c.nlocals):
            self.svarint(n)
        self.strings(c.local_names)
        self.uvarint(len(c.code))
        for n in c.code:
            self.svarint(n)
        self.uvarint(len(c.consts))
        for k in c.consts:
            self.const(k)
        self.strings(c.names)
        self.uvarint(len(c.captures))
        for from_local, index in c.captures:
            self.out.append(1 if from_local else 0)
            self.svarint(index)
        self.strings(c.upval_names)
        self.uvarint(len(c.lines))
        for entry in c.lines:
            for n in entry:
                self.svarint(n)
        self.uvarint(len(c.handlers))
        for entry in c.handlers:
            for n in entry:
                self.svarint(n)
        self.svarint(c.max_stack)
        self.svarint(c.flags)
        self.strings(c.local_types)
        self.string(c.ret_type)
        self.svarint(c.required)

    def module(self, key: str, m: ModuleCode) -> None:
        self.string(key)
        self.string(m.path)
        self.string(m.source_hash)
        self.strings(m.globals)
        self.strings(m.exports)
        self.strings(m.imports)
        self.string(m.lang)
        self.code(m.init)


def dump_bundle(bundle: Bundle) -> bytes:
    """Serialise a bundle to `.tvm` bytes (header + checksummed payload)."""
    w = _Writer()
    w.string(bundle.main)
    w.uvarint(len(bundle.modules))
    for key, m in bundle.modules.items():
        w.module(key, m)
    payload = bytes(w.out)
    header = MAGIC + FORMAT_VERSION.to_bytes(2, "big") + hashlib.sha256(payload).digest()
    return header + payload


# ---------------------------------------------------------------------------
# Reader


def _bad(msg: str) -> LoadError:
    return LoadError(f"bad .tvm file: {msg}")


class _Reader:
    """Cursor over the payload. Every read checks the remaining length first."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)

    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n > self.end - self.pos:
            raise _bad(f"truncated (reading {what} at byte {self.pos})")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def byte(self, what: str) -> int:
        if self.pos >= self.end:
            raise _bad(f"truncated (reading {what} at byte {self.pos})")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uvarint(self, what: str) -> int:
        data, start = self.data, self.pos
        # Fast path: up to 9 bytes (63 bits), the case of every length and nearly every int.
        result = shift = 0
        pos = start
        while pos < self.end and pos - start < 9:
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                if b == 0 and pos - start > 1:
                    # A zero final group is a non-canonical encoding; rejecting
                    # it keeps dump(load(x)) == x for every accepted file.
                    raise _bad(f"non-canonical varint in {what} at byte {start}")
                self.pos = pos
                return result
            shift += 7
        # Long varint (a big int constant): find its end, then convert the
        # 7-bit groups in one linear step rather than by repeated shifting.
        pos = start
        while pos < self.end and data[pos] >= 0x80:
            pos += 1
        if pos >= self.end:
            raise _bad(f"truncated (reading {what} at byte {start})")
        groups = data[start : pos + 1]
        self.pos = pos + 1
        if groups[-1] == 0:  # non-canonical, as above
            raise _bad(f"non-canonical varint in {what} at byte {start}")
        return int("".join(format(g & 0x7F, "07b") for g in reversed(groups)), 2)

    def svarint(self, what: str) -> int:
        z = self.uvarint(what)
        return z >> 1 if not z & 1 else -((z + 1) >> 1)

    def count(self, what: str, min_item_size: int = 1) -> int:
        """A length prefix, bounded by what the remaining bytes could hold."""
        start = self.pos
        n = self.uvarint(what)
        if n * min_item_size > self.remaining():
            raise _bad(f"truncated ({what} at byte {start} claims {n} items, only {self.remaining()} bytes left)")
        return n

    def string(self, what: str) -> str:
        start = self.pos
        n = self.count(what)
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad(f"invalid utf-8 in {what} at byte {start}") from None

    def strings(self, what: str) -> tuple[str, ...]:
        n = self.count(what)
        return tuple(self.string(what) for _ in range(n))

    def ints(self, what: str, width: int) -> tuple:
        """A counted list of `width`-tuples of svarints (width 1: plain ints)."""
        n = self.count(what, width)
        if width == 1:
            return tuple(self.svarint(what) for _ in range(n))
        return tuple(tuple(self.svarint(what) for _ in range(width)) for _ in range(n))

    def const(self, depth: int, code_depth: int) -> object:
        # depth: tuples around it in its code object; code_depth: that code's
        # own nesting (the two are limited separately, as the verifier does).
        if depth > MAX_DEPTH:
            raise _bad(f"constants nested more than {MAX_DEPTH} deep")
        at = self.pos
        tag = self.byte("constant tag")
        if tag == T_NIL:
            return None
        if tag == T_TRUE:
            return True
        if tag == T_FALSE:
            return False
        if tag == T_INT:
            return self.svarint("int constant")
        if tag == T_FLOAT:
            return _DOUBLE.unpack(self.take(8, "float constant"))[0]
        if tag == T_STR:
            return self.string("string constant")
        if tag == T_TUPLE:
            n = self.count("tuple constant")
            return tuple(self.const(depth + 1, code_depth) for _ in range(n))
        if tag == T_CODE:
            return self.code(code_depth + 1)
        if tag == T_CLASS:
            name = self.string("class name")
            fields = self.strings("class fields")
            n = self.count("class defaults")
            defaults = tuple(self.const(depth + 1, code_depth) for _ in range(n))
            methods = self.strings("class methods")
            line = self.svarint("class line")
            field_types = self.strings("class field types")
            flags = self.svarint("class flags")
            interfaces = self.strings("class interfaces")
            early = self.strings("class early fields")
            return ClassInfo(name, fields, defaults, methods, line, field_types, flags, interfaces, early)
        raise _bad(f"unknown constant tag {tag} at byte {at}")

    def code(self, depth: int) -> Code:
        if depth > MAX_DEPTH:
            raise _bad(f"functions nested more than {MAX_DEPTH} deep")
        name = self.string("function name")
        path = self.string("function path")
        line = self.svarint("function line")
        col = self.svarint("function column")
        arity = self.svarint("arity")
        nlocals = self.svarint("nlocals")
        local_names = self.strings("local names")
        code = self.ints("instructions", 1)
        n = self.count("constants")
        consts = tuple(self.const(0, depth) for _ in range(n))
        names = self.strings("names")
        n = self.count("captures", 2)
        captures = []
        for _ in range(n):
            flag = self.byte("capture flag")
            if flag > 1:
                raise _bad(f"bad capture flag {flag} at byte {self.pos - 1}")
            captures.append((flag == 1, self.svarint("capture index")))
        upval_names = self.strings("upvalue names")
        lines = self.ints("line table", 3)
        handlers = self.ints("handler table", 4)
        max_stack = self.svarint("max_stack")
        flags = self.svarint("flags")
        local_types = self.strings("local types")
        ret_type = self.string("return type")
        required = self.svarint("required argument count")
        return Code(
            name=name,
            path=path,
            line=line,
            col=col,
            arity=arity,
            nlocals=nlocals,
            local_names=local_names,
            code=code,
            consts=consts,
            names=names,
            captures=tuple(captures),
            upval_names=upval_names,
            lines=lines,
            handlers=handlers,
            max_stack=max_stack,
            flags=flags,
            local_types=local_types,
            ret_type=ret_type,
            required=required,
        )

    def module(self) -> tuple[str, ModuleCode]:
        key = self.string("module key")
        path = self.string("module path")
        source_hash = self.string("source hash")
        globals_ = self.strings("globals")
        exports = self.strings("exports")
        imports = self.strings("imports")
        lang = self.string("language")
        init = self.code(0)
        return key, ModuleCode(path, source_hash, globals_, exports, imports, init, lang)


def _decode(data: bytes) -> Bundle:
    if len(data) < HEADER_SIZE:
        if not MAGIC.startswith(bytes(data[: len(MAGIC)])):
            raise _bad("not a TinyVM bytecode file (bad magic)")
        raise _bad(f"truncated (header needs {HEADER_SIZE} bytes, file has {len(data)})")
    if data[: len(MAGIC)] != MAGIC:
        raise _bad("not a TinyVM bytecode file (bad magic)")
    version = int.from_bytes(data[4:6], "big")
    if version != FORMAT_VERSION:
        raise _bad(f"unsupported format version {version} (this TinyVM reads version {FORMAT_VERSION}: recompile the program with tvmc)")
    payload = data[HEADER_SIZE:]
    if hashlib.sha256(payload).digest() != data[6:HEADER_SIZE]:
        raise _bad("checksum mismatch")
    r = _Reader(payload)
    main = r.string("main module key")
    n = r.count("module count")
    modules: dict[str, ModuleCode] = {}
    for _ in range(n):
        key, m = r.module()
        if key in modules:
            raise _bad(f"duplicate module {key!r}")
        modules[key] = m
    if r.remaining():
        raise _bad(f"{r.remaining()} bytes of trailing garbage after the last module")
    if main not in modules:
        raise _bad(f"main module {main!r} is not in the file")
    return Bundle(main, modules)


def load_bundle(data: bytes) -> Bundle:
    """Decode and verify `.tvm` bytes. Raises only `LoadError`."""
    # Only real byte buffers: bytes(n) of an int would allocate n bytes.
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _bad(f"expected bytes, got {type(data).__name__}")
    try:
        data = bytes(data)
    except Exception:  # noqa: BLE001 - e.g. a memoryview of a non-byte format
        raise _bad("unreadable buffer") from None
    try:
        bundle = _decode(data)
    except LoadError:
        raise
    except RecursionError:
        raise _bad("structure nested too deeply") from None
    except Exception as e:  # noqa: BLE001 - the contract is "only LoadError"
        # Not expected: every read is guarded. Kept so that a decoder bug can
        # never surface as a host exception to the embedder.
        raise _bad(f"undecodable ({type(e).__name__}: {e})") from e
    for key, m in bundle.modules.items():
        try:
            verify_module(m)
        except LoadError as e:
            raise VerifyError(f"bad .tvm file: module {key!r}: {e}") from e
    return bundle


def write_file(path: str | Path, bundle: Bundle) -> None:
    """Write `bundle` to `path` as a `.tvm` file (replacing it atomically)."""
    path = Path(path)
    data = dump_bundle(bundle)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def read_file(path: str | Path) -> Bundle:
    """Read and verify a `.tvm` file. Raises `LoadError` (also for I/O errors)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise LoadError(f"cannot read {path}: {e.strerror or e}") from None
    return load_bundle(data)
