"""docs/stdlib.md is generated from ONE table (stdlib/reference.py); this keeps
the page current and the table complete: it names exactly the built-ins,
methods and module exports the VM provides.

Regenerate with `python -m tinyvm.stdlib.reference > docs/stdlib.md`.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tinyvm.api import VM
from tinyvm.lang.tinylang import signatures as S
from tinyvm.runtime.methods import PRELUDE_METHODS
from tinyvm.stdlib import NAMES, make_module
from tinyvm.stdlib.reference import TABLE, markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "stdlib.md"


@pytest.fixture(scope="module")
def machine():
    return VM(stdout=io.StringIO()).machine


def documented(section: str) -> set[str]:
    return {name for sec, name, _, _ in TABLE if sec == section}


def test_stdlib_doc_matches_the_table():
    assert DOC.read_text(encoding="utf-8") == markdown(), (
        "docs/stdlib.md is stale: run `python -m tinyvm.stdlib.reference > docs/stdlib.md`"
    )


def test_no_entry_twice():
    keys = [(sec, name) for sec, name, _, _ in TABLE]
    assert len(keys) == len(set(keys))


def test_every_builtin_is_documented(machine):
    public = {n for n in machine.builtins if not n.startswith("__")} - set(S.ERROR_CLASSES)
    assert documented("builtin") == public


@pytest.mark.parametrize("kind", ["string", "array", "map", "Set"])
def test_every_method_is_documented(machine, kind):
    names = set(machine.methods[kind]) | set(PRELUDE_METHODS.get(kind, {}))
    assert documented(kind) == names


def test_re_methods_are_documented(machine):
    pytest.importorskip("re2")
    make_module(machine, "re")
    assert documented("Pattern") == set(machine.methods["Pattern"])
    assert documented("Match") == set(machine.methods["Match"])


@pytest.mark.parametrize("name", NAMES)
def test_every_module_export_is_documented(machine, name):
    if name == "re":
        pytest.importorskip("re2")
    assert documented(f"module {name}") == set(make_module(machine, name))
