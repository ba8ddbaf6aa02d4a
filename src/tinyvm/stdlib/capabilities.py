"""What a program may touch outside the VM: files, the network, the environment.

Deno's model: everything is denied unless the host grants it. The command line
grants with `tvm run --allow-read --allow-write --allow-net --allow-env` (or
`-A` for all of them), each optionally narrowed to a comma-separated list
(`--allow-read=data,/tmp`, `--allow-net=127.0.0.1,example.org:443`,
`--allow-env=HOME,USER`); the embedding API with `VM(allow=...)`.

There is exactly one check point, `Capabilities.require(kind, target)`, called
by the standard modules (stdlib/fs.py, os.py, net.py) before
they act. It raises `PermissionError` with a message naming the access and the
flag that grants it:

    PermissionError: read access to "notes.txt" denied (run with --allow-read)
    PermissionError: net access to 127.0.0.1:8080 denied (run with --allow-net)

Kinds and their targets:

* `read`  -- a path read, tested or listed (`fs.read_text`, `fs.exists`, `fs.list_dir`);
* `write` -- a path written (`fs.write_text`);
* `net`   -- a `host:port` listened on or connected to (`net.listen`, `net.connect`);
* `env`   -- an environment variable name (`os.env`).

`os.args`, `os.exit`, `print` and `input` need nothing (they only use what the
host handed the VM). A scope entry for read/write is a path: it grants that
file or everything below that directory (both resolved with symlinks followed,
relative to the working directory). A net entry is a host (any port) or
`host:port`. An env entry is a variable name.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping

from ..runtime.errors import RtError

__all__ = ["KINDS", "Capabilities"]

KINDS = ("read", "write", "net", "env")

# A grant: True (everything of that kind) or a frozenset of scope entries.
Grant = Any


class Capabilities:
    """The host's grants, per kind: absent (denied), True (all) or a scope list."""

    __slots__ = ("grants",)

    def __init__(self, grants: Mapping[str, Any] | None = None) -> None:
        self.grants: dict[str, Grant] = {}
        for kind, scope in (grants or {}).items():
            self.grant(kind, scope)

    @classmethod
    def from_spec(cls, spec: Any) -> "Capabilities":
        """What `VM(allow=...)` accepts: None or False (nothing), True or "all"
        (everything), a kind name, an iterable of kind names, a mapping
        kind -> True or an iterable of scope entries, or a Capabilities."""
        if isinstance(spec, Capabilities):
            return spec
        if spec is None or spec is False:
            return cls()
        if spec is True or spec == "all":
            return cls({k: True for k in KINDS})
        if isinstance(spec, str):
            return cls({spec: True})
        if isinstance(spec, Mapping):
            return cls(spec)
        return cls({k: True for k in spec})

    def grant(self, kind: str, scope: Any = True) -> None:
        """Grant `kind`: everything (scope True) or the entries of `scope`
        (added to any entries granted before)."""
        if kind not in KINDS:
            raise ValueError(f"unknown capability {kind!r} (expected one of {', '.join(KINDS)})")
        if scope is True or self.grants.get(kind) is True:
            self.grants[kind] = True
            return
        if isinstance(scope, str):
            scope = [scope]
        entries = {self._normalize(kind, s) for s in scope if s != ""}
        self.grants[kind] = frozenset(entries | set(self.grants.get(kind) or ()))

    def granted(self, kind: str, target: str | None = None) -> bool:
        g = self.grants.get(kind)
        if g is None:
            return False
        if g is True:
            return True
        if target is None:
            return False
        if kind in ("read", "write"):
            path = _resolve(target)
            return any(path == p or path.startswith(p.rstrip(os.sep) + os.sep) for p in g)
        if kind == "net":
            host = target.rsplit(":", 1)[0] if ":" in target else target
            return target in g or host in g or host.strip("[]") in g
        return target in g

    def require(self, kind: str, target: str, shown: str | None = None) -> None:
        """The single check point: raise PermissionError unless `kind` access to
        `target` is granted. `shown` is how the target appears in the message
        (default: quoted)."""
        if self.granted(kind, target):
            return
        what = shown if shown is not None else '"' + target + '"'
        raise RtError("PermissionError", f"{kind} access to {what} denied (run with --allow-{kind})")

    def describe(self) -> str:
        parts = []
        for kind in KINDS:
            g = self.grants.get(kind)
            if g is True:
                parts.append(f"--allow-{kind}")
            elif g:
                parts.append(f"--allow-{kind}={','.join(sorted(g))}")
        return " ".join(parts) or "(none)"

    def __repr__(self) -> str:
        return f"Capabilities({self.describe()})"

    @staticmethod
    def _normalize(kind: str, entry: str) -> str:
        if kind in ("read", "write"):
            return _resolve(entry)
        return entry


def _resolve(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


def parse_flag(arg: str) -> tuple[str, Any] | None:
    """`--allow-KIND` or `--allow-KIND=a,b` -> (kind, True or [a, b]);
    None when arg is not such a flag."""
    if not arg.startswith("--allow-"):
        return None
    name, eq, value = arg[len("--allow-") :].partition("=")
    if name == "all" and not eq:
        return ("all", True)
    if name not in KINDS:
        return None
    if not eq:
        return (name, True)
    entries = [v for v in value.split(",") if v]
    if not entries:
        raise ValueError(f"--allow-{name}= needs a value (or use --allow-{name} for everything)")
    return (name, entries)


def grants_from(flags: Iterable[tuple[str, Any]]) -> Capabilities:
    caps = Capabilities()
    for kind, scope in flags:
        if kind == "all":
            for k in KINDS:
                caps.grant(k, True)
        else:
            caps.grant(kind, scope)
    return caps
