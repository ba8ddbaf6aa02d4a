"""Tuples below the language tests (issue 18, tltuple): the lexer's `t.0.1`,
compile errors' exact line:col, the heap object (refs, size, free, GC),
map keys, printing, and heap snapshots."""

from __future__ import annotations

import io

from tinyvm import VM
from tinyvm.bytecode.types import INT, STRING, TupleT, parse_type_text
from tinyvm.heap.heap import Heap
from tinyvm.heap.objects import Array, Map, Tuple, TupleKey, map_key, unmap_key
from tinyvm.heap.snapshot import describe, named_refs
from tinyvm.lang.diagnostics import DiagnosticBag
from tinyvm.lang.tinylang.lexer import tokenize
from tinyvm.lang.tinylang.pipeline import compile_module_ast, parse_source
from tinyvm.lang.tinylang.tokens import TK
from tinyvm.runtime.values import check_key, equals, to_str, to_str_clox


def _kinds(src: str) -> list[tuple[TK, str, int]]:
    bag = DiagnosticBag("t.tl", src)
    return [(t.kind, t.text, t.col) for t in tokenize(src, "t.tl", bag) if t.kind not in (TK.SEMI, TK.EOF)]


def test_lexer_splits_element_paths_but_not_floats():
    assert _kinds("t.0.1") == [(TK.IDENT, "t", 1), (TK.DOT, ".", 2), (TK.INT, "0", 3), (TK.DOT, ".", 4), (TK.INT, "1", 5)]
    assert [k for k, _, _ in _kinds("x = 0.5")] == [TK.IDENT, TK.ASSIGN, TK.FLOAT]
    assert [k for k, _, _ in _kinds("0..10")] == [TK.INT, TK.DOTDOT, TK.INT]


def _errors(src: str) -> list[str]:
    bag = DiagnosticBag("t.tl", src)
    mod = parse_source(src, "t.tl", bag)
    compile_module_ast(mod, "t.tl", src, bag, {})
    return [f"{d.line}:{d.col}: {d.message}" for d in bag.items]


def test_compile_errors_have_exact_positions():
    src = 'let t = (1, "a")\nt.0 = 2\nprint(t.5)\nlet (a, b, c) = t\nlet s: (int, int) = (1, "x")\n'
    assert _errors(src) == [
        "2:3: cannot assign to an element of a tuple (tuples are immutable)",
        "3:9: (int, string) has no element 5 (it has 2 elements)",
        "4:17: cannot destructure a tuple of 2 elements into 3 names",
        "5:25: element 1 of (int, int): expected int, got string",
    ]


def test_tuple_type_text_round_trips():
    assert parse_type_text("(int, string)") == TupleT((INT, STRING))
    assert parse_type_text("(int,)").text() == "(int,)"
    assert parse_type_text("[(int, (string, int))]?").text() == "[(int, (string, int))]?"
    assert parse_type_text("(int)") is INT  # a grouping, not a tuple


def test_heap_object_refs_size_free_and_gc():
    heap = Heap()
    inner = heap.alloc(Array([1]))
    t = heap.alloc(Tuple((inner, "s", 3)))
    assert list(t.refs()) == [inner, "s", 3]
    assert t.size() > Tuple(()).size()
    heap.collect([t])
    assert inner.items == [1]  # traced through the tuple
    heap.collect([])
    assert inner.items != [1] and t.items != (inner, "s", 3)  # freed: poisoned


def test_tuple_keys_hash_by_value_and_keep_the_tuple_alive():
    a, b = Tuple((1, "x")), Tuple((1.0, "x"))
    assert map_key(a) == map_key(b) and hash(map_key(a)) == hash(map_key(b))
    assert map_key(Tuple((True,))) != map_key(Tuple((1,)))
    assert type(check_key(a)) is TupleKey and unmap_key(check_key(a)) is a
    heap = Heap()
    key = heap.alloc(Tuple((1, 2)))
    m = heap.alloc(Map({check_key(key): "v"}))
    heap.collect([m])
    assert key.items == (1, 2)  # Map.refs gives the tuple behind its key
    assert ("internal", "key (1, 2)", key) in named_refs(m)


def test_printing_and_equality():
    assert to_str(Tuple((1, "a", Tuple((2.5,))))) == '(1, "a", (2.5,))'
    assert to_str(Tuple(())) == "()"
    assert to_str_clox(Tuple((1.0, None))) == "(1.0, nil)"  # a tuple reaching Lox prints as in TinyLang
    assert equals(Tuple((1, Array([2]))), Tuple((1.0, Array([2]))))
    assert not equals(Tuple((1,)), Array([1]))


def test_tuples_survive_a_collection():
    vm = VM(stdout=io.StringIO())
    vm.run_source("var keep = [(1, [2, 3]), (4, 5)]\nvar m = [(1, 2): (3, 4)]\nfn both() { return (keep, m) }")
    counts: dict[str, int] = {}
    for o in vm.machine.heap.all_objects():
        counts[type(o).__name__] = counts.get(type(o).__name__, 0) + 1
    assert counts.get("Tuple", 0) >= 4
    vm.machine.collect()
    assert vm.call("both") == ([(1, [2, 3]), (4, 5)], {(1, 2): (3, 4)})


def test_snapshot_names_tuple_elements():
    t = Tuple(("a", 2))
    assert describe(t) == ("object", "tuple", "tuple")
    assert named_refs(t) == [("element", 0, "a"), ("element", 1, 2)]
