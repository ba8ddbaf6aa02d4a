"""`.tvm` file tests: exact round trips, header layout, and every rejection path."""

from __future__ import annotations

import hashlib
import math
import struct
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tvm_samples import TRICKY_CONSTS, asm, sample_bundle, sample_lib, same  # noqa: E402

from tinyvm.bytecode import tvmfile  # noqa: E402
from tinyvm.bytecode.code import FLAG_MODULE, Bundle, ClassInfo, Code, ModuleCode  # noqa: E402
from tinyvm.bytecode.tvmfile import (  # noqa: E402
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    MAX_DEPTH,
    dump_bundle,
    load_bundle,
    read_file,
    write_file,
)
from tinyvm.bytecode.verifier import VerifyError  # noqa: E402
from tinyvm.bytecode.code import LoadError  # noqa: E402


def with_payload(payload: bytes, version: int = FORMAT_VERSION) -> bytes:
    """A file with a valid header (and checksum) around `payload`."""
    return MAGIC + version.to_bytes(2, "big") + hashlib.sha256(payload).digest() + payload


def payload_of(data: bytes) -> bytes:
    return data[HEADER_SIZE:]


def const_bundle(*consts) -> Bundle:
    """A one-module bundle whose init loads each constant (so it verifies)."""
    ops = []
    for i in range(len(consts)):
        ops += [("LOAD_CONST", i), ("POP",)]
    ops += [("LOAD_NIL",), ("RETURN",)]
    init = asm("m", ops, consts=consts, flags=FLAG_MODULE, path="m.tl")
    return Bundle("m", {"m": ModuleCode("m.tl", "00" * 32, (), (), (), init)})


def load_error(data: bytes, pattern: str) -> str:
    with pytest.raises(LoadError, match=pattern) as info:
        load_bundle(data)
    return str(info.value)


# -- round trips -------------------------------------------------------------------


def test_round_trip_sample_bundle():
    b = sample_bundle()
    data = dump_bundle(b)
    loaded = load_bundle(data)
    assert same(b, loaded)
    assert dump_bundle(loaded) == data
    assert loaded.main == "main.tl"
    assert list(loaded.modules) == ["main.tl", "lib.tl"]


def test_round_trip_keeps_every_code_field():
    loaded = load_bundle(dump_bundle(sample_bundle()))
    init = loaded.modules["main.tl"].init
    fib, _loop, safe, adder = init.consts[:4]
    assert fib.local_types == ("", "int") and fib.ret_type == "int"
    assert safe.handlers == ((0, 6, 6, 0),)
    add = adder.consts[0]
    assert add.captures == ((True, 1),) and add.upval_names == ("n",)
    assert init.flags == FLAG_MODULE and fib.lines[0] == (0, 1, 1)
    point = init.consts[4]
    assert isinstance(point, ClassInfo) and point.defaults == (0, None) and point.line == 40
    assert loaded.modules["lib.tl"].lang == "lox"


@pytest.mark.parametrize("value", TRICKY_CONSTS, ids=lambda v: repr(v)[:30])
def test_round_trip_constant(value):
    data = dump_bundle(const_bundle(value))
    got = load_bundle(data).modules["m"].init.consts[0]
    assert same(got, value)
    assert dump_bundle(load_bundle(data)) == data


def test_signed_zero_and_nan_survive():
    consts = load_bundle(dump_bundle(const_bundle(-0.0, 0.0, float("nan")))).modules["m"].init.consts
    assert math.copysign(1.0, consts[0]) == -1.0
    assert math.copysign(1.0, consts[1]) == 1.0
    assert math.isnan(consts[2])


def test_bool_is_not_int():
    consts = load_bundle(dump_bundle(const_bundle(True, 1, False, 0))).modules["m"].init.consts
    assert [type(c) for c in consts] == [bool, int, bool, int]


def test_huge_int_round_trip_is_fast():
    big = -(7**60000)  # ~170,000 bits
    start = time.perf_counter()
    data = dump_bundle(const_bundle(big))
    assert load_bundle(data).modules["m"].init.consts[0] == big
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("n", [0, 1, -1, 63, -64, 64, 2**63 - 1, -(2**63), 2**63, 2**64 + 1, -(2**70)])
def test_int_boundaries(n):
    assert load_bundle(dump_bundle(const_bundle(n))).modules["m"].init.consts[0] == n


def test_write_and_read_file(tmp_path):
    path = tmp_path / "prog.tvm"
    write_file(path, sample_bundle())
    assert path.read_bytes()[:4] == MAGIC
    assert same(read_file(path), sample_bundle())
    assert not (tmp_path / "prog.tvm.tmp").exists()


def test_read_missing_file(tmp_path):
    with pytest.raises(LoadError, match="cannot read"):
        read_file(tmp_path / "nope.tvm")


def test_dump_rejects_unserialisable_constant():
    with pytest.raises(TypeError, match="cannot serialise constant of type list"):
        dump_bundle(const_bundle([1]))


# -- header --------------------------------------------------------------------------


def test_header_layout():
    data = dump_bundle(sample_bundle())
    assert data[:4] == b"TVM\x00"
    assert struct.unpack(">H", data[4:6]) == (7,)
    assert data[6:38] == hashlib.sha256(data[38:]).digest()
    assert HEADER_SIZE == 38


def test_bad_magic():
    data = dump_bundle(sample_bundle())
    load_error(b"XVM\x00" + data[4:], r"^bad \.tvm file: not a TinyVM bytecode file \(bad magic\)$")
    load_error(b"PK", "bad magic")


def test_truncated_header():
    data = dump_bundle(sample_bundle())
    load_error(data[:10], r"^bad \.tvm file: truncated \(header needs 38 bytes, file has 10\)$")
    load_error(b"", "truncated")


def test_unsupported_version():
    data = dump_bundle(sample_bundle())
    assert load_error(data[:4] + b"\x00\x08" + data[6:], "version") == "bad .tvm file: unsupported format version 8 (this TinyVM reads version 7: recompile the program with tvmc)"
    # A file of an earlier version (version 6: class constants without
    # `early`; 5: code objects without `required`) is rejected with the
    # same clear message.
    for old in (5, 6):
        assert load_error(data[:4] + bytes([0, old]) + data[6:], "version") == f"bad .tvm file: unsupported format version {old} (this TinyVM reads version 7: recompile the program with tvmc)"


def test_checksum_mismatch():
    data = bytearray(dump_bundle(sample_bundle()))
    data[-3] ^= 0x40
    assert load_error(bytes(data), "checksum") == "bad .tvm file: checksum mismatch"


def test_not_bytes():
    load_error("TVM", "expected bytes, got str")
    load_error(10**12, "expected bytes, got int")  # must not allocate 1 TB


def test_accepts_bytearray_and_memoryview():
    data = dump_bundle(sample_bundle())
    assert same(load_bundle(bytearray(data)), load_bundle(memoryview(data)))


# -- payload (valid checksum, bad content) ---------------------------------------------


def test_truncated_payload():
    payload = payload_of(dump_bundle(sample_bundle()))
    for cut in (1, 2, 10, len(payload) // 2, len(payload) - 1):
        load_error(with_payload(payload[:cut]), r"^bad \.tvm file: truncated")


def test_empty_payload():
    load_error(with_payload(b""), "truncated")


def test_trailing_garbage():
    payload = payload_of(dump_bundle(sample_bundle()))
    load_error(with_payload(payload + b"\x00\x00"), "2 bytes of trailing garbage")


def test_huge_length_prefix_fails_fast():
    w = tvmfile._Writer()
    w.uvarint(2**62)  # main key "length"
    start = time.perf_counter()
    load_error(with_payload(bytes(w.out) + b"abc"), "truncated .*claims 4611686018427387904 items")
    assert time.perf_counter() - start < 0.5


def test_huge_count_fails_fast():
    payload = payload_of(dump_bundle(sample_bundle()))
    w = tvmfile._Writer()
    w.string("main.tl")
    w.uvarint(10**15)  # module count
    rest = payload[len(w.out) :]
    load_error(with_payload(bytes(w.out) + rest), "truncated")


def test_unterminated_varint():
    load_error(with_payload(b"\x80" * 20), "truncated")


def test_non_canonical_varint():
    load_error(with_payload(b"\x81\x00"), "non-canonical varint")


def test_unknown_constant_tag():
    payload = payload_of(dump_bundle(const_bundle("MARKER")))
    assert payload.count(b"\x05\x06MARKER") == 1
    bad = payload.replace(b"\x05\x06MARKER", b"\x63\x06MARKER")
    load_error(with_payload(bad), r"unknown constant tag 99 at byte \d+")


def test_invalid_utf8():
    payload = payload_of(dump_bundle(const_bundle("MARKER")))
    bad = payload.replace(b"MARKER", b"MARK\xff\xfe")
    load_error(with_payload(bad), r"invalid utf-8 in string constant at byte \d+")


def test_nesting_depth_cap():
    deep: object = 1
    for _ in range(MAX_DEPTH + 5):
        deep = (deep,)
    data = dump_bundle(const_bundle(deep))  # the writer does not judge
    load_error(data, f"nested more than {MAX_DEPTH} deep")


def test_nesting_within_cap_loads():
    deep: object = "leaf"
    for _ in range(MAX_DEPTH - 2):
        deep = (deep,)
    assert same(load_bundle(dump_bundle(const_bundle(deep))).modules["m"].init.consts[0], deep)


def test_duplicate_module():
    lib = sample_lib()
    w = tvmfile._Writer()
    w.string("lib")
    w.uvarint(2)
    w.module("lib", lib)
    w.module("lib", lib)
    load_error(with_payload(bytes(w.out)), "duplicate module 'lib'")


def test_main_module_missing():
    data = dump_bundle(Bundle("elsewhere", {"lib.tl": sample_lib()}))
    load_error(data, "main module 'elsewhere' is not in the file")


def test_bad_capture_flag():
    inner = asm("g", [("LOAD_UPVAL", 0), ("RETURN",)], captures=((True, 1),))
    outer = asm("outer", [("MAKE_CELL", 1), ("MAKE_CLOSURE", 0), ("RETURN",)], arity=1, consts=(inner,))
    b = Bundle("m", {"m": ModuleCode("m.tl", "", (), (), (), asm("m", [("LOAD_NIL",), ("RETURN",)], consts=(outer,)))})
    payload = payload_of(dump_bundle(b))
    # captures: count 1, flag 1, index 1 (zigzag 2); then upvalue names: count 1, "u0"
    marker = b"\x01\x01\x02\x01\x02u0"
    assert payload.count(marker) == 1
    load_error(with_payload(payload.replace(marker, b"\x01\x07\x02\x01\x02u0")), "bad capture flag 7")


def test_verification_failure_is_a_load_error():
    bad = asm("m", [("LOAD_NIL",), ("POP",), ("POP",), ("RETURN",)], path="m.tl")
    data = dump_bundle(Bundle("m", {"m": ModuleCode("m.tl", "", (), (), (), bad)}))
    with pytest.raises(VerifyError) as info:
        load_bundle(data)
    assert isinstance(info.value, LoadError)
    assert str(info.value) == (
        "bad .tvm file: module 'm': verify: function m at offset 2: stack underflow: POP needs 1 value(s), stack has 0"
    )


def test_nested_codes_are_verified_on_load():
    bad_inner = asm("inner", [("JUMP", 99)])
    init = asm("m", [("MAKE_CLOSURE", 0), ("RETURN",)], consts=(bad_inner,))
    data = dump_bundle(Bundle("m", {"m": ModuleCode("m.tl", "", (), (), (), init)}))
    load_error(data, "function inner at offset 0: jump target 99 is outside the code")



def test_class_interfaces_round_trip(tmp_path):
    # Format version 5 (TinyLang 1.1): an interface's flag and the names of the
    # interfaces a class implements.
    from tinyvm.bytecode.code import CLASS_INTERFACE
    from tinyvm.lang.driver import compile_program

    path = tmp_path / "shapes.tl"
    path.write_text("interface Shape { fn area() -> float }\nclass Sq implements Shape { fn area() -> float { return 1.0 } }\n")
    data = dump_bundle(compile_program(str(path)))
    infos = {k.name: k for k in load_bundle(data).modules["shapes"].init.consts if isinstance(k, ClassInfo)}
    assert infos["Shape"].flags == CLASS_INTERFACE and infos["Sq"].interfaces == ("Shape",)
    assert dump_bundle(load_bundle(data)) == data


def test_required_round_trip_and_bounds():
    # tldefault: `Code.required` (parameters with defaults) is written and read
    # back, and the verifier rejects a count outside -1..arity.
    import dataclasses

    from tinyvm.api import VM

    src = Path(__file__).resolve().parents[1] / "lang" / "13_v1_1" / "parameters" / "evaluated.tl"
    b = VM().compile_file(str(src))
    data = dump_bundle(b)
    again = load_bundle(data)
    main = again.modules[again.main]
    codes = [k for k in main.init.consts if isinstance(k, Code) and k.name == "f"]
    assert [c.required for c in codes] == [1]
    assert dump_bundle(again) == data
    bad_f = dataclasses.replace(codes[0], required=4)
    init = dataclasses.replace(main.init, consts=tuple(bad_f if k is codes[0] else k for k in main.init.consts))
    bad = Bundle(again.main, {**again.modules, again.main: dataclasses.replace(main, init=init)})
    load_error(dump_bundle(bad), "required 4 must be -1 or between 0 and arity 3")
