"""The memory limit (issue 12, item 6): accounting, the limit's rule, the
pre-checks, the default limit, and how MemoryError reaches the guest, the
host and the CLI. docs/memory.md describes the model these tests pin down.

The exhaustion programs run twice: through `VM(max_memory=...)` with a small
limit, and through the CLI with the default limit (32 MiB), each within the
issue's 10 s bound (a generous margin over the 1-5 s they take).
"""

from __future__ import annotations

import gc
import io
import time
import tracemalloc

import pytest

from tinyvm import VM
from tinyvm.cli.main import main
from tinyvm.cli.options import parse_size
from tinyvm.heap.heap import DEFAULT_LIMIT
from tinyvm.runtime.errors import GuestException

MiB = 1 << 20
# The error being raised is made even at the limit (heap.admit): the peak may
# pass the limit by that much.
ERROR_SLACK = 4096

# The exhaustion programs: each runs until memory runs out.
BOMBS = {
    "string_doubling": """
        var s = "x"
        while true { s = s + s }
    """,
    "array_growth": """
        let a: [int] = []
        var i = 0
        while true { a.push(i); i = i + 1 }
    """,
    "map_growth": """
        let m: [int: int] = [:]
        var i = 0
        while true { m[i] = i; i = i + 1 }
    """,
    "fibers": """
        let ch = Chan(0)
        fn wait() { ch.recv() }
        var n = 0
        while n < 1000000 { spawn wait(); n = n + 1; if n % 1000 == 0 { yield_now() } }
    """,
    "channel": """
        let ch = Chan(1 << 62)
        var i = 0
        while true { ch.send(i); i = i + 1 }
    """,
    "dev_zero": """
        import fs
        let s = fs.read_text("/dev/zero")
    """,
}

TIME_BOUND = 10.0  # seconds (the bound for the default limit)


def run(source: str, **kwargs) -> VM:
    vm = VM(**kwargs)
    vm.run_source(source)
    return vm


def run_fails(source: str, **kwargs) -> tuple[GuestException, VM]:
    vm = VM(**kwargs)
    with pytest.raises(GuestException) as info:
        vm.run_source(source)
    return info.value, vm


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_exhaustion_program_ends_with_memory_error(name):
    limit = 8 * MiB
    start = time.monotonic()
    err, vm = run_fails(BOMBS[name], max_memory=limit, allow="read")
    assert err.class_name == "MemoryError", err
    assert "8 MiB memory limit" in err.message
    assert time.monotonic() - start < TIME_BOUND
    # (When the main fiber fails, each parked fiber is cancelled with its own
    # Cancelled error, made at the limit too: a few hundred bytes a fiber.)
    assert vm.memory_peak <= limit + (limit // 2 if name == "fibers" else ERROR_SLACK)


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_exhaustion_program_cli_default_limit(name, tmp_path):
    path = tmp_path / f"{name}.tl"
    path.write_text(BOMBS[name])
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    status = main(["run", "--allow-read", str(path)], stdout=out, stderr=err)
    elapsed = time.monotonic() - start
    assert status == 5, err.getvalue()
    first = err.getvalue().splitlines()[0]
    assert first.startswith("error: MemoryError: out of memory: the program needs more than its 32 MiB memory limit"), first
    assert "Traceback" not in err.getvalue()
    assert elapsed < TIME_BOUND, f"{name} took {elapsed:.1f}s"


def test_default_limit_is_64_mib():
    assert DEFAULT_LIMIT == 32 * MiB
    assert VM().machine.heap.limit == DEFAULT_LIMIT


def test_cli_max_memory(tmp_path):
    path = tmp_path / "grow.tl"
    path.write_text("var s = \"x\"\nwhile s.len() < 4000000 { s = s + s }\nprint(s.len())\n")
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", "--max-memory", "1M", str(path)], stdout=out, stderr=err) == 5
    assert "more than its 1 MiB memory limit" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", "--max-memory=64M", str(path)], stdout=out, stderr=err) == 0, err.getvalue()
    assert out.getvalue() == "4194304\n"
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", "--max-memory", "lots", str(path)], stdout=out, stderr=err) == 64
    assert "--max-memory needs a size such as 256M" in err.getvalue()


@pytest.mark.parametrize(
    "text,size",
    [("65536", 65536), ("1K", 1024), ("256M", 256 * MiB), ("1G", 1 << 30), ("2g", 2 << 30), ("3MiB", 3 * MiB), ("4kb", 4096)],
)
def test_parse_size(text, size):
    assert parse_size("--max-memory", text) == size


@pytest.mark.parametrize("text", ["", "M", "0", "-1M", "1T", "1.5G", "12 M", "1MM"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match="--max-memory needs a size such as 256M"):
        parse_size("--max-memory", text)


def test_memory_error_is_catchable_and_the_heap_stays_consistent():
    vm = run(
        """
        let a: [int] = []
        var caught = ""
        try {
            while true { a.push(a.len()) }
        } catch e {
            caught = typeof(e)
        }
        let n = a.len()
        var ok = true
        var i = 0
        while i < n { if a[i] != i { ok = false }; i = i + 1 }
        """,
        max_memory=4 * MiB,
    )
    assert vm.get("caught") == "MemoryError"
    assert vm.get("ok") is True
    assert vm.get("n") > 50_000  # the array got most of the 4 MiB (41 bytes an element)


def test_after_a_caught_memory_error_the_program_can_free_and_go_on():
    vm = run(
        """
        var a: any = nil
        var failures = 0
        var round = 0
        while round < 3 {
            a = nil  // (the old array is live until then: a new one would not fit beside it)
            a = []
            try {
                while true { a.push(1000 + a.len()) }
            } catch e {
                failures = failures + 1
            }
            round = round + 1
        }
        a = nil
        let b: [int] = []
        for i in 0..10000 { b.push(i) }
        """,
        max_memory=2 * MiB,
    )
    assert vm.get("failures") == 3
    assert len(vm.get("b").items) == 10000


def test_garbage_never_causes_memory_error_when_live_data_is_under_half():
    # Live: an array of about 40% of the limit. Garbage: strings and arrays
    # of up to 1/8 of the limit each, many times the limit in all.
    limit = 8 * MiB
    vm = run(
        """
        let keep: [int] = []
        for i in 0..80000 { keep.push(100000 + i) }
        var s = ""
        var made = 0
        for round in 0..200 {
            s = "y"
            while s.len() < 250000 { s = s + s }
            let junk = keep.slice(0, 20000)
            made = made + s.len() + junk.len()
        }
        """,
        max_memory=limit,
    )
    assert vm.get("made") > 5 * limit
    assert vm.memory_peak <= limit + ERROR_SLACK


def test_a_heap_at_its_limit_fails_fast_instead_of_collecting_forever():
    # Live data fills the limit; then a loop makes small garbage. Each try
    # must end in MemoryError or succeed, with a bounded number of marks.
    vm = VM(max_memory=4 * MiB)
    start = time.monotonic()
    vm.run_source(
        """
        let a: [int] = []
        try { while true { a.push(100000 + a.len()) } } catch e {}
        var errors = 0
        var done = 0
        var i = 0
        while i < 300 {
            try { let r = {x: i, y: [i, i]}; done = done + 1 } catch e { errors = errors + 1 }
            i = i + 1
        }
        """
    )
    assert time.monotonic() - start < TIME_BOUND
    heap = vm.machine.heap
    assert vm.get("errors") + vm.get("done") == 300
    assert vm.get("errors") > 250  # (the heap is full: nearly every try fails)
    assert heap.stats.collections + heap.stats.emergencies < 300 + 50  # at most one mark a try


def test_memory_used_and_peak():
    vm = VM(max_memory=64 * MiB)
    vm.run_source("let a: [int] = []\nfor i in 0..100000 { a.push(1000 + i) }\n")
    used = vm.memory_used
    # 100000 ints outside the small-int cache: 8 (slot) + 32 (int) each, and a little more.
    assert 4_000_000 <= used <= 6_000_000
    assert vm.memory_peak >= used


def test_uncaught_memory_error_reaches_the_host_as_guest_exception():
    err, _vm = run_fails('var s = "ab"\nwhile true { s = s + s }\n', max_memory=1 * MiB)
    assert err.class_name == "MemoryError"
    assert "InternalError" not in str(err)
    assert err.trace and "<string>:2" in err.trace[0]


def test_host_memory_error_is_the_guest_memory_error():
    # A MemoryError raised by Python itself (here: a built-in made to raise
    # it) is the guest's MemoryError: catchable, and never "a VM bug".
    vm = VM()

    def exhausted(*args):
        raise MemoryError

    vm.machine.builtins["len"].fn = exhausted
    vm.run_source('var got = ""\ntry { len([1]) } catch e { got = typeof(e) + ": " + e.message }\n')
    assert vm.get("got").startswith("MemoryError: out of memory")
    vm2 = VM()
    vm2.machine.builtins["len"].fn = exhausted
    with pytest.raises(GuestException) as info:
        vm2.run_source("len([1])")
    assert info.value.class_name == "MemoryError"


@pytest.mark.parametrize(
    "source",
    [
        'let s = "abcdefgh" + "abcdefgh"\nlet parts: [string] = []\nfor i in 0..20 { parts.push(s) }\nvar big = "x"\nwhile big.len() < 300000 { big = big + big }\nfor i in 0..20 { parts[i] = big }\nlet j = parts.join("")',
        'var big = "x"\nwhile big.len() < 300000 { big = big + big }\nlet r = big.replace("x", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")',
        'var big = "x"\nwhile big.len() < 300000 { big = big + big }\nlet r = "${big}${big}${big}${big}${big}${big}${big}${big}"',
        'var big = "x"\nwhile big.len() < 300000 { big = big + big }\nlet cs = big.chars()',
    ],
    ids=["join", "replace", "interpolation", "chars"],
)
def test_builtins_check_result_sizes(source):
    limit = 2 * MiB
    gc.collect()
    tracemalloc.start()
    try:
        err, vm = run_fails(source, max_memory=limit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.class_name == "MemoryError"
    assert vm.memory_peak <= limit + ERROR_SLACK
    assert peak < 40 * MiB  # (the host never built the oversized result)


def test_input_line_is_bounded():
    class Endless(io.TextIOBase):
        def readline(self, size=-1):
            assert 0 < size <= 4 * MiB  # never an unbounded read
            return "a" * size

    vm = VM(max_memory=4 * MiB, stdin=Endless())
    vm.run_source('var got = ""\ntry { input() } catch e { got = typeof(e) }\n')
    assert vm.get("got") == "MemoryError"


def test_gc_stress_with_a_limit():
    vm = run(
        'let a: [string] = []\nfor i in 0..300 { a.push("n" + str(i)) }\nvar caught = false\ntry { var s = "x"\n while true { s = s + s } } catch e { caught = true }\n',
        max_memory=1 * MiB,
        gc_stress=True,
    )
    assert vm.get("caught") is True
    assert vm.get("a").items[299] == "n299"


ACCOUNTING = {
    "ints": "let v: [int] = []\nfor i in 0..200000 { v.push(1000 + i) }",
    "floats": "let v: [float] = []\nfor i in 0..200000 { v.push(0.5 + float(i)) }",
    "strings": 'let v: [string] = []\nfor i in 0..50000 { v.push("item number " + str(i)) }',
    "map": "let v: [int: int] = [:]\nfor i in 0..100000 { v[i + 1000] = i }",
    "records": "let v: [any] = []\nfor i in 0..50000 { v.push({x: i, y: 0.5}) }",
    "nested": "let v: [[int]] = []\nfor i in 0..50000 { v.push([i, i]) }",
}


@pytest.mark.parametrize("name", sorted(ACCOUNTING))
def test_accounted_bytes_track_real_memory(name):
    # The calibration of heap/objects.py: the accounted live bytes against
    # what CPython allocated for the same data (tracemalloc), within 0.6-1.5x.
    vm = VM(max_memory=1 << 30)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        vm.run_source(ACCOUNTING[name] + "\nlet done = 1\n")
        vm.machine.collect()
        gc.collect()
        real = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    accounted = vm.memory_used
    # `real` also holds the compiled program and the prelude (about 2 MB,
    # accounted only in part): compare the data's share.
    ratio = real / accounted
    assert 0.6 <= ratio <= 1.5 + 2 * MiB / accounted, (name, accounted, real)


def test_one_string_stored_again_and_again_is_charged_once():
    # A channel filled with one constant string: each send stores the same
    # string object. Charged at every store, it was accounted 13 times its
    # growth, and collections (finding little of it live) came ever more
    # often: 73 full marks and 35 s to reach a 64 MiB limit. Now one mark per
    # doubling, as for any growing buffer.
    vm = VM(stdout=io.StringIO(), max_memory=4 << 20)
    src = 'let ch = Chan(9223372036854775807)\nwhile true { ch.send("a value that takes some room in the buffer") }\n'
    with pytest.raises(GuestException) as info:
        vm.run_source(src)
    assert info.value.class_name == "MemoryError"
    stats = vm.machine.heap.stats
    assert stats.collections + stats.emergencies <= 12
