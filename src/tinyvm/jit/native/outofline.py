"""Slow paths compiled once per process and called by name: `tvm.make`, the call of `ArrayMaker.make`.

LLVM's code generator pays ~0.3 ms per call site on a slow path and its
arguments' stores (docs/native.md, "Compile time", round 4), and ~0.5 ms for
every function of a module however small. The slow path of a Range's or an
Iterator's charge (charges.py) was three stores into ctx (the op, two words),
a load of the maker, `PyObject_Vectorcall`, `tvm.decref` and a select of
None: now it is one call, `tvm.make(ctx, op, a, b, nargs)`, of a function
compiled here once per process, not once per module (two charges in a
Mandelbrot loop: ~0.6-1 ms less code generation).

- **What `tvm.make` does** is what arraymaker.py's `_make` emitted inline:
  ctx words OP, A, B get op, a, b; `PyObject_Vectorcall(ctx[MAKER], &ctx[A],
  nargs, NULL)` (nargs 1: ctx[A] is the one argument, alloc.MUL's source
  array); the result's reference dropped (`Py_DecRef`: the heap's allocation
  list holds an object made; True and None are static); the result, or 0
  for None (refused) or NULL.
- **Bound by name** (`llvm.add_symbol`, as `tvm.decref` and the C API are)
  before MCJIT links an object that calls it (engine.finish: `register`),
  from the disk cache as much as fresh: the object holds no address of the
  process that made it, so a cached object stays valid in another process.
  A module calling it already calls C by name (`PyObject_Vectorcall`, the
  heap's symbols): it had the large code model before too (nearcalls.py).
- **Per process, not per VM**: LLVM's symbol table is the process's (as
  codegen.load_llvm's initialisation is), so the one compiled function and
  the MCJIT engine that holds it live as long as the process (`_made`). Its
  semantics are part of `Codegen.identity` (`VERSION`): a changed helper
  means other code for the same IR text.
- **When**: at the first load of a module that calls it; on the worker
  ahead of that when a `native` VM starts (engine.py's warm-up, which also
  pays LLVM's one-time start-up off the VM thread).
"""

from __future__ import annotations

from typing import Any

from .polls import CC

VERSION = "out of line 2"  # (Codegen.identity: bump when what tvm.make does changes; 2: polls.CC)
NAME = "tvm.make"
DECLARE = f"declare {CC} i64 @{NAME}(i64*, i64, i64, i64, i64)\n"  # (preserve_mostcc: a slow path's call splitting no live range of its caller, polls.py)

_made: list = []  # [(MCJIT engine, [(name, address)])] once compiled in this process (codegen.helper_module)


def make(em: Any, op: str, a: str, b: str, nargs: int = 0) -> str:
    """LLVM IR calling `tvm.make` (module docstring): the result (0: refused)."""
    r = em.tmp("amr")
    em.lines.append(
        f"  {r} = call {CC} i64 @{NAME}(i64* %ctx, i64 {op}, i64 {a}, i64 {b}, i64 {nargs})"
    )
    return r


def calls(text: str) -> bool:
    """Whether the module of LLVM IR `text` calls `tvm.make`."""
    return f"call {CC} i64 @{NAME}(" in text


def _text() -> str:
    from .arraymaker import MAKER, OP, A, B

    return f"""declare i64 @PyObject_Vectorcall(i64, i64*, i64, i64)
declare void @Py_DecRef(i64)

define {CC} i64 @{NAME}(i64* %ctx, i64 %op, i64 %a, i64 %b, i64 %nargs) {{
  %po = getelementptr i64, i64* %ctx, i64 {OP}
  store i64 %op, i64* %po
  %pa = getelementptr i64, i64* %ctx, i64 {A}
  store i64 %a, i64* %pa
  %pb = getelementptr i64, i64* %ctx, i64 {B}
  store i64 %b, i64* %pb
  %pf = getelementptr i64, i64* %ctx, i64 {MAKER}
  %f = load i64, i64* %pf
  %r = call i64 @PyObject_Vectorcall(i64 %f, i64* %pa, i64 %nargs, i64 0)
  call void @Py_DecRef(i64 %r)
  %none = icmp eq i64 %r, {id(None)}
  %out = select i1 %none, i64 0, i64 %r
  ret i64 %out
}}
"""


def compile_once(llvm: Any) -> int:
    """The address of `tvm.make` in this process, compiled at the first
    call (codegen.helper_module: the worker's warm-up and the VM thread may race)."""
    from .codegen import bind_c_api, helper_module

    bind_c_api(llvm, ("PyObject_Vectorcall", "Py_DecRef"))
    return helper_module(llvm, _made, _text(), (NAME,))[0][1]


def register(llvm: Any) -> None:
    """Bind `tvm.make` for MCJIT (module docstring), compiling it if need be."""
    llvm.add_symbol(NAME, compile_once(llvm))
