"""Shared by the IDE's API tests: a TestClient on a fresh app (small limits,
so the runaway programs end fast), and the skip rule: the IDE's extra is
optional (the README's test command installs only `.[test]`, so they skip), but
CI's IDE step installs it and sets TVM_REQUIRE_IDE=1: then a missing piece fails."""

from __future__ import annotations

import os
import warnings

import pytest

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401

    HAVE_IDE = True
except ImportError:
    HAVE_IDE = False

needs_ide = pytest.mark.skipif(not HAVE_IDE and os.environ.get("TVM_REQUIRE_IDE") != "1", reason="the ide extra (starlette, uvicorn) is not installed")


def client(**limits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (starlette's note on httpx versions)
        from starlette.testclient import TestClient
    from tinyvm.tools.ide.server import IdeOptions, create_app
    from tinyvm.tools.ide.session import Limits

    lim = Limits(**{"fuel": 300_000, "timeout": 20.0, **limits})
    return TestClient(create_app(IdeOptions(limits=lim)), base_url="http://127.0.0.1")


def run(c, source: str, language: str = "tinylang", **extra) -> dict:
    r = c.post("/api/run", json={"language": language, "source": source, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def state(c, sid: str, step: int, **params) -> dict:
    r = c.get(f"/api/session/{sid}/state", params={"step": step, **params})
    assert r.status_code == 200, r.text
    return r.json()


def move(c, sid: str, start: int, action: str, breakpoints=()) -> dict:
    r = c.post(f"/api/session/{sid}/move", json={"from": start, "action": action, "breakpoints": list(breakpoints)})
    assert r.status_code == 200, r.text
    return r.json()


def example(c, name: str) -> dict:
    r = c.get(f"/api/example/{name}")
    assert r.status_code == 200, r.text
    return r.json()
