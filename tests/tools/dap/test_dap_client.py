"""Runs the DAP tests written with VS Code's own client library
(`@vscode/debugadapter-testsupport`, tests/tools/dap/client/test/*.test.js):
real sessions with `tvm dap` over stdio and TCP.

`npm ci` installs the client's pinned packages (package-lock.json) into
client/node_modules once; it is run again only when the lock file changes.
The tests are skipped only when node or npm is missing (CI has both).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT = Path(__file__).with_name("client")
TESTS = sorted((CLIENT / "test").glob("*.test.js"))
TVM = Path(sys.executable).with_name("tvm")

NO_NODE = shutil.which("node") is None or shutil.which("npm") is None
NEEDS = "node and npm are needed to run VS Code's DAP client (@vscode/debugadapter-testsupport); install Node.js >= 18"
# In CI (CI=true) these tests must run: a missing node is a failure there, not a skip.
pytestmark = pytest.mark.skipif(NO_NODE and os.environ.get("CI") != "true", reason=NEEDS)


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """`npm ci`, unless node_modules already holds this package-lock's packages."""
    lock = (CLIENT / "package-lock.json").read_bytes()
    stamp = CLIENT / "node_modules" / ".tvm-lock-sha256"
    digest = hashlib.sha256(lock).hexdigest()
    if not (stamp.is_file() and stamp.read_text() == digest):
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CLIENT, capture_output=True, text=True, timeout=600, check=False)
        assert p.returncode == 0, f"npm ci failed:\n{p.stdout}\n{p.stderr}"
        stamp.write_text(digest)
    return CLIENT / "node_modules"


@pytest.mark.parametrize("script", TESTS, ids=[t.name for t in TESTS])
def test_vscode_client(node_modules: Path, script: Path) -> None:
    assert not NO_NODE, NEEDS
    assert TVM.is_file(), f"no tvm next to {sys.executable}: install the package (pip install -e .)"
    env = {**os.environ, "TVM": str(TVM)}
    p = subprocess.run(
        ["node", "--test", "--test-concurrency=1", "--test-reporter=spec", str(script)],
        cwd=CLIENT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    assert p.returncode == 0, f"{script.name} failed:\n{p.stdout}\n{p.stderr}"
    passed = re.search(r"^\S+ pass (\d+)$", p.stdout, re.M)
    failed = re.search(r"^\S+ fail (\d+)$", p.stdout, re.M)
    assert passed and failed, p.stdout
    assert int(failed[1]) == 0 and int(passed[1]) > 0, p.stdout


def test_the_client_tests_exist() -> None:
    assert {t.name for t in TESTS} >= {"session.test.js", "attach.test.js"}
