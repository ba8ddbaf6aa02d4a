"""The subprocess sandbox recipe (examples/embedding/subprocess_sandbox.py) does what docs/security.md says.

Each test runs real child processes with the recipe's OS limits and asserts how
they ended: a CPU-bound program is killed by the kernel's CPU limit, a
program blocked in `sleep` by the wall-clock timeout, file growth fails
under RLIMIT_FSIZE even with a write grant, the environment is scrubbed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "embedding"
sys.path.insert(0, str(EXAMPLE))

from subprocess_sandbox import run_untrusted


def test_a_plain_program_runs():
    r = run_untrusted('print("hi", 1 + 2)\n')
    assert (r.status, r.stdout, r.stderr) == (0, "hi 3\n", "")


def test_a_guest_error_is_reported_cleanly():
    r = run_untrusted("let z: any = 0\nprint(1 / z)\n")
    assert r.status == 1
    assert r.stderr.startswith("error: ZeroDivisionError: division by zero")


def test_cpu_bound_code_is_killed_by_the_cpu_limit():
    r = run_untrusted("while true {}\n", cpu_seconds=1, wall_seconds=60)
    assert not r.timed_out
    assert r.killed_by in ("SIGXCPU", "SIGKILL"), r


def test_blocked_code_is_killed_by_the_wall_clock_timeout():
    r = run_untrusted("sleep(100000000)\n", wall_seconds=1.0)
    assert r.timed_out and r.stdout == ""


def test_files_cannot_grow_even_with_a_write_grant():
    r = run_untrusted('import fs\nfs.write_text("f.txt", "data")\nprint("wrote")\n', tvm_options=["--allow-write=."])
    assert r.status == 1 and "wrote" not in r.stdout
    assert r.stderr.startswith("error: IOError"), r.stderr


def test_the_environment_is_scrubbed():
    r = run_untrusted('import os\nprint(os.env("HOME"), os.env("PATH") != nil)\n', tvm_options=["--allow-env=HOME,PATH"])
    assert (r.status, r.stdout) == (0, "nil true\n")


def test_the_example_runs_as_a_script():
    p = subprocess.run([sys.executable, str(EXAMPLE / "subprocess_sandbox.py")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "hello from the sandbox" in p.stdout
    assert "timed out" not in p.stdout  # the memory bomb ends by the address-space limit
