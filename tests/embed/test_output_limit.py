"""max_output (vm/limits.py): the bytes a run may print."""

from __future__ import annotations

import io

import pytest

from tinyvm import OutputLimitExceeded
from tinyvm.api import VM


def test_printing_past_the_limit_raises_after_what_fits() -> None:
    out = io.StringIO()
    vm = VM(stdout=out, max_output=10)
    with pytest.raises(OutputLimitExceeded) as info:
        vm.run_source('for i in 0..100 { print("abcd") }')
    assert out.getvalue() == "abcd\nabcd\n"
    assert info.value.message == "output limit: the program wrote more than 10 bytes"


def test_the_limit_counts_utf8_bytes_and_cuts_between_characters() -> None:
    out = io.StringIO()
    vm = VM(stdout=out, max_output=5)
    with pytest.raises(OutputLimitExceeded):
        vm.run_source('print("ééé")')  # 7 bytes with the newline
    assert out.getvalue() == "éé"


def test_each_run_has_the_whole_limit_and_catch_does_not_see_it() -> None:
    out = io.StringIO()
    vm = VM(stdout=out, max_output=8)
    vm.run_source('fn say(s) { print(s) }\nfn flood() {\n  try { for i in 0..100 { print("x") } } catch e { print("caught") } finally { print("finally") }\n}')
    vm.call("say", "1234567")
    vm.call("say", "1234567")
    with pytest.raises(OutputLimitExceeded):
        vm.call("flood")
    assert out.getvalue() == "1234567\n1234567\n" + "x\n" * 4
