"""Run hostile TinyLang code in a child process with OS limits (the docs/security.md recipe).

The VM's own isolation (no Python object reachable, capabilities, verified
bytecode) and its limits run *inside* one Python process: a bug in CPython, a
C-level crash or an allocation the VM did not account would take that process
down. For code that is actively hostile, run it in a process of its own, with
limits the kernel enforces whatever happens inside:

* RLIMIT_CPU      CPU seconds: the kernel sends SIGXCPU, then SIGKILL;
* RLIMIT_AS       address space: allocations beyond it fail (MemoryError);
* RLIMIT_NOFILE   open descriptors: the three standard streams and a few more;
* RLIMIT_FSIZE    0: the child cannot grow any file, whatever it was granted;
* RLIMIT_CORE     0: no core dumps with the guest's data;
* a wall-clock timeout here, killing the child's whole process group (a
  program blocked in `sleep` or I/O uses no CPU);
* an empty working directory, a scrubbed environment, `python -I` (isolated
  mode: no PYTHON* variables, no user site-packages), stdin the program text.

    from subprocess_sandbox import run_untrusted
    r = run_untrusted('print(1 + 2)')
    r.status, r.stdout, r.stderr     # 0, "3\\n", ""

On top of it, add the VM's own limits with `tvm_options` (the CLI options of
issue 12: `["--fuel", "10000000", "--timeout", "2s", "--max-memory", "256M",
"--max-output", "1M"]`), so that the common case ends with a clear guest
message and its exit status rather than a kill. For more isolation still, see
docs/security.md: seccomp filters, namespaces (`unshare`, bubblewrap,
nsjail), containers.

Run as a script it runs a file (or a small demo) and prints the outcome:

    python examples/embedding/subprocess_sandbox.py [FILE.tl]
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The child runs the `tvm` command's entry point; the program comes on stdin
# (`tvm run -`), so the child needs no file of ours and opens none.
_TVM = "import sys; from tinyvm.cli.main import tvm_main; sys.argv[0] = 'tvm'; tvm_main()"


@dataclass
class Result:
    status: int | None  # the exit status; negative: killed by that signal; None: wall-clock timeout
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.status is None

    @property
    def killed_by(self) -> str | None:
        """The signal's name when the kernel (or the timeout) killed the child."""
        if self.status is None or self.status >= 0:
            return None
        return signal.Signals(-self.status).name


def _limits(cpu_seconds: int, memory_bytes: int, open_files: int):
    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_untrusted(
    source: str,
    *,
    cpu_seconds: int = 5,
    memory_bytes: int = 512 << 20,
    wall_seconds: float = 10.0,
    open_files: int = 32,
    tvm_options: list[str] | None = None,
    python: str = sys.executable,
) -> Result:
    """Run the TinyLang program `source` in a limited child process and return
    how it ended. Nothing is granted (no --allow-* option) unless `tvm_options`
    says so; the child's working directory is an empty temporary folder."""
    argv = [python, "-I", "-c", _TVM, "run", *(tvm_options or []), "-"]
    # Only what Python needs to start; nothing of the host's secrets (tokens, keys).
    env = {"PATH": os.defpath, "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    with tempfile.TemporaryDirectory(prefix="tvm-sandbox-") as cwd:
        child = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=_limits(cpu_seconds, memory_bytes, open_files), start_new_session=True,
        )  # fmt: skip
        try:
            out, err = child.communicate(source.encode("utf-8"), timeout=wall_seconds)
            status: int | None = child.returncode
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # its own session: the child and anything it started
            out, err = child.communicate()
            status = None
    return Result(status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


DEMO = 'print("hello from the sandbox")\nvar s = "x"\nwhile true { s = s + s }\n'


def main(argv: list[str]) -> int:
    source = Path(argv[0]).read_text(encoding="utf-8") if argv else DEMO
    r = run_untrusted(source, cpu_seconds=2, memory_bytes=256 << 20, wall_seconds=5)
    how = "timed out" if r.timed_out else (f"killed by {r.killed_by}" if r.killed_by else f"exit status {r.status}")
    print(f"{how}\n--- stdout ---\n{r.stdout}--- stderr ---\n{r.stderr}", end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
