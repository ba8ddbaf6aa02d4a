"""Where a compilation may read the files it imports: the import policy.

A program's imports are named by the program, and a program may be untrusted
(a plugin, a submission): `import "../../home/me/.ssh/id.tl"` must not read a
file the host did not offer, nor show its lines in an error message. So the
driver (lang/driver.py) reads every imported file -- source (`.tl`, `.lox`,
...) or compiled (`.tvm`) -- through one `SourceSet`, the policy object the
host chose, and never opens a file itself. (The main file is named by the
host -- the command line, `vm.run_file(path)` -- and read by it.)

The protocol is three methods on paths that are POSIX-style, relative to the
main module's folder (`util.tl`, `lib/geo.tl`, `../shared/x.lox`) or absolute
(`/srv/lib/x.tl`), already normalised (no `.` parts, `..` only in front):

* `exists(path) -> bool`: is there a module file at `path`?
* `read(path) -> str | bytes`: its content (bytes are decoded as UTF-8 for
  source, loaded as a bundle for `.tvm`); an `OSError` is reported as
  "cannot read file: <reason>" at the import.
* `describe() -> str`: what the set offers, for messages ("the program's
  folder").

Either of the first two raises `SourceDenied(reason)` for a path the set does
not offer -- whether or not such a file exists, so that the message reveals
nothing of what lies outside -- and the driver reports the import as
`cannot import "../secret.tl": <reason>` at the import's line and column.

The sets of this package:

* `DirectorySources(root, extra_roots=())`: a folder and below (the CLI's and
  `VM.run_file`'s default: the program's folder), plus other folders (what
  `--allow-read` grants). Each path is resolved with its symlinks followed
  (`os.path.realpath`) and refused unless the real file is inside one of the
  roots (themselves resolved), and unless the path as written is inside one
  of them too: a `..` or an absolute path leading out, or a symlink pointing
  out, is refused. Only regular files are read (a FIFO or a
  device never blocks the compiler).
* `MemorySources({"util.tl": "...", "lib/b.tvm": b"..."})`: modules the host
  holds in memory (`VM(modules={...})`); nothing else exists.
* `NoSources(reason)`: no file imports at all (`vm.run_source` without
  `modules=` or `import_root=`).

A host with its own store -- a zip file, a database, a content-addressed
cache -- implements the three methods (see docs/modules.md for a zip-backed
example); `SourceSet` is the typing.Protocol they satisfy.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

__all__ = ["SourceSet", "SourceDenied", "DirectorySources", "MemorySources", "NoSources", "is_outside", "vm_policy", "source_policy", "file_policy"]


class SourceDenied(Exception):
    """A path the source set does not offer. `reason` ends the message
    `cannot import "SPEC": REASON`, and must not depend on whether the file
    exists."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class SourceSet(Protocol):
    """What the driver reads imports through (see the module docstring)."""

    def exists(self, path: str) -> bool: ...

    def read(self, path: str) -> str | bytes: ...

    def describe(self) -> str: ...


def is_outside(path: str) -> bool:
    """Whether a normalised relative path leaves its folder (`..`, `../x`) or
    is absolute: the paths a set of relative names can never hold."""
    return path == ".." or path.startswith(("/", "../"))


# --------------------------------------------------------------------------- folders


class DirectorySources:
    """Files of a folder and below, and of other folders (see the module
    docstring). `base` is the folder relative paths start from: the main
    module's folder (default: `root`), which may lie below the root."""

    def __init__(
        self,
        root: str,
        extra_roots: Iterable[str] = (),
        *,
        base: str | None = None,
        name: str = "the program's folder",
    ) -> None:
        self.base = os.path.abspath(root if base is None else base)
        given = tuple(dict.fromkeys(os.path.abspath(r) for r in (root, *extra_roots)))
        # A path must be inside a root both as written and with its symlinks
        # resolved (against the roots resolved too: a root that is itself a
        # symlink, /tmp on macOS, still holds its files). As written: so that
        # whether `../x` is refused never depends on what lies outside.
        self.written_roots = given
        self.roots = tuple(dict.fromkeys(os.path.realpath(r) for r in given))
        self.name = name

    @classmethod
    def granted(
        cls,
        folder: str,
        read_grant: object = None,
        what: str = "the program's folder",
        grantor: str = "--allow-read",
        hint: str = " (--allow-read=PATH lets imports read more)",
    ) -> DirectorySources:
        """The default policy of a program: `folder` (`what`: the program's)
        and below, plus what the `read` capability grants (by `grantor`: the
        reading granted to a program covers its imports too): None (nothing
        more), True (every file) or a collection of paths. `hint` ends the
        refusal when nothing more is granted."""
        if read_grant is True:
            return cls(folder, [os.path.abspath(os.sep)], name=f"the files {grantor} grants")
        extra = list(read_grant or ())  # type: ignore[call-overload]
        if extra:
            return cls(folder, extra, name=f"{what} and the paths {grantor} grants")
        return cls(folder, name=what + hint)

    def at(self, base: str) -> DirectorySources:
        """The same roots, with relative paths starting from `base` (the folder
        of a main file that lies below the root)."""
        other = DirectorySources.__new__(DirectorySources)
        other.base, other.written_roots, other.roots, other.name = os.path.abspath(base), self.written_roots, self.roots, self.name
        return other

    def describe(self) -> str:
        return self.name

    def locate(self, path: str) -> str:
        """The real file `path` names, if it is inside a root; else SourceDenied
        (decided by the path alone, never by whether the file exists)."""
        if "\0" in path:  # (no OS path holds one: os calls raise ValueError)
            raise SourceDenied("a path cannot contain a NUL character")
        full = os.path.normpath(path if path.startswith("/") else os.path.join(self.base, *path.split("/")))
        if _inside(full, self.written_roots):
            real = os.path.realpath(full)
            if _inside(real, self.roots):
                return real
        raise SourceDenied(f"outside {self.name}")

    def exists(self, path: str) -> bool:
        return os.path.isfile(self.locate(path))

    def read(self, path: str) -> bytes:
        real = self.locate(path)
        # The resolved path, opened without following a final symlink (one
        # swapped in since `locate` fails) and without blocking (a FIFO would
        # wait for a writer); only a regular file is read.
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(real, flags)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(0, "not a regular file")
            with os.fdopen(fd, "rb", closefd=False) as f:
                return f.read()
        finally:
            os.close(fd)

    def __repr__(self) -> str:
        return f"DirectorySources({', '.join(self.roots)})"


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


# --------------------------------------------------------------------------- memory


class MemorySources:
    """Modules held by the host: a mapping of relative paths (`util.tl`,
    `lib/geo.lox`, `fast.tvm`) to their source text or bytes. Nothing outside
    the mapping exists."""

    def __init__(self, modules: Mapping[str, str | bytes], name: str = "the modules given to the VM") -> None:
        self.modules: dict[str, str | bytes] = {}
        for key, value in modules.items():
            if not isinstance(key, str) or not isinstance(value, (str, bytes)):
                raise TypeError(f"modules: expected str paths to str or bytes, got {type(key).__name__}: {type(value).__name__}")
            path = posixpath.normpath(key)
            if is_outside(path) or path == ".":
                raise ValueError(f"modules: {key!r} is not a relative path below the program's folder")
            self.modules[path] = value
        self.name = name

    def describe(self) -> str:
        return self.name

    def _check(self, path: str) -> str:
        if is_outside(path):
            raise SourceDenied(f"outside {self.name}")
        return path

    def exists(self, path: str) -> bool:
        return self._check(path) in self.modules

    def read(self, path: str) -> str | bytes:
        try:
            return self.modules[self._check(path)]
        except KeyError:
            raise FileNotFoundError(0, "No such module") from None

    def __repr__(self) -> str:
        return f"MemorySources({sorted(self.modules)})"


class NoSources:
    """No file imports: every one is refused with `reason`."""

    def __init__(self, reason: str = "this program may not import files") -> None:
        self.reason = reason

    def describe(self) -> str:
        return "no files"

    def exists(self, path: str) -> bool:
        raise SourceDenied(self.reason)

    def read(self, path: str) -> str | bytes:
        raise SourceDenied(self.reason)


# --------------------------------------------------------------------------- the embedding API's policies

NO_IMPORTS = 'this VM allows no file imports (give it VM(modules={"util.tl": ...}) or VM(import_root="folder"))'


def vm_policy(modules: object = None, import_root: str | None = None) -> SourceSet | None:
    """The source set of `VM(modules=..., import_root=...)`; None: neither
    was given (each run chooses its default)."""
    if modules is not None and import_root is not None:
        raise ValueError("give modules= or import_root=, not both")
    if isinstance(modules, Mapping):
        return MemorySources(modules)
    if modules is not None:
        if not isinstance(modules, SourceSet):
            raise TypeError(f"modules: expected a dict or a SourceSet (exists, read, describe), got {type(modules).__name__}")
        return modules
    if import_root is not None:
        return DirectorySources(import_root, name="the VM's import root")
    return None


def source_policy(policy: SourceSet | None) -> SourceSet:
    """What `vm.run_source(text)` imports: the VM's set, else no files."""
    return policy if policy is not None else NoSources(NO_IMPORTS)


def file_policy(policy: SourceSet | None, main_path: str, read_grant: object = None) -> SourceSet:
    """What `vm.run_file(main_path)` imports: the VM's set (a folder's paths
    then start from the file's folder), else the file's folder and below and
    what the VM's `allow` lets the program read."""
    folder = os.path.dirname(os.path.abspath(main_path))
    if policy is None:
        return DirectorySources.granted(folder, read_grant, grantor='allow={"read": ...}', hint="")
    if isinstance(policy, DirectorySources):
        return policy.at(folder)
    return policy
