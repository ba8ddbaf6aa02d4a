"""The 1.1 library's host-side pieces: the `re` extra missing, time layouts,
json indentation (the guest-visible behaviour is in tests/lang/13_v1_1/stdlib)."""

from __future__ import annotations

import io
import json
import sys

import pytest

from tinyvm import VM, GuestException
from tinyvm.runtime.errors import RtError
from tinyvm.stdlib.json import json_indent
from tinyvm.stdlib.timefmt import format_ms, parse_ms


def test_re_without_the_extra_is_one_clear_guest_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "re2", None)  # (an import of re2 now fails)
    vm = VM(stdout=io.StringIO())
    with pytest.raises(GuestException) as info:
        vm.run_source("import re\nprint(1)")
    assert info.value.message == "the re module needs google-re2: pip install 'tinyvm[re]'"


def test_re_is_linear_on_a_catastrophic_pattern():
    pytest.importorskip("re2")
    out = io.StringIO()
    vm = VM(stdout=out)
    # (a+)+$ takes exponential time in a backtracking engine.
    vm.run_source('import re\nprint(re.compile("(a+)+$").search("a" * 5000 + "b"))'.replace('"a" * 5000', '"a".repeat(5000)'))
    assert out.getvalue() == "nil\n"


@pytest.mark.parametrize("ms", [0, 1, 999, 1700000000123, -1, -86400000, 253402300799999])
def test_time_format_parse_round_trip(ms):
    layout = "%Y-%m-%dT%H:%M:%S.%L"
    assert parse_ms(format_ms(ms, layout), layout) == ms


def test_time_errors():
    with pytest.raises(RtError, match="unknown time layout directive %x"):
        format_ms(0, "%x")
    with pytest.raises(RtError, match="does not match"):
        parse_ms("2020-13", "%Y-%m-%d")
    with pytest.raises(RtError, match="month must be in 1..12"):
        parse_ms("2020-13-01", "%Y-%m-%d")


@pytest.mark.parametrize("value", [[], {}, [1, [2, {"a": [], "b": {}}]], {"k:,": "v]}[{\\\"", "x": [None, True, 1.5]}])
@pytest.mark.parametrize("indent", [0, 2, 4])
def test_json_indent_is_pythons_layout(value, indent):
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert json_indent(compact, indent) == json.dumps(value, indent=indent, ensure_ascii=False)
