"""Fuzzing `.tvm` files: the loader, the verifier, and the VM behind them.

Whatever the bytes, `load_bundle` returns a Bundle or raises `LoadError` --
never another exception, never a hang -- and whatever the verifier accepts,
the VM runs to its end or to a guest error: never a host exception, never
`InternalError` (the VM's safety net for "corrupt bytecode or a VM bug").

Layers of mutation, so every stage is exercised:

* raw mutations of whole files (mostly stopped by the header and checksum);
* mutations of the payload followed by a recomputed, valid checksum, which get
  past the checksum into the decoder and, when they still decode, the verifier;
  and the byte-level operators of tvm_mutations.py: truncation, a splice of two
  files, invalid UTF-8 written over a string;
* structure-aware mutations of the decoded code objects (instruction ints,
  operands, tables, sizes), re-dumped, which reach the verifier with
  well-formed but wrong code;
* structure-aware mutations of real programs (every language test and example,
  compiled; tvm_mutations.py `mutate_bundle`): the mutants the verifier
  accepts are run, and must end cleanly;
* extremes: long flat code, deep nesting of functions and constants, many
  handlers, at and past the format's limits.

Accepted files must also be canonical: dump(load(x)) == x.
Everything is driven by a seeded `random.Random` so failures reproduce; a
hypothesis-based variant adds shrinking for the payload layer.

The normal suite runs a bounded campaign. A long one (the number of program
mutants, and the per-run time limit in seconds, are knobs):

    TVM_FUZZ_BYTECODE_CASES=25000 TVM_FUZZ_BYTECODE_SEED=1 \
        .venv/bin/python -m pytest -q -o addopts="" -s tests/fuzz/test_fuzz_tvm.py -k mutants

prints one summary line per test: cases, how many the verifier accepted, and
how those runs ended (ok, guest error, timeout); it fails on any host exception
or InternalError, with the seed program, the case number and the file kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import random
import signal
import sys
import time
import traceback
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tvm_mutations import all_codes, break_utf8, mutate_bundle, replace_code, splice, truncate  # noqa: E402
from tvm_samples import TRICKY_CONSTS, asm, sample_bundle, sample_lib  # noqa: E402

from tinyvm.api import VM  # noqa: E402
from tinyvm.bytecode.code import FLAG_MODULE, MAX_NESTING, Bundle, ClassInfo, Code, LoadError, ModuleCode  # noqa: E402
from tinyvm.bytecode.tvmfile import FORMAT_VERSION, HEADER_SIZE, MAGIC, dump_bundle, load_bundle  # noqa: E402
from tinyvm.bytecode.verifier import VerifyError  # noqa: E402
from tinyvm.runtime.errors import GuestException  # noqa: E402
from tinyvm.runtime.errors import GuestExit  # noqa: E402

# The case timer fires again every REARM_SECONDS after its first alarm: an
# alarm that arrives while a finalizer runs Python code (a generator closed,
# a ResourceWarning issued) is reported as "Exception ignored" and lost, and a
# one-shot timer would then let an endless mutant run until memory runs out.
REARM_SECONDS = 0.05
# (The alarm that is lost that way is reported by pytest as an unraisable
# exception: expected, and not a finding.)
_IGNORE_LOST_ALARMS = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
pytestmark = _IGNORE_LOST_ALARMS


SEED = 20240611
CASE_TIME_LIMIT = 2.0  # seconds; a slower single load counts as a hang


def with_payload(payload: bytes) -> bytes:
    return MAGIC + FORMAT_VERSION.to_bytes(2, "big") + hashlib.sha256(payload).digest() + payload


def seeds() -> list[bytes]:
    consts_module = asm(
        "m",
        [("LOAD_CONST", i) if j == 0 else ("POP",) for i in range(len(TRICKY_CONSTS)) for j in (0, 1)]
        + [("LOAD_NIL",), ("RETURN",)],
        consts=TRICKY_CONSTS,
        flags=FLAG_MODULE,
        path="m.tl",
    )
    return [
        dump_bundle(sample_bundle()),
        dump_bundle(Bundle("lib.tl", {"lib.tl": sample_lib()})),
        dump_bundle(Bundle("m", {"m": ModuleCode("m.tl", "00", (), (), (), consts_module)})),
    ]


class Hang(BaseException):
    """A load that took too long. A BaseException, so that the verifier's
    "only VerifyError escapes" wrapper cannot turn it into a rejection."""


@contextmanager
def time_limit(seconds: float):
    """Fail a case that takes too long (SIGALRM where available, else a timer check)."""
    use_alarm = hasattr(signal, "setitimer")
    if use_alarm:

        def on_alarm(signum, frame):
            raise Hang(f"load took more than {seconds}s")

        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds, REARM_SECONDS)
    start = time.perf_counter()
    try:
        yield
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    if time.perf_counter() - start > seconds:
        raise Hang(f"load took more than {seconds}s")


def check(data: bytes, outcomes: Counter, label: str) -> None:
    """The fuzz property for one input."""
    try:
        with time_limit(CASE_TIME_LIMIT):
            bundle = load_bundle(data)
    except VerifyError:
        outcomes["verify-error"] += 1
        return
    except LoadError:
        outcomes["load-error"] += 1
        return
    except Hang:
        pytest.fail(f"{label}: loader hung on {data[:80]!r}...")
    except Exception as e:  # the property under test
        pytest.fail(f"{label}: {type(e).__name__}: {e} on input {data!r}")
    outcomes["loaded"] += 1
    assert dump_bundle(bundle) == data, f"{label}: accepted a non-canonical file"


# -- byte-level mutations -----------------------------------------------------------


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        kind = rng.randrange(8)
        if not b:
            b += bytes([rng.randrange(256)])
            continue
        i = rng.randrange(len(b))
        if kind == 0:  # bit flip
            b[i] ^= 1 << rng.randrange(8)
        elif kind == 1:  # byte change, biased to interesting values
            b[i] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif kind == 2:  # truncation
            del b[i:]
        elif kind == 3:  # insertion
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 4:  # duplicated chunk
            j = rng.randrange(i, min(len(b), i + 64) + 1)
            b[j:j] = b[i:j]
        elif kind == 5:  # deleted chunk
            del b[i : i + rng.randint(1, 16)]
        elif kind == 6:  # overwrite with a long varint (a huge length or count)
            b[i : i + 1] = bytes([0xFF] * rng.randint(1, 12) + [0x7F])
        else:  # small increment / decrement (off-by-one lengths, indexes)
            b[i] = (b[i] + rng.choice((-1, 1))) % 256
    return bytes(b)


def test_fuzz_raw_and_rechecksummed_mutations():
    rng = random.Random(SEED)
    corpus = seeds()
    outcomes: Counter = Counter()
    start = time.perf_counter()
    for case in range(3000):
        seed = rng.choice(corpus)
        if case % 5 == 0:
            # whole-file mutation: header and checksum checks
            data = mutate_bytes(rng, seed)
        else:
            # payload mutation with a valid checksum: decoder and verifier
            data = with_payload(mutate_bytes(rng, seed[HEADER_SIZE:]))
        check(data, outcomes, f"case {case}")
    elapsed = time.perf_counter() - start
    # Every layer was reached: rejected by decoding, rejected by verification, accepted.
    assert outcomes["load-error"] > 100, outcomes
    assert outcomes["verify-error"] > 20, outcomes
    assert outcomes["loaded"] > 0, outcomes
    assert elapsed < 20, f"fuzzing took {elapsed:.1f}s"


def test_fuzz_random_payloads():
    rng = random.Random(SEED + 1)
    outcomes: Counter = Counter()
    for case in range(500):
        n = rng.choice((0, 1, 2, 5, 20, 100, 400))
        payload = bytes(rng.randrange(256) for _ in range(n))
        check(with_payload(payload), outcomes, f"random case {case}")
        check(MAGIC + payload, outcomes, f"random raw case {case}")
    assert outcomes["load-error"] > 0


# -- structure-aware mutations ---------------------------------------------------------


def interesting_int(rng: random.Random) -> int:
    return rng.choice((0, 1, 2, 3, -1, -2, 7, 64, 65, 70, 255, 2**16, 2**31, -(2**63), rng.randrange(-10, 100)))


def mutate_code(rng: random.Random, c: Code) -> Code:
    field = rng.choice(("code", "code", "code", "code", "max_stack", "nlocals", "arity", "handlers", "lines", "captures", "consts"))
    if field == "code":
        seq = list(c.code)
        if seq and rng.random() < 0.8:
            seq[rng.randrange(len(seq))] = interesting_int(rng)
        elif seq:
            i = rng.randrange(len(seq) + 1)
            if rng.random() < 0.5:
                del seq[i : i + rng.randint(1, 3)]
            else:
                seq[i:i] = [interesting_int(rng) for _ in range(rng.randint(1, 3))]
        return dataclasses.replace(c, code=tuple(seq))
    if field in ("max_stack", "arity"):
        return dataclasses.replace(c, **{field: max(0, getattr(c, field) + rng.choice((-2, -1, 1, 5)))})
    if field == "nlocals":
        names = c.local_names[:-1] if rng.random() < 0.5 and c.local_names else c.local_names + ("extra",)
        return dataclasses.replace(c, nlocals=len(names), local_names=names)
    if field == "handlers":
        n = len(c.code)
        h = tuple(rng.randrange(-1, n + 2) for _ in range(3)) + (rng.randrange(-1, 4),)
        return dataclasses.replace(c, handlers=c.handlers + (h,))
    if field == "lines":
        entry = (rng.randrange(-1, len(c.code) + 2), rng.randrange(0, 50), rng.randrange(0, 9))
        return dataclasses.replace(c, lines=tuple(sorted(c.lines + (entry,))) if rng.random() < 0.7 else c.lines + (entry,))
    if field == "captures":
        cap = (rng.random() < 0.5, rng.randrange(-1, 5))
        return dataclasses.replace(c, captures=c.captures + (cap,), upval_names=c.upval_names + ("x",))
    # consts: swap a constant for one of another kind
    if not c.consts:
        return c
    consts = list(c.consts)
    consts[rng.randrange(len(consts))] = rng.choice(
        (None, 1, "s", ("a", "b"), (1,), ClassInfo("K", (), (), ("m",)), asm("z", [("LOAD_NIL",), ("RETURN",)]))
    )
    return dataclasses.replace(c, consts=tuple(consts))


def test_fuzz_structured_code_mutations():
    rng = random.Random(SEED + 2)
    base = sample_bundle()
    outcomes: Counter = Counter()
    for case in range(1000):
        key = rng.choice(list(base.modules))
        m = base.modules[key]
        init = m.init
        for _ in range(rng.choice((1, 1, 2, 3))):
            target = rng.choice(all_codes(init))
            init = replace_code(init, target, mutate_code(rng, target))
        modules = dict(base.modules)
        modules[key] = dataclasses.replace(m, init=init)
        check(dump_bundle(Bundle(base.main, modules)), outcomes, f"structured case {case}")
    assert outcomes["verify-error"] > 300, outcomes
    assert outcomes["loaded"] > 0, outcomes


# -- mutants of real programs, run -------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
BYTECODE_CASES = int(os.environ.get("TVM_FUZZ_BYTECODE_CASES", "1500"))
BYTECODE_SEED = int(os.environ.get("TVM_FUZZ_BYTECODE_SEED", "20240613"))
RUN_SECONDS = float(os.environ.get("TVM_FUZZ_BYTECODE_RUN_SECONDS", "0.5"))
MAX_SEED_BYTES = 20_000  # bigger programs (the Lox limit tests) take seconds to run
MAX_DEPTH = 2000
MAX_REPORTED = 5


class CaseTimeout(BaseException):
    """Raised by SIGALRM during a run: a BaseException, so that no `except
    Exception` inside the VM can swallow it."""


@pytest.fixture(scope="module")
def programs() -> list[tuple[str, Bundle]]:
    """Every language test and example that compiles, as (path, Bundle)."""
    from tinyvm.lang.diagnostics import CompileError
    from tinyvm.lang.driver import compile_program

    files = sorted(p for folder in ("tests/lang", "tests/lox", "examples") for p in (ROOT / folder).rglob("*") if p.suffix in (".tl", ".lox"))
    out = []
    cwd = os.getcwd()
    for path in files:
        os.chdir(path.parent)
        try:
            bundle = compile_program(path.name)
        except CompileError:
            continue
        finally:
            os.chdir(cwd)
        if len(dump_bundle(bundle)) <= MAX_SEED_BYTES:
            out.append((str(path.relative_to(ROOT)), bundle))
    assert len(out) > 300, f"only {len(out)} programs compiled"
    return out


def run(bundle: Bundle, seconds: float = RUN_SECONDS) -> str:
    """How the VM's run of a verified bundle ends: "ok", "guest error", "exit"
    (os.exit), "timeout" (after `seconds`) or "InternalError: ..."; a host
    exception propagates."""
    vm = VM(stdout=io.StringIO(), stdin=io.StringIO(""), max_depth=MAX_DEPTH)

    def on_alarm(signum, frame):
        raise CaseTimeout()

    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds, REARM_SECONDS)
        try:
            vm.run_bundle(bundle)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return "ok"
    except CaseTimeout:
        return "timeout"
    except GuestExit:
        return "exit"
    except GuestException as e:
        return f"InternalError: {e.message}" if e.class_name == "InternalError" else "guest error"
    finally:
        signal.signal(signal.SIGALRM, old)
        vm.close()


def load_and_run(data: bytes) -> str:
    """"rejected" by the loader, or how the run of the loaded file ended."""
    try:
        with time_limit(CASE_TIME_LIMIT):
            bundle = load_bundle(data)
    except LoadError:
        return "rejected"
    assert dump_bundle(bundle) == data, "accepted a non-canonical file"
    return run(bundle)


class Campaign:
    """Outcomes of many cases, and the first failures (host exceptions,
    InternalErrors), each kept as a file to reproduce it."""

    def __init__(self, name: str, tmp_path: Path) -> None:
        self.name = name
        self.tmp_path = tmp_path
        self.outcomes: Counter = Counter()
        self.failures: list[str] = []
        self.start = time.perf_counter()

    def case(self, case: int, origin: str, data: bytes) -> None:
        try:
            outcome = load_and_run(data)
        except Hang:
            outcome = "HANG in the loader"
        except BaseException as e:  # noqa: BLE001 - the property under test
            if isinstance(e, KeyboardInterrupt):
                raise
            outcome = "HOST EXCEPTION: " + "".join(traceback.format_exception(e))[-1500:]
        key = outcome if not outcome.startswith(("InternalError", "HOST", "HANG")) else "FAILED"
        self.outcomes[key] += 1
        if key == "FAILED" and len(self.failures) < MAX_REPORTED:
            kept = self.tmp_path / f"{self.name}_case{case}.tvm"
            kept.write_bytes(data)
            self.failures.append(f"case {case} (a mutant of {origin}, kept at {kept}): {outcome}")

    def finish(self, cases: int) -> str:
        accepted = cases - self.outcomes["rejected"]
        summary = (
            f"{self.name}: {cases} cases in {time.perf_counter() - self.start:.1f}s, "
            f"{accepted} passed the verifier: {dict(sorted(self.outcomes.items()))}"
        )
        print(summary)
        if self.failures:
            pytest.fail(summary + "\n" + "\n".join(self.failures), pytrace=False)
        return summary


def test_fuzz_program_mutants_verify_or_run_cleanly(programs, tmp_path):
    """Structure-aware mutants of real programs: every one the verifier accepts
    runs to its end or to a guest error (InternalError means the verifier let
    through code the VM trusts to be well-typed)."""
    rng = random.Random(BYTECODE_SEED)
    donors = [c for _, b in programs[:60] for m in b.modules.values() for c in all_codes(m.init)]
    campaign = Campaign("program mutants", tmp_path)
    for case in range(BYTECODE_CASES):
        origin, bundle = rng.choice(programs)
        campaign.case(case, origin, dump_bundle(mutate_bundle(rng, bundle, donors)))
    summary = campaign.finish(BYTECODE_CASES)
    # The mutants reached every stage: rejected, run to the end, stopped by a guest error.
    out = campaign.outcomes
    assert out["rejected"] > BYTECODE_CASES // 10 and out["ok"] > BYTECODE_CASES // 10 and out["guest error"] > 0, summary
    assert out["timeout"] <= BYTECODE_CASES // 20, summary


def test_fuzz_truncated_spliced_and_broken_utf8_files(programs, tmp_path):
    """Byte-level operators with a recomputed checksum, over compiled programs."""
    rng = random.Random(BYTECODE_SEED + 1)
    files = [(origin, dump_bundle(b)) for origin, b in programs]
    campaign = Campaign("byte operators", tmp_path)
    cases = max(BYTECODE_CASES // 2, 100)
    for case in range(cases):
        origin, data = rng.choice(files)
        kind = case % 3
        if kind == 0:
            data = truncate(rng, data)
        elif kind == 1:
            other, more = rng.choice(files)
            data, origin = splice(rng, data, more), f"{origin} + {other}"
        else:
            data = break_utf8(rng, data)
        campaign.case(case, origin, data)
    summary = campaign.finish(cases)
    assert campaign.outcomes["rejected"] > cases // 2, summary


# -- extremes -----------------------------------------------------------------------------


def _module(init: Code, nglobals: int = 0) -> bytes:
    return dump_bundle(Bundle("m", {"m": ModuleCode("m.tl", "00", tuple(f"g{i}" for i in range(nglobals)), (), (), init)}))


def _nested_functions(depth: int) -> Code:
    code = asm("f0", [("LOAD_NIL",), ("RETURN",)])
    for i in range(1, depth + 1):
        code = asm(f"f{i}", [("MAKE_CLOSURE", 0), ("RETURN",)], consts=(code,))
    return dataclasses.replace(code, flags=FLAG_MODULE)


def _nested_tuple(depth: int) -> tuple:
    t: tuple = ()
    for _ in range(depth):
        t = (t,)
    return t


def _pathological_handler() -> bytes:
    # 30,000 instructions under a handler of depth 0, each over a stack 30,000 deep.
    body = [("LOAD_NIL",)] * 30_000 + ["a"] + [("LOAD_NIL",), ("POP",)] * 15_000 + ["z", ("BUILD_ARRAY", 30_000), ("RETURN",), "h", ("RETURN",)]
    return _module(asm("m", body, handlers=(("a", "z", "h", 0),), flags=FLAG_MODULE))


def _pathological_locals() -> bytes:
    # 20,000 locals, copied at each of 20,000 stores.
    n = 20_000
    stores = [x for i in range(n) for x in (("LOAD_NIL",), ("STORE_LOCAL", 1 + i % (n - 1)))]
    return _module(asm("m", stores + [("LOAD_NIL",), ("RETURN",)], local_names=("m",) + tuple(f"v{i}" for i in range(n - 1)), flags=FLAG_MODULE))


def _pathological_aliases() -> bytes:
    # A value known to equal local 1 at the bottom of a stack 30,000 deep, then
    # 20,000 stores into local 2: each would look for entries equal to local 2.
    body = [("LOAD_NIL",), ("DUP",), ("STORE_LOCAL", 1)] + [("LOAD_NIL",)] * 30_000 + [("LOAD_NIL",), ("STORE_LOCAL", 2)] * 20_000
    body += [("BUILD_ARRAY", 30_001), ("RETURN",)]
    return _module(asm("m", body, local_names=("m", "a", "b"), flags=FLAG_MODULE))


# name -> (file, "load" | "reject" | "either"): what the loader must do with it,
# within a few seconds.
EXTREMES = {
    # long flat chains: 25,000 pushes and pops, 20,000 jumps, a 40,000-part string, a 60,000-deep stack
    "flat_push_pop": (lambda: _module(asm("m", [("LOAD_NIL",), ("POP",)] * 25_000 + [("LOAD_NIL",), ("RETURN",)], flags=FLAG_MODULE)), "load"),
    "flat_jumps": (lambda: _module(asm("m", [x for i in range(20_000) for x in (("JUMP", f"l{i}"), f"l{i}")] + [("LOAD_NIL",), ("RETURN",)], flags=FLAG_MODULE)), "load"),
    "wide_build_string": (lambda: _module(asm("m", [("LOAD_CONST", 0)] * 40_000 + [("BUILD_STRING", 40_000), ("PRINT", 0), ("LOAD_NIL",), ("RETURN",)], consts=("ab",), flags=FLAG_MODULE)), "load"),
    "deep_stack": (lambda: _module(asm("m", [("LOAD_NIL",)] * 60_000 + [("BUILD_ARRAY", 60_000), ("RETURN",)], flags=FLAG_MODULE)), "load"),
    # many handlers, all over the same code
    "many_handlers": (lambda: _module(asm("m", ["a"] + [("LOAD_NIL",), ("POP",)] * 2000 + ["z", ("LOAD_NIL",), ("RETURN",), "h", ("RETURN",)], handlers=(("a", "z", "h", 0),) * 5000, flags=FLAG_MODULE)), "load"),
    # deep nesting, within the format's limit and past it
    "functions_near_limit": (lambda: _module(_nested_functions(MAX_NESTING - 1)), "load"),
    "functions_past_limit": (lambda: _module(_nested_functions(MAX_NESTING + 2)), "reject"),
    "tuples_near_limit": (lambda: _module(asm("m", [("LOAD_CONST", 0), ("RETURN",)], consts=(_nested_tuple(MAX_NESTING - 2),), flags=FLAG_MODULE)), "load"),
    "tuples_past_limit": (lambda: _module(asm("m", [("LOAD_CONST", 0), ("RETURN",)], consts=(_nested_tuple(MAX_NESTING + 2),), flags=FLAG_MODULE)), "reject"),
    # shapes whose type analysis would take time quadratic in their size
    "pathological_handler": (_pathological_handler, "either"),
    "pathological_locals": (_pathological_locals, "either"),
    "pathological_aliases": (_pathological_aliases, "either"),
}


@pytest.mark.parametrize("name", sorted(EXTREMES))
def test_extreme_files_load_or_fail_cleanly(name):
    make, expected = EXTREMES[name]
    data = make()
    start = time.perf_counter()
    try:
        bundle = load_bundle(data)
    except LoadError:
        bundle = None
    elapsed = time.perf_counter() - start
    assert elapsed < 5, f"loading {name} took {elapsed:.1f}s"
    assert expected == "either" or (bundle is None) == (expected == "reject")
    if bundle is not None:  # it runs to its end (decoding 100,000 instructions takes a second or two)
        assert run(bundle, seconds=30) in ("ok", "guest error")


# -- hypothesis ---------------------------------------------------------------------------
# Optional: the seeded fuzzers above run without it.

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is in the `test` extra
    given = None

_SEED_PAYLOAD = seeds()[0][HEADER_SIZE:]

if given is not None:

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        edits=st.lists(
            st.tuples(st.integers(0, len(_SEED_PAYLOAD)), st.integers(0, 3), st.binary(min_size=0, max_size=6)),
            min_size=1,
            max_size=4,
        ),
        cut=st.one_of(st.none(), st.integers(0, len(_SEED_PAYLOAD))),
    )
    def test_hypothesis_payload_edits(edits, cut):
        payload = bytearray(_SEED_PAYLOAD)
        for pos, kind, blob in edits:
            pos = min(pos, len(payload))
            if kind == 0:
                payload[pos : pos + len(blob)] = blob  # overwrite
            elif kind == 1:
                payload[pos:pos] = blob  # insert
            elif kind == 2:
                del payload[pos : pos + len(blob) + 1]  # delete
            else:
                payload[pos:pos] = payload[pos : pos + 16]  # duplicate a chunk
        if cut is not None:
            del payload[cut:]
        check(with_payload(bytes(payload)), Counter(), "hypothesis")

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=200))
    def test_hypothesis_arbitrary_bytes(blob):
        outcomes: Counter = Counter()
        check(blob, outcomes, "hypothesis raw")
        check(with_payload(blob), outcomes, "hypothesis payload")

else:  # pragma: no cover

    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_hypothesis_payload_edits():
        pass
