"""Linux perf's JIT map for native code: /tmp/perf-PID.map.

Machine code MCJIT loads is anonymous to `perf report` (`[JIT] tid N
0x7f...`) unless the process writes a map: one text line per function,
`START SIZE name` with START and SIZE in hex (the format CPython 3.12's
`-X perf` writes too; perf reads it when it reports, not when it records).
With `TVM_PERF_MAP=1` in the environment (docs/native.md, "Profiling
native code with perf") every loaded module of the native tier gets a line
per function, named after the guest function:

    tvm:Queens.place_queen            a compiled function (fK)
    tvm:Queens.place_queen:entry      the module's ctypes entry (@entry)
    tvm:Queens.place_queen:osr@12     an OSR entry at the loop header pc 12
    tvm:Queens.place_queen:osr@12.body  the loop's own copy behind it
    tvm:helper:NAME                   a prelude helper kept out of line

Addresses: MCJIT exports only @entry and @osr<pc> (the rest is internal),
so each function's address is its offset in the object file's ELF symbol
table plus the load address of its section, known from an exported symbol
of the same section (`get_function_address`); sizes are the symbols' own.
Written on the thread that loads the module (the background worker under
`--jit=native`), appended under a lock; a write error is logged once and
the run goes on. Nothing here is imported unless the variable is set.
"""

from __future__ import annotations

import os
import re
import struct
import threading
from collections.abc import Callable
from typing import Any

ENV = "TVM_PERF_MAP"

# One lock for the process: the map file is the process's (perf finds it by
# pid), shared by every VM that writes it.
_LOCK = threading.Lock()

_STT_FUNC = 2
_SHN_UNDEF = 0
_FK = re.compile(r"^f(\d+)(?:_osr(\d+))?$")


def wanted(environ: Any = None) -> bool:
    """Is the perf map asked for (TVM_PERF_MAP set to anything but '', '0')?"""
    v = (os.environ if environ is None else environ).get(ENV, "")
    return v not in ("", "0")


def elf_functions(obj: bytes) -> list[tuple[str, int, int, int]]:
    """(name, section index, offset in the section, size) of every function
    symbol of a 64-bit little-endian ELF relocatable object; [] for anything
    else (a format this reader does not know leaves the map without lines,
    never fails the run)."""
    if len(obj) < 64 or obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
        return []
    shoff = struct.unpack_from("<Q", obj, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    secs = []
    for i in range(shnum):
        off = shoff + i * shentsize
        _name, stype, _flags, _addr, soff, size, link, _info, _align, entsize = (
            struct.unpack_from("<IIQQQQIIQQ", obj, off)
        )
        secs.append((stype, soff, size, link, entsize))
    out = []
    for stype, soff, size, link, entsize in secs:
        if stype != 2 or not entsize:  # SHT_SYMTAB
            continue
        strtab = secs[link][1]
        for k in range(size // entsize):
            st_name, st_info, _other, shndx, value, ssize = struct.unpack_from(
                "<IBBHQQ", obj, soff + k * entsize
            )
            if st_info & 0xF != _STT_FUNC or shndx == _SHN_UNDEF or shndx >= 0xFF00:
                continue
            end = obj.index(b"\0", strtab + st_name)
            out.append(
                (
                    obj[strtab + st_name : end].decode("utf-8", "replace"),
                    shndx,
                    value,
                    ssize,
                )
            )
    return out


def label(sym: str, names: list[str]) -> str:
    """The map's name of an object file's function symbol; names: the
    guest functions of the module's group, in order (f0 is the root)."""
    root = names[0] if names else "?"
    if sym == "entry":
        return f"tvm:{root}:entry"
    if sym.startswith("osr") and sym[3:].isdigit():
        return f"tvm:{root}:osr@{sym[3:]}"
    m = _FK.match(sym)
    if m and int(m.group(1)) < len(names):
        base = f"tvm:{names[int(m.group(1))]}"
        return f"{base}:osr@{m.group(2)}.body" if m.group(2) else base
    return f"tvm:helper:{sym}"


def lines_for(obj: bytes, names: list[str], address: Callable[[str], int]) -> list[str]:
    """The map's lines of one loaded object file; address(sym): the loaded
    address of an exported symbol (0 when unknown). Functions of a section
    without an exported symbol are left out (their load address is unknown)."""
    funcs = elf_functions(obj)
    base: dict[int, int] = {}
    for sym, sec, value, _size in funcs:
        if sec not in base and (
            sym == "entry" or (sym.startswith("osr") and sym[3:].isdigit())
        ):
            a = address(sym)
            if a:
                base[sec] = a - value
    out = []
    for sym, sec, value, size in sorted(funcs, key=lambda f: (f[1], f[2])):
        if sec in base and size > 0:
            out.append(f"{base[sec] + value:x} {size:x} {label(sym, names)}\n")
    return out


class PerfMap:
    """The map file of this process, appended to by one VM's native tier."""

    def __init__(
        self, log: Callable[[str], None] | None, path: str | None = None
    ) -> None:
        self.path = path if path is not None else f"/tmp/perf-{os.getpid()}.map"
        self.log = log
        self.failed = False
        self.lines = 0  # (written by this tier: tests)

    def add(self, engine: Any, obj: bytes, names: list[str]) -> None:
        """Lines for one loaded module (any thread); never raises."""
        if self.failed:
            return
        try:
            text = lines_for(obj, names, engine.get_function_address)
            with _LOCK, open(self.path, "a", encoding="ascii") as f:
                f.write("".join(text))
            self.lines += len(text)
        except Exception as e:  # noqa: BLE001 - a profiling aid must never fail the run
            self.failed = True
            if self.log is not None:
                self.log(f"jit: perf map off: {type(e).__name__}: {e}")
