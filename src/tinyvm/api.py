"""The embedding API: run TinyLang (and Lox) from Python.

    from tinyvm import VM
    vm = VM()

    @vm.function
    def area(w: float, h: float) -> float:   # checked by the guest's type checker
        return w * h

    vm.run_source('fn fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }')
    vm.eval("area(2.0, 3.0)")          # 6.0: the value of an expression
    vm.globals["limit"] = 10           # a global of the shared namespace
    fib = vm.globals["fib"]; fib(20)   # guest functions are Python callables
    vm.call("fib", 20)                 # the same, by name
    await vm.call_async("fib", 20)     # from asyncio, without blocking the loop

One VM, one namespace (per language): every `run_source`, `run_file`, `eval`
and `vm.globals` compiles and runs *its* text as more of one module, so later
texts see what earlier ones defined (embed/namespace.py). Each `VM` is
independent (its own heap, namespace, built-ins); many can live in one
process.

Values cross as embed/convert.py says (host -> guest: None, bool, int
(int64), float, str, list/tuple, dict, registered host functions, handles,
guest values of the same VM; anything else is a TypeError. Guest -> host:
scalars, lists, dicts, and proxies: callables for functions, awaitables for
tasks, iterators for generators, opaque `GuestObject`s for the rest). Host
functions: embed/hostfn.py; handles (host objects behind an allow-list of
methods): embed/handles.py.

Errors: an uncaught guest error raises `GuestException` (`.class_name` --
the error's class, or the `typeof` of a thrown non-Error value --
`.message`, `.trace`); compile errors raise `CompileError` (`.diagnostics`,
`.render()`). An exception a host function raised and no guest code caught is
raised again as itself (`__cause__`: the GuestException with the guest
trace). KeyboardInterrupt and SystemExit propagate unchanged.

Threads: a VM runs one call at a time; calls from several threads (or
concurrent `call_async`s) are serialised by a lock. A host function may call
back into its VM (a nested run on the same thread).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from .bytecode.code import Bundle
from .embed.convert import Converter, GuestObject, Pins
from .embed.handles import Handle, HandleMethods
from .embed.hostfn import AsyncRunner, HostFunction
from .embed.namespace import Namespace
from .heap.layout import new_instance
from .heap.objects import Class, ModuleObject
from .lang.driver import Languages
from .lang.loader import Loader
from .lang.sources import file_policy, source_policy, vm_policy
from .runtime.dialects import DEFAULT_MAX_DEPTH  # noqa: F401  (re-exported)
from .runtime.errors import GuestException, RtError
from .sched.scheduler import DEFAULT_BUDGET
from .stdlib.capabilities import Capabilities
from .vm.machine import Machine

HOST_ERROR = "HostError"  # the guest class of exceptions raised by host functions
_HELPERS = """fn await_task(t) { return await t }
fn gen_step(g) { return g.next() }
"""


class VM:
    """One guest VM for a host program: a namespace to run code in, host
    functions and handles the guest may use, calls in both directions (see
    the module docstring for the whole API)."""

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
        modules: Any = None,
        import_root: str | None = None,
        fuel: int | None = None,
        timeout: float | None = None,
        max_output: int | None = None,
        fuse: bool = True,
        meter_fuel: bool | None = None,
        max_memory: int | None = None,
        jit: str = "off",
        jit_threshold: tuple[int, int] | str | None = None,
        jit_log: Any = None,
        jit_stress: int | None = None,
        alloc_sites: str | None = None,
        gc: str = "stw",
        gc_tuning: Any = None,
        gc_verify: bool = False,
    ) -> None:
        """`max_depth`: the guest frame limit (None: that of the language of
        the code each run starts in, 100000 for TinyLang and clox's 64 for
        Lox). `budget`: instructions a fiber runs before another ready fiber
        gets a turn. `warn_leaks`: note fibers still blocked when the main
        fiber ends in `warnings`. `allow`: what the `fs`, `os` and `net`
        modules may touch (docs/capabilities.md); nothing by default. `True`
        or `"all"` grants everything; else kinds among "read", "write",
        "net", "env" (a name, an iterable of names, or a mapping kind -> True
        or a list of paths, hosts or variable names), or a
        `tinyvm.stdlib.capabilities.Capabilities`. `languages`: the front ends
        its programs may be written in (lang/driver.py; by default those of
        the package).
        `modules`: the files its programs may import (docs/modules.md): a dict
        of relative paths to source text or .tvm bytes (`{"util.tl": "..."}`),
        or a `tinyvm.lang.sources.SourceSet` (a virtual filesystem).
        `import_root`: or a folder whose files (and below) they may import.
        Without either, `run_source` programs import no files, and `run_file`
        programs the file's folder and below (and what `allow` lets them read).
        Limits (docs/limits.md): `fuel`, the VM's tank of instructions (None:
        unlimited; `vm.fuel` reads and refills it); `timeout`, the seconds
        each run may take; `max_output`, the bytes each run may print.
        `meter_fuel`: count fuel (default: when `fuel` is given); fixed for
        the VM's life, as wasmtime's `consume_fuel`, because counting costs
        5-10% of speed: only a VM that counts takes per-call `fuel=` limits
        and has a `fuel_used` (None otherwise).
        `max_memory`: the guest heap's limit in accounted bytes
        (docs/memory.md; None: the default); over it the guest gets a
        catchable MemoryError.
        `fuse=False` runs without superinstructions (a differential tier).
        `jit`: the JIT tier (docs/jit.md): "off", "on" (hot code that has
        loops, after `jit_threshold` = (calls, loop back-edges) or the text
        "CALLS[,LOOPS]") or "eager" (every function at its first call);
        "native" / "native-eager": the same plus the native tier for pure
        typed scalar functions (docs/native.md; needs the `native` extra,
        llvmlite, else `NativeUnavailable`).
        `jit_log`: a callable given one line per JIT event. `jit_stress`: a
        seed; every guard and exit of compiled code then fails with
        probability 1/8 (the differential test of deoptimisation).
        `alloc_sites`: record where each object is made, for heap snapshots
        and heapdiff: "function" (the running guest function; cheap) or
        "line" (the source line; steps the VM, several times slower);
        docs/gc.md.
        `gc`: the collector's mode, "stw" (stop-the-world), "incremental"
        or "generational"; `gc_tuning`: its parameters, a dict such as
        `{"pause": 150, "stepmul": 400}` or the CLI's text
        "pause=150,stepmul=400" (heap/tuning.py); `gc_verify`: check the
        collector's invariants as it runs (slow: for tests). docs/gc.md."""
        if meter_fuel is False and fuel is not None:
            raise ValueError("fuel= needs a VM that counts fuel (meter_fuel=True)")
        if timeout is not None and not timeout > 0:  # (a run's own timeout= is checked by its scope)
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.languages = languages or Languages.default()
        self.machine = Machine(Loader(self.languages), gc_stress=gc_stress, max_depth=max_depth, stdout=stdout, stdin=stdin, argv=argv, budget=budget, fuse=fuse, meter=meter_fuel if meter_fuel is not None else fuel is not None, max_memory=max_memory, alloc_sites=alloc_sites, gc_mode=gc, gc_verify=gc_verify, gc_tuning=gc_tuning)
        limits = self.machine.limits
        limits.fuel, limits.timeout, limits.max_output = fuel, timeout, max_output
        self.machine.warn_leaks = warn_leaks
        self.machine.caps = Capabilities.from_spec(allow)
        if jit not in ("off", "on", "eager", "native", "native-eager"):
            raise ValueError(f"jit must be 'off', 'on', 'eager', 'native' or 'native-eager', got {jit!r}")
        if jit != "off":
            from .jit import Jit, parse_threshold

            threshold = parse_threshold(jit_threshold) if isinstance(jit_threshold, str) else jit_threshold
            Jit(self.machine, jit, threshold=threshold, log=jit_log, stress=jit_stress)
        self.main: ModuleObject | None = None  # the module of the last `.tvm` bundle run
        m = self.machine
        # The guest class of host exceptions: an Error subclass, not a
        # built-in name of the language (guest code tests `typeof(e)`).
        base = m.error_classes["Error"]
        self._host_error_cls = m.heap.alloc(Class(HOST_ERROR, base, None))
        self._host_error_cls.init = base.init
        self.convert = Converter(self)
        self._pins = Pins(m.host_pins)
        self._pins.pin(self._host_error_cls)
        self._lock = threading.RLock()
        self._depth = 0  # nested API runs on the VM's thread (a host function calling back)
        self._namespaces: dict[str, Namespace] = {}
        self._declared: dict[str, tuple[Any, Any]] = {}  # host globals: name -> (guest value, type)
        self._host_errors: dict[int, tuple[Any, BaseException]] = {}
        self._runner: AsyncRunner | None = None
        self._helpers: ModuleObject | None = None
        self.import_policy = vm_policy(modules, import_root)

    def close(self) -> None:
        """Close the sockets the program left open (and the VM's selector),
        and stop the private thread of `async def` host functions, if one
        was started. The VM can still run code afterwards."""
        self.machine.sched.io.close_all()
        if self._runner is not None:
            self._runner.close()
        jit = getattr(self.machine, "jit", None)
        if jit is not None:
            jit.close()  # (the native tier's compile thread, jit/native/worker.py)

    # ------------------------------------------------------------------ running text

    def run_source(self, text: str, path: str = "<string>", lang: str | None = None, *, fuel: int | None = None, timeout: float | None = None) -> None:
        """Compile `text` and run it as the next entry of the VM's namespace
        (its language's: `lang`, else by `path`'s extension, else TinyLang).
        Later texts see its globals. `path` names it in messages and traces;
        its imports are relative to the current directory. Raises
        CompileError (nothing ran), GuestException, or a limit's exception."""
        ns = self._namespace(self.languages.select(path, lang), path)
        self._guarded(lambda: ns.run(text, path, source_policy(self.import_policy)), fuel, timeout)

    def run_file(self, path: str, lang: str | None = None, *, fuel: int | None = None, timeout: float | None = None) -> None:
        """Run a source file as the next entry of the namespace (as
        `run_source`, its imports relative to its folder), or a compiled
        `.tvm` bundle as a program of its own (`run_bundle`)."""
        if path.endswith(".tvm") and lang is None:
            from .bytecode.tvmfile import read_file

            bundle = read_file(path)
            self._guarded(lambda: self._run_bundle(bundle), fuel, timeout)
            return
        from .lang.driver import read_source

        source = read_source(path)
        ns = self._namespace(self.languages.select(path, lang), path)
        policy = file_policy(self.import_policy, path, self.machine.caps.grants.get("read"))
        self._guarded(lambda: ns.run(source, path, policy), fuel, timeout)

    def eval(self, expr: str, lang: str | None = None, *, fuel: int | None = None, timeout: float | None = None) -> Any:
        """The value of an expression (or of the last expression statement of
        a text), evaluated in the namespace: `vm.eval("1 + 2") == 3`. Text
        whose last statement is not an expression gives None. Lox has no
        expression values (ValueError)."""
        fe = self.languages.get(lang) if lang is not None else self.languages.default_frontend
        if fe is None:
            raise ValueError(f"unknown language {lang!r}")
        ns = self._namespace(fe)
        if ns.repl.echo_slot is None:
            raise ValueError(f"{fe.title} has no expression values: use run_source and call")
        return self._guarded(lambda: self.convert.to_host(ns.run(expr, "<eval>", source_policy(self.import_policy))), fuel, timeout)

    def compile_file(self, path: str, lang: str | None = None) -> Bundle:
        """Compile a program; `lang` (a front end's name: "tinylang", "lox")
        forces the front end, which is otherwise chosen by the extension
        (`.lox` is Lox)."""
        from .lang.driver import compile_program

        policy = file_policy(self.import_policy, path, self.machine.caps.grants.get("read"))
        return compile_program(path, lang=lang, languages=self.languages, sources=policy)

    def run_bundle(self, bundle: Bundle, *, fuel: int | None = None, timeout: float | None = None) -> None:
        """Run a compiled program (a `.tvm` bundle) as a program of its own:
        its globals are not the namespace's (`call` finds them after the
        namespace's)."""
        self._guarded(lambda: self._run_bundle(bundle), fuel, timeout)

    def _run_bundle(self, bundle: Bundle) -> None:
        m = self.machine
        key = bundle.main
        code = bundle.modules[key]
        if m.module_codes.get(key, code) is not code:
            # A second program with the same main key: run it, not the first again.
            m.module_codes[key] = code
            m.modules.pop(key, None)
        module = m.load_bundle(bundle)
        self.main = module
        m.run_module_now(module)

    # ------------------------------------------------------------------ limits (vm/limits.py)

    @property
    def fuel_used(self) -> int | None:
        """Instructions (fuel units) run since the VM was made; None on a VM
        that does not count fuel (made without `fuel=` or `meter_fuel=True`)."""
        return self.machine.limits.fuel_used

    @property
    def fuel(self) -> int | None:
        """Fuel left in the VM's tank (None: unlimited); assign to refill."""
        return self.machine.limits.fuel

    @fuel.setter
    def fuel(self, value: int | None) -> None:
        self.machine.limits.fuel = value

    @property
    def memory_used(self) -> int:
        """Accounted bytes of the guest heap now (live data plus what was
        allocated since the last collection; docs/memory.md)."""
        return self.machine.heap.used

    @property
    def memory_peak(self) -> int:
        """The most accounted bytes the guest heap has held."""
        return self.machine.heap.peak

    def gc_stats(self) -> dict[str, Any]:
        """The garbage collector's statistics as one JSON-able dict:
        collections by kind, pause times (p50, p99, max and a log-scale
        histogram), bytes allocated, freed and promoted, the heap by
        generation (docs/gc.md lists the keys)."""
        return self.machine.gc_stats()

    @property
    def gc_mode(self) -> str:
        """The collector's mode; assigning switches it at once (between runs
        or from a host function), as the guest's `gc.mode(name)` does."""
        return self.machine.heap.mode

    @gc_mode.setter
    def gc_mode(self, mode: str) -> None:
        from .heap.tuning import check_mode

        self.machine.heap.set_mode(check_mode(mode))

    def heap_snapshot(self, path: str | None = None) -> Any:
        """A snapshot of the guest heap (heap/snapshot.py: nodes, named
        edges, roots, retained sizes). With `path`, also written there in
        the V8 `.heapsnapshot` format that Chrome DevTools opens (docs/gc.md)."""
        from .heap.snapshot import take_snapshot

        snap = take_snapshot(self.machine)
        if path is not None:
            from .heap.v8snapshot import write_v8

            write_v8(snap, path)
        return snap

    @property
    def warnings(self) -> list[str]:
        """Notes from the last run: tasks that failed unobserved, leaked fibers."""
        return self.machine.warnings

    # ------------------------------------------------------------------ the namespace

    @property
    def globals(self) -> Globals:
        """The TinyLang namespace's globals as a mutable mapping (values
        converted both ways). Setting a name that exists keeps its slot (the
        value must fit the global's static type, else TypeError); setting a
        new name declares it, with type `any`, for the texts that follow."""
        return Globals(self, self._namespace(self.languages.default_frontend))

    def _namespace(self, fe: Any, path: str | None = None) -> Namespace:
        ns = self._namespaces.get(fe.name)
        if ns is None:
            key = "<main>" if fe is self.languages.default_frontend else f"<main.{fe.name}>"
            # (`path`: the first text's, for front ends that read it once)
            ns = self._namespaces[fe.name] = Namespace(self, fe, key, path or key)
            for name, (value, ty) in self._declared.items():
                ns.declare(name, value, ty)
        return ns

    def _declare(self, name: str, value: Any, ty: Any) -> None:
        """A host global of every namespace (those made later too)."""
        self._declared[name] = (value, ty)
        with self._lock:
            for ns in self._namespaces.values():
                ns.declare(name, value, ty)
            self._namespace(self.languages.default_frontend)

    def get(self, name: str) -> Any:
        """The raw guest value of global `name`: the TinyLang namespace's,
        then the other languages', then the last `.tvm` bundle's. KeyError."""
        for ns in self._namespaces.values():
            try:
                return ns.get(name)
            except KeyError:
                pass
        main = self.main
        if main is not None and main.code is not None and name in main.code.globals:
            return main.globals[main.code.globals.index(name)]
        raise KeyError(name)

    # ------------------------------------------------------------------ host functions and handles

    def function(self, fn: Callable | None = None, *, name: str | None = None) -> Any:
        """Decorator: `@vm.function` or `@vm.function(name="guest_name")`
        registers the function (see `register`) and returns its
        `HostFunction`, still callable from Python."""
        if fn is None:
            return lambda f: self.register(f, name)
        return self.register(fn, name)

    def register(self, fn: Callable, name: str | None = None) -> HostFunction:
        """Make `fn` a global function of the guest named `name` (default:
        `fn.__name__`), typed from its annotations (embed/hostfn.py: a wrong
        call is a compile error in the guest). `async def` functions park the
        calling fiber until they finish. Returns the `HostFunction`."""
        name = name or getattr(fn, "__name__", "")
        if not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"not a guest function name: {name!r}")
        hf = HostFunction(self, fn, name)
        self._declare(name, hf.native, hf.type)
        return hf

    def handle(self, obj: Any, methods: list[str], name: str | None = None) -> Handle:
        """An opaque guest value for `obj` whose only reachable members are
        the listed methods (embed/handles.py). Pass it as an argument, a
        global or a host function's result; `handle.revoke()` ends it."""
        methods_table = self.machine.methods
        table = methods_table.get("handle")
        if not isinstance(table, HandleMethods):
            table = methods_table["handle"] = HandleMethods()
        handle = Handle(self, obj, methods, name)
        table.allow(handle.methods)
        return handle

    def charge(self, units: int) -> None:
        """Charge fuel for a host function's own work (its cost in
        instructions); raises OutOfFuel when the run cannot pay. A no-op on
        a VM without fuel accounting."""
        self.machine.limits.charge(units)

    def interrupt(self) -> None:
        """From any thread: the running call (or the next) raises Interrupted."""
        self.machine.limits.interrupt()

    # ------------------------------------------------------------------ calling in

    def call(self, name: str, *args: Any, fuel: int | None = None, timeout: float | None = None) -> Any:
        """Call the global function (or class) `name` with the arguments
        converted host -> guest; returns the result converted guest -> host.
        `fuel`/`timeout`: limits of this call. A guest error raises
        GuestException (an arity or type error of the call too)."""
        try:
            fn = self.get(name)
        except KeyError:
            raise KeyError(f"no global '{name}' in this VM") from None
        return self.call_value(fn, args, fuel=fuel, timeout=timeout)

    def call_value(self, fn: Any, args: Any, *, fuel: int | None = None, timeout: float | None = None) -> Any:
        """Call a guest callable (a raw guest value or a GuestFunction) with
        host arguments; the result converted to the host."""
        if isinstance(fn, GuestObject):
            fn = self.convert.to_guest(fn)

        def run() -> Any:
            m = self.machine
            guest_args = [self.convert.to_guest(a) for a in args]
            roots = m.extra_roots
            roots.append(fn)
            roots.extend(guest_args)
            try:
                result = m.run_function(fn, guest_args)
            finally:
                del roots[len(roots) - len(guest_args) - 1 :]
            return self.convert.to_host(result)

        return self._guarded(run, fuel, timeout)

    async def call_async(self, name: str, *args: Any, fuel: int | None = None, timeout: float | None = None) -> Any:
        """`call` from asyncio without blocking the event loop: the guest runs
        on a worker thread; `async def` host functions it calls run on this
        loop. Cancelling the awaiting task interrupts the guest. Calls on one
        VM are serialised."""
        return await self.call_value_async(self.get(name), args, fuel=fuel, timeout=timeout)

    async def call_value_async(self, fn: Any, args: Any, *, fuel: int | None = None, timeout: float | None = None) -> Any:
        import asyncio  # (lazy: `import tinyvm` stays light)

        loop = asyncio.get_running_loop()
        keep = fn if isinstance(fn, GuestObject) else self.convert.to_host(fn)  # pins it meanwhile
        runner = self._async_runner()

        def work() -> Any:
            with self._lock:
                prev, runner.loop = runner.loop, loop
                try:
                    return self.call_value(keep, args, fuel=fuel, timeout=timeout)
                finally:
                    runner.loop = prev

        fut = loop.run_in_executor(None, work)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            self.interrupt()
            with contextlib.suppress(BaseException):
                await fut  # the run ends (Interrupted) before the task does
            raise

    # ------------------------------------------------------------------ running, errors

    def _guarded(self, run: Callable[[], Any], fuel: int | None, timeout: float | None) -> Any:
        """Run `run` as one API call: serialised, within the call's limits,
        errors mapped for the host (module docstring)."""
        with self._lock:
            self._depth += 1
            try:
                with self._scope(fuel, timeout):
                    return run()
            except RtError as e:  # raised before any guest frame ran (e.g. arity)
                raise GuestException(self.machine.make_error(e.cls, e.message), e.cls, e.message, []) from None
            except GuestException as e:
                self._reraise(e)
                raise
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._host_errors.clear()

    def _scope(self, fuel: int | None, timeout: float | None) -> Any:
        return self.machine.limits.scope(fuel=fuel, timeout=timeout)

    def _host_error(self, exc: BaseException) -> Any:
        """The guest HostError for an exception a host function raised."""
        cls = self._host_error_cls
        # (new_instance: laid out or not as the heap decides, heap/layout.py;
        # `message` is in the template of every Error class, vm/machine.py,
        # so the view's store never needs to add a field)
        inst = self.machine.heap.alloc(new_instance(self.machine.heap, cls))
        inst.fields["message"] = str(exc) or type(exc).__name__
        self._host_errors[id(inst)] = (inst, exc)
        return inst

    def _reraise(self, e: GuestException) -> None:
        """An uncaught HostError: raise the host's original exception."""
        found = self._host_errors.get(id(e.value))
        if found is not None and found[0] is e.value:
            raise found[1] from e

    def _async_runner(self) -> AsyncRunner:
        if self._runner is None:
            self._runner = AsyncRunner()
        return self._runner

    def _helper(self, name: str) -> Any:
        """A function of the API's own guest helpers (awaiting a task,
        stepping a generator), compiled once per VM."""
        m = self.machine
        if self._helpers is None:
            code = m.loader.compile_library(_HELPERS, "<embed>", "<embed>")
            module = m._new_module("<embed>", code)
            m.run_module_now(module)
            self._helpers = module
        return self._helpers.globals[self._helpers.code.globals.index(name)]

    # ------------------------------------------------------------------ conversions

    def to_guest(self, v: Any) -> Any:
        """A host value as a guest value (embed/convert.py)."""
        return self.convert.to_guest(v)

    def to_host(self, v: Any) -> Any:
        """A guest value as a host value (embed/convert.py)."""
        return self.convert.to_host(v)


class Globals(MutableMapping):
    """`vm.globals`: the namespace's globals (see `VM.globals`). Deleting a
    global is not supported (code compiled against it may run later)."""

    def __init__(self, vm: VM, ns: Namespace) -> None:
        self._vm = vm
        self._ns = ns

    def __getitem__(self, name: str) -> Any:
        with self._vm._lock:
            return self._vm.convert.to_host(self._ns.get(name))

    def __setitem__(self, name: str, value: Any) -> None:
        vm = self._vm
        with vm._lock:
            guest = vm.convert.to_guest(value)
            try:
                self._ns.set(name, guest)
            except RtError as e:
                raise TypeError(e.message) from None

    def __delitem__(self, name: str) -> None:
        raise TypeError("guest globals cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._ns.names())

    def __len__(self) -> int:
        return len(self._ns.names())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._ns.names()
