"""The optimizer: named IR passes, the registry they join, and the pass manager.

A pass is a function `run(fn, ctx) -> bool` over one `Function` (ir/nodes.py)
that rewrites it in place and says whether it changed anything. Each pass
module of this package registers its passes with `@register(...)` when it is
imported; `load()` imports them all, then the third-party passes installed
under the entry-point group `tinyvm.passes` (docs/optimizer.md shows a plugin).

A pipeline is an ordered list of pass names. `parse_passes` reads the
`--passes` option: `default` (the default pipeline), `none`, a comma list of
names, or `default,-licm` (the default pipeline without LICM), so each pass
can be toggled on the command line. `run_pipeline` runs one, verifying the
function after every pass when asked (the tests always ask: a pass that
leaves broken IR fails with the pass's name and the verifier's errors).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ..nodes import Function
from ..verify import verify

__all__ = ["Pass", "PassContext", "PassError", "REGISTRY", "register", "load", "default_pipeline", "parse_passes", "run_pipeline"]


@dataclass(frozen=True, slots=True)
class Pass:
    name: str  # the command-line name: lowercase, digits and '-'
    run: Callable[[Function, "PassContext"], bool]
    doc: str  # one line for `tvm ir --passes help` and docs/optimizer.md
    order: int  # position in the default pipeline (lower runs first)
    default: bool = True  # part of the default pipeline
    module: str = ""


@dataclass(slots=True)
class PassContext:
    """What a pass may know besides the function itself.

    profile: observed run-time types, bytecode pc -> type name (`int`,
    `float`, `string`, a class name...) of the value the instruction at that
    pc produced (or, for a parameter slot, key `("param", slot)`), when the JIT
    supplies one; None for purely static compilation (`tvm ir`, `tvmc -O`).
    resolve: the inliner's oracle, `resolve(instr) -> Code | None`, the callee
    a call instruction is known to reach (None: unknown or not inlinable).
    options: free-form per-pass settings (`inline.max_size`...).
    log: lines a pass wants shown by `tvm jit-dump` and `--jit-log`.
    speculate: passes may insert guards that deoptimise (the JIT); False for
    `tvmc -O`, whose output has no deoptimisation to fall back on.
    """

    profile: dict | None = None
    resolve: Callable[[Any], Any] | None = None
    options: dict = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    speculate: bool = False


class PassError(Exception):
    """A pass left IR that fails the verifier, or an unknown pass was named."""


REGISTRY: dict[str, Pass] = {}

# The pass modules of this package, imported by load() (each registers itself).
_MODULES: tuple[str, ...] = ("simplify_cfg", "sccp", "copy_prop", "gvn", "licm", "range", "inline", "typespec", "prune", "escape", "dce")


def register(name: str, *, doc: str, order: int, default: bool = True) -> Callable:
    """Decorator: add `run` to the registry under `name`."""

    def deco(run: Callable[[Function, PassContext], bool]) -> Callable:
        if name in REGISTRY and REGISTRY[name].run is not run:
            raise PassError(f"pass {name!r} is registered twice ({REGISTRY[name].module} and {run.__module__})")
        REGISTRY[name] = Pass(name, run, doc, order, default, run.__module__)
        return run

    return deco


_loaded = False


def load() -> dict[str, Pass]:
    """Import every pass module and the `tinyvm.passes` plugins (once)."""
    global _loaded
    if not _loaded:
        _loaded = True
        for m in _MODULES:
            importlib.import_module(f"{__name__}.{m}")
        from importlib.metadata import entry_points

        for ep in entry_points(group="tinyvm.passes"):
            try:
                obj = ep.load()
            except Exception as e:  # a broken plugin must not break the compiler
                raise PassError(f"pass plugin {ep.name!r} ({ep.value}) failed to load: {type(e).__name__}: {e}") from None
            if isinstance(obj, Pass):
                REGISTRY.setdefault(obj.name, obj)
            # (a plugin module that registers with @register on import needs nothing more)
    return REGISTRY


def default_pipeline() -> list[str]:
    load()
    return [p.name for p in sorted(REGISTRY.values(), key=lambda p: (p.order, p.name)) if p.default]


def parse_passes(text: str) -> list[str]:
    """`--passes` text -> pipeline. `default`, `none`, `a,b,c`, `default,-licm`, `default,+x`."""
    load()
    out: list[str] = []
    for word in (w.strip() for w in text.split(",")):
        if not word:
            continue
        if word == "default":
            out += default_pipeline()
        elif word == "none":
            continue
        elif word.startswith("-"):
            name = _known(word[1:])
            out = [n for n in out if n != name]
        else:
            out.append(_known(word[1:] if word.startswith("+") else word))
    return out


def _known(name: str) -> str:
    if name not in REGISTRY:
        import difflib

        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise PassError(f"unknown pass {name!r}{hint}; passes: {', '.join(sorted(REGISTRY))}")
    return name


def run_pipeline(fn: Function, names: list[str], ctx: PassContext | None = None, *, verify_each: bool = False, after: Callable[[str, Function, bool], None] | None = None) -> Function:
    """Run the passes `names` over fn in order (in place; fn is returned).

    verify_each: run the IR verifier after every pass and raise PassError
    naming the pass that broke it. after(name, fn, changed): called after each
    pass (`tvm ir --after`, `tvm jit-dump` print from it)."""
    load()
    ctx = ctx if ctx is not None else PassContext()
    for name in names:
        p = REGISTRY[_known(name)]
        changed = bool(p.run(fn, ctx))
        if verify_each:
            errors = verify(fn)
            if errors:
                raise PassError(f"pass {name!r} left invalid IR in {fn.name}:\n  " + "\n  ".join(errors))
        if after is not None:
            after(name, fn, changed)
    return fn
