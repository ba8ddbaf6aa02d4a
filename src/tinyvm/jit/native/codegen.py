"""LLVM IR text -> machine code: llvmlite's initialisation, the pass list,
one reused TargetMachine (`Codegen`), object code and MCJIT loading.

Split from engine.py (which decides what compiles, makes the entry ops and
deoptimises) so that the code generator, the part the disk cache's key
describes (`Codegen.identity`) and the background worker runs, is one
concept. llvmlite is imported lazily (`load_llvm`), only by this package.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from . import calls, fieldslow, nearcalls, outofline
from .loopguards import NO_LSR

_llvm: Any = None


def load_llvm() -> Any:
    """llvmlite.binding, initialised once (imported lazily: startup stays lean)."""
    global _llvm
    if _llvm is None:
        import llvmlite.binding as llvm

        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _llvm = llvm
    return _llvm


# LLVM's work on a module, chosen for compile time (docs/native.md, "Compile
# time"): TinyVM's IR arrives in SSA form already optimized (sccp, gvn, licm,
# range: jit/tier.py's pipeline), so of LLVM's O2 module pipeline only
# instcombine and simplifycfg still pay: on fib, gcd and a Mandelbrot loop the
# code runs as fast as after O2 (benchmarks/native_compile.py) at a third to
# a half of the compile time. The code generator's own O2 pipeline (codegen
# prepare, LSR, SelectionDAG, greedy register allocation) stays: at O0 fib
# ran 1.5x and Mandelbrot 2.8x slower.
# Two cheap passes around them cut the code generator's work (it costs
# ~0.4 ms per function, however small): `always-inline` folds the functions
# inlining.py marks `alwaysinline` (a root only @entry calls, an OSR copy only
# its wrapper calls, any small function called once, and a small
# non-recursive one at each of its call sites) into their callers, and
# `globaldce` drops what is then unused (those, and the prelude's helpers a
# module does not call).
# `sroa`, after always-inline, promotes the countdown's stack slot of each
# function with loops (countdown.py: ctx[0] in a register between calls,
# phis at the loop headers; an inlined function's slot in its caller):
# ~0.05-0.1 ms of `opt` ("Numbers", "The countdown in functions with loops").
# `jump-threading` (then simplifycfg again to merge what it leaves), since
# session 36: a value merged from two paths and branched on after the join
# -- an array element read from a list or from a packed buffer, then
# tested; a slow path's answer beside a fast path's constant -- costs a
# set, a jump and a test on the fast path; threaded, each path branches
# itself (Permute -6%, Towers -6%, Bounce -4%, Queens -3%, for +0.1-0.4 ms
# of `opt`: docs/native.md "Compile time").
PIPELINE = ("always_inliner", "sroa", "instruction_combine", "simplify_cfg", "jump_threading", "simplify_cfg", "global_dead_code_eliminate")
PIPELINE_TEXT = "always-inline,sroa,instcombine,simplifycfg,jump-threading,simplifycfg,globaldce"
CODEGEN_OPT = 2
CACHE_FORMAT = 4  # (part of the cache key: bump when what an object file means changes; 2: OSR entries, array code; 3: tvm.decref bound by name; 4: OSR entries folded into @entry, entries.py)


def _target_machine(cpu: str = "", features: str = "", codemodel: str = "jitdefault") -> Any:
    llvm = load_llvm()
    return llvm.Target.from_default_triple().create_target_machine(cpu=cpu, features=features, opt=CODEGEN_OPT, jit=True, codemodel=codemodel)


def bind_c_api(llvm: Any, names: tuple[str, ...] | list[str]) -> None:
    """Bind C API functions by name for MCJIT (`llvm.add_symbol`), so that
    object code calling them holds no address of this process."""
    import ctypes

    for name in names:
        llvm.add_symbol(name, ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value)


# LLVM's loop strength reduction (LSR), chosen per module: a module whose
# loops access arrays of scalars says so in its text (loopguards.NO_LSR) and
# is made without it. There LSR turned each element address into a pointer
# stepped by the loop, one for a PackedArray's bytes and one for a list's
# slots, though a pass takes only one of the two paths: an add more a pass
# and registers spilled around the loop (Sieve with its loop entry checks
# 8.6 -> 9.9 us a run; without LSR 7.4). Elsewhere it pays (Mandelbrot is
# 10% slower without it): docs/native.md, "Loop entry checks". The option is
# LLVM's process-wide `-disable-lsr`, set before each object file is made
# and held by `_flags_lock` meanwhile (llvmlite serialises LLVM's calls
# anyway, so compilations of several VMs lose nothing by it).
_flags_lock = threading.Lock()
_lsr_on = [True]


def with_lsr(on: bool, make: Callable[[], Any]) -> Any:
    """make()'s result, with LLVM's loop strength reduction `on` or off
    while it runs (it makes machine code)."""
    with _flags_lock:
        if _lsr_on[0] != on:
            load_llvm().set_option("tinyvm", f"-disable-lsr={'false' if on else 'true'}")
            _lsr_on[0] = on
        return make()


# The per-process helper modules (outofline.py's `tvm.make`, fieldslow.py's
# field helpers, calls.py's `tvm.budget`): one lock for all, since the
# worker's warm-up and the VM thread may race to compile the same one.
_helpers_lock = threading.RLock()


def helper_module(llvm: Any, made: list, text: str, names: tuple[str, ...]) -> list[tuple[str, int]]:
    """The (name, address) of each function `names` of LLVM IR `text`,
    compiled at the first call and kept in the caller's list `made` (one
    entry: the MCJIT engine that holds the code, for the process's life,
    the addresses, and the IR after the module pipeline); later calls
    return the same addresses. The symbols
    `text` uses must be bound before (`bind_c_api`, `llvm.add_symbol`)."""
    with _helpers_lock:
        if not made:
            mod = llvm.parse_assembly(text)
            mod.verify()
            tm = _target_machine()
            optimize(mod, tm)  # (the module pipeline: without it no `alwaysinline` helper is inlined, and every word load was a call)
            engine = llvm.create_mcjit_compiler(mod, tm)
            with_lsr(True, engine.finalize_object)
            addrs = [(n, engine.get_function_address(n)) for n in names]
            missing = [n for n, a in addrs if not a]
            if missing:
                raise RuntimeError(f"{', '.join(missing)} missing from its helper module")
            made.append((engine, addrs, str(mod)))  # (the optimized IR: tests read it)
        return made[0][1]


def optimize(mod: Any, tm: Any, pb: Any = None, passes: tuple[str, ...] | str = PIPELINE) -> None:
    """passes (PIPELINE; "O2": LLVM's default O2 module pipeline, for
    comparison in benchmarks/native_compile.py) on mod. No fast-math flags
    are ever emitted, so IEEE semantics hold either way."""
    llvm = load_llvm()
    if pb is None:
        pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=2))
    if passes == "O2":
        pb.getModulePassManager().run(mod, pb)
        return
    mpm = llvm.create_new_module_pass_manager()
    for p in passes:
        getattr(mpm, f"add_{p}_pass")()
    mpm.run(mod, pb)


def _tinyvm_version() -> str:
    # (the root package's own `__version__`: imported before any of its
    # subpackages, so this reads it, never imports it -- this layer may not
    # import upward, tests/unit/test_layers.py; the IR text in the cache key
    # already pins what TinyVM asked LLVM to compile.) It was
    # `importlib.metadata.version("tinyvm")`, which scans every sys.path
    # entry: 30-120 ms on this machine, paid by each VM's Codegen at its
    # first compilation ("Compile time" in docs/native.md). That stays the
    # fallback (a copy of this module loaded outside its package).
    got = getattr(sys.modules.get("tinyvm"), "__version__", None)
    if isinstance(got, str):
        return got
    from importlib import metadata

    try:
        return metadata.version("tinyvm")
    except metadata.PackageNotFoundError:
        return "unknown"


class Codegen:
    """LLVM IR text -> object code, and object code -> callable machine code.

    One TargetMachine and PassBuilder, reused for every module (creating
    them per module cost ~0.1 ms each); they are not thread-safe, so one
    compilation at a time holds `lock` (the VM thread in `native-eager`,
    the worker in `native`). Modules live in LLVM's global context, which
    is safe across threads and VMs because llvmlite serialises every LLVM
    call with one process-wide lock (it releases the GIL meanwhile, so
    Python threads still run); a context per module would be disposed by
    the cycle collector in any order, before the engine that holds a module
    of it (a crash). An object file is loaded into an MCJIT engine of its
    own (its symbols, `entry` and `fK`, are the same in every module), with
    a TargetMachine of its own (the engine takes ownership).

    `identity` names what the machine code depends on besides the IR (the
    disk cache's key, jit/native/cache.py)."""

    def __init__(self, passes: tuple[str, ...] | str = PIPELINE) -> None:
        llvm = load_llvm()
        import llvmlite

        __version__ = _tinyvm_version()

        self.llvm = llvm
        self.passes = passes
        self.passes_text = PIPELINE_TEXT if passes == PIPELINE else passes if isinstance(passes, str) else ",".join(passes)
        self.lock = threading.Lock()
        self.triple = llvm.get_process_triple()
        self.cpu = llvm.get_host_cpu_name()
        self.features = llvm.get_host_cpu_features().flatten()
        # Code for the generic CPU of the triple, as v0: the host's own CPU
        # name and features measured no faster on fib or Mandelbrot
        # (benchmarks/native_compile.py); they are in the cache key anyway,
        # so a cache folder shared by different machines stays exact.
        self.tm = _target_machine()
        self.tm_small = _target_machine(codemodel="small")  # (nearcalls.py: direct calls where no relocation is needed)
        # `tvm.decref` (arrays.PRELUDE) is CPython's own Py_DecRef (Py_XDECREF
        # as a function), bound by name as the C API is: no module compiles a
        # function of its own for it.
        import ctypes

        llvm.add_symbol("tvm.decref", ctypes.cast(ctypes.pythonapi.Py_DecRef, ctypes.c_void_p).value)
        self.pb = llvm.create_pass_builder(self.tm, llvm.create_pipeline_tuning_options(speed_level=2))
        self.identity = "|".join(
            [
                f"format {CACHE_FORMAT}",
                f"tinyvm {__version__}",
                # (array code has CPython's object offsets as IR constants, and
                # binds its C API symbols: the same IR means other code elsewhere)
                f"cpython {sys.version} {sys.implementation.cache_tag}",
                f"llvmlite {llvmlite.__version__}",
                "llvm " + ".".join(map(str, llvm.llvm_version_info)),
                self.triple,
                self.cpu,
                self.features,
                f"passes {self.passes_text}",
                f"codegen O{CODEGEN_OPT}",
                nearcalls.RULE,
                outofline.VERSION,
                fieldslow.VERSION,
                calls.BUDGET_VERSION,
            ]
        )

    def object_code(self, text: str, phases: dict[str, float], keep_text: bool = False) -> tuple[bytes, str]:
        """(object file, the IR after the passes when keep_text); the phases' times in ms."""
        llvm = self.llvm
        with self.lock:
            t0 = time.perf_counter()
            mod = llvm.parse_assembly(text)
            mod.verify()
            t1 = time.perf_counter()
            optimize(mod, self.tm, self.pb, self.passes)
            t2 = time.perf_counter()
            after = str(mod) if keep_text else ""
            obj = with_lsr(NO_LSR not in text, lambda: nearcalls.emit(mod, text, self.tm_small, self.tm))
            t3 = time.perf_counter()
        phases["parse"] = (t1 - t0) * 1000
        phases["opt"] = (t2 - t1) * 1000
        phases["codegen"] = (t3 - t2) * 1000
        return obj, after

    def load(self, obj: bytes) -> tuple[Any, Any]:
        """(engine, address of `entry`) for an object file; the engine must
        stay alive while the code runs."""
        llvm = self.llvm
        holder = llvm.parse_assembly("")
        engine = llvm.create_mcjit_compiler(holder, _target_machine())
        # MCJIT wants a module to be made with; left in, finalize_object
        # runs the whole code generator's pipeline on it, empty as it is
        # (~0.45 ms of every load, most of the phase for a small function).
        # Taken out again, finalizing only links the object file.
        engine.remove_module(holder)
        engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        engine.finalize_object()
        addr = engine.get_function_address("entry")
        if not addr:
            raise RuntimeError("the object file has no entry function")
        return engine, addr
