"""An array's list words loaded once where they hold (jit/native/listwords.py),
and int stores that find the same cached small int (arrays.py store_int).

The IR of a call-free function loads a list's `ob_size` and `ob_item` once
for all accesses of one array (in one block or a dominating one); a call
between two accesses (which may push and resize the list) makes the second
load them again, and the results stay the interpreter's when a callee
grows the list between reads. Stores of small ints that the slot holds
already keep every count exact. Words loaded where the array is defined
(session 37): a parameter's before the loops of a call-free function, an
array field's at the read that checks it, and the results agree on three
tiers.
"""

from __future__ import annotations

import gc
import io
import re
import sys

import pytest

pytest.importorskip("llvmlite")

from native_helpers import SIEVE_FN, agree_log, blocks_in_cycles, global_reads, llvm_blocks, module_texts, native, sieve_program

from tinyvm.api import VM


def _list_loads(body: str) -> int:
    """Invariant loads through a pointer register: an Array's list, its size, its vector."""
    return len(re.findall(r"= load i64, i64\* %p\.\d+, !invariant\.load", body))


SIEVE = sieve_program(100)


def test_one_load_of_each_word_in_a_call_free_function(monkeypatch: pytest.MonkeyPatch) -> None:
    body = "\n".join(module_texts(SIEVE, monkeypatch))
    # The read in the outer loop loads the list, ob_size and ob_item; the
    # store in the inner loop (a block it dominates) takes its registers.
    # (The outer loop's entry checks, loopguards.py, load them once more
    # before it, in its preheader and on its OSR entry's path: blocks that
    # dominate neither the other.)
    blocks = llvm_blocks(body)
    inside = [lines for label, lines in blocks if label != "B0" and not label.startswith("osr")]
    assert _list_loads("\n".join(x for lines in inside for x in lines)) == 3, body
    assert _list_loads(body) == 9, body


SWAP = """
fn swap(a: [int], i: int, j: int) {
  let t = a[i]
  a[i] = a[j]
  a[j] = t
}
fn go(a: [int], n: int) -> int {
  for k in 0..n { swap(a, k % 4, (k + 1) % 4) }
  return a[0] * 1000 + a[1] * 100 + a[2] * 10 + a[3]
}
print(go([1, 2, 3, 4], 7))
"""


def test_four_accesses_one_set_of_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = module_texts(SWAP, monkeypatch)
    bodies = [b for t in texts for b in re.findall(r"(define internal .*?\n\})", t, re.DOTALL) if "%v3)" in b.splitlines()[0]]
    assert bodies, texts
    # swap: four accesses of `a` in one block and no call: one list, one
    # ob_size, one ob_item (each access loaded all three before).
    assert [_list_loads(b) for b in bodies] == [3], bodies


GROWS = """
var log: [int] = []
fn grow(a: [int], n: int) -> int {
  for k in 0..n { a.push(k) }
  return n
}
fn reads(a: [int]) -> int {
  let x = a[0]
  let y = grow(a, 100)
  let z = a[len(a) - 1] + a[1] + len(a)
  return x + y + z
}
fn go(n: int) -> int {
  var s = 0
  for i in 0..n {
    var a = [7, 8]
    s += reads(a)
  }
  return s
}
print(go(50))
"""


LOOP_GROWS = """
fn reads(a: [int], n: int) -> int {
  var s = a[0]
  for k in 0..n {
    s += a[len(a) - 1] + len(a)
    a.push(k * 3)
  }
  return s + a[len(a) - 1]
}
fn go(n: int) -> int {
  var s = 0
  for i in 0..n { s += reads([5], 40 + i % 7) }
  return s
}
print(go(60))
"""


def test_a_push_in_the_loop_between_reads() -> None:
    # The loop's reads are dominated by the read before the loop, but the
    # function calls (push): each read loads the list's words again.
    (code, out, err), _ = agree_log(LOOP_GROWS, "go")
    assert (code, err) == (0, ""), err
    want = 0
    for i in range(60):
        a, n = [5], 40 + i % 7
        s = a[0]
        for k in range(n):
            s += a[-1] + len(a)
            a.append(k * 3)
        want += s + a[-1]
    assert out.strip() == str(want)


def test_a_callee_growing_the_list_between_reads() -> None:
    (code, out, err), log = agree_log(GROWS, "go")  # (reads and grow: in go's group)
    assert (code, err) == (0, ""), err
    assert out.strip() == str(50 * (7 + 100 + 99 + 8 + 102))
    assert any("3 functions" in x for x in log), log


def test_same_small_int_stores_keep_counts_exact() -> None:
    log: list[str] = []
    vm = VM(stdout=io.StringIO(), jit="native-eager", jit_log=log.append)
    vm.run_source(
        """
var xs = [0, 0, 256, 257, -5, -6, 1000000, 0]
fn sw(a: [int], n: int) -> int {
  for k in 0..n {
    let i = k % 8
    let j = (k * 3 + 1) % 8
    let t = a[i]
    a[i] = a[j]
    a[j] = t
    a[7] = a[7]
  }
  return a[0]
}
fn go(n: int) -> int { return sw(xs, n) }
""",
        "t.tl",
    )
    items = vm.globals._ns.get("xs").items
    vm.call("go", 8)  # (compiled now: compiling keeps what it keeps)
    gc.collect()
    vals = (0, 256, -5)
    want = sorted(int(str(e)) for e in items)  # (copies: no reference to the elements)
    before = [sys.getrefcount(v) - sum(1 for e in items if e is v) for v in vals]
    vm.call("go", 10_001)
    gc.collect()
    after = [sys.getrefcount(v) - sum(1 for e in items if e is v) for v in vals]
    assert after == before
    assert sorted(items) == want
    assert native("sw", log), log


# Words loaded at the array's definition (ListWords.prefetch): a parameter
# or a field read whose accesses sit in a loop of a call-free function.
PREFETCH = SIEVE_FN + """
class Box {
  var xs: [int] = []
  fn total(n: int) -> int {
    let xs = self.xs
    var s = 0
    for k in 0..n { s += xs[k % len(xs)] }
    return s
  }
}
fn run(n: int) -> int {
  let b = Box()
  var ys: [int] = []
  for k in 0..7 { ys.push(k * k) }
  b.xs = ys
  var listy: [bool] = []
  for k in 0..n { listy.push(true) }
  return sieve([true] * n, n) * 1000 + sieve(listy, n) * 100 + sieve([true] * 3, 0) + b.total(n)
}
print(run(100), run(1), run(0))
"""


def test_a_parameters_and_a_fields_words_are_loaded_once_before_the_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    # sieve and Box.total (callees of run: no OSR region) load their arrays'
    # words (each load tests the type word against PackedArray's type)
    # outside their loops, none inside.
    checked = 0
    for t in module_texts(PREFETCH, monkeypatch):
        for body in re.findall(r"(define internal .*?\n\})", t, re.DOTALL):
            blocks = llvm_blocks(body)
            loops = blocks_in_cycles(blocks)
            reads = set(global_reads(body, "tvm.ty.Packed"))
            loads = {label for label, lines in blocks if reads.intersection(lines)}
            if loops and loads:
                assert not loads & loops, body
                checked += 1
    assert checked >= 2


def test_prefetched_words_agree_on_three_tiers() -> None:
    # Packed and list arrays, a loop that never runs, a field's array.
    (code, out, err), log = agree_log(PREFETCH, "run")
    assert any("with Box.$fields, sieve, Box.total" in x for x in log), log
    assert (code, err) == (0, ""), err
    primes = sum(all(p % d for d in range(2, p)) for p in range(2, 101))  # (25)
    total = sum((k % 7) ** 2 for k in range(100))
    assert out.split() == [str(primes * 1000 + primes * 100 + total), "0", "0"], out


FIELD_READS = """
class Rows {
  var free: [bool] = []
  var ids: [int] = []
  fn get(r: int) -> bool { return self.free[r] and self.ids[r] > 0 }
  fn put(r: int, v: bool) { self.free[r] = v }
}
fn run(n: int) -> int {
  let rows = Rows()
  rows.free = [true] * 8
  var ids: [int] = []
  for k in 0..8 { ids.push(k - 2) }
  rows.ids = ids
  var s = 0
  for i in 0..n {
    if rows.get(i % 8) { s += 1 }
    rows.put((i * 3) % 8, i % 5 != 0)
  }
  return s
}
print(run(1000))
"""


def test_an_array_field_read_hands_its_checked_words_to_the_access(monkeypatch: pytest.MonkeyPatch) -> None:
    # fields.py's read checks the array (its type word, its items) and
    # arrays.py `checked` records those loads: the access after it in the
    # block loads neither again (one type word test per field read, where
    # the access added a second).
    funcs = [b for t in module_texts(FIELD_READS, monkeypatch) for b in re.findall(r"(define internal .*?\n\})", t, re.DOTALL)]
    tested = 0
    for body in funcs:
        if "load i8" not in body and "store i8" not in body or "GenericAlloc" in body:
            continue  # (not get or put: $fields and run make arrays, whose code loads Array's type too)
        reads = len(global_reads(body, "tvm.ty.Array"))  # (one per array field read: check_array)
        assert reads and len(global_reads(body, "tvm.ty.Packed")) == reads, body
        tested += 1
    assert tested == 2, funcs  # (get: two reads, put: one)
    (code, out, err), _ = agree_log(FIELD_READS, "run")
    want = 0
    free, ids = [True] * 8, [k - 2 for k in range(8)]
    for i in range(1000):
        want += free[i % 8] and ids[i % 8] > 0
        free[(i * 3) % 8] = i % 5 != 0
    assert (code, out.strip(), err) == (0, str(want), "")
