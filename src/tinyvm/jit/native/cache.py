"""The native tier's disk cache: machine code (object files) keyed by the LLVM IR's hash.

A second run of a program compiles nothing: the entry of every function it
compiled before is loaded from here (docs/native.md, "Cache").

Where: `$TVM_NATIVE_CACHE` (a folder; `off` disables the cache), else
`$XDG_CACHE_HOME/tinyvm/native`, else `~/.cache/tinyvm/native`. Clearing it
is deleting that folder (`rm -rf ~/.cache/tinyvm/native`): every file in it
is a cache entry, nothing else is kept there. Its size is capped
(`TVM_NATIVE_CACHE_MAX`, bytes, default `DEFAULT_CAP`): after each write,
the entries least recently used (written or loaded: the mtime) are removed
until the folder fits.

Key: SHA-256 of the emitted LLVM IR text and of `identity`, which names
everything else the machine code depends on (llvmlite and LLVM versions,
target triple, CPU name and features, TinyVM version, the pass list and
the code generator's level, this file format). Native code holds no
address of the process that made it (the poll callback's address is read
from the ctx words at run time), so an object file is valid in any
process with the same identity.

File format (`<key>.o`): MAGIC, the key (64 hex digits), the SHA-256 of the
payload (32 bytes), the payload's length (8 bytes, little-endian), the
payload (an ELF/Mach-O/COFF object as the target machine emits it).
A file that is truncated, corrupt, of another format or another key is a
miss: it is removed and the next write replaces it; reading never raises.

Writes are atomic -- a temporary file in the same folder, then
`os.replace` -- so processes can share the folder: a reader sees a whole
entry or none, and two writers of one key write the same bytes.
Every failure to write (read-only or full disk) is ignored: the cache is an
optimisation, never a reason for a program to fail.

Trust: an entry is machine code this process will run. The checks above
catch damage, not malice, so the folder must be writable only by its user
(it is created with mode 0700); `TVM_NATIVE_CACHE` must not point at a
folder others can write.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path

MAGIC = b"TVMNATIVE-OBJ-1\n"
DEFAULT_CAP = 64 * 1024 * 1024  # bytes
_HEAD = len(MAGIC) + 64 + 32 + 8


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The cache folder the environment asks for, or None when it is off."""
    env = os.environ if environ is None else environ
    raw = env.get("TVM_NATIVE_CACHE", "").strip()
    if raw.lower() in ("off", "0", "no", "false", "none"):
        return None
    if raw:
        return Path(raw).expanduser()
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "tinyvm" / "native"


def cache_cap(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    raw = env.get("TVM_NATIVE_CACHE_MAX", "").strip()
    return int(raw) if raw.isdigit() else DEFAULT_CAP


def make_key(ir_text: str, identity: str) -> str:
    h = hashlib.sha256()
    h.update(identity.encode())
    h.update(b"\0")
    h.update(ir_text.encode())
    return h.hexdigest()


class NativeCache:
    """Object files on disk by key (see the module docstring)."""

    def __init__(self, root: Path, cap: int = DEFAULT_CAP) -> None:
        self.root = Path(root)
        self.cap = cap
        self.stats = {"hits": 0, "misses": 0, "writes": 0, "bad": 0, "evicted": 0}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NativeCache | None:
        root = cache_dir(environ)
        return None if root is None else cls(root, cache_cap(environ))

    def path(self, key: str) -> Path:
        return self.root / f"{key}.o"

    def get(self, key: str) -> bytes | None:
        """The object code stored under key, or None (a miss; a bad file is removed)."""
        p = self.path(key)
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError:
            self.stats["misses"] += 1
            return None
        obj = _decode(data, key)
        if obj is None:
            self.stats["bad"] += 1
            self.stats["misses"] += 1
            _unlink(p)
            return None
        self.stats["hits"] += 1
        try:
            os.utime(p)  # (recently used: evicted last)
        except OSError:
            pass
        return obj

    def put(self, key: str, obj: bytes) -> bool:
        """Store obj under key (atomically); False when the disk said no."""
        data = MAGIC + key.encode() + hashlib.sha256(obj).digest() + struct.pack("<Q", len(obj)) + obj
        tmp = None
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".o", dir=self.root)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.path(key))
            tmp = None
        except OSError:
            return False
        finally:
            if tmp is not None:
                _unlink(Path(tmp))
        self.stats["writes"] += 1
        self.evict()
        return True

    def entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every entry, oldest first."""
        out = []
        try:
            with os.scandir(self.root) as it:
                for e in it:
                    if not e.name.endswith(".o") or e.name.startswith(".tmp-"):
                        continue
                    try:
                        st = e.stat()
                    except OSError:  # (removed meanwhile by another process)
                        continue
                    out.append((st.st_mtime, st.st_size, Path(e.path)))
        except OSError:
            return []
        out.sort()
        return out

    def evict(self) -> None:
        """Remove the least recently used entries until the folder fits the cap."""
        ents = self.entries()
        total = sum(s for _, s, _ in ents)
        for _, size, p in ents:
            if total <= self.cap:
                break
            _unlink(p)
            total -= size
            self.stats["evicted"] += 1

    def clear(self) -> None:
        for _, _, p in self.entries():
            _unlink(p)


def _decode(data: bytes, key: str) -> bytes | None:
    if len(data) < _HEAD or not data.startswith(MAGIC):
        return None
    k = len(MAGIC)
    if data[k : k + 64] != key.encode():
        return None
    digest = data[k + 64 : k + 96]
    (n,) = struct.unpack("<Q", data[k + 96 : k + 104])
    obj = data[_HEAD:]
    if len(obj) != n or hashlib.sha256(obj).digest() != digest:
        return None
    return obj


def _unlink(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass
