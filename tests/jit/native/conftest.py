"""The native tier's tests use a disk cache of their own (jit/native/cache.py),
never the user's ~/.cache/tinyvm/native: a fresh folder per test session, so
a first compilation in these tests is a real one. Tests of the cache itself
point TVM_NATIVE_CACHE at folders of their own."""

from __future__ import annotations

import os
import tempfile

import pytest


@pytest.fixture(autouse=True, scope="session")
def _native_cache_of_the_session() -> object:
    old = os.environ.get("TVM_NATIVE_CACHE")
    with tempfile.TemporaryDirectory(prefix="tvm-native-cache-") as d:
        os.environ["TVM_NATIVE_CACHE"] = d
        yield d
    if old is None:
        os.environ.pop("TVM_NATIVE_CACHE", None)
    else:
        os.environ["TVM_NATIVE_CACHE"] = old


@pytest.fixture
def dict_instances(monkeypatch: pytest.MonkeyPatch) -> None:
    """VMs made in the test keep dict instances, native ones too: the tests
    of native code's dict path (open Lox classes, and every class on a VM
    whose layout probe refuses shapes: jit/tier.py). Every VM lays out
    instances of closed classes otherwise (heap/layout.py)."""
    from tinyvm.heap.heap import Heap
    from tinyvm.jit.native import layout

    monkeypatch.setattr(Heap, "lays_out", False)
    monkeypatch.setattr(layout, "probe_slots_ok", lambda: False)


@pytest.fixture
def boxed_ints(monkeypatch: pytest.MonkeyPatch) -> None:
    """VMs made in the test keep every field of a laid-out instance as a
    reference, native ones too (as when `layout.probe_raw_ok` refuses raw
    int slots): the tests of native code's boxed int stores (in place, the
    helpers, reference counts), which a field kept as a raw int64
    (heap/layout.py "Raw slots") never takes."""
    from tinyvm.jit.native import layout

    monkeypatch.setattr(layout, "probe_raw_ok", lambda: False)


@pytest.fixture
def laid_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """VMs made in the test lay instances out (heap/layout.py), and native
    code compiles afresh (the disk cache off): the tests of shapes."""
    from tinyvm.heap.heap import Heap

    monkeypatch.setattr(Heap, "lays_out", True)
    monkeypatch.setenv("TVM_NATIVE_CACHE", "off")
