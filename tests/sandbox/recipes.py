"""Helpers for the `.tvm-recipe` attempts of the escape corpus: build crafted `.tvm` files.

A recipe is Python with a function `build(fx) -> bytes` (fx: corpus.Fixture)
that returns the bytes of a `.tvm` file. Most recipes compile a small honest
program (`compile_source`), then change one thing the compiler would never
write (`replace_code`, `replace_module`), and `dump` the result: the file is
well formed, with a valid checksum, so it reaches the verifier and the VM
rather than stopping at the reader's checksum.
"""

from __future__ import annotations

import dataclasses
import runpy
from pathlib import Path
from typing import Any

from tinyvm.bytecode.code import Bundle, Code, ModuleCode
from tinyvm.bytecode.opcodes import BY_NAME
from tinyvm.bytecode.tvmfile import dump_bundle
from tinyvm.lang.driver import compile_program

__all__ = ["BY_NAME", "Bundle", "Code", "ModuleCode", "build_recipe", "compile_source", "dump", "op", "replace_code", "replace_module"]


def build_recipe(path: Path, fx: Any) -> bytes:
    """Run the recipe file's `build(fx)`."""
    ns = runpy.run_path(str(path), run_name="recipe")
    data = ns["build"](fx)
    assert isinstance(data, bytes), f"{path.name}: build() must return bytes"
    return data


def compile_source(text: str, path: str = "main.tl") -> Bundle:
    """An honest bundle: `text` compiled as the program `path`."""
    return compile_program(path, source=text)


def main_module(bundle: Bundle) -> ModuleCode:
    return bundle.modules[bundle.main]


def replace_module(bundle: Bundle, **changes: Any) -> Bundle:
    """The bundle with its main module's fields changed (`path=`, `imports=`, `lang=`...)."""
    m = dataclasses.replace(main_module(bundle), **changes)
    return Bundle(bundle.main, {**bundle.modules, bundle.main: m})


def replace_code(bundle: Bundle, **changes: Any) -> Bundle:
    """The bundle with its main module's top-level code object's fields changed."""
    m = main_module(bundle)
    return replace_module(bundle, init=dataclasses.replace(m.init, **changes))


def op(name: str) -> int:
    """An opcode's number."""
    return BY_NAME[name].code


def dump(bundle: Bundle) -> bytes:
    return dump_bundle(bundle)
