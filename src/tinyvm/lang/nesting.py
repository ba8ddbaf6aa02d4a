"""How deeply source code may nest, and the Python stack the compiler passes get.

The front ends walk syntax trees by recursion, one or a few Python frames per
level of the tree. Two rules keep that safe for any input:

* **Chains are not nesting.** What a program writes as a flat sequence --
  `a + b + c`, `a.b().c[0]`, `f()()`, `if ... else if ...` -- is a tree as
  deep as the sequence is long (left-deep for operators and postfix chains,
  right-deep for `else if`). Every pass walks such a spine in a loop, so a
  chain of any length (generated code writes chains of 10 000 links and more)
  costs no Python recursion.
* **Nesting is bounded where it is parsed.** What is written nested --
  parentheses, blocks, functions in functions, `[[[int]]]`, `int??` -- is
  counted by the parser, which reports a clear compile error past a
  documented depth (TinyLang: `MAX_DEPTH` in lang/tinylang/parser.py; Lox:
  `MAX_NESTING` in lang/lox/parser.py). Functions nest at most
  `MAX_FUNCTION_NESTING` deep in both languages: that is the `.tvm` format's
  limit (`bytecode.code.MAX_NESTING`, which the reader and the verifier
  enforce), so a compiler never writes a file that `tvm run` refuses. Imports
  nest at most `MAX_IMPORT_NESTING` deep: the driver compiles an import before
  its importer goes on, one compilation inside another.

The format has two more limits a compiler must keep to, or `tvmc` would
write what `tvm run` refuses (the verifier's): a count operand (arguments,
elements, entries, fields, interpolated parts, methods) is below
`MAX_COUNT`, and so is a quarter of a function's operand stack; and a type the
VM checks values against at run time has a text of at most `MAX_TYPE_TEXT`
characters, nested at most `MAX_CHECKED_TYPE_NESTING` deep
(`type_text_problem`).

Each pass therefore recurses at most `frames_per_level * depth` frames. It runs
inside `recursion_room(frames)`, which makes sure the interpreter's recursion
limit leaves that many frames above the caller's (raising the limit for the
duration when needed, so a host that calls the compiler from deep in its own
stack gets the same answers). Python-to-Python calls do not consume the C
stack (CPython 3.11+), so a bounded raise is safe. `run_pass` adds the last
line of defence: should a pass still overflow (a bug in these bounds, or an
inferred type built up over thousands of declarations), the RecursionError
becomes a compile error at the statement being compiled, never a host
traceback.
"""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from ..bytecode.code import MAX_COUNT, MAX_NESTING, MAX_TYPE_TEXT
from .diagnostics import DiagnosticBag

__all__ = ["MAX_COUNT", "MAX_FUNCTION_NESTING", "MAX_IMPORT_NESTING", "NESTED_TOO_DEEPLY", "type_text_problem", "deeper_than", "recursion_room", "run_pass", "stack_depth"]

# Functions (lambdas, methods, local functions) inside functions: the module's
# own code is level 0, a top-level function level 1.
MAX_FUNCTION_NESTING = MAX_NESTING

# Modules importing modules: the driver compiles imports depth first, so a
# chain of imports is nesting too (lang/driver.py).
MAX_IMPORT_NESTING = 256

# Types checked at run time: their text is parsed by recursion (the verifier's
# and the VM's parser), so its nesting is bounded like the source's.
MAX_CHECKED_TYPE_NESTING = 200

# The safety net's message (see run_pass).
NESTED_TOO_DEEPLY = "code nested too deeply to compile"

# Frames kept free above what a caller asks for: the pass's own entry, the
# helpers that do not recurse (and the RecursionError handling itself).
_SLACK = 200

T = TypeVar("T")


def stack_depth() -> int:
    """The number of Python frames on the stack (the caller's included)."""
    depth = 0
    frame = sys._getframe(1)
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


def deeper_than(frames: int) -> bool:
    """Is the stack more than `frames` frames deep (the caller's included)?
    (Cheaper than stack_depth: the walk is done in C.)"""
    try:
        sys._getframe(frames)
    except ValueError:
        return False
    return True


@contextmanager
def recursion_room(frames: int) -> Iterator[None]:
    """Run the body with at least `frames` Python frames of room above the
    caller's: the recursion limit is raised for the duration when it is
    lower than that (and put back afterwards)."""
    need = stack_depth() + frames + _SLACK
    old = sys.getrecursionlimit()
    if need > old:
        sys.setrecursionlimit(need)
    try:
        yield
    finally:
        if need > old:
            sys.setrecursionlimit(old)


def run_pass(bag: DiagnosticBag, frames: int, where: Callable[[], tuple[int, int]], fn: Callable[..., T], *args: object) -> tuple[bool, T | None]:
    """`fn(*args)` with `frames` frames of room: (True, its result), or
    (False, None) after a RecursionError, reported in `bag` as
    NESTED_TOO_DEEPLY at `where()` (the line and column being compiled)."""
    with recursion_room(frames):
        try:
            return True, fn(*args)
        except RecursionError:
            pass
    line, col = where()
    bag.error(line, col, NESTED_TOO_DEEPLY)
    return False, None


_TYPE_TOKEN = re.compile(r"->|[\[\]{}()<>,]")


def type_text_problem(text: str) -> str | None:
    """Why the VM could not check values against the type written `text`
    (too long, or nested too deeply), or None when it can."""
    if len(text) <= 2 * MAX_CHECKED_TYPE_NESTING:
        return None  # (each level takes two characters at least: the common case)
    if len(text) > MAX_TYPE_TEXT:
        return f"more than {MAX_TYPE_TEXT} characters"
    # Nesting: brackets, and the return type after each `->` (which ends at
    # the comma or bracket that ends the function type).
    stack: list[bool] = []  # True: a bracket, False: an arrow
    deepest = 0
    for tok in _TYPE_TOKEN.findall(text):
        if tok == "->":
            stack.append(False)
        elif tok in "[{(<":
            stack.append(True)
        else:  # a closer or a comma ends the arrows opened at its level
            while stack and not stack[-1]:
                stack.pop()
            if tok != "," and stack:
                stack.pop()
        deepest = max(deepest, len(stack))
    if deepest > MAX_CHECKED_TYPE_NESTING:
        return f"nested more than {MAX_CHECKED_TYPE_NESTING} deep"
    return None
