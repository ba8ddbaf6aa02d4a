"""Shared by the tests of the range, inline, typespec, prune-states and escape
passes: compile TinyLang text, build one function's IR, run passes over it
with the verifier after each, and read the directives golden inputs carry."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ir: helpers

from helpers import codes_of, compile_path

from tinyvm.bytecode.code import Bundle
from tinyvm.ir.build import Unsupported, build
from tinyvm.ir.nodes import Function
from tinyvm.ir.passes import PassContext, run_pipeline
from tinyvm.ir.passes.inline import module_resolver
from tinyvm.ir.text import (
    _codes as _main_codes,  # (the module's code objects, depth first)
)
from tinyvm.ir.text import format_function
from tinyvm.lang.driver import compile_program

__all__ = ["codes_of", "compile_path", "compile_text", "directives", "function", "module_resolver", "profile_of", "render_tl", "run"]


def compile_text(source: str, name: str = "t.tl") -> Bundle:
    return compile_program(name, source=source)


def function(bundle: Bundle, name: str) -> Function:
    """The IR of the code object called `name` (the first one, depth first)."""
    for code in codes_of(bundle):
        if code.name == name:
            return build(code)
    raise KeyError(name)


def run(fn: Function, passes: str, ctx: PassContext | None = None) -> Function:
    return run_pipeline(fn, [p for p in passes.split(",") if p], ctx, verify_each=True)


def directives(text: str, prefix: str) -> dict[str, str]:
    """`// passes: a,b` lines (prefix `//`) or `# options: {...}` (prefix `#`)."""
    out = {}
    for line in text.splitlines():
        if line.startswith(prefix + " ") and ":" in line:
            key, _, value = line[len(prefix) + 1 :].partition(":")
            out[key.strip()] = value.strip()
    return out


def profile_of(text: str) -> dict:
    """A profile in JSON: keys "param N" -> ("param", N), "N" -> pc N."""
    raw = json.loads(text)
    return {("param", int(k.split()[1])) if k.startswith("param ") else int(k): v for k, v in raw.items()}


def render_tl(path: Path, default_passes: str) -> str:
    """Golden output for a TinyLang input: each function of the main module,
    before and after the passes (named by a `// passes:` line, else the
    directory's pass), or `unchanged`; a `// profile NAME: {...}` line gives
    function NAME's profile (and turns speculation on), `// options: {...}`
    the options, and the inliner resolves the module's hoisted functions."""
    text = path.read_text(encoding="utf-8")
    d = directives(text, "//")
    passes = d.get("passes", default_passes)
    options = json.loads(d.get("options", "{}"))
    bundle = compile_path(path)
    main = bundle.modules[bundle.main]
    resolve = module_resolver(main.init)
    parts = []
    for code in _main_codes(main.init):
        try:
            fn = build(code)
        except Unsupported as e:
            parts.append(f"fn {code.name}: not built: {e}\n")
            continue
        prof = d.get(f"profile {code.name}")
        ctx = PassContext(profile=profile_of(prof) if prof else None, speculate=prof is not None, resolve=resolve, options=dict(options))
        before = format_function(fn)
        run(fn, passes, ctx)
        after = format_function(fn)
        if after == before:
            parts.append(f"fn {code.name}: unchanged\n")
        else:
            log = "".join(f"; {line}\n" for line in ctx.log)
            parts.append(f"--- before\n{before}--- after {passes}\n{log}{after}")
    return "\n".join(parts)

