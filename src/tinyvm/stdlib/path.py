"""The `path` standard module (1.1, spec section 13): pure operations on path
texts. Nothing here touches the file system (no capability needed): the
functions only compute strings.

Paths are POSIX paths (`/` separators) on every host, so a program gives the
same answers everywhere:
* `join(a, b, ...)`: one or more parts joined with `/`; an absolute part
  (starting with `/`) discards the parts before it (as Python's posixpath).
* `dirname(p)`: everything before the last `/` (`"a/b"` -> `"a"`, `"b"` ->
  `""`, `"/b"` -> `"/"`).
* `basename(p)`: everything after the last `/`.
* `ext(p)`: the extension of the basename with its dot (`"a/b.tar.gz"` ->
  `".gz"`), `""` when there is none or the name starts with its only dot
  (`".bashrc"`).
* `normalize(p)`: collapses `//`, `.` and `x/..` (`"a/./b/../c"` -> `"a/c"`);
  the empty path is `"."`.
"""

from __future__ import annotations

import posixpath
from typing import Any

from ..heap.objects import Native
from ..runtime.builtins import arg_count_error
from ..runtime.errors import RtError
from ..runtime.values import typeof

__all__ = ["make_path_module"]


def _str(name: str, v: Any) -> str:
    if type(v) is not str:
        raise RtError("TypeError", f"{name} expects a string, got {typeof(v)}")
    return v


def _unary(name: str, fn: Any) -> Any:
    def call(*args: Any) -> str:
        if len(args) != 1:
            raise arg_count_error(f"path.{name}", 1, len(args))
        return fn(_str(f"path.{name}", args[0]))

    return call


def _join(*args: Any) -> str:
    if not args:
        raise arg_count_error("path.join", "at least 1", 0)
    return posixpath.join(*[_str("path.join", a) for a in args])


def make_path_module(vm: Any) -> dict[str, Any]:
    alloc = vm.heap.alloc
    charge = vm.heap.charge_str

    def charged(fn: Any) -> Any:
        def call(*args: Any) -> Any:
            return charge(fn(*args))

        return call

    fns = [
        ("join", charged(_join), -1),
        ("dirname", charged(_unary("dirname", posixpath.dirname)), 1),
        ("basename", charged(_unary("basename", posixpath.basename)), 1),
        ("ext", charged(_unary("ext", lambda p: posixpath.splitext(p)[1])), 1),
        ("normalize", charged(_unary("normalize", posixpath.normpath)), 1),
    ]
    return {name: alloc(Native(name, fn, arity)) for name, fn, arity in fns}
