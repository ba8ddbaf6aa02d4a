"""The IR verifier: hand-written bad IR (text form) -> the expected error."""

from __future__ import annotations

import pytest

from tinyvm.ir.nodes import Instr
from tinyvm.ir.text import format_function, parse_function
from tinyvm.ir.verify import dominators, verify

GOOD = """\
fn f(v0: any, v1: int) -> int
b0:
  jump b1
b1: preds b0, b2
  v2 = phi v1, v5 : int
  v3 = const[0] : int
  v4 = lt v3, v2 : bool  @pc 3 [v0, v2 | v3, v2]
  branch v4, b2, b3
b2: preds b1
  v6 = const[1] : int
  v5 = sub.checked v2, v6 : int  @pc 9 [v0, v2 | v2, v6]
  jump b1
b3: preds b1
  return v2
"""


def errors(text: str) -> list[str]:
    return verify(parse_function(text))


def test_good_ir_has_no_errors_and_its_dominators() -> None:
    fn = parse_function(GOOD)
    assert verify(fn) == []
    idom = {b.name: d.name for b, d in dominators(fn).items()}
    assert idom == {"b0": "b0", "b1": "b0", "b2": "b1", "b3": "b1"}


BAD = [
    # A use not dominated by its definition (v5 is defined in b2 only).
    (GOOD.replace("  return v2", "  return v5"), "b3: return v5: v5 is used where its definition does not dominate it"),
    # A use before its definition in the same block.
    (GOOD.replace("v4 = lt v3, v2", "v4 = lt v7, v2").replace("  v3 = const[0] : int\n", "  v3 = const[0] : int\n  v7 = add.checked v3, v4 : int  @pc 1 [v0, v2 | v3]\n"),
     "b1: v7 = add.checked v3, v4 : int  @pc 1 [v0, v2 | v3]: v4 is used where its definition does not dominate it"),
    # Phi arity.
    (GOOD.replace("phi v1, v5", "phi v1"), "b1: v2 = phi v1 : int: phi has 1 operand(s) for 2 predecessor(s)"),
    # preds inconsistent with the terminators.
    (GOOD.replace("b3: preds b1", "b3: preds b2"), "b3: preds are b2 but the blocks that jump here are b1"),
    # A terminator in the middle of a block.
    (GOOD.replace("  jump b1\nb3", "  jump b1\n  return v5\nb3"), "b2: a second terminator"),
    # No terminator.
    (GOOD.replace("  return v2\n", ""), "b3: no terminator at the end"),
    # Types: a branch on an int, an int add of a string.
    (GOOD.replace("branch v4,", "branch v3,"), "b1: branch v3, b2, b3: a condition of type int"),
    (GOOD.replace("v6 = const[1] : int", 'v6 = const["x"] : string'), "b2: v5 = sub.checked v2, v6 : int  @pc 9 [v0, v2 | v2, v6]: an int result from operands not all int"),
    # A raising instruction without a frame state.
    (GOOD.replace("  @pc 9 [v0, v2 | v2, v6]", ""), "b2: v5 = sub.checked v2, v6 : int: can raise but has no frame state"),
    # A frame state naming a value not defined there.
    (GOOD.replace("@pc 3 [v0, v2 | v3, v2]", "@pc 3 [v0, v5 | v3, v2]"), "b1: v4 = lt v3, v2 : bool  @pc 3 [v0, v5 | v3, v2]: frame state names v5, which is not defined here"),
    # The entry has predecessors.
    (GOOD.replace("b0:\n", "b0: preds b2\n").replace("  jump b1\nb3", "  jump b0\nb3"), "b0: the entry block has predecessors"),
    # A value defined twice.
    (GOOD.replace("v6 = const[1]", "v3 = const[1]").replace("v2, v6", "v2, v3"), None),
]


@pytest.mark.parametrize("text,expected", [b for b in BAD if b[1] is not None], ids=lambda x: str(x)[:40])
def test_bad_ir_is_reported(text: str, expected: str) -> None:
    if expected.startswith("b2: a second terminator"):
        # The parser refuses it: the text form cannot hold two terminators.
        with pytest.raises(ValueError, match="a second terminator in b2"):
            parse_function(text)
        return
    errs = errors(text)
    assert expected in errs, errs


def test_a_value_defined_twice_is_refused_by_the_parser() -> None:
    with pytest.raises(ValueError, match="v3 defined twice"):
        parse_function(BAD[-1][0])


def test_structural_errors_of_built_objects() -> None:
    fn = parse_function(GOOD)
    b2 = fn.blocks[2]
    # A terminator among the instructions, and a phi among them.
    b2.instrs.insert(0, Instr(99, "jump", targets=[fn.blocks[1]], block=b2))
    b2.instrs.insert(0, Instr(98, "phi", [], type=None, block=b2))
    errs = verify(fn)
    assert any("a terminator before the end of the block" in e for e in errs), errs
    assert any("a phi among the instructions" in e for e in errs), errs


def test_an_empty_function() -> None:
    fn = parse_function("fn f() -> any\n")
    assert verify(fn) == ["the function has no blocks"]


# Exceptional edges: b1's two raising instructions catch at b2, whose phi has
# one operand per catching instruction (the value of the slot before it ran).
CATCH = """\
fn g(v0: any, v1: int) -> int
b0:
  jump b1
b1: preds b0
  v2 = const[10] : int
  v3 = div.checked v2, v1 : int  @pc 4 [v0, v1 | v2, v1] catch b2
  v4 = div.checked v3, v1 : int  @pc 5 [v0, v3 | v3, v1] catch b2
  return v4
b2: catch-preds b1, b1
  v5 = phi v1, v3 : int
  v6 = caught : any
  return v5
"""


def test_good_exceptional_edges_and_their_dominators() -> None:
    fn = parse_function(CATCH)
    assert verify(fn) == []
    assert {b.name: d.name for b, d in dominators(fn).items()} == {"b0": "b0", "b1": "b0", "b2": "b1"}


CATCH_BAD = [
    # The first catching instruction's edge cannot carry the value it defines.
    (CATCH.replace("phi v1, v3", "phi v3, v3"), "b2: v5 = phi v3, v3 : int: operand v3 is not defined before the instruction of b1 that catches here"),
    # Phi arity counts the exceptional predecessors.
    (CATCH.replace("phi v1, v3", "phi v1"), "b2: v5 = phi v1 : int: phi has 1 operand(s) for 2 predecessor(s)"),
    # catch-preds must match the instructions that catch.
    (CATCH.replace("b2: catch-preds b1, b1", "b2: catch-preds b1"), "b2: catch-preds are b1 but the blocks that catch here are b1, b1"),
    # Only an instruction with a frame state catches.
    (CATCH.replace("  @pc 5 [v0, v3 | v3, v1] catch b2", "").replace("catch-preds b1, b1", "catch-preds b1").replace("phi v1, v3", "phi v1"),
     "b1: v4 = div.checked v3, v1 : int: can raise but has no frame state"),
    # caught opens a block reached only by exceptional edges.
    (CATCH.replace("  v6 = caught : any\n", "").replace("  v2 = const[10] : int\n", "  v2 = const[10] : int\n  v6 = caught : any\n"),
     "b1: v6 = caught : any: caught must open a block reached only by exceptional edges"),
]


@pytest.mark.parametrize("text,expected", CATCH_BAD)
def test_bad_exceptional_edges_are_reported(text: str, expected: str) -> None:
    assert expected in errors(text)


def test_exceptional_edges_round_trip() -> None:
    assert format_function(parse_function(CATCH)) == CATCH
