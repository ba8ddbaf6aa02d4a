"""The collector's modes and tuning parameters, as data (docs/gc.md, "Modes").

Why a module of its own: the CLI (`--gc`, `--gc-tune`), the embedding API
(`VM(gc=..., gc_tuning=...)`) and the guest's `gc.mode()` all validate the
same names and numbers, and the heap only reads them.

The parameters follow Lua's `collectgarbage` where Lua has one:

* `pause` (percent, Lua's "pause"): a full collection, or an incremental
  cycle, starts when the heap has grown to `pause`% of the live bytes the
  last one found (200: twice the live data), within the memory limit's rules
  (heap/heap.py).
* `stepmul` (percent, Lua's "stepmul"): an incremental slice scans
  `stepmul`% of the bytes allocated since the slice before it, so marking
  runs ahead of allocation whatever its rate.
* `stepsize` (bytes, Lua's "stepsize" as a byte count): allocation between
  two incremental slices. Smaller: shorter, more frequent pauses.
* `nursery` (bytes): allocation between two minor collections. 8 MiB:
  measured on binary trees (depth 16), 1 MiB made every medium-lived tree
  survive into the old generation (minor and major collections together
  took as long as stop-the-world's); 8 MiB made the run 12% faster than
  stop-the-world. Near the memory limit the heap uses less.
* `promote_after` (collections): an object surviving this many minor
  collections becomes old (Lua 5.4 promotes after two).
* `major_mul` (percent, Lua's "genmajormul"): a major collection runs when
  the heap has grown `major_mul`% beyond the live bytes of the last major.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

# The collector modes (`--gc`, `gc.mode`); the first is the default.
MODES = ("stw", "incremental", "generational")


class TuningError(ValueError):
    """A bad mode or tuning parameter (a message for the user)."""


@dataclass(frozen=True)
class Tuning:
    pause: int = 200
    stepmul: int = 200
    stepsize: int = 8 << 10
    nursery: int = 8 << 20
    promote_after: int = 2
    major_mul: int = 100

    # (least value, what it means) per parameter: for the error messages.
    LIMITS: ClassVar[dict[str, tuple[int, str]]] = {
        "pause": (100, "percent of the live bytes (>= 100)"),
        "stepmul": (100, "percent of the bytes allocated (>= 100: marking must outrun allocation)"),
        "stepsize": (64, "bytes (>= 64)"),
        "nursery": (1024, "bytes (>= 1024)"),
        "promote_after": (1, "minor collections (>= 1)"),
        "major_mul": (10, "percent (>= 10)"),
    }

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            least, what = self.LIMITS[f.name]
            if type(v) is not int or v < least:
                raise TuningError(f"gc tuning: {f.name} must be an int, {what}; got {v!r}")

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def check_mode(mode: Any) -> str:
    if mode not in MODES:
        shown = mode if isinstance(mode, str) else type(mode).__name__
        raise TuningError(f"unknown gc mode '{shown}': the modes are {', '.join(MODES)}")
    return mode


def parse_tuning(text: str, base: Tuning | None = None) -> Tuning:
    """`--gc-tune pause=150,stepmul=400`: named integers (sizes may end in
    k, m or g, powers of 1024)."""
    base = base or Tuning()
    names = {f.name for f in fields(Tuning)}
    changes: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or name not in names:
            raise TuningError(f"gc tuning: expected NAME=NUMBER with NAME one of {', '.join(sorted(names))}; got '{part}'")
        changes[name] = _number(name, value.strip())
    return replace(base, **changes)


def tuning_from(value: Any) -> Tuning:
    """A Tuning from the embedding API's `gc_tuning=`: a Tuning, a dict of
    parameters, a `--gc-tune` string, or None (the defaults)."""
    if value is None:
        return Tuning()
    if isinstance(value, Tuning):
        return value
    if isinstance(value, str):
        return parse_tuning(value)
    if isinstance(value, dict):
        names = {f.name for f in fields(Tuning)}
        bad = [k for k in value if k not in names]
        if bad:
            raise TuningError(f"gc tuning: unknown parameter {bad[0]!r}: the parameters are {', '.join(sorted(names))}")
        return Tuning(**value)
    raise TuningError(f"gc_tuning must be a dict, a string or a Tuning, not {type(value).__name__}")


def _number(name: str, text: str) -> int:
    scale = 1
    if text[-1:].lower() in ("k", "m", "g"):
        scale = 1 << (10 * ("kmg".index(text[-1].lower()) + 1))
        text = text[:-1]
    try:
        return int(text) * scale
    except ValueError:
        raise TuningError(f"gc tuning: {name} must be a whole number, got '{text}'") from None
