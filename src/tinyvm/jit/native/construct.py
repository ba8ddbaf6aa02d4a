"""Objects native code makes: `C(args)` of a class, `[]` of objects, push of an object.

Issue 16's Bounce builds its balls in the benchmark method itself
(`balls.push(Ball(random))`), so the method compiles natively only when
native code can construct instances. This module types and lowers:

- **A class global** (`load_global` of a slot holding a `Class`): machine
  type "C", no machine value. TinyLang makes class bindings constant
  (`Ball = 3` is a compile error, as for hoisted functions), so the class
  the slot holds when the function is compiled is the one every run sees.
  The type string carries the class (`ClassWord`): a frame state naming
  the value rebuilds it as that constant (deopt.py CONST).
- **A construction** (`call` / `call_typed` of a "C"): as the
  interpreter's `construct` (vm/calls.py) does it: a new `Instance(cls,
  dict(cls.template))` made by `Heap.alloc`, the VM's one allocation
  function, from `InstanceMaker.make` (a Python call from C,
  `PyObject_Vectorcall`, 0.5 us; alloc.py's ctypes callback, which
  HeapBridge's budget rules it shares, took 1.7 us a construction, more
  than the interpreter's 1.0). It refuses (returns the class) whenever the
  interpreter's allocation would do more than count bytes (GC stress, the
  heap going past next_gc: a collection, the limit) -- native code then
  leaves *before* the call, and the interpreter constructs, collects or
  raises its MemoryError with its trace. Then the class's `$fields` initialisers
  (root class first) and `init` run as native calls. A deopt inside init
  rebuilds its frame `[init, inst, args...]` with the caller waiting at
  the call's return op, exactly as `construct` pushed it (`init` returns
  self); a deopt inside `$fields` k rebuilds every frame construct pushed
  at once: init's (not started), the later `$fields`' (not started), each
  returning through the interpreter's discard continuation (`Chain`,
  deopt.rebuild). The result is the instance ("p", its class known).
  Before anything is allocated, native code checks what the interpreter
  would check: the native depth for every frame construct pushes at once
  (else the interpreter makes the call and raises StackOverflowError where
  it would) and that each object argument
  is an instance of exactly the class init declares (else the interpreter
  runs the call: its checks, a subclass). An object argument whose class
  native code does not know (an element of an `[any]` array) is guarded
  against the class init declares for it (`_declared_param`). Arity is checked here, at compile
  time: a class whose init does not take these arguments is a call out.
- **Fallback**: a native init (the Error classes), an init with free
  variables or a default native code does not assume passed (an object,
  string or optional parameter: defaults.py; a scalar or array default
  is typed as declared, the call site passing every argument), or an init/`$fields` that is not native with
  these argument types: the construction is a *call out* (Typed.effects: native code
  leaves before it, the VM constructs, and the function comes back in at
  its next loop header). Its result is still typed "p": the code after a
  call out is dead in native code.
- **`[]` of objects**: an empty literal whose pushes push objects of a
  known class is an array of objects ("ap", alloc.py's LIT with no
  element), so `for ball in balls` (fields.py) compiles over it.
- **push of an object** onto an "ap": charged as the interpreter charges
  it (runtime/memory.py element_charge: ELEMENT, an object's bytes are
  charged at its allocation), inline when the list has room (the slot
  gets a new reference), else by `PyList_Append` (CPython grows the
  vector; a ctypes callback per growth cost Bounce ~15 us an iteration); then the GC's write barrier (barrier.py `emit_barrier`,
  the array being an existing heap object that now refers to the value).

Fuel: the call instruction is counted in the caller's block, init's and
`$fields`' instructions by their own native code (emit.py), as the
interpreter counts them; the construction itself is no instruction, but
each `$fields` frame's discard continuation is a dispatch the interpreter
counts: taken before the instance is made, given back by an exit inside
a `$fields` for those not run yet.
"""

from __future__ import annotations

from typing import Any

from ...heap.layout import new_instance
from ...ir.nodes import FrameState, Instr
from ...runtime.memory import ELEMENT
from . import calls
from .newinst import inline_instance

CLASS = "C"
CTOR_OPS = frozenset(("call", "call_typed"))


class ClassWord(str):
    """The machine type "C" of a class global, carrying the class."""

    cls: Any


def class_word(cls: Any) -> ClassWord:
    w = ClassWord(CLASS)
    w.cls = cls
    return w


def _global(ty: Any, slot: int) -> Any:
    g = getattr(ty.field_type, "glob", None)
    return g(slot) if g is not None else None


def _class_of_value(v: Instr, ty: Any) -> Any:
    """The ClassT of an object value pushed (a construction, or its IR type)."""
    from ...bytecode.types import ClassT
    from ...heap.objects import Class

    if v.op in CTOR_OPS and v.args and v.args[0].op == "load_global":
        c = _global(ty, v.args[0].attrs[0])
        if type(c) is Class:
            return ClassT(c.name)
    return v.type if isinstance(v.type, ClassT) else None


def empty_elem(i: Instr, ty: Any) -> Any:
    """The element class (a ClassT) of an empty literal pushed objects of
    one known class, or None."""
    from ...bytecode.types import ArrayT, ClassT
    from .alloc import is_push

    if isinstance(i.type, ArrayT) and isinstance(i.type.elem, ClassT):
        return i.type.elem
    got = None
    for b in ty.fn.blocks:
        for u in b.instrs:
            if is_push(u) and u.args[0] is i:
                t = _class_of_value(u.args[1], ty)
                if t is None or got is not None and t != got:
                    return None
                got = t
    return got


def type_op(i: Instr, a: list, ty: Any) -> str | None:
    """select.py's hook: the machine type of a class global, a construction,
    an empty literal of objects or a push of an object; None for any other
    instruction (select's rules decide); NotEligible."""
    from ...bytecode.types import ArrayT
    from ...heap.objects import Class
    from .alloc import _verified, empty_kind, is_push
    from .select import NotEligible

    op = i.op
    if op == "load_global":
        c = _global(ty, i.attrs[0])
        if type(c) is not Class:
            from .callouts import called_global

            return called_global(i, ty)  # (a function in a global, only called: calls out, callouts.py)
        return class_word(c)
    if op in CTOR_OPS and a and a[0] == CLASS:
        return _construct_type(i, a, ty)
    if CLASS in a:
        raise NotEligible(f"{op} of a class (native code only constructs it)")
    if is_push(i) and a == ["ap", "p"]:
        if i.args[0] not in ty.objs:
            raise NotEligible("push onto an array of objects of unknown type")
        ty.heap = ty.allocs = True
        ty.effects.append(i)
        return "v"
    if op == "array" and not a and empty_kind(i, ty.fn) is None:
        t = empty_elem(i, ty)
        if t is None:
            return None
        if not _verified():
            raise NotEligible("arrays made in native code are off: list.allocated is not where alloc.py expects it")
        ty.objs[i] = ArrayT(t)
        ty.heap = ty.allocs = True
        return "ap"
    return None


def _construct_type(i: Instr, a: list, ty: Any) -> str:
    """`C(args)`: "p" of class C. ty.ctors[i] is the plan: (cls, init or
    None, [the class each object argument must be, or None], [the class's
    `$fields` methods, root class first]) and, once add_callees found init
    native, init's result type; or None for a call out."""
    from ...bytecode.types import ClassT
    from ...heap.objects import Function
    from .select import NotEligible

    cls = a[0].cls
    g = f"tvm.cls.{cls.name}"
    if ty.classes.setdefault(g, cls) is not cls:
        raise NotEligible(f"two classes named {cls.name}")
    ty.objs[i] = ClassT(cls.name)
    ty.heap = ty.allocs = True
    init = cls.init
    n = len(a) - 1
    fis = list(cls.field_inits)
    ok = all(type(f) is Function and not f.upvals and f.arity == 1 for f in fis) and all(x in ("i", "f", "b", "p") for x in a[1:])
    if type(init) is Function:
        ok = ok and not init.upvals and init.arity == n + 1
    elif init is not None or n:
        ok = False  # (a native init, or arguments without init: the interpreter's error)
    want: list = []
    for j, (x, v) in enumerate(zip(a[1:], i.args[1:])):
        if x == "p":
            t = ty.objs.get(v)
            if t is None and ok and type(init) is Function:
                t = _declared_param(init, j)  # (an argument of no known class: init's declared one, guarded at run time)
            c = ty.field_type.cls(t.name) if isinstance(t, ClassT) and ty.field_type is not None else None
            if c is None:
                ok = False
                break
            ty.classes.setdefault(f"tvm.cls.{c.name}", c)
            want.append(c)
        else:
            want.append(None)
    if not ok:
        ty.effects.append(i)  # (a call out: the VM constructs)
        ty.ctors[i] = None
        return "p"
    ty.ctors[i] = (cls, init, want, fis)
    return "p"


def _declared_param(init: Any, j: int) -> Any:
    """The class type init declares for its argument j (0: the first after
    `self`), or None. An argument whose class native code does not know
    (an element of an `[any]` array) is guarded against it as any object
    argument is (exactly that class, else the VM constructs)."""
    from ...bytecode.types import ClassT, parse_type_text
    from .objects import strip

    types = init.code.local_types
    if j + 2 >= len(types) or not types[j + 2]:
        return None
    t = strip(parse_type_text(types[j + 2]))
    return t if isinstance(t, ClassT) else None


def add_callees(ty: Any, typed: Any, seen: dict, group: list) -> None:
    """engine.group_of's hook: the inits and `$fields` of ty's
    constructions join the group when they are native with these argument
    types; else the construction is a call out."""
    from .select import NotEligible

    for i, plan in list(ty.ctors.items()):
        if plan is None:
            continue
        _, init, _, fis = plan[:4]
        calls = [(f.code, ["p"], ("n",)) for f in fis]
        if init is not None:
            calls.append((init.code, ["p"] + [ty.types[x] for x in i.args[1:]], ("p", "n")))  # (init returns its object: objects.init_result)
        for code, params, ret in calls:
            if code not in seen:
                try:
                    seen[code] = typed(code)
                except NotEligible:
                    seen[code] = None
                else:
                    group.append(seen[code])
            cty = seen[code]
            if cty is None or params != cty.params or cty.ret not in ret:
                ty.effects.append(i)
                ty.ctors[i] = None
                break
            if code is getattr(init, "code", None):
                ty.ctors[i] = (*plan[:4], cty.ret)  # (init's result type: the native call's)


def handles(i: Instr, ty: Any) -> bool:
    """emit.py's hook: whether lower() emits i."""
    types = ty.types
    if i.op == "load_global":
        return True
    if i.op in CTOR_OPS:
        return bool(i.args) and types.get(i.args[0]) == CLASS
    from .alloc import is_push

    return is_push(i) and types.get(i.args[0]) == "ap"


def lower(em: Any, i: Instr) -> None:
    if i.op == "load_global":
        return  # (no machine value: the class is a constant of the construction)
    if i.op in CTOR_OPS:
        _construct(em, i)
    else:
        _push(em, i)


def _class_addr(em: Any, cls: Any) -> str:
    c = em.tmp("cls")
    em.lines.append(f'  {c} = load i64, i64* @"tvm.cls.{cls.name}", !invariant.load !90')
    return c


def _construct(em: Any, i: Instr) -> None:
    from .deopt import CALL_OUT, exit_state
    from .emit import _DUMMY, LLTYPE
    from .fields import field_layout

    ty = em.ty
    L = em.lines
    r = f"%v{i.id}"
    plan = ty.ctors[i]
    if plan is None:  # (a call out: the VM constructs; the rest of this path is dead here)
        em.exit_to("true", exit_state(i.state, ty.types, reason=CALL_OUT))
        L.append(f"  {r} = {_DUMMY['p']}")
        return
    cls, init, want, fis = plan[:4]
    m = len(fis)
    frames = m + (init is not None)  # (the frames construct pushes at once)
    arr = em._arrays()
    lay = field_layout()
    # What the interpreter checks: each object argument's class (exactly
    # the declared one; else the interpreter calls), the depth (construct
    # pushes every frame at once), the fuel of the `$fields` frames' discard
    # continuations (one dispatch each, taken here, stored once the
    # instance exists).
    for v, c in zip(i.args[1:], want):
        if c is None:
            continue
        x = em.val(v)
        from .slots import is_instance_of

        t, bad = arr.load(x, arr.lay.type), em.tmp("bt")
        L.append(f"  {bad} = xor i1 {is_instance_of(em, t, c)}, true")  # (c's shape, or Instance when c is not laid out)
        cl, other, either = arr.load(x, lay.instance_cls), em.tmp("oc"), em.tmp("bad")
        L.append(f"  {other} = icmp ne i64 {cl}, {_class_addr(em, c)}")
        L.append(f"  {either} = or i1 {bad}, {other}")
        em.fail_if(either, i)
    if frames:
        dz = em.tmp("dz")
        L.append(f"  {dz} = icmp slt i64 %d1, {frames}")
        em.fail_if(dz, i)
        calls.tighten(em, frames - 1)  # (the native depth by the stack below these frames: calls.py)
    fuel = em.metered and m
    if fuel:
        u0, u1, uz = em.tmp("fu"), em.tmp("fu"), em.tmp("fz")
        L.append(f"  {u0} = load i64, i64* %fuel")
        L.append(f"  {u1} = sub i64 {u0}, {m}")
        L.append(f"  {uz} = icmp slt i64 {u1}, 0")
        em.fail_if(uz, i)
    # The instance (Heap.alloc, through InstanceMaker.make; the class
    # back: refused). The reference it returns is dropped: the heap's
    # allocation list holds the instance until a collection.
    c = _class_addr(em, cls)
    fast = inline_instance(em, cls, c, lay)  # (inline when the heap allows: newinst.py; None: the maker only)
    fp, f0, ap, inst, z = em.tmp("mkp"), em.tmp("mk"), em.tmp("mka"), em.tmp("inst"), em.tmp("refused")
    L.append(f"  {fp} = getelementptr i64, i64* %ctx, i64 {MAKER}")
    L.append(f"  {f0} = load i64, i64* {fp}")
    L.append(f"  {ap} = getelementptr i64, i64* %ctx, i64 {ARGS}")
    L.append(f"  store i64 {c}, i64* {ap}")
    L.append(f"  {inst} = call i64 @PyObject_Vectorcall(i64 {f0}, i64* {ap}, i64 1, i64 0)")
    L.append(f"  call void @tvm.decref(i64 {inst})")
    L.append(f"  {z} = icmp eq i64 {inst}, {c}")
    em.fail_if(z, i)
    if fast is not None:
        inst = fast.join(em, inst)
    if fuel:
        L.append(f"  store i64 {u1}, i64* %fuel")
    L.append(f"  {r} = add i64 {inst}, 0")  # (the instance: also a word of the exits below)
    # `$fields`, root class first, then init: native calls. A callee that
    # left leaves this frame waiting at the call (its operands popped), the
    # frames construct would have pushed rebuilt (deopt.rebuild: Chain).
    for k, f in enumerate(fis):
        d, s, fl = em.tmp("dk"), em.tmp("st"), em.tmp()
        L.append(f"  {d} = sub i64 %d1, {frames - 1 - k}")  # (the frames below it: init's, the later `$fields`')
        L.append(f"  {s} = call {{i1, i1}} @{em.names[f.code]}(i64* %ctx, i64 {d}, i64 {r})")
        L.append(f"  {fl} = extractvalue {{i1, i1}} {s}, 1")
        es = _waiting(em, i, Chain(init, fis, k, len(i.args)))
        em.refund(es)
        if fuel:
            es.refund += m - k  # (the discards from this one on: the interpreter counts them)
        em.exit_to(fl, es)
    if init is not None:
        args = "".join(f", {LLTYPE[ty.types[x]]} {em.val(x)}" for x in i.args[1:])
        s, fl = em.tmp("st"), em.tmp()
        rt = f"{{{LLTYPE[plan[4]]}, i1}}"  # (its object, or nil: the result is the instance either way)
        L.append(f"  {s} = call {rt} @{em.names[init.code]}(i64* %ctx, i64 %d1, i64 {r}{args})")
        L.append(f"  {fl} = extractvalue {rt} {s}, 1")
        em.exit_to(fl, _waiting(em, i, init))


def _waiting(em: Any, i: Instr, callee: Any) -> Any:
    """The exit state of the frame waiting at construction i for `callee`
    (init, or a Chain): i's class and arguments popped, the return op the
    one after the call; a Chain's record also holds the instance and the
    arguments (its last words: Chain.push takes them off)."""
    from ...bytecode.opcodes import OPCODES
    from ...ir.build import decode
    from .deopt import CONST, WORD, exit_state

    st = i.state
    n = len(i.args)
    es = exit_state(FrameState(st.pc, st.locals, st.stack[: len(st.stack) - n], st.code), em.ty.types, reason="a callee left")
    op, _ = decode(st.code)[st.pc]
    es.callee = callee
    es.ret_pc = st.pc + OPCODES[op].size
    if type(callee) is Chain:
        for v in [i, *i.args[1:]]:
            if v.op == "const":
                es.slots.append((CONST, v.attrs[0]))
            else:
                es.slots.append((WORD, em.ty.types[v]))
                es.values.append(v)
    return es


class Chain:
    """A `$fields` frame waiting to run or running (deopt.rebuild): the
    frames vm/calls.py `construct` pushed for it, rebuilt."""

    def __init__(self, init: Any, fis: list, k: int, extra: int) -> None:
        self.init = init
        self.fis = fis
        self.k = k  # the one that left
        self.extra = extra  # the record's last words: the instance, init's arguments

    def push(self, frames: list, L: list, ret: Any, nvals: list, vm: Any) -> list:
        """Push what construct pushes below `$fields` k on `frames` (L:
        the waiting frame, `ret` its return op) and return k's frame list.
        Construct pushes init first (its caller returning to `ret`), else
        puts the instance on the caller's stack; each `$fields` frame
        returns through a discard continuation to the next one's entry,
        the last to init's (or to `ret`)."""
        ex = L[len(L) - self.extra :]
        del L[len(L) - self.extra :]
        inst, args = ex[0], ex[1:]
        init = self.init
        if init is not None:
            frames.append((L, ret))
            below, target = [init, inst, *args, *init.code_pad], init.entry
        else:
            L.append(inst)
            below, target = L, ret
        for f in reversed(self.fis[self.k + 1 :]):
            frames.append((below, vm._discard_cont(target)))
            below, target = [f, inst, *f.code_pad], f.entry
        frames.append((below, vm._discard_cont(target)))
        return [self.fis[self.k], *nvals]


def _push(em: Any, i: Instr) -> None:
    """push of an object onto an array of objects (module docstring)."""
    from .alloc import emit_push
    from .barrier import emit_barrier

    low = em._arrays()
    L = em.lines
    arr, v = em.val(i.args[0]), em.val(i.args[1])

    def grow(lst: str) -> None:
        r, z = em.tmp("app"), em.tmp("refused")
        L.append(f"  {r} = call i32 @PyList_Append(i64 {lst}, i64 {v})")  # (CPython grows the vector; a new reference)
        L.append(f"  {z} = icmp ne i32 {r}, 0")
        em.fail_if(z, i)  # (no host memory: nothing pushed, the interpreter's push raises)

    def new() -> str:
        low.incref(v)
        return v

    emit_push(em, low, i, arr, str(ELEMENT), grow, new)
    emit_barrier(em, arr, v)


# ---------------------------------------------------------------- the allocation


MAKER, ARGS = 9, 10  # ctx words: InstanceMaker.make (a Python callable), the one-word argument array of its call
PRELUDE = "declare i64 @PyObject_Vectorcall(i64, i64*, i64, i64)\ndeclare i32 @PyList_Append(i64, i64)\ndeclare i64 @PyDict_Copy(i64)\ndeclare i32 @PyList_Insert(i64, i64, i64)\n"


def register(llvm: Any) -> None:
    """The C API function a construction calls (resolved by MCJIT by name)."""
    from .codegen import bind_c_api

    bind_c_api(llvm, ("PyObject_Vectorcall", "PyList_Append", "PyDict_Copy", "PyList_Insert"))  # (PyDict_Copy: newinst.py; PyList_Insert: inserts.py)


class InstanceMaker:
    """Instances for native code, through Heap.alloc (module docstring).

    Native code calls `make(cls)` with `PyObject_Vectorcall` (ctx word
    MAKER holds the bound method, kept alive here; the argument goes
    through ctx word ARGS): a Python call from C costs ~0.1 us where a
    ctypes callback (alloc.py's, for arrays) costs ~0.7 us, and Bounce
    makes its hundred balls per iteration this way."""

    def __init__(self, bridge: Any, ctx: Any) -> None:
        self.bridge = bridge
        self.ctx = ctx
        self.sizes: dict = {}  # class -> its instances' size (Instance.size: a template copy's)
        self.fn = self.make
        ctx[MAKER] = id(self.fn)

    def make(self, cls: Any) -> Any:
        """`Heap.alloc(Instance(cls, dict(cls.template)))`, as construct
        does, or cls itself (refused) when that would do more than count
        bytes. The bridge's leave/enter inline: what native code charged is
        settled first, the budget handed back after."""
        try:
            bridge = self.bridge
            heap = bridge.vm.heap
            size = self.sizes.get(cls)
            if size is None:
                size = self.sizes[cls] = new_instance(heap, cls).size()  # (a shape's SIZE is Instance.size's formula)
            ctx = self.ctx
            used = bridge.given - ctx[5]
            if used:
                heap.bytes += used
            bridge.given = ctx[5]
            if heap.stress or heap.bytes + size > heap.next_gc:
                return cls  # (the interpreter allocates it: a collection, the limit)
            inst = heap.alloc(new_instance(heap, cls))  # (laid out when the heap and class allow: heap/layout.py)
            ctx[5] = bridge.given = heap.next_gc - heap.bytes  # (not negative: checked before the alloc)
            return inst
        except BaseException:  # noqa: BLE001 (never unwinds through machine code: refused, the interpreter redoes it)
            return cls
