"""The driver and the loader (lang/driver.py, lang/loader.py): which front ends
there are, how an import finds its file, what importers see of a module that
failed, and what the VM is told.

The language suite (tests/lang/08_modules, tests/unit/test_lox_interop.py)
covers imports as programs use them; these tests pin the driver's own rules.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tinyvm.api import VM
from tinyvm.bytecode.tvmfile import write_file
from tinyvm.lang.diagnostics import CompileError
from tinyvm.lang.driver import Languages, compile_program, resolve_spec
from tinyvm.lang.frontend import FrontEnd, ModuleInfo
from tinyvm.lang.loader import Loader

LANGS = Languages.default()


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(path: str) -> str:
    out = io.StringIO()
    VM(stdout=out).run_file(path)
    return out.getvalue()


def test_the_built_in_front_ends_are_found_in_their_folders():
    assert LANGS.names == ("tinylang", "lox")  # the default first
    assert LANGS.default_frontend.name == "tinylang"
    assert LANGS.for_path("a/b.lox").name == "lox"
    assert LANGS.for_path("a/b.tl").name == "tinylang"
    assert LANGS.for_path("a/b.txt").name == "tinylang"  # no front end claims .txt
    assert LANGS.for_dialect("lox").name == "lox" and LANGS.for_dialect("tinylang").name == "tinylang"
    assert LANGS.extensions == (".tl", ".tvm", ".lox")
    assert Languages.default() is LANGS  # found once


def test_a_front_end_must_say_what_it_is():
    class Nameless(FrontEnd):
        extensions = (".x",)
        dialect = "tinylang"

    class NoDialect(FrontEnd):
        name, extensions = "x", (".x",)

    class ClaimsTvm(FrontEnd):
        name, extensions, dialect = "x", (".tvm",), "tinylang"

    class SecondDefault(FrontEnd):
        name, extensions, dialect, default = "x", (".x",), "tinylang", True

    for bad, message in [(Nameless(), "needs a name"), (NoDialect(), "dialect"), (ClaimsTvm(), "same extension"), (SecondDefault(), "exactly one")]:
        with pytest.raises(ValueError, match=message):
            LANGS.add(bad)
    with pytest.raises(ValueError, match="unknown language"):
        compile_program("x.tl", source="", lang="nosuch")


def test_an_import_prefers_the_importers_language_then_tvm_then_the_others(tmp_path):
    write(tmp_path, "lib.lox", 'var who = "lox";')
    main = write(tmp_path, "main.tl", 'import "./lib" as lib\nprint(lib.who)\n')
    assert compile_program(main).modules["lib"].lang == "lox"
    assert run(main) == "lox\n"
    # A .tvm, compiled under another name: its main module is the import's.
    write(tmp_path, "made.tl", 'export let who = "tvm"\n')
    write_file(str(tmp_path / "lib.tvm"), compile_program(str(tmp_path / "made.tl")))
    assert compile_program(main).modules["lib"].lang == "tinylang"
    assert run(main) == "tvm\n"
    write(tmp_path, "lib.tl", 'export let who = "tl"\n')
    assert run(main) == "tl\n"
    # Naming another language's extension finds that file only.
    named = write(tmp_path, "named.tl", 'import "./lib.lox" as lib\n')
    assert compile_program(named).modules["lib"].lang == "lox"
    (tmp_path / "lib.lox").unlink()
    with pytest.raises(CompileError) as e:
        compile_program(named)
    assert [d.message for d in e.value.diagnostics] == ['cannot find module "./lib.lox"']


def test_a_failed_module_is_compiled_and_reported_once(tmp_path):
    # Two modules import the same broken one: its error is reported once,
    # and each importer reports what it uses from it.
    write(tmp_path, "broken.tl", "export fn f() { return x }\n")
    write(tmp_path, "p.tl", 'from "./broken" import f\nexport let p = 1\n')
    write(tmp_path, "q.tl", 'from "./broken" import f\nexport let q = 1\n')
    main = write(tmp_path, "main.tl", 'import "./p" as p\nimport "./q" as q\n')
    with pytest.raises(CompileError) as e:
        compile_program(main)
    found = [(Path(d.path).name, d.line, d.message) for d in e.value.diagnostics]
    assert found == [
        ("broken.tl", 1, "undeclared name 'x'"),
        ("p.tl", 1, "module \"./broken\" has no export 'f'"),
        ("q.tl", 1, "module \"./broken\" has no export 'f'"),
    ]


def test_an_unreadable_import_is_reported_once(tmp_path):
    (tmp_path / "bad.tl").write_bytes(b"let x = \xff\n")
    write(tmp_path, "a.tl", 'import "./bad" as bad\nexport let a = 1\n')
    main = write(tmp_path, "main.tl", 'import "./a" as a\nimport "./bad" as bad\n')
    with pytest.raises(CompileError) as e:
        compile_program(main)
    assert [(Path(d.path).name, d.message) for d in e.value.diagnostics] == [("bad.tl", "source is not valid UTF-8")]


def test_module_keys_and_the_loader():
    assert resolve_spec("main", "./geo", LANGS.extensions) == "geo"
    assert resolve_spec("lib/sub/x", "../geo.tl", LANGS.extensions) == "lib/geo"
    assert resolve_spec("main", "./shapes.lox", LANGS.extensions) == "shapes"
    assert resolve_spec("main", "./data.v2", LANGS.extensions) == "data.v2"  # not a known extension
    assert resolve_spec("lib/x", "math", LANGS.extensions) == "math"  # a standard module
    loader = Loader()
    assert loader.resolve("lib/x", "./y.tvm") == "lib/y"
    # The runtime library: compiled by the front end of the file's extension,
    # privileged (the prelude calls the VM's private natives), shown as `path`.
    code = loader.compile_library("export fn k() { return __kind(1) }\n", "lib.tl", "<lib>")
    assert code.path == "<lib>" and code.lang == "tinylang" and "k" in code.exports
    with pytest.raises(CompileError, match="__kind"):
        compile_program("user.tl", source="print(__kind(1))\n")  # not for user code
    with pytest.raises(CompileError):
        loader.compile_library("fn (", "lib.tl", "<lib>")


def test_declarations_cross_only_within_one_language():
    from tinyvm.lang.driver import _visible

    tinylang, lox = LANGS.get("tinylang"), LANGS.get("lox")
    info = ModuleInfo("m", {"f": object()})
    assert _visible(info, tinylang, tinylang) is info
    assert _visible(info, tinylang, lox).exports == {"f": None}
    assert _visible(info, None, tinylang).exports == {"f": None}  # a .tvm module
    assert _visible(None, tinylang, tinylang) is None
