"""One namespace per VM: run_source, eval and vm.globals share it."""

from __future__ import annotations

import io

import pytest

from tinyvm import VM, GuestException
from tinyvm.lang.diagnostics import CompileError


def make() -> VM:
    return VM(stdout=io.StringIO())


def test_later_texts_see_earlier_definitions():
    vm = make()
    vm.run_source("fn sq(x: int) -> int { return x * x }")
    vm.run_source("var total = sq(3)")
    assert vm.eval("total + sq(2)") == 13
    assert vm.eval("1 + 2") == 3
    assert vm.eval("var y = 1") is None  # not an expression


def test_globals_mapping_reads_writes_and_declares():
    vm = make()
    vm.run_source("var n = 1\nlet s = \"x\"")
    g = vm.globals
    assert g["n"] == 1 and g["s"] == "x"
    assert "n" in g and "nope" not in g
    assert set(g) == {"n", "s"} and len(g) == 2
    g["n"] = 41
    assert vm.eval("n + 1") == 42
    g["limit"] = [1, 2]
    assert vm.eval("limit.len()") == 2
    with pytest.raises(KeyError):
        g["nope"]
    with pytest.raises(TypeError):
        g["n"] = "not an int"  # `n` is an int global: checked against its type


def test_compile_error_runs_nothing_and_keeps_the_namespace():
    vm = make()
    vm.run_source("var a = 1")
    with pytest.raises(CompileError) as info:
        vm.run_source("a = 2\nlet b = zz", "t.tl")
    assert "t.tl:2:9" in info.value.render()
    assert vm.eval("a") == 1


def test_guest_error_keeps_what_ran_before_it():
    vm = make()
    with pytest.raises(GuestException):
        vm.run_source("var before = 1\nlet z = 1 / 0\n")
    assert vm.eval("before") == 1


def test_thrown_non_error_value_gets_its_typeof():
    vm = make()
    with pytest.raises(GuestException) as info:
        vm.run_source("throw 42")
    assert info.value.class_name == "int"
    assert not info.value.is_error
    assert info.value.render().splitlines()[0] == "error: 42"  # the report shows the value alone


def test_lox_has_its_own_namespace():
    vm = make()
    vm.run_source("var lx = 3; fun twice(x) { return 2 * x; }", "a.lox")
    assert vm.call("twice", 4) == 8.0
    assert "lx" not in vm.globals  # TinyLang's namespace
    with pytest.raises(ValueError):
        vm.eval("1", lang="lox")


def test_run_file_joins_the_namespace(tmp_path):
    (tmp_path / "util.tl").write_text("export fn two() { return 2 }\n", encoding="utf-8")
    (tmp_path / "main.tl").write_text('import "./util" as u\nfn four() { return u.two() * 2 }\n', encoding="utf-8")
    vm = make()
    vm.run_file(str(tmp_path / "main.tl"))
    assert vm.eval("four()") == 4
