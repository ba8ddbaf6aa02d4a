"""The embedding examples (examples/embedding/) run as scripts and print what
docs/embedding.md says they do: each test runs one in a subprocess (as a user
would: `python examples/embedding/NAME.py`) and compares its whole output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "embedding"

EXPECTED = {
    "plugin_host.py": """\
greeter: hello, alice
runaway: stopped (fuel: out of fuel: the program used its 50000 instructions)
shouter: ALICE!
greeter: hello, bob
runaway: stopped (fuel: out of fuel: the program used its 50000 instructions)
shouter: BOB!
[greeter] greeting #1
[greeter] greeting #2
greeted=2 shouted=2
""",
    "grader.py": """\
ada: accepted (8168 instructions)
bob: accepted (60 instructions)
cy: wrong answer (solve(3) = 9, expected 14)
dee: out of fuel (more than 200000 instructions)
eve: time limit (0.5s per call)
fay: runtime error (ZeroDivisionError: division by zero)
gus: compile error (expected expression, found '*')
hal: output limit (1000 bytes)
""",
    "asyncio_service.py": """\
4 x apple = 2.0
10 x melon = 27.0
basket: 4.25
error: no price for kiwi (raised in the guest at quote (rules.tl:3:15))
stuck: timeout: the program ran longer than 200ms
quote after the timeout: 2 x pear = 1.5
the loop kept running: True
""",
    "bind_library.py": """\
alice at 2023-11-14 22:13:20
HostError: value too long (2000 > 1024 characters)
TypeError: handle has no method 'dump_to_disk'
keys: ['alice']
busy: out of fuel: the program used its 5000 instructions
after revoke: Error: handle KV was revoked
""",
}


def run_example(name: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_output(name):
    p = run_example(name)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert p.stdout == EXPECTED[name]


def test_every_example_is_tested():
    scripts = {p.name for p in EXAMPLES.glob("*.py")} - {"subprocess_sandbox.py"}  # (tests/sandbox/test_subprocess_sandbox.py)
    assert scripts == set(EXPECTED)


def test_examples_are_linked_from_the_docs():
    for doc in (REPO / "examples" / "README.md", REPO / "docs" / "embedding.md"):
        text = doc.read_text(encoding="utf-8")
        for name in EXPECTED:
            assert f"embedding/{name}" in text, (doc.name, name)


def test_the_api_page_names_every_public_member():
    """docs/embedding.md is the whole API: each public method or property of
    the classes a host touches is named there (as `name`)."""
    from collections.abc import MutableMapping

    from tinyvm.api import VM, Globals
    from tinyvm.embed.convert import (
        GuestFunction,
        GuestGenerator,
        GuestObject,
        GuestTask,
    )
    from tinyvm.embed.handles import Handle
    from tinyvm.embed.hostfn import HostFunction

    internal = {"guest_value", "invoke"}  # the conversions' own hooks (embed/convert.py HostValue)
    mapping = set(dir(MutableMapping))  # Globals' mapping methods: the page says it is a MutableMapping
    text = (REPO / "docs" / "embedding.md").read_text(encoding="utf-8")
    missing = []
    for cls in (VM, Globals, HostFunction, Handle, GuestObject, GuestFunction, GuestTask, GuestGenerator):
        for name in dir(cls):
            if name.startswith("_") or name in internal or name in dir(object) or (cls is Globals and name in mapping):
                continue
            if f"`{name}" not in text and f".{name}" not in text:
                missing.append(f"{cls.__name__}.{name}")
    assert not missing, missing


def test_the_readmes_embedding_example_prints_what_its_comments_say() -> None:
    # The README's "Embedding" code block, run as written: every `# value`
    # comment after a print is the line it prints.
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("The basics:\n\n```python\n") + len("The basics:\n\n```python\n")
    code = text[start : text.index("```", start)]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    expected = [line.split("# ", 1)[1].split(" -- ")[0] for line in code.splitlines() if ("print(" in line or line.startswith("\'\'\')")) and "# " in line]
    printed = [ln for ln in result.stdout.splitlines() if not ln.startswith(" ")]
    assert printed == expected
