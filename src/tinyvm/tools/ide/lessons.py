"""The IDE's example programs: a fixed catalogue, looked up by name.

Why a whitelist: `/api/example/{name}` takes a name from a URL; the name is
only ever a key of the dict built here at start-up (never joined to a path),
so no request can read any other file. The catalogue is the lesson programs
(examples/ide/: closures, recursion, a GC cycle, a channel deadlock; the
lesson plan in docs/ide.md), then the repository's examples (examples/*.tl,
*.lox) when the IDE runs from a checkout (their imports, lib/, are read
from that folder: the IDE's project folder, server.IdeOptions).

The lessons ship with the package: `tools/ide/examples` is a link to the
checkout's examples/ide (package data, copied into a wheel), so
`pip install 'tinyvm[ide]'` has them without the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

# Lessons first, in the order the lesson plan takes them.
LESSONS = ("closures.tl", "recursion.tl", "linked_list.tl", "gc_cycle.tl", "deadlock.tl", "lox_closure.lox")
PACKAGED = Path(__file__).resolve().parent / "examples"  # the lessons (a link to examples/ide in a checkout)


def examples_dir() -> Path | None:
    """The checkout's examples/ folder (the one holding ide/), if the
    package runs from a checkout."""
    for parent in Path(__file__).resolve().parents[1:]:
        cand = parent / "examples"
        if (cand / "ide").is_dir():
            return cand
    return None


class Catalogue:
    """name -> (language, source) for every example the IDE offers."""

    def __init__(self, folder: Path | None = None) -> None:
        self.items: dict[str, tuple[str, str]] = {}
        root = folder if folder is not None else examples_dir()
        self.root = root  # (the project folder imports are read from, by default)
        lessons = root / "ide" if root is not None else PACKAGED
        for name in LESSONS:
            self._add(lessons / name)
        if root is not None:
            for path in sorted([*root.glob("*.tl"), *root.glob("*.lox")]):
                self._add(path)

    def _add(self, path: Path) -> None:
        if not path.is_file() or path.name in self.items:
            return
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return
        language = "lox" if path.suffix == ".lox" else "tinylang"
        self.items[path.name] = (language, source)

    def names(self) -> list[dict]:
        return [{"name": n, "language": lang} for n, (lang, _) in self.items.items()]

    def get(self, name: str) -> dict | None:
        item = self.items.get(name) if isinstance(name, str) and os.sep not in name else None
        if item is None:
            return None
        return {"name": name, "language": item[0], "source": item[1]}
