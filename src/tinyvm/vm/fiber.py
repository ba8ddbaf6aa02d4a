"""Fibers: an explicit guest call stack, owned by the VM, never the Python stack.

A fiber's running frame is `L`, one Python list: slot 0 the running function,
then parameters and locals (`code.nlocals` slots in all), then the operand stack.
Instruction handlers push and pop at its end. A call saves `(L, ret)` on
`frames` -- the caller's list and the pre-decoded instruction to continue at --
and installs the callee's list as `L`; a return pops it back. So switching
fibers (issue 4) or suspending a generator is swapping these two attributes,
at any instruction boundary.
"""

from __future__ import annotations

from typing import Any

from ..heap.objects import HeapObject


class Fiber(HeapObject):
    __slots__ = ("L", "frames", "vm", "error_trace", "name", "epc")
    type_name = "fiber"

    def __init__(self, vm: Any, name: str = "main") -> None:
        self.mark = 0  # fibers are roots, not (yet) heap-allocated: see Heap.collect
        self.vm = vm
        self.L: list = []
        self.frames: list[tuple[list, Any]] = []
        self.error_trace: list[str] = []
        self.name = name
        # Offset of the operator a fused expression block was executing when it
        # raised (see vm/blocks.py); only meaningful right after such an error.
        self.epc = 0

    def refs(self) -> list:
        out = list(self.L)
        for L, _ in self.frames:
            out.extend(L)
        return out

    def size(self) -> int:
        return 64 + 8 * (len(self.L) + sum(len(L) + 2 for L, _ in self.frames))
