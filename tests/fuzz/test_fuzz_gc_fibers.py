"""Property test: the guest collector keeps up with allocation whatever the
control flow of a fiber program (issue 11).

Collections run only at safe points (vm/machine.py): the end of a dispatch
chunk, every fiber switch, a caught error. A control flow that reached none of
them for long (fibers that block every few instructions never end a chunk)
let the heap grow without bound. Hypothesis draws programs whose main loop
runs rounds of random steps -- a channel ping-pong with another fiber, a
short fiber spawned and awaited (at once, or after it ended), `yield_now` to
a fiber that ends at once, `sleep(0)`, a sleeping fiber cancelled and
awaited, a select, a buffered channel, a caught error, a generator step,
plain allocation -- every round with at least one step that switches fibers.
The properties:

* the program computes what the model says (the sum of its steps);
* at every probe (a host function the guest calls every few rounds, which
  counts the heap without collecting), the heap holds at most what was live,
  plus the heap budget's worth of objects (`SMALL_HEAP` / 32 bytes, the
  smallest object), plus two rounds of allocation: from the moment the heap
  asks for a collection, the next switch collects. A VM that missed one kind
  of switch keeps every round's objects (thousands);
* under GC stress (a collection after every allocation, at the next safe
  point: after the instruction with --gc-stress, at the next switch with the
  heap's `stress` flag alone), a shorter run of the same program computes the
  same: nothing a parked fiber needs is freed at a switch.
"""

from __future__ import annotations

import io

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tinyvm.api import VM
from tinyvm.heap.objects import HEADER, Native

SMALL_HEAP = 8 << 10  # accounted bytes between collections
ROUNDS = 1500
STRESS_ROUNDS = 12

# name -> (TinyLang statements for round i, what they add to `sum`, switches fibers)
STEPS = {
    "pingpong": ("ping.send(i)\n    sum += pong.recv()[0]", lambda i: i, True),
    "await": ("sum += (await spawn make(i))[1]", lambda i: i, True),
    "yield": ("let y = [i]\n    spawn nop()\n    yield_now()\n    sum += y[0]", lambda i: i, True),
    "sleep": ("let s = {v: i}\n    sleep(0)\n    sum += s.v", lambda i: i, True),
    # The task ends during yield_now; its result waits on the task meanwhile.
    "late await": ("let t = spawn make(i)\n    yield_now()\n    let z = [i]\n    sum += (await t)[1] + z[0] - i",
                   lambda i: i, True),
    # The error waits on the parked fiber until it runs.
    "cancel": ("let t = spawn sleeper()\n    yield_now()\n    t.cancel()\n    let z = [i]\n"
               "    let r: any = await t\n    sum += len(r[0]) + z[0] - i", lambda i: len("task was cancelled"), True),
    "select": ("select {\n      case sel.send([i]) { sum += 1 }\n    }", lambda i: 1, False),
    "buffered": ("buf.send([i, i])\n    sum += buf.recv()[1]", lambda i: i, False),
    "throw": ('try { throw ValueError("e${i}") } catch e { sum += len(e.message) }', lambda i: len(f"e{i}"), False),
    "gen": ("sum += g.next().value[0]", lambda i: 1, False),
    "alloc": ('let b = Box(i)\n    let m = ["k": [i]]\n    sum += b.v + m["k"][0]', lambda i: 2 * i, False),
}
MAX_ALLOCS_PER_STEP = 4  # heap objects one step makes at most (await: a fiber, an array, ...)

PROGRAM = """
fn echo(ping: Chan, pong: Chan) { for v in ping { pong.send([v]) } }
fn drain(c: Chan) { for v in c { } }
fn make(i: int) { return [i, i] }
fn nop() { }
fn sleeper() {
  try { sleep(100000) } catch e { return [e.message] }
}
fn numbers() { while true { yield [1] } }
class Box {
  var v = 0
  fn init(v) { self.v = v }
}
fn main(probe, rounds: int) -> int {
  let ping = Chan()
  let pong = Chan()
  spawn echo(ping, pong)
  let sel = Chan()
  spawn drain(sel)
  let buf = Chan(1)
  let g = numbers()
  var sum = 0
  probe()
  for i in 0..rounds {
    BODY
    if i % 25 == 0 { probe() }
  }
  ping.close()
  sel.close()
  return sum
}
"""

rounds_steps = st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=4).filter(
    lambda steps: any(STEPS[s][2] for s in steps)  # every round switches fibers at least once
)


def source(steps: list[str]) -> str:
    return PROGRAM.replace("BODY", "\n    ".join("{\n    " + STEPS[s][0] + "\n    }" for s in steps))


def expected(steps: list[str], rounds: int) -> int:
    return sum(STEPS[s][1](i) for i in range(rounds) for s in steps)


def run(steps: list[str], rounds: int, stress: str = "") -> tuple[int, list[int], VM]:
    """stress "gc": --gc-stress; "switches": every allocation asks for a
    collection, but the chunk stays long, so it runs at the next switch."""
    vm = VM(stdout=io.StringIO(), gc_stress=stress == "gc")
    m = vm.machine
    m.heap.stress = bool(stress)
    vm.run_source(source(steps), "prog.tl")
    m.heap.set_threshold(SMALL_HEAP)
    counts: list[int] = []
    probe = m.heap.alloc(Native("probe", lambda: counts.append(m.heap.count), 0))
    return vm.call("main", probe, rounds), counts, vm


@settings(max_examples=20, deadline=None)
@given(rounds_steps)
@example(sorted(STEPS))  # every kind of step, whatever hypothesis draws
def test_the_heap_stays_bounded_whatever_the_switches(steps):
    result, counts, vm = run(steps, ROUNDS)
    assert result == expected(steps, ROUNDS)
    live = counts[0]  # before the loop: what the program keeps for its whole run
    bound = live + SMALL_HEAP // HEADER + 2 * MAX_ALLOCS_PER_STEP * len(steps) + 16
    assert max(counts) <= bound, (max(counts), bound, vm.machine.heap.stats.collections)


@settings(max_examples=10, deadline=None)
@given(rounds_steps)
@example(sorted(STEPS))
def test_switch_collections_keep_what_parked_fibers_need(steps):
    for stress in ("gc", "switches"):
        result, _, vm = run(steps, STRESS_ROUNDS, stress)
        assert result == expected(steps, STRESS_ROUNDS), stress
