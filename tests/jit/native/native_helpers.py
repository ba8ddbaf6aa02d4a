"""Shared helpers of the native tier's tests: run a program in-process on a tier."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tinyvm.api import VM
from tinyvm.cli.main import main


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def both(src: str, *extra: str) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """(interpreter, native-eager) results of `tvm run -e src`; the native run's
    stderr without its --jit-log lines, which are returned separately by `logged`."""
    want = cli(["run", *extra, "-e", src])
    code, out, err = cli(["run", "--jit=native-eager", "--jit-log", *extra, "-e", src])
    log = [line for line in err.splitlines() if line.startswith("jit: ")]
    rest = "".join(line + "\n" for line in err.splitlines() if not line.startswith("jit: "))
    both.log = log  # type: ignore[attr-defined]
    return want, (code, out, rest)


def groups(log: list[str]) -> list[set[str]]:
    """The functions of each native module the log reports: its root and
    the callees compiled into it ("; with A, B" at the end of the line)."""
    out = []
    for line in log:
        if line.startswith("jit: native ") and " in " in line and line.endswith(")"):
            root = line[len("jit: native ") :].split(" in ", 1)[0]
            tail = line[:-1].rsplit("; with ", 1)
            out.append({root, *(tail[1].split(", ") if len(tail) == 2 else ())})
    return out


def in_one_module(log: list[str], *names: str) -> bool:
    """Whether one native module of the log holds every function of `names`
    (as its root or compiled into it: native calls between them)."""
    return any(set(names) <= g for g in groups(log))


def native(name: str, log: list[str]) -> bool:
    return any(line.startswith(f"jit: native {name} in ") for line in log)


def same(src: str, *names: str, extra: tuple = ()) -> tuple[int, str, str]:
    """Run src on the interpreter and on native-eager: identical exit code,
    stdout and stderr, and each function of `names` compiled natively."""
    want, got = both(src, *extra)
    assert got == want, (got, want, both.log)
    for n in names:
        assert native(n, both.log), both.log
    return want


def used(src: str, jit: str) -> tuple[int, str, list[str]]:
    """(fuel used, output, JIT log) of src run in-process on a metered VM
    with `jit` (an error is part of the output: it is compared too)."""
    log: list[str] = []
    out = io.StringIO()
    vm = VM(stdout=out, jit=jit, jit_log=log.append, meter_fuel=True)
    try:
        vm.run_source(src, "t.tl")
    except Exception as e:  # noqa: BLE001 - the error is part of what is compared
        out.write(f"error: {e}\n")
    return vm.fuel_used, out.getvalue(), log


def tiers(src: str, *extra: str) -> dict[str, tuple[tuple[int, str, str], list[str]]]:
    """tier -> ((status, stdout, stderr without log lines), log lines) of
    `tvm run -e src` on the interpreter, the Python JIT and native-eager."""
    out = {}
    for tier, flags in (("interpreter", []), ("python-jit", ["--jit=eager", "--jit-log"]), ("native", ["--jit=native-eager", "--jit-log"])):
        code, so, se = cli(["run", *flags, *extra, "-e", src])
        log = [x for x in se.splitlines() if x.startswith("jit: ")]
        rest = "".join(x + "\n" for x in se.splitlines() if not x.startswith("jit: "))
        out[tier] = ((code, so, rest), log)
    return out


def agree_log(src: str, *names: str, extra: tuple = ()) -> tuple[tuple[int, str, str], list[str]]:
    """The three tiers give identical status, stdout and stderr, and each
    function of `names` compiled natively: (that result, the native log)."""
    got = tiers(src, *extra)
    want = got["interpreter"][0]
    for tier in ("python-jit", "native"):
        assert got[tier][0] == want, (tier, src, got[tier], want)
    log = got["native"][1]
    for n in names:
        assert native(n, log), (n, log)
    return want, log


def agree(src: str, *names: str, extra: tuple = ()) -> tuple[int, str, str]:
    """agree_log's result without the log."""
    return agree_log(src, *names, extra=extra)[0]


def two_fibers(prelude: str, a: str, b: str) -> tuple[str, str, list[str], VM]:
    """`prelude`, then two fibers running `a` and `b` (statements that push
    onto `order`), spawned and awaited, and `order` printed. Run on the
    interpreter and on native-eager with a countdown of 1000, so that the
    poll in native code sees the other fiber ready: (the interpreter's
    output, native-eager's, its JIT log, that VM). The fibers start at
    line `prelude.count("\\n") + 3` of t.tl."""
    src = prelude + f"\nvar order = []\nfn fa() {{ {a} }}\nfn fb() {{ {b} }}\nlet x = spawn fa()\nlet y = spawn fb()\nawait x\nawait y\nprint(order)\n"
    want = io.StringIO()
    VM(stdout=want).run_source(src, "t.tl")
    out, log = io.StringIO(), []
    vm = VM(stdout=out, jit="native-eager", jit_log=log.append)
    vm.machine.jit.native.countdown = 1000
    vm.run_source(src, "t.tl")
    return want.getvalue(), out.getvalue(), log, vm


def heap_after(src: str, jit: str) -> tuple[int, int]:
    """(heap bytes, heap objects) after running src on a VM with `jit`
    (a 1 GiB limit: the accounting is compared, not the limit)."""
    vm = VM(jit=jit, stdout=io.StringIO(), max_memory=1 << 30)
    vm.run_source(src)
    h = vm.machine.heap
    return h.bytes, len(h.objects)


def outcome(src: str, jit: str, countdown: int | None = None, **vm: Any) -> tuple[tuple[str, str], list[str]]:
    """((stdout, "ErrorType: message" or ""), JIT log) of src run in-process
    on a VM with `jit` (and the native tier's countdown, when given)."""
    out, log = io.StringIO(), []
    m = VM(stdout=out, jit=jit, jit_log=log.append, **vm)
    if countdown is not None:
        m.machine.jit.native.countdown = countdown
    try:
        m.run_source(src, "t.tl")
        return (out.getvalue(), ""), log
    except Exception as e:  # noqa: BLE001 - the guest error is what is compared
        return (out.getvalue(), f"{type(e).__name__}: {e}"), log


def prepared(src: str, monkeypatch: Any, errors: bool = True, **vm: Any) -> tuple[list[Any], VM]:
    """(every module engine.prepare made for src on native-eager, in order
    (each a Prepared: LLVM IR text before LLVM's passes, exit table; its
    `typed`, the group's Typed functions), the
    VM), the disk cache off. errors=False: a guest error ending src is
    swallowed (the caller compares outputs elsewhere)."""
    from tinyvm.jit.native import engine

    got: list[Any] = []
    orig = engine.prepare

    def prepare(group, codegen, phases=None, receiver=None):  # type: ignore[no-untyped-def]
        prep = orig(group, codegen, phases, receiver)
        prep.typed = list(group)  # (the group's typed functions, root first: tests of what emit sees)
        got.append(prep)
        return prep

    monkeypatch.setattr(engine, "prepare", prepare)
    monkeypatch.setenv("TVM_NATIVE_CACHE", "off")
    m = VM(stdout=io.StringIO(), jit="native-eager", **vm)
    try:
        m.run_source(src, "t.tl")
    except Exception:
        if errors:
            raise
    return got, m


def module_texts(src: str, monkeypatch: Any, **vm: Any) -> list[str]:
    """The LLVM IR texts (before LLVM's passes) of the modules compiled
    natively for src (native-eager, the disk cache off)."""
    return [p.text for p in prepared(src, monkeypatch, **vm)[0]]


GC_STRESS_MODES = [  # (the collector modes allocation tests run under, with GC stress and the verifier)
    ("--gc-stress", "--gc-verify"),
    ("--gc-stress", "--gc", "incremental", "--gc-verify"),
    ("--gc-stress", "--gc", "generational", "--gc-verify"),
    ("--gc", "incremental", "--gc-verify"),
    ("--gc", "generational", "--gc-verify"),
]


def at_limit(src: str, max_memory: int) -> list[tuple[str, int]]:
    """(output with the guest's error as a last "error: ..." line, fuel used)
    of src on a metered VM with `max_memory`, on the interpreter, the Python
    JIT and native-eager, in that order."""
    got = []
    for jit in ("off", "eager", "native-eager"):
        out = io.StringIO()
        vm = VM(jit=jit, stdout=out, meter_fuel=True, max_memory=max_memory)
        try:
            vm.run_source(src)
        except Exception as e:  # noqa: BLE001 - the guest's MemoryError, compared by the caller
            out.write(f"error: {e}\n")
        got.append((out.getvalue(), vm.machine.limits.fuel_used))
    return got


# AWFY Sieve's loop nest (a function with an inner while loop over a [bool]).
SIEVE_FN = """
fn sieve(flags: [bool], size: int) -> int {
  var count = 0
  for i in 2..=size {
    if flags[i - 1] {
      count += 1
      var k = i + i
      while k <= size {
        flags[k - 1] = false
        k += i
      }
    }
  }
  return count
}
"""


def sieve_program(n: int) -> str:
    """SIEVE_FN and a call printing the primes up to n."""
    return SIEVE_FN + f"print(sieve([true] * {n}, {n}))\n"


def fresh_processes(src: str, cache: Path, *opts: str, runs: int = 2) -> list[subprocess.CompletedProcess]:
    """`tvm run --jit=native-eager --jit-log OPTS -e src` in `runs` fresh
    processes, one after the other, sharing the disk cache folder `cache`:
    the first compiles, the others load its objects (cache hits)."""
    env = dict(os.environ, TVM_NATIVE_CACHE=str(cache))
    code = "import sys; from tinyvm.cli.main import tvm_main; sys.argv[0] = 'tvm'; tvm_main()"
    argv = [sys.executable, "-c", code, "run", "--jit=native-eager", "--jit-log", *opts, "-e", src]
    return [subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False) for _ in range(runs)]


def llvm_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(label, lines) of every block of every function of an LLVM module."""
    out: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("define "):
            out.append(("<first>", []))
        elif out and re.match(r"^[\w.]+:", line):
            out.append((line.split(":")[0], []))
        elif out and line.startswith("  "):
            out[-1][1].append(line.strip())
    return out


def blocks_in_cycles(blocks: list[tuple[str, list[str]]]) -> set[str]:
    """The labels of the blocks on a cycle of the CFG (loop bodies), from
    the branches' and switches' targets."""
    succ = {label: {t for x in lines for t in re.findall(r"label %([\w.]+)", x)} for label, lines in blocks}
    out = set()
    for start in succ:
        seen, work = set(), list(succ[start])
        while work:
            b = work.pop()
            if b == start:
                out.add(start)
                break
            if b not in seen:
                seen.add(b)
                work += succ.get(b, ())
    return out


def global_reads(text: str, g: str) -> list[str]:
    """The lines of LLVM IR `text` that read the invariant global @"g" at
    their place: its loads, or, in a function with loops, the copies of
    the one load at its entry (hoist.globals_to_entry: `%gl.K`), which
    stand where the loads were."""
    load = f'load i64, i64* @"{g}", !invariant.load !90'
    out: list[str] = []
    hoisted: set[str] = set()
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("define "):
            hoisted = set()  # (each function numbers its own)
        elif load in s:
            if s.startswith("%gl."):
                hoisted.add(s.split()[0])
            else:
                out.append(s)
        else:
            m = re.match(r"%[\w.]+ = add i64 (%gl\.\d+), 0$", s)
            if m and m.group(1) in hoisted:
                out.append(s)
    return out


# AWFY Towers' piles (test_selfinline.py, test_effects.py): push and pop are
# leaves inlined into move, each throwing an Error that native code never
# constructs; run(N) makes N moves between two piles.
PILES = """
class Disk {
  var size: int
  var next: Disk? = nil
  fn init(size: int) { self.size = size }
}
class Piles {
  var piles: [Disk?] = [nil, nil]
  var moves: int = 0
  fn push(disk: Disk, pile: int) {
    let top = self.piles[pile]
    if top != nil and disk.size >= top.size {
      throw Error("Cannot put a big disk on a smaller one")
    }
    disk.next = top
    self.piles[pile] = disk
  }
  fn pop(pile: int) -> Disk {
    let top = self.piles[pile]
    if top == nil {
      throw Error("Attempting to remove a disk from an empty pile")
    }
    self.piles[pile] = top.next
    top.next = nil
    return top
  }
  fn move(a: int, b: int) {
    self.push(self.pop(a), b)
    self.moves += 1
  }
  fn run(n: int) -> int {
    for i in 0..n { self.move(i % 2, (i + 1) % 2) }
    return self.moves
  }
  fn main(n: int) -> int { return self.run(n) }
}
let p = Piles()
p.push(Disk(3), 0)
print(p.main(6))
print(p.main(N))
"""
