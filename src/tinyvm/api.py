"""The embedding API: run TinyLang (and Lox) from Python.

    from tinyvm import VM
    vm = VM()
    vm.run_source('fn add(a, b) { return a + b }')
    vm.call("add", 2, 3)        # 5
    vm.call("add", [1], [2])    # [1, 2]  (lists, dicts convert both ways)

Each `VM` is independent (its own heap, modules, built-ins). Guest errors raise
`GuestException` (with `.class_name`, `.message`, `.trace`); compile errors raise
`CompileError` (with `.diagnostics`, and `.render()` for the user-facing text).

Conversions host -> guest: int (must fit int64), float, str, bool, None, list
and tuple -> array, dict -> map. Guest -> host: arrays -> list, maps -> dict,
records -> dict, scalars as themselves; other guest objects (instances,
functions, classes) are returned as they are (opaque handles usable as
arguments to later calls).
"""

from __future__ import annotations

from typing import Any

from .bytecode.code import Bundle
from .heap.objects import INT_MAX, INT_MIN, Array, Map, ModuleObject, Record, map_key, unmap_key
from .lang.driver import Languages
from .lang.loader import Loader
from .runtime.dialects import DEFAULT_MAX_DEPTH  # noqa: F401  (re-exported)
from .runtime.errors import GuestException, RtError
from .sched.scheduler import DEFAULT_BUDGET
from .stdlib.capabilities import Capabilities
from .vm.machine import Machine


class VM:
    def __init__(
        self,
        *,
        gc_stress: bool = False,
        max_depth: int | None = None,
        stdout: Any = None,
        stdin: Any = None,
        argv: list[str] | None = None,
        budget: int = DEFAULT_BUDGET,
        warn_leaks: bool = False,
        allow: Any = None,
        languages: Languages | None = None,
        max_memory: int | None = None,
    ) -> None:
        """`max_depth`: the guest frame limit (None: the default of the main
        program's language, 100000 for TinyLang and clox's 64 for Lox).
        `budget`: instructions a fiber runs before another ready fiber gets a
        turn. `warn_leaks`: note fibers still blocked when the main fiber ends
        in `warnings`. `allow`: what the `fs`, `os` and `net` modules may touch
        (docs/capabilities.md); nothing by default. `True` or `"all"` grants
        everything; else kinds among "read", "write", "net", "env" (a name, an
        iterable of names, or a mapping kind -> True or a list of paths, hosts
        or variable names), or a `tinyvm.stdlib.capabilities.Capabilities`.
        `languages`: the front ends its programs may be written in
        (lang/driver.py; by default those of the package). `max_memory`: the
        guest heap's limit in accounted bytes (docs/memory.md; None: the
        default, 64 MiB); over it the guest gets a catchable MemoryError."""
        self.languages = languages or Languages.default()
        self.machine = Machine(Loader(self.languages), gc_stress=gc_stress, max_depth=max_depth, stdout=stdout, stdin=stdin, argv=argv, budget=budget, max_memory=max_memory)
        self.machine.warn_leaks = warn_leaks
        self.machine.caps = Capabilities.from_spec(allow)
        self.main: ModuleObject | None = None

    def close(self) -> None:
        """Close the sockets the program left open (and the VM's selector).
        The VM can still run code afterwards."""
        self.machine.sched.io.close_all()

    # ------------------------------------------------------------------ running

    def compile_file(self, path: str, lang: str | None = None) -> Bundle:
        """Compile a program; `lang` (a front end's name: "tinylang", "lox")
        forces the front end, which is otherwise chosen by the extension
        (`.lox` is Lox)."""
        from .lang.driver import compile_program

        return compile_program(path, lang=lang, languages=self.languages)

    def run_file(self, path: str, lang: str | None = None) -> None:
        """Compile (or load, for .tvm) and run a program."""
        if path.endswith(".tvm") and lang is None:
            from .bytecode.tvmfile import read_file

            self.run_bundle(read_file(path))
        else:
            self.run_bundle(self.compile_file(path, lang))

    def run_source(self, text: str, path: str = "<string>", lang: str | None = None) -> None:
        from .lang.driver import compile_program

        self.run_bundle(compile_program(path, source=text, lang=lang, languages=self.languages))

    @property
    def memory_used(self) -> int:
        """Accounted bytes of the guest heap now (live data plus what was
        allocated since the last collection; docs/memory.md)."""
        return self.machine.heap.used

    @property
    def memory_peak(self) -> int:
        """The most accounted bytes the guest heap has held."""
        return self.machine.heap.peak

    @property
    def warnings(self) -> list[str]:
        """Notes from the last run: tasks that failed unobserved, leaked fibers."""
        return self.machine.warnings

    def run_bundle(self, bundle: Bundle) -> None:
        module = self.machine.load_bundle(bundle)
        self.main = module
        self.machine.run_module_now(module)

    # ------------------------------------------------------------------ calling in

    def call(self, name: str, *args: Any) -> Any:
        """Call the global function `name` of the last program run."""
        fn = self.get(name)
        m = self.machine
        guest_args = [self.to_guest(a) for a in args]
        m.extra_roots = guest_args
        try:
            return self.to_host(m.run_function(fn, guest_args))
        except RtError as e:  # raised before any guest frame ran (e.g. arity)
            raise GuestException(m.make_error(e.cls, e.message), e.cls, e.message, []) from None
        finally:
            m.extra_roots = []

    def get(self, name: str) -> Any:
        if self.main is None or self.main.code is None:
            raise KeyError(name)
        names = self.main.code.globals
        if name not in names:
            raise KeyError(name)
        return self.main.globals[names.index(name)]

    # ------------------------------------------------------------------ conversions

    def to_guest(self, v: Any) -> Any:
        alloc = self.machine.heap.alloc
        if v is None or isinstance(v, (bool, float, str)):
            return v
        if isinstance(v, int):
            if not INT_MIN <= v <= INT_MAX:
                raise OverflowError(f"{v} does not fit in a TinyLang int (64-bit)")
            return int(v)
        if isinstance(v, (list, tuple)):
            return alloc(Array([self.to_guest(x) for x in v]))
        if isinstance(v, dict):
            return alloc(Map({map_key(self.to_guest(k)): self.to_guest(x) for k, x in v.items()}))
        return v  # a guest object handed back in

    def to_host(self, v: Any) -> Any:
        t = type(v)
        if t is Array:
            return [self.to_host(x) for x in v.items]
        if t is Map:
            return {unmap_key(k): self.to_host(x) for k, x in v.items.items()}
        if t is Record:
            return {k: self.to_host(x) for k, x in v.fields.items()}
        return v
