"""The shape of the source tree: the packages of src/tinyvm and the order of their layers.

The import graph is computed from the source with `ast` (nothing is run), from
every `import` statement, at module level or inside a function (a lazy import
is still a dependency). Each top-level package (or module) of src/tinyvm may
import only the packages its layer allows (LAYERS, the same table as
docs/architecture.md):

    cli                        the commands
    tools                      debugger, time travel, profiler, tracer, metrics (over vm.hooks)
    api                        the embedding API
    jit                        the JIT tier (vm + ir -> Python)
    vm          lang   ir      the interpreter core  |  the front ends and their driver  |  the SSA IR
    stdlib        |            the standard modules
    sched         |            fibers, scheduler, I/O
    runtime       |            the value model's operations
    heap     bytecode          objects and GC  |  the instruction set, code objects, .tvm

A package that is not in the table fails the test: a new package takes its
place in the order on purpose. The front ends (lang/<language>/) are
independent of each other, and lang's own modules (the driver, the loader)
name no front end: they find them at run time.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "tinyvm"

BASE = {"bytecode", "heap"}
LAYERS: dict[str, set[str]] = {
    "bytecode": set(),
    "heap": set(),
    "runtime": BASE,
    "sched": BASE | {"runtime"},
    "stdlib": BASE | {"runtime", "sched"},
    "vm": BASE | {"runtime", "sched", "stdlib"},
    "lang": {"bytecode"},
    "ir": {"bytecode"},
    "jit": BASE | {"runtime", "sched", "stdlib", "vm", "ir"},
    "embed": BASE | {"runtime", "sched", "stdlib", "vm", "lang"},
    "api": BASE | {"runtime", "sched", "stdlib", "vm", "lang", "embed", "jit"},
    "tools": BASE | {"runtime", "sched", "stdlib", "vm", "lang", "ir", "embed", "api", "jit"},
    "cli": BASE | {"runtime", "sched", "stdlib", "vm", "lang", "ir", "embed", "api", "jit", "tools", "__init__"},
    "__init__": {"api", "runtime"},  # the package root: lazy re-exports
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def imports_of(path: Path) -> list[tuple[str, int]]:
    """(absolute module imported, line) for every import statement in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, node.lineno))
            # `from . import x` / `from .pkg import mod` may name submodules: count each.
            out.extend((f"{target}.{a.name}", node.lineno) for a in node.names if is_module(f"{target}.{a.name}"))
    return out


def is_module(name: str) -> bool:
    path = SRC.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def top(module: str) -> str | None:
    """The top-level package (or module) of src/tinyvm that `module` is in; None outside."""
    parts = module.split(".")
    if parts[0] != "tinyvm":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def source_files() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


@functools.cache
def edges() -> dict[tuple[str, str], list[str]]:
    """(importing package, imported package) -> where, for imports across packages."""
    out: dict[tuple[str, str], list[str]] = {}
    for path in source_files():
        src = top(module_name(path))
        for target, line in imports_of(path):
            dst = top(target)
            if dst is not None and dst != src:
                out.setdefault((src, dst), []).append(f"{path.relative_to(SRC)}:{line} imports {target}")
    return out


def test_every_package_has_a_layer():
    packages = {top(module_name(p)) for p in source_files()}
    assert packages - set(LAYERS) == set(), "a package of src/tinyvm missing from LAYERS (docs/architecture.md)"
    assert set(LAYERS) - packages == set(), "LAYERS names a package that no longer exists"


def test_imports_follow_the_layer_order():
    bad = [w for (src, dst), where in sorted(edges().items()) if dst not in LAYERS[src] for w in where]
    assert bad == [], "imports against the layer order:\n" + "\n".join(bad)


def test_the_layer_table_has_no_cycle():
    # Every allowed dependency goes strictly down: a topological order exists.
    order: list[str] = []
    remaining = dict(LAYERS)
    while remaining:
        ready = [p for p, deps in remaining.items() if deps <= set(order)]
        assert ready, f"cycle among {sorted(remaining)}"
        order.extend(sorted(ready))
        for p in ready:
            del remaining[p]


def test_no_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for src, dst in edges():
        graph.setdefault(src, set()).add(dst)

    def reaches(a: str, b: str, seen: set[str]) -> bool:
        for n in graph.get(a, ()):
            if n == b or (n not in seen and (seen.add(n) or reaches(n, b, seen))):
                return True
        return False

    cycles = sorted(p for p in graph if reaches(p, p, set()))
    assert cycles == [], f"packages on an import cycle: {cycles}"


def test_bytecode_and_heap_import_no_other_package():
    for (src, dst), where in edges().items():
        assert src not in BASE, f"{src} must import no other package of ours: {where}"


def test_front_ends_are_independent_and_never_import_the_vm():
    lang = SRC / "lang"
    front_ends = sorted(p.name for p in lang.iterdir() if (p / "__init__.py").is_file())
    assert {"tinylang", "lox"} <= set(front_ends)
    bad = []
    for path in sorted(lang.rglob("*.py")):
        rel = path.relative_to(lang).parts
        own = rel[0] if len(rel) > 1 else None  # the front end this file belongs to, if any
        for target, line in imports_of(path):
            parts = target.split(".")
            if parts[:2] != ["tinyvm", "lang"] or len(parts) < 3:
                continue
            if parts[2] in front_ends and parts[2] != own:
                who = f"front end {own}" if own else "lang's own module"
                bad.append(f"lang/{'/'.join(rel)}:{line}: {who} imports {target}")
    assert bad == [], "the driver finds front ends at run time; front ends do not know each other:\n" + "\n".join(bad)


def test_the_check_sees_lazy_and_relative_imports():
    # The checker itself: relative imports (vm -> stdlib in vm/modules.py) and
    # imports inside functions (cli -> api) are edges.
    found = edges()
    assert ("vm", "stdlib") in found and ("cli", "api") in found and ("api", "lang") in found
    assert top("tinyvm.lang.tinylang.parser") == "lang" and top("tinyvm") == "__init__" and top("os") is None
    assert is_module("tinyvm.lang.tinylang") and is_module("tinyvm.vm.machine") and not is_module("tinyvm.__version__")
