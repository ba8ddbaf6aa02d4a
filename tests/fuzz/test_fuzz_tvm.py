"""Fuzzing the `.tvm` loader: whatever the bytes, `load_bundle` returns a Bundle
or raises `LoadError` -- never another exception, never a hang.

Three layers of mutation, so every stage of the loader is exercised:

* raw mutations of whole files (mostly stopped by the header and checksum);
* mutations of the payload followed by a recomputed, valid checksum, which get
  past the checksum into the decoder and, when they still decode, the verifier;
* structure-aware mutations of the decoded code objects (instruction ints,
  operands, tables, sizes), re-dumped, which reach the verifier with
  well-formed but wrong code.

Accepted files must also be canonical: dump(load(x)) == x.
Everything is driven by a seeded `random.Random` so failures reproduce; a
hypothesis-based variant adds shrinking for the payload layer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import signal
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from tvm_samples import TRICKY_CONSTS, asm, sample_bundle, sample_lib  # noqa: E402

from tinyvm.bytecode.code import FLAG_MODULE, Bundle, ClassInfo, Code, ModuleCode  # noqa: E402
from tinyvm.bytecode.tvmfile import FORMAT_VERSION, HEADER_SIZE, MAGIC, dump_bundle, load_bundle  # noqa: E402
from tinyvm.bytecode.verifier import VerifyError  # noqa: E402
from tinyvm.bytecode.code import LoadError  # noqa: E402

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


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    """Fail a case that takes too long (SIGALRM where available, else a timer check)."""
    use_alarm = hasattr(signal, "setitimer")
    if use_alarm:

        def on_alarm(signum, frame):
            raise Hang(f"load took more than {seconds}s")

        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
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


def all_codes(code: Code) -> list[Code]:
    out = [code]
    for k in code.consts:
        if type(k) is Code:
            out += all_codes(k)
    return out


def rebuild(code: Code, target: Code, new: Code) -> Code:
    """`code` with the nested code object `target` replaced by `new`."""
    if code is target:
        return new
    consts = tuple(rebuild(k, target, new) if type(k) is Code else k for k in code.consts)
    return dataclasses.replace(code, consts=consts)


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
            init = rebuild(init, target, mutate_code(rng, target))
        modules = dict(base.modules)
        modules[key] = dataclasses.replace(m, init=init)
        check(dump_bundle(Bundle(base.main, modules)), outcomes, f"structured case {case}")
    assert outcomes["verify-error"] > 300, outcomes
    assert outcomes["loaded"] > 0, outcomes


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
