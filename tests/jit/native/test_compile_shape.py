"""The shape of the LLVM IR the native tier emits, which its compile time follows (docs/native.md, "Compile time").

Structure, never time: exits with the same record words share one exit
block (the exit id through a phi) and equal exit states one id, so the
exit code of a function with N field reads grows with N, not with the
checks per read; a small function called once is inlined into @entry; a
loop's OSR entry is a branch inside its function, not a copy of it; a
module is one external function, its OSR entries tags of @entry (up to
seven: more keep a wrapper each) and its root's body @entry's when nothing
else calls it (entries.py). And behaviour: a deopt through a shared exit
block rebuilds the state of the exit that was taken (not of another one
sharing the block), and an OSR entry inside the function resumes exactly,
values from before the loop included, through whichever tag or wrapper it
came in by.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("llvmlite")

from native_helpers import both, global_reads, native, prepared, same

from tinyvm.jit.native import engine

# The dict path of native field code (conftest.py `dict_instances`):
# instances of closed classes are laid out in slots otherwise.
pytestmark = pytest.mark.usefixtures("dict_instances")


def modules(src: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, engine.Prepared]:
    """Run src on native-eager; the Prepared (LLVM IR text, exit table) of each root compiled."""
    preps, vm = prepared(src, monkeypatch, errors=False)  # (the programs end with a guest error: same() compares it)
    modules.stats = vm.machine.jit.native.stats  # type: ignore[attr-defined]
    return {p.code.name: p for p in preps}


def function(text: str, name: str) -> str:
    m = re.search(r"^define [^@]*@" + name + r"\(.*?^}$", text, re.MULTILINE | re.DOTALL)
    if m is None and name == "f0":  # (the root called by @entry only: its body is @entry's, entries.py)
        m = re.search(r"^define i32 @entry\(.*?^}$", text, re.MULTILINE | re.DOTALL)
    assert m is not None, text
    return m.group(0)


def sums(n: int) -> str:
    names = "abcdefghijklmnop"[:n]
    fields = "\n".join(f"  var {c}: int = {k}" for k, c in enumerate(names))
    body = " + ".join(f"self.{c}" for c in names)
    return f"""
class P {{
{fields}
  fn sum() -> int {{ return {body} }}
}}
let p = P()
print(p.sum())
"""


def test_exit_blocks_grow_with_the_reads_not_the_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    shape = {}
    for n in (4, 8, 16):
        prep = modules(sums(n), monkeypatch)["P.sum"]
        f = function(prep.text, "f0")
        blocks = len(re.findall(r"^X\d+:", f, re.MULTILINE))
        branches = len(re.findall(r"label %X\d+", f))
        shape[n] = (blocks, branches, len(prep.table))
        # the receiver's type is checked once: it dominates the other reads
        assert len(global_reads(f, "tvm.ty.Instance")) == 1, f
    for n, (blocks, branches, ids) in shape.items():
        # each read has one exit of its own (the receiver's check is
        # shared; a missing field, another type or a big int are one
        # helper call's failure, fieldslow.py `tvm.fget.i`), each `+`
        # (overflow) one more; equal words share one block and exit id
        assert branches >= 2 * n, shape
        assert blocks <= 2 * n + 2 and blocks < branches, shape
        assert ids <= 2 * n + 2, shape
    # linear: twice the reads, at most twice the exit blocks (plus a constant)
    assert shape[16][0] - shape[8][0] <= shape[8][0] - shape[4][0] + 2 * 4 + 2, shape


SHARED = """
fn f(a: int, b: int, c: int) -> int {
  if c == 1 {
    return a / b
  }
  return a % b
}
print(f(7, 2, 1) + f(7, 2, 0))
print(f(7, 0, K))
"""


@pytest.mark.parametrize("k", [0, 1])
def test_a_shared_exit_block_rebuilds_the_state_of_the_exit_taken(k: int, monkeypatch: pytest.MonkeyPatch) -> None:
    src = SHARED.replace("K", str(k))
    prep = modules(src, monkeypatch)["f"]
    f = function(prep.text, "f0")
    # `a / b` and `a % b` fail with the same words (a, b, c; a, b on the
    # stack): one exit block, the exit id through a phi
    phis = re.findall(r"%xi\d+ = phi i64 (.*)", f)
    assert phis and any(len(re.findall(r"\[ (\d+),", p)) >= 2 for p in phis), f
    code, out, err = same(src, "f")
    assert code != 0 and out == "4\n"
    # the interpreter's error at the line of the instruction that failed
    line = 4 if k == 1 else 6
    assert f"t.tl:{line}" in err or f":{line}:" in err, err
    assert any(f"deopt at <string>:{line} " in x or f":{line} (pc" in x for x in both.log), both.log


OSR = """
fn g(n: int, k: int) -> int {
  let base = k * 3
  var s = 0
  var i = 0
  while i < n {
    if i % 1000 == 999 { print(i) }
    s = s + base + i
    i += 1
  }
  return s / (k - 7)
}
print(g(3000, 2))
print(g(2500, 7))
"""


def test_an_osr_entry_inside_the_function_resumes_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    prep = modules(OSR, monkeypatch)["g"]
    assert "switch i64 %osr" in prep.text and "_osr" not in prep.text, prep.text
    assert prep.osr and modules.stats["osr_calls"] >= 3, (prep.osr, modules.stats)  # type: ignore[attr-defined]
    code, out, err = same(OSR, "g")
    assert out.startswith("999\n1999\n2999\n") and code != 0 and "division by zero" in err.lower(), (out, err)


def test_a_small_function_called_once_is_inlined(monkeypatch: pytest.MonkeyPatch) -> None:
    prep = modules("fn h(a: int) -> int { return a * 3 + 1 }\nprint(h(4))\n", monkeypatch)["h"]
    assert "@f0(" not in prep.text and "%v1 = bitcast i64 %ent.aw0 to i64" in function(prep.text, "entry"), prep.text  # (@entry took its body: entries.py)
    fib = modules("fn fib(n: int) -> int {\n  if n < 2 { return n }\n  return fib(n - 1) + fib(n - 2)\n}\nprint(fib(10))\n", monkeypatch)["fib"]
    assert not re.search(r"@f0\(.*\) alwaysinline", fib.text), fib.text  # (recursive: @entry and itself call it; its copy @f0r is: calls.self_inline)


REENTER = """
let K = 5
fn show(k: int, j: float) { print(k, j, K) }
fn f(n: int, k: int, j: float) {
  for i in 0..n { show(k, j) }
}
class R {
  var n: int = 3
  fn measure(k: int) { print(k + K) }
  fn runs(k: int) {
    for i in 0..self.n { self.measure(k) }
  }
}
f(3, 7, 1.5)
R().runs(2)
"""


def test_an_osr_entry_takes_the_words_only_exit_records_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # k and j are only passed to the calls out (`show` reads a global): the
    # entry inside the function still takes them from the header's slots
    # (renamed, osr.py), so the next deopt rebuilds them, not 0
    preps = modules(REENTER, monkeypatch)
    assert all("switch i64 %osr" in preps[n].text for n in ("f", "R.runs")), preps
    code, out, _ = same(REENTER, "f", "R.runs")
    assert code == 0 and out == "7 1.5 5\n" * 3 + "7\n" * 3


CHECKED = """
class P {
  var a: int = 3
}
fn g(p: P, n: int) -> int {
  var s = p.a
  for i in 0..n {
    if i % 100 == 99 { print(i) }
    s += p.a
  }
  return s + p.a
}
print(g(P(), 250))
"""


def test_a_receiver_check_before_a_loop_with_an_entry_inside_is_made_again_in_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # the read before the loop checks p's type, which dominates the reads
    # in and after the loop in the IR; but the OSR entry inside g jumps to
    # the loop header, past that check: the loop body checks again, and so
    # does the read after the loop (the body's check does not dominate it)
    prep = modules(CHECKED, monkeypatch)["g"]
    assert "switch i64 %osr" in prep.text
    f = function(prep.text, "f0")
    assert len(global_reads(f, "tvm.ty.Instance")) == 3, f
    code, out, _ = same(CHECKED, "g")
    assert code == 0 and out == "99\n199\n756\n"


def test_decref_is_cpythons_not_a_function_of_each_module(monkeypatch: pytest.MonkeyPatch) -> None:
    # (Py_DecRef, bound by name: codegen.Codegen); a field write that boxes
    # an int drops the references in its out-of-line helper (fieldslow.py)
    # and runs as before
    src = "class Q {\n  var v: int = 1\n  fn bump(n: int) -> int { self.v = self.v + n\n    return self.v }\n}\nlet q = Q()\nprint(q.bump(5), q.bump(2), q.bump(4611686018427387904))\n"
    text = modules(src, monkeypatch)["Q.bump"].text
    assert 'call i32 @"tvm.fset.i"(' in text and "call void @tvm.decref" not in text
    assert "define internal void @tvm.decref" not in text
    code, out, _ = same(src, "Q.bump")
    assert code == 0 and out == "6 8 4611686018427387912\n"


def lookups(f: str) -> int:
    """The dict lookups a function's text makes (each has one call, its miss
    path: a scalar read's is its helper's, fieldslow.py `tvm.fget.*`)."""
    return f.count("call i64 @_PyDict_GetItem_KnownHash(") + len(re.findall(r'call \{\w+, i64\} @"tvm\.fget\.', f))


def test_reads_of_one_receiver_load_its_dict_and_keys_table_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # (fields.py share_of) n reads of self: the dict and the keys table are
    # loaded and the table's kind and index size (fields.py index_bytes)
    # checked once (the first read's block dominates the others'), each
    # read only probes its entry
    for n in (4, 8):
        f = function(modules(sums(n), monkeypatch)["P.sum"].text, "f0")
        assert f.count("icmp eq i8") == 2, f
        assert len(re.findall(r"^fprobe\.\d+:", f, re.MULTILINE)) == n and lookups(f) == n, f
        code, out, _ = same(sums(n), "P.sum")
        assert code == 0 and out == f"{n * (n - 1) // 2}\n"


STEP = """
class P {
  var x: int = 0
  var y: int = 0
  fn step(d: int) -> int {
    self.x += d
    if self.x > 10 { self.x = 10 }
    if self.y < 0 { self.y = 0 }
    if self.x < 0 { return self.x * 2 }
    return self.x
  }
  fn alias(o: P) -> int {
    let a = self.x
    self.y = 7
    let b = self.x
    o.x = 5
    return a + b + self.x
  }
  fn put(d: int) -> int {
    self.x = d
    self.y = d + 1
    return self.x * 10 + self.y
  }
}
let p = P()
p.y = -3
print(p.step(4), p.step(20), p.y, p.step(-30), p.alias(p), p.x)
let q = P()
print(q.alias(p), q.x, p.x)
q.x = 4611686018427387904
print(q.step(4611686018427387903), q.step(-4611686018427387904))
print(q.put(4), q.x, q.y, q.step(0))
q.x = 9223372036854775807
print(q.step(1))
"""


def test_a_store_or_read_after_a_read_takes_over_its_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    # (fields.py `earlier`) `self.x += d` looks x up once; so does a store
    # or a read in an `if` arm after the read of its condition, or a read
    # after the store (the value stored); a read
    # after a join looks up again, and so does one after a store of that
    # field into any object (`o.x = 5` may be self's), not after a store of
    # another field (`self.y = 7`)
    got = modules(STEP, monkeypatch)
    f = function(got["P.step"].text, "f0")
    # x (+=; the read of `if self.x > 10` is the value stored), x again
    # (`self.x = 10`: after a store), y (if, =), x (if, * 2, return: both arms)
    assert lookups(f) == 4, f
    g = function(got["P.alias"].text, "f0")
    assert lookups(g) == 4, g  # self.x (a, b), self.y, o.x, self.x (after o.x)
    # a read after a store of that field into that receiver is the value
    # stored (x, y: one lookup each, for the stores)
    assert lookups(function(got["P.put"].text, "f0")) == 2
    # the values, the deopts (a big int: unbox_big's path; an overflow of
    # `+=` past int64: the interpreter's error) and the aliasing store agree
    same(STEP, "P.step", "P.alias", "P.put")


ODD = """
fn total(a: [int], n: int) -> int {
  var s = 0
  for i in 0..n { s += a[i] * i }
  return s
}
print(total([1, 2, 3, 4], 4))
let f: any = [1, 2, 2.5, 4]
print(total(f, 4))
let b: any = [1, true, 3, 4]
print(total(b, 4))
"""


def test_an_int_read_of_another_type_leaves_through_the_big_int_path_with_its_state(monkeypatch: pytest.MonkeyPatch) -> None:
    # (arrays.py read) the type check and the big-int check are one
    # branch: an object of another type is read as tvm.notint, whose size
    # takes the slow path, where PyLong_AsLongLongAndOverflow says it
    # overflows (called in place: no helper function); the exit still rebuilds
    # the loop's exact state (s, i), and the interpreter goes on from there
    # (an element of an `[int]` that is a float or a bool: fields and
    # arrays unbox with the same code)
    f = function(modules(ODD, monkeypatch)["total"].text, "f0")
    assert '@"tvm.notint"' in f and '@PyLong_AsLongLongAndOverflow(i64 %int' in f and "unbox_big" not in f
    code, out, _ = same(ODD, "total")
    assert code == 1 and out == "20\n19.0\n"


BIG = """
fn total(a: [int], n: int) -> int {
  var s = 0
  for i in 0..n { s += a[i] % 1000003 }
  return s
}
print(total([1, 1152921504606846976, -1152921504606846977, 9223372036854775807, -9223372036854775808, 5], 6))
let f: any = [1, 2, 2.5, 4]
print(total(f, 4))
"""


def test_big_int_reads_unbox_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    # (arrays.py read) ints of three digits and more (from 2**60) take the
    # big-int path, which calls PyLong_AsLongLongAndOverflow in the
    # function itself (no helper function for the code generator: "Compile
    # time"): int64's extremes read exactly, both signs; an element of
    # another type still leaves with the loop's state
    text = modules(BIG, monkeypatch)["total"].text
    assert "define internal" not in text and text.count("call i64 @PyLong_AsLongLongAndOverflow") == 1
    code, out, _ = same(BIG, "total")
    rem = [(abs(v) % 1000003) * (1 if v >= 0 else -1) for v in (1, 2**60, -(2**60) - 1, 2**63 - 1, -(2**63), 5)]  # (% truncates)
    assert code == 0 and out == f"{sum(rem)}\n9.5\n"
    assert native("total", both.log) and "deopt" in "".join(both.log)


TWO_LOOPS = """
fn g(n: int, k: int) -> int {
  var s = 0
  var i = 0
  while i < n {
    if i % 1000 == 999 { print(i) }
    s += i
    i += 1
  }
  var j = 0
  while j < n {
    if j % 1000 == 999 { print(j, s) }
    s += j * k
    j += 1
  }
  return s / (k - 7)
}
print(g(3000, 2))
print(g(2500, 7))
"""


def test_osr_entries_are_entries_of_the_one_external_function(monkeypatch: pytest.MonkeyPatch) -> None:
    # entries.py: no wrapper function per OSR entry; the root's body is
    # @entry's, which a tag in out's low bits sends to the call entry (0)
    # or a loop header (1, 2); each print leaves native code (a call out)
    # and the interpreter re-enters at the loop's header through its tag
    entered: list[int] = []
    orig = engine.NativeTier._osr_op

    def osr_op(self, comp, pc, G, max_depth, prev):  # type: ignore[no-untyped-def]
        op = orig(self, comp, pc, G, max_depth, prev)

        def counted(fb):  # type: ignore[no-untyped-def]
            entered.append(pc)
            return op(fb)

        return counted

    monkeypatch.setattr(engine.NativeTier, "_osr_op", osr_op)
    prep = modules(TWO_LOOPS, monkeypatch)["g"]
    assert re.findall(r"^define \S+", prep.text, re.MULTILINE) == ["define i32"], prep.text
    assert "@osr" not in prep.text and "@f0(" not in prep.text, prep.text
    assert len(prep.osr) == 2 and sorted(prep.osr_tags.values()) == [1, 2] and set(prep.osr_tags) == set(prep.osr), (prep.osr, prep.osr_tags)
    assert set(entered) == set(prep.osr) and modules.stats["osr_calls"] >= 4, (entered, modules.stats)  # type: ignore[attr-defined]  # (both loops re-entered)
    code, out, err = same(TWO_LOOPS, "g")
    assert out.startswith("999\n1999\n2999\n999 5495502\n") and code != 0 and "division by zero" in err.lower(), (out, err)


def test_a_root_other_functions_call_keeps_its_function(monkeypatch: pytest.MonkeyPatch) -> None:
    # fold_root only when @entry is the one caller: a recursive root stays
    # a function (its callers: @entry and itself), and runs exactly
    # (s(50) divides by zero 47 native frames deep)
    src = "fn s(n: int) -> int {\n  var t = 0\n  for i in 0..n { t += i }\n  if n > 0 { return t / (n - 3) + s(n - 1) }\n  return t\n}\nprint(s(2))\nprint(s(50))\n"
    prep = modules(src, monkeypatch)["s"]
    assert re.search(r"^define internal \{i64, i1\} @f0\(", prep.text, re.MULTILINE) and "call {i64, i1} @f0(" in function(prep.text, "entry"), prep.text
    code, out, err = same(src, "s")
    assert code != 0 and out == "-1\n" and "division by zero" in err.lower(), (out, err)


def eight_loops() -> str:
    body = "\n".join(f"  var i{k} = 0\n  while i{k} < n {{\n    if i{k} == 5 {{ print({k}) }}\n    s += i{k} * {k + 1}\n    i{k} += 1\n  }}" for k in range(8))
    return f"fn g(n: int) -> int {{\n  var s = 0\n{body}\n  return s / (n - 9)\n}}\nprint(g(8))\nprint(g(9))\n"


def test_more_osr_entries_than_tags_keep_their_wrappers(monkeypatch: pytest.MonkeyPatch) -> None:
    # out's low bits hold seven tags: a function with eight entries enters
    # through a wrapper `@osr<pc>` each, as before entries.py
    src = eight_loops()
    prep = modules(src, monkeypatch)["g"]
    assert len(prep.osr) == 8 and not prep.osr_tags and len(re.findall(r"^define i32 @osr\d+\(", prep.text, re.MULTILINE)) == 8, prep.text
    assert modules.stats["osr_calls"] >= 2, modules.stats  # type: ignore[attr-defined]  # (a print leaves; the loop is re-entered through its wrapper)
    code, out, err = same(src, "g")
    assert out.startswith("0\n1\n2\n") and code != 0 and "division by zero" in err.lower(), (out, err)


PREFIX = """
fn f(a: int, b: int, c: int) -> int {
  var s = a * b
  for i in 0..c { s += i * a }
  return s / (b - c)
}
print(f(3, 5, 4))
print(CALL)
"""


@pytest.mark.parametrize("call", ["f(4611686018427387904, 2, 1)", "f(4611686018427387904, 1, 3)", "f(3, 4, 4)"])
def test_exits_whose_records_start_alike_share_those_stores(call: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # exits.py: the records of the loop's and the division's exits all
    # start with a, b, c (the loop header's values of them; `a * b`'s exit
    # stores the entry's): those words are stored in one shared block the
    # exits branch to (the id and the length through phis), then
    # XR writes the id; a deopt through each (an overflow before the loop,
    # one in it, a zero divisor after it) rebuilds the interpreter's frame
    src = PREFIX.replace("CALL", call)
    f = function(modules(src, monkeypatch)["f"].text, "f0")
    shared = re.findall(r"^(XS\d+|XR):\n((?:  .*\n)+)", f + "\n", re.MULTILINE)
    assert any("phi i64" in body and re.search(r"store i64 %\S+, i64\* %xq\w+\.0$", body, re.MULTILINE) for _, body in shared), f
    # (a, word 0 of every record: each value of it stored once, the loop's
    # exits sharing one store of the header's a, the one before it its own)
    firsts = re.findall(r"store i64 (%\S+), i64\* %xq\w+\.0$", f, re.MULTILINE)
    assert len(firsts) == len(set(firsts)) >= 2, f
    code, out, err = same(src, "f")
    assert code != 0 and out == "33\n", (out, err)
