"""The `fs` standard module: text files (needs `--allow-read` / `--allow-write`).

`make_fs_module(vm)` returns the module's exports, name -> Native:

* `read_text(path) -> string`: the whole file, decoded as UTF-8 (read);
* `write_text(path, s)`: create or truncate the file and write s as UTF-8 (write);
* `exists(path) -> bool`: whether something exists at path (read);
* `list_dir(path) -> [string]`: the names in a directory, sorted (read).

Paths are relative to the working directory of the process. Each call first
asks the VM's capabilities (capabilities.py) for read or write access to its
path, so without the grant it raises `PermissionError: read access to
"notes.txt" denied (run with --allow-read)` and touches nothing. OS errors
raise `IOError` with the path and the OS's message (`IOError: notes.txt: No
such file or directory`); a file that is not valid UTF-8 raises `IOError`
too. A read is refused with `MemoryError` before it outgrows the VM's memory
limit (read_bounded). Files are read and written synchronously: a regular file never makes a
fiber wait in the sense of the scheduler.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ..heap.objects import Array, Native
from ..runtime.builtins import arg_count_error
from ..runtime.errors import RtError, host_reason
from ..runtime.values import typeof

__all__ = ["make_fs_module"]


READ_CHUNK = 1 << 20  # bytes read_text reads at a time


def make_fs_module(vm: Any) -> dict[str, Any]:
    heap = vm.heap
    alloc = heap.alloc
    charge_str = heap.charge_str

    def path_arg(name: str, args: tuple, n: int) -> str:
        if len(args) != n:
            raise arg_count_error(name, n, len(args))
        p = args[0]
        if type(p) is not str:
            raise RtError("TypeError", f"{name} expects a string path, got {typeof(p)}")
        if p == "" or "\0" in p:
            raise RtError("ValueError", f"{name}: invalid path {p!r}")
        return p

    def io_error(path: str, e: OSError) -> RtError:
        return RtError("IOError", f"{path}: {host_reason(e)}")

    def read_text(*args: Any) -> str:
        path = path_arg("fs.read_text", args, 1)
        vm.caps.require("read", path)
        # Through vm.inputs: a recorded run logs the bytes, a replay returns them.
        data = vm.inputs.take("fs", read_file, path)
        vm.limits.charge_items(len(data))  # fuel for the bytes read (docs/limits.md)
        try:
            return charge_str(data.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise RtError("IOError", f"{path}: not valid UTF-8 (byte {e.start})") from None

    def read_file(path: str) -> bytes:
        try:
            with open(path, "rb") as f:
                return read_bounded(f)
        except OSError as e:
            raise io_error(path, e) from None

    def read_bounded(f: Any) -> bytes:
        """The file's bytes, in chunks, each reserved against the memory limit
        first (the bytes and the text decoded from them): a file larger than
        the limit, or one without an end (/dev/zero), fails with MemoryError
        before the host reads it all."""
        chunks: list[bytes] = []
        total = 0
        while True:
            heap.reserve(2 * (total + READ_CHUNK))
            chunk = f.read(READ_CHUNK)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)

    def write_text(*args: Any) -> None:
        path = path_arg("fs.write_text", args, 2)
        s = args[1]
        if type(s) is not str:
            raise RtError("TypeError", f"fs.write_text expects a string, got {typeof(s)}")
        vm.caps.require("write", path)
        # An effect, not an input, yet through vm.inputs too: a replay does
        # not write the file again (it returns the recorded outcome).
        return vm.inputs.take("write", write_file, path, s)

    def write_file(path: str, s: str) -> None:
        try:
            with open(path, "wb") as f:
                f.write(s.encode("utf-8", "surrogatepass"))
        except OSError as e:
            raise io_error(path, e) from None
        return None

    def exists(*args: Any) -> bool:
        path = path_arg("fs.exists", args, 1)
        vm.caps.require("read", path)
        return vm.inputs.take("fs", os.path.lexists, path)

    def list_dir(*args: Any) -> Array:
        path = path_arg("fs.list_dir", args, 1)
        vm.caps.require("read", path)
        return alloc(Array(vm.inputs.take("fs", listing, path)))

    def listing(path: str) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except OSError as e:
            raise io_error(path, e) from None

    fns: list[tuple[str, Callable[..., Any], int]] = [
        ("read_text", read_text, 1),
        ("write_text", write_text, 2),
        ("exists", exists, 1),
        ("list_dir", list_dir, 1),
    ]
    return {name: alloc(Native(name, fn, arity)) for name, fn, arity in fns}
