"""Lox's `gc` global (Lox cannot import; stdlib/gc.py make_lox_gc): the gc
module's functions as methods of an object, statistics as fields."""

from __future__ import annotations

import io

import pytest

from tinyvm.cli.main import main

PROGRAM = """
var keep = nil;
for (var i = 0; i < 2000; i = i + 1) { keep = "x" + "y"; }
print gc.mode();
var n = gc.collect();
print n >= 0;
var s = gc.stats();
print s.collections >= 1;
print s.full >= 1;
print s.collections == s.full + s.emergency;
print s.mode;
print s.promoted_bytes;
print s.heap_bytes > 0;
print s.pause_max_ms >= s.pause_p50_ms;
print gc.mode("stw");
print gc.mode("generational");
print gc.mode();
for (var i = 0; i < 2000; i = i + 1) { keep = "x" + "y"; }
print gc.collect() >= 0;
print gc.stats().major >= 1;
print gc.mode("incremental");
gc.mode("nope");
"""


@pytest.mark.parametrize("flags", [[], ["--gc-stress"], ["--jit", "eager"]])
def test_lox_gc_object(tmp_path, flags):
    prog = tmp_path / "gc.lox"
    prog.write_text(PROGRAM)
    out, err = io.StringIO(), io.StringIO()
    status = main(["run", *flags, str(prog)], stdin=io.StringIO(), stdout=out, stderr=err)
    assert out.getvalue().split() == ["stw", "true", "true", "true", "true", "stw", "0", "true", "true", "stw", "stw", "generational", "true", "true", "generational"]
    assert status == 70  # clox's runtime error status
    assert err.getvalue().splitlines() == ["unknown gc mode 'nope': the modes are stw, incremental, generational", "[line 22] in script"]


def test_a_lox_variable_named_gc_shadows_it(tmp_path):
    prog = tmp_path / "mine.lox"
    prog.write_text('var gc = "mine";\nprint gc;\n')
    out = io.StringIO()
    assert main(["run", str(prog)], stdin=io.StringIO(), stdout=out, stderr=io.StringIO()) == 0
    assert out.getvalue() == "mine\n"
