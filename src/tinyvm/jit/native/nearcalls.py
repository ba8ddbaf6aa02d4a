"""Direct calls between a module's functions: the small code model where the object file needs no relocation.

MCJIT code is generated for the *large* code model (llvmlite's JIT default
on x86-64): any symbol may be more than 2 GB away, so even a function's call
of itself is `movabs $f0, %rbx; call *%rbx`, which keeps the callee's
address in a callee-saved register (pushed and popped by every non-leaf
frame). Under the small or medium model the call is a direct `call f0`
(fib(30): ~7% faster, "Numbers" in docs/native.md), but MCJIT places an
object's sections (code, the constant pool, the GOT of its stubs for
external calls, `.eh_frame`) in separate allocations: a 32-bit PC-relative
reference between them can be out of range, and RuntimeDyld then aborts the
process in `finalize_object` (it did on a float program of
test_three_tiers.py under "medium"; llvmlite's own memory manager, which
allocates an object's sections together, asserts on x86-64's stubs).

So a module gets the small model only when its object file then has *no
relocation at all*: every reference is inside `.text`, resolved by the
assembler (a call between functions of one section is PC-relative and
never out of range, wherever MCJIT puts the section). Its functions are
marked `nounwind` first (native code never unwinds: its failures are return
values, and the C it calls is CPython's and ctypes' callbacks, which return),
so LLVM emits no `.eh_frame` (whose references to `.text` are relocations).
A module that refers to anything else -- a float constant (the constant
pool), a `switch`'s jump table, a C function by name, a global -- keeps the
large model: `candidate` rules those out from the IR text before the code
generator runs (so they are not compiled twice), and `self_contained`
checks the object file itself, the guarantee (a small-model object that
still has a relocation is discarded and the module compiled again with
the large model). Which model a module gets is a function of its IR text,
so the disk cache's key (the IR and `Codegen.identity`) stays exact.
"""

from __future__ import annotations

import struct
from typing import Any

# (part of Codegen.identity: bump when the rule that picks the model changes)
RULE = "near calls 1"

# Words of the IR text that make a relocation likely under the small model
# (outside `declare` lines: the prelude declares `llvm.sqrt.f64` in every
# module): a float or double constant goes to the constant pool, a switch
# may become a jump table in .rodata, a global is a named symbol. An
# `inttoptr` of an address is fine (an immediate).
_RISKY = ("double", "float", "switch ", " global ", " constant ")


# LLVM intrinsics that lower to instructions, never to a call or a constant:
# the overflow checks (`add; jo`), min/max (`cmp; cmov`: instcombine makes
# them of selects), the stack pointer read (calls.py).
_INLINE = ("llvm.sadd.with.overflow.", "llvm.ssub.with.overflow.", "llvm.smul.with.overflow.", "llvm.smin.", "llvm.smax.", "llvm.umin.", "llvm.umax.", "llvm.read_register.")


def candidate(text: str, mod: Any) -> bool:
    """Whether the module whose LLVM IR is `text` (`mod`: after the passes,
    which dropped the declarations nothing calls) may compile with the small
    model: it calls no function but its own and LLVM intrinsics that lower
    to instructions (`_INLINE`), and holds no float, switch or global."""
    for line in text.splitlines():
        if not line.startswith("declare ") and any(w in line for w in _RISKY):
            return False
    return all(not fn.is_declaration or fn.name.startswith(_INLINE) for fn in mod.functions)


def no_unwind(mod: Any) -> None:
    """Mark every function defined in llvmlite module `mod` `nounwind` (no
    `.eh_frame`, so no relocation from it into `.text`)."""
    for fn in mod.functions:
        if not fn.is_declaration:
            fn.add_function_attribute("nounwind")


def self_contained(obj: bytes) -> bool:
    """Whether ELF64 object `obj` has no relocation section (SHT_RELA or
    SHT_REL) with an entry: then MCJIT relocates nothing in it, and its
    direct calls cannot be out of range. Anything but a little-endian ELF64
    object is "no"."""
    if len(obj) < 64 or obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
        return False
    shoff = struct.unpack_from("<Q", obj, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    if shentsize < 64 or shoff + shnum * shentsize > len(obj):
        return False
    for k in range(shnum):
        base = shoff + k * shentsize
        sh_type = struct.unpack_from("<I", obj, base + 4)[0]
        size = struct.unpack_from("<Q", obj, base + 0x20)[0]
        if sh_type in (4, 9) and size > 0:  # (SHT_RELA, SHT_REL)
            return False
    return True


def pick(mod: Any, text: str, tm_small: Any, tm_large: Any) -> tuple[Any, bytes]:
    """(the target machine, the object file) of optimized module `mod` (IR
    `text` before the passes): small-model when that needs no relocation,
    else large-model."""
    if tm_small is not None and candidate(text, mod):
        no_unwind(mod)
        obj = tm_small.emit_object(mod)
        if self_contained(obj):
            return tm_small, obj
    return tm_large, tm_large.emit_object(mod)


def emit(mod: Any, text: str, tm_small: Any, tm_large: Any) -> bytes:
    """The object file of `mod` (`pick`)."""
    return pick(mod, text, tm_small, tm_large)[1]
