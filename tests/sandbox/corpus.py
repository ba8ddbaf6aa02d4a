"""The escape corpus's machinery: attempt files, their fixtures, one run each, the checks.

An attempt is one file under `tests/sandbox/attempts/<category>/`:

* `NAME.tl`, `NAME.lox` -- a guest program, run by `tvm run [ARGS] NAME.tl`;
* `NAME.tvm-recipe` -- Python that builds a crafted `.tvm` file (a function
  `build(fx: Fixture) -> bytes`, helpers in recipes.py); the file is written
  as `NAME.tvm` and run by `tvm run [ARGS] NAME.tvm`;
* `NAME.py` -- a host program against the embedding API, run by Python.

Every run is a subprocess with a wall-clock timeout (a hang fails the test
instead of hanging CI) and an address-space limit (a memory bomb cannot take
the machine with it), in a fresh fixture tree (`Fixture`):

    ROOT/box/                 the working directory; the attempt is copied here
    ROOT/box/data/ok.txt      the one file a `--allow-read=data` grant allows
    ROOT/box/lib/div.tl       a module: `bad(x)` divides by x
    ROOT/box/data/bad_utf8.txt  bytes that are not UTF-8
    ROOT/box/data/escape.txt  a symlink out of data/, to ../../outside/secret.txt
    ROOT/box/link_secret.tl   a symlink to ../outside/secret.tl
    ROOT/box/link_dir         a symlink to ../outside
    ROOT/outside/             what no attempt may read: secret.txt, secret.tl
                              (a syntax error on a canary line), lib.tl (exports
                              the canary), notes.lox

The header (comments at the top: `//` in guest programs, `#` in Python) says
what the attempt tries and the clean outcome expected:

    tries: TEXT          required: what the attempt tries
    status: N            required: the exit status
    error: CLASS         the first stderr line starts with `error: CLASS`
    stdout: TEXT         stdout is exactly these lines (when any is given)
    stderr: TEXT         some stderr line contains TEXT (in order)
    args: WORDS          options before the file name (`--allow-read=data`)
    timeout: SECONDS     the wall-clock limit of the run (default 20)
    needs: FEATURE       skip unless the code base has it (FEATURES below)
    may-write: PATH      a file (relative to box/) the run may create
    xfail: TEXT          a known hole (FINDINGS.md): the test is xfail(strict)

and every run must also be *clean*, whatever the attempt (`clean_problems`):
no Python traceback, no `InternalError`, no Python repr or module path, no
host path outside the box, no canary (the content of a file outside the
allowed set), no file created or changed outside `may-write`, no death by a
signal, and the expected status and messages.
"""

from __future__ import annotations

import functools
import io
import os
import re
import resource
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ATTEMPTS = HERE / "attempts"
REPO = HERE.parent.parent
SRC = REPO / "src"
KINDS = (".tl", ".lox", ".py", ".tvm-recipe")
DEFAULT_TIMEOUT = 20.0
# The address-space limit of every run: large enough for any honest attempt and
# for the VM's documented default memory limit, small enough that a bomb ends
# in the child (MemoryError) instead of in the machine's OOM killer.
ADDRESS_SPACE = 4 << 30
CANARY_PREFIX = "TVM-CANARY-"

_HEADER = re.compile(r"^\s*(?://|#)\s*(tries|status|error|stdout|stderr|args|timeout|needs|may-write|xfail):(?: (.*))?$")
_KNOWN_KEYS = ("tries", "status", "error", "stdout", "stderr", "args", "timeout", "needs", "may-write", "xfail")

# What a clean run never prints: the marks of a Python object or traceback reaching the user.
LEAKS = (
    (re.compile(r"Traceback \(most recent call last\)"), "a Python traceback"),
    (re.compile(r"\bInternalError\b"), "an InternalError (a host exception inside the VM)"),
    (re.compile(r"object at 0x[0-9a-fA-F]+"), "a Python object repr"),
    (re.compile(r"<(?:class|function|built-in function|bound method|module|method) '"), "a Python repr"),
    (re.compile(r"\btinyvm\.[a-z_]+"), "a Python module path of the VM"),
    (re.compile(r'File "[^"]*", line \d+'), "a Python frame"),
    (re.compile(r"\.py\b(?!-)"), "a Python file name"),
)


# --------------------------------------------------------------------------- features


def _cli_help(command: str) -> str:
    from tinyvm.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    main(["help", command], stdin=io.StringIO(""), stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def _vm_has(*names: str) -> bool:
    from tinyvm.api import VM

    return all(hasattr(VM, n) for n in names)


def _heap_has_limit() -> bool:
    from tinyvm.heap.heap import Heap

    return "limit" in getattr(Heap, "__slots__", ()) or hasattr(Heap, "limit") or "limit" in Heap.__init__.__code__.co_names


# FEATURE -> (check, the reason given when it is missing). The issue-12 features
# land from other workstreams; an attempt that needs one is skipped, with this
# reason, until the merge brings it, and then runs.
FEATURES = {
    "cli-fuel": (lambda: "--fuel" in _cli_help("run"), "needs the issue-12 CLI option --fuel (i12-limits)"),
    "cli-timeout": (lambda: "--timeout" in _cli_help("run"), "needs the issue-12 CLI option --timeout (i12-limits)"),
    "cli-max-output": (lambda: "--max-output" in _cli_help("run"), "needs the issue-12 CLI option --max-output (i12-limits)"),
    "cli-max-memory": (lambda: "--max-memory" in _cli_help("run"), "needs the issue-12 CLI option --max-memory (i12-mem)"),
    "memory-limit": (_heap_has_limit, "needs the issue-12 heap limit (i12-mem)"),
    "api-limits": (lambda: _vm_has("interrupt", "fuel_used"), "needs the issue-12 API: VM(fuel=, timeout=), vm.interrupt (i12-limits/i12-api)"),
    "api-handle": (lambda: _vm_has("handle", "function", "register"), "needs the issue-12 API: vm.handle / vm.function (i12-api)"),
    "api-globals": (lambda: _vm_has("globals", "eval"), "needs the issue-12 API: vm.globals / vm.eval (i12-api)"),
    "api-modules": (lambda: "modules" in _vm_init_params(), "needs the issue-12 API: VM(modules=...) (i12-modules)"),
}


def _vm_init_params() -> tuple[str, ...]:
    import inspect

    from tinyvm.api import VM

    return tuple(inspect.signature(VM.__init__).parameters)


@functools.cache
def missing_feature(name: str) -> str | None:
    """None when the feature is there, else the skip reason."""
    if name not in FEATURES:
        return f"unknown feature {name!r} (corpus.FEATURES)"
    check, reason = FEATURES[name]
    try:
        return None if check() else reason
    except Exception as e:  # noqa: BLE001 - an API that is not there yet may fail any way
        return f"{reason} ({type(e).__name__})"


# --------------------------------------------------------------------------- attempts


@dataclass
class Attempt:
    path: Path
    tries: str = ""
    status: int | None = None
    error: str | None = None
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT
    needs: list[str] = field(default_factory=list)
    may_write: list[str] = field(default_factory=list)
    xfail: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if self.path.name.endswith(k))

    @property
    def id(self) -> str:
        return str(self.path.relative_to(ATTEMPTS))


def parse_attempt(path: Path) -> Attempt:
    """The header of an attempt file; malformed headers become `problems`."""
    a = Attempt(path)
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = _HEADER.match(line)
        if not m:
            if re.match(r"^\s*(?://|#)\s*[a-z-]+:", line) and line.split(":")[0].strip("/# ") not in _KNOWN_KEYS and lineno <= 3:
                a.problems.append(f"line {lineno}: unknown header key: {line.strip()!r}")
            continue
        key, value = m.group(1), (m.group(2) or "")
        if key == "tries":
            a.tries = value
        elif key == "status":
            a.status = int(value)
        elif key == "error":
            a.error = value
        elif key == "stdout":
            a.stdout.append(value)
        elif key == "stderr":
            a.stderr.append(value)
        elif key == "args":
            a.args.extend(value.split())
        elif key == "timeout":
            a.timeout = float(value)
        elif key == "needs":
            a.needs.extend(value.split())
        elif key == "may-write":
            a.may_write.append(value)
        elif key == "xfail":
            a.xfail = value
    if not a.tries:
        a.problems.append("no 'tries:' line: say what the attempt tries")
    if a.status is None:
        a.problems.append("no 'status:' line: say the expected exit status")
    return a


def all_attempts() -> list[Attempt]:
    return [parse_attempt(p) for p in sorted(ATTEMPTS.rglob("*")) if p.is_file() and p.name.endswith(KINDS)]


# --------------------------------------------------------------------------- fixture


@dataclass
class Fixture:
    root: Path
    canary: str

    @property
    def box(self) -> Path:
        return self.root / "box"

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    @classmethod
    def make(cls, root: Path) -> Fixture:
        fx = cls(root, CANARY_PREFIX + secrets.token_hex(8))
        c = fx.canary
        (fx.box / "data").mkdir(parents=True)
        fx.outside.mkdir()
        (fx.box / "data" / "ok.txt").write_text("allowed data\n")
        (fx.box / "lib").mkdir()
        (fx.box / "lib" / "div.tl").write_text("export fn bad(x) {\n  return 1 / x\n}\n")
        (fx.box / "data" / "bad_utf8.txt").write_bytes(b"ok \xff\xfe \xc0\x80 end\n")
        (fx.outside / "secret.txt").write_text(f"{c}\nsecond line {c}\n")
        (fx.outside / "secret.tl").write_text(f'let secret = "{c}" {c} this line is a syntax error\n')
        (fx.outside / "lib.tl").write_text(f'export let leaked = "{c}"\nexport fn f() {{ return leaked }}\n')
        (fx.outside / "notes.lox").write_text(f'var secret = "{c}" {c};\n')
        (fx.box / "data" / "escape.txt").symlink_to("../../outside/secret.txt")
        (fx.box / "link_secret.tl").symlink_to("../outside/secret.tl")
        (fx.box / "link_lib.tl").symlink_to("../outside/lib.tl")
        (fx.box / "link_dir").symlink_to("../outside")
        return fx

    def snapshot(self) -> dict[str, tuple[int, int, bool]]:
        """Every file and folder of the tree (symlinks not followed): size, mtime, is-link."""
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                st = os.lstat(p)
                is_dir = n in dirnames and not os.path.islink(p)
                # A folder's own times change with what is written in it: the files tell.
                out[os.path.relpath(p, self.root)] = (0, 0, False) if is_dir else (st.st_size, st.st_mtime_ns, os.path.islink(p))
        return out


# --------------------------------------------------------------------------- running


@dataclass
class Outcome:
    status: int | None  # None: killed by the timeout
    stdout: str
    stderr: str


def _limit_child() -> None:  # pragma: no cover - runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _env(fx: Fixture) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TVM_")}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + str(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    env["TVM_SANDBOX_ROOT"] = str(fx.root)  # for .py attempts: where the fixture is
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def command(a: Attempt, fx: Fixture) -> list[str]:
    """The argv of the attempt's run; copies (or builds) the program into the box."""
    if a.kind == ".py":
        target = fx.box / a.path.name
        target.write_text(a.path.read_text(encoding="utf-8"), encoding="utf-8")
        return [sys.executable, a.path.name]
    if a.kind == ".tvm-recipe":
        from recipes import build_recipe

        name = a.path.name[: -len(".tvm-recipe")] + ".tvm"
        (fx.box / name).write_bytes(build_recipe(a.path, fx))
    else:
        name = a.path.name
        (fx.box / name).write_text(program_text(a, fx), encoding="utf-8")
    tvm = "import sys; from tinyvm.cli.main import tvm_main; sys.argv[0] = 'tvm'; tvm_main()"
    return [sys.executable, "-c", tvm, "run", *a.args, name]


def program_text(a: Attempt, fx: Fixture) -> str:
    """A guest program's text, with `@OUTSIDE@` replaced by the outside folder's
    absolute path (for attempts at absolute paths, which cannot be written ahead)."""
    return a.path.read_text(encoding="utf-8").replace("@OUTSIDE@", str(fx.outside))


def run(a: Attempt, fx: Fixture, argv: list[str]) -> Outcome:
    """Run `argv` (from `command`) in the box, with the attempt's timeout."""
    try:
        p = subprocess.run(
            argv, cwd=fx.box, env=_env(fx), stdin=subprocess.DEVNULL, capture_output=True,
            timeout=a.timeout, preexec_fn=_limit_child,
        )  # fmt: skip
    except subprocess.TimeoutExpired as e:
        return Outcome(None, _text(e.stdout), _text(e.stderr))
    return Outcome(p.returncode, _text(p.stdout), _text(p.stderr))


def _text(b: bytes | str | None) -> str:
    if b is None:
        return ""
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else b


# --------------------------------------------------------------------------- checks


def clean_problems(a: Attempt, fx: Fixture, out: Outcome, before: dict, after: dict) -> list[str]:
    """Everything that makes the run not clean; empty when it is."""
    problems: list[str] = []
    both = out.stdout + "\n" + out.stderr
    if out.status is None:
        problems.append(f"the run did not end within {a.timeout:g} s (a hang or an unbounded run)")
    elif out.status < 0:
        problems.append(f"the run was killed by signal {-out.status}")
    elif out.status != a.status:
        problems.append(f"exit status {out.status}, expected {a.status}")
    if fx.canary in both or CANARY_PREFIX in both:
        problems.append("the output holds the canary: content of a file outside the allowed set")
    for host_path, what in ((str(fx.outside), "the outside folder"), (str(fx.root), "the fixture root"), (str(SRC), "the VM's source folder"), (sys.prefix, "the Python installation")):
        # (A path the program wrote itself may come back in its messages.)
        if host_path in both and (a.kind not in (".tl", ".lox") or host_path not in program_text(a, fx)):
            problems.append(f"the output holds a host path ({what}: {host_path})")
    if a.kind != ".py":  # a host program may print Python reprs of its own
        for pattern, what in LEAKS:
            if m := pattern.search(both):
                problems.append(f"the output holds {what}: {m.group(0)!r}")
    elif "Traceback (most recent call last)" in both:
        problems.append("the host program ended with a Python traceback")
    allowed = set(a.may_write) | {a.path.name, a.path.name.replace(".tvm-recipe", ".tvm")}
    for path in sorted(set(before) | set(after)):
        rel = os.path.relpath(path, "box") if path.startswith("box") else None
        if before.get(path) != after.get(path) and rel not in allowed and not path.endswith("__pycache__"):
            problems.append(f"a host side effect: {path} was {'created' if path not in before else 'changed or removed'}")
    if a.error is not None:
        first = out.stderr.splitlines()[0] if out.stderr else ""
        if not first.startswith(f"error: {a.error}"):
            problems.append(f"stderr's first line is {first!r}, expected 'error: {a.error}...'")
    if a.stdout and out.stdout.splitlines() != a.stdout:
        problems.append(f"stdout is {out.stdout.splitlines()!r}, expected {a.stdout!r}")
    lines, i = out.stderr.splitlines(), 0
    for want in a.stderr:
        while i < len(lines) and want not in lines[i]:
            i += 1
        if i == len(lines):
            problems.append(f"no stderr line (in order) contains {want!r}")
            break
        i += 1
    return problems
