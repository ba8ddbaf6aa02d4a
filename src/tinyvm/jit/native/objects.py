"""Object references and nil in native code: optional objects, object results, `==`, throwing blocks.

An object reference is machine type "p" (select.py): the address of a guest
`Instance` or `Record`, borrowed, or Py_None's address for nil (the shared
decision of docs/native.md, "Object references and nil"). This module
types and lowers what that needs beyond fields.py's reads:

- **Optional class and record types** (`Element?`) are "p" as the plain
  ones are: parameters, locals, fields declared `C?`, elements of `[C?]`
  arrays, and phis. A phi of "p" values and nil constants is "p" (`var x:
  Element? = nil ... x = x.next`); a nil constant flowing where a "p" is
  expected (a phi operand, a native call's argument, a returned value) is
  None's address (`NONE`). Code reading a field or calling a method checks
  the receiver's type or class already (fields.py), so None there is a
  failure exit and the interpreter raises its own error at the exact pc.
- **`==` and `!=`** of a "p" with nil compare the address with None's
  (exact: only nil equals nil). Of two "p": the spec compares instances by
  identity and records structurally (deep), so native code decides only
  when both are instances or nil (the address compare is then the answer);
  otherwise (a record, or any other object reached through `any`) it calls
  the interpreter's own `equals` back (`tvm_obj_equals`, a ctypes callback
  bound by name: `eq` has no frame state to leave at).
- **Object results**: a function declared `-> C` or `-> C?` returns "p"
  (`result_type`); a native caller uses it directly (it stays alive
  without a reference of its own: no collection runs while native code
  runs); the entry op boxes it for the interpreter with `layout.array_of`
  (a new reference).
- **Object arguments of method calls** (fields.py `method_type`): a
  parameter declared `C` or `C?` (C a class) may get a "p" (or a nil
  constant for `C?`); the call checks each at run time (`guard_args`: nil
  where allowed, else an instance of exactly C) and leaves at the call
  otherwise, so the VM makes it and runs its own parameter checks.
- **Throwing blocks are exits**: the IR of `x!` and of `throw Error("...")`
  is a block that builds the error (`builtin`, string `const`, `call`) and
  ends in `throw`. Such a block (no handler: handlers stay ineligible) is
  not typed; it becomes a failure exit at the pc of its first instruction
  that has a frame state (`throw_exit`), and the interpreter builds and
  throws the error itself, with its exact trace.
- **Optional scalars** (`self.next?.length() ?? 0`): the IR of `a?.m() ??
  d` has a phi of the receiver (on the edge where it is nil) and the
  call's result, compared with nil and then merged with d. Such a phi is
  machine type "q" + the scalar's ("qi", "qf", "qb": `{value, is nil}` in
  LLVM); an operand on an edge that proved it nil (a branch on `x == nil`)
  is the nil pair, a scalar operand is paired with false, and a "q" value
  used on an edge that proved it not nil (a branch on `q != nil`) is its
  scalar. No exit may name a "q" value (a deopt would have to box it:
  deopt.exit_state refuses it, and the function is not eligible).
"""

from __future__ import annotations

import ctypes
from typing import Any

from ...ir.nodes import Function, Instr

# nil as a "p": a constant, None's address, through a symbol of our own name
# bound by `register` (not `_Py_NoneStruct`, which another module's prelude
# may declare too: one module cannot declare a global twice).
NONE = "ptrtoint (i8* @tvm_obj_none to i64)"
PRELUDE = "@tvm_obj_none = external global i8\n@tvm_obj_slotinstance = external global i8\ndeclare i32 @tvm_obj_equals(i64, i64)\n"
THROW = "a throw (the interpreter throws)"  # ExitState.reason of a throwing block
OPT = {"qi": "i", "qf": "f", "qb": "b"}  # optional scalars and their scalar
LLOPT = {"qi": "{i64, i1}", "qf": "{double, i1}", "qb": "{i1, i1}"}
_ZERO = {"i": "i64 0", "f": "double 0.0", "b": "i1 false"}


def _equals(a: int, b: int) -> int:
    # Called from machine code (holding the GIL): must never raise. The
    # spec's `==` (runtime/values.py), which runs no guest code and
    # allocates nothing on the guest heap.
    try:
        from ...runtime.values import equals
        from .layout import array_of

        return 1 if equals(array_of(a), array_of(b)) else 0
    except BaseException:  # noqa: BLE001 - (deep compares are iterative: not expected)
        return 0


_EQUALS = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64, ctypes.c_int64)(_equals)  # (kept alive: machine code calls it)


def register(llvm: Any) -> None:
    """None's address and the equality callback, for MCJIT (by name, as
    fields.register: the code holds no address of the process that made it)."""
    llvm.add_symbol("tvm_obj_none", id(None))
    from ...heap.layout import SlotInstance

    llvm.add_symbol("tvm_obj_slotinstance", id(SlotInstance))  # (the base of every shape: `==`)
    llvm.add_symbol("tvm_obj_equals", ctypes.cast(_EQUALS, ctypes.c_void_p).value)


# ---------------------------------------------------------------- select.py


def strip(t: Any) -> Any:
    """`C?` -> `C` (a Type); anything else unchanged."""
    from ...bytecode.types import OptionalT

    return t.inner if isinstance(t, OptionalT) else t


def declared(t: Any) -> Any:
    """The class or record type of a declared type (a Type or its text), `C?` stripped, or None."""
    from ...bytecode.types import ClassT, RecordT, parse_type_text

    if t is None or t == "":
        return None
    if isinstance(t, str):
        try:
            t = parse_type_text(t)
        except Exception:  # noqa: BLE001 - a type text this reader does not know: no object
            return None
    t = strip(t)
    return t if isinstance(t, (ClassT, RecordT)) else None


def result_type(t: Any) -> str | None:
    """"p" for a declared result `C`, `C?` (C a class or record), else None."""
    return "p" if declared(t) is not None else None


def call_result(i: Instr, ret: str, ret_type: Any, ty: Any) -> str:
    """The machine type of a native call's result; an object's declared type goes to ty.objs."""
    if ret == "p":
        ty.objs[i] = declared(ret_type)
        ty.heap = True
    return ret


def call_matches(ty: Any, i: Instr, callee: Any) -> bool:
    """Whether call i of ty may be a native call of the typed callee: the
    argument types its parameters' (a nil constant may go to a "p"), its
    result the one the caller typed (an `init` returns its object: `init_result`)."""
    args = [ty.types[a] for a in i.args]
    params = callee.params
    if len(args) != len(params) or callee.ret != ty.types.get(i):
        return False
    if not all(a == p or a == "n" and p == "p" for a, p in zip(args, params)):
        return False
    if "n" in args:
        ty.heap = True  # (None's symbol: PRELUDE)
    return True


def init_result(ty: Any, ret: str) -> str:
    """An `init` method is declared nil but returns self (the constructor
    pushes what it returns, vm/calls.py `construct`): its result is then
    the object ("p"), which the entry op hands the interpreter."""
    fn = ty.fn
    if ret == "p":
        ty.heap = True  # (`return nil` is None's address: PRELUDE)
    if ret != "n" or not ty.code.name.endswith(".init") or len(fn.params) < 2:
        return ret
    rets = [b.terminator for b in fn.blocks if b.terminator is not None and b.terminator.op == "return"]
    if rets and all(t.args and t.args[0] is fn.params[1] for t in rets):
        ty.ret = "p"
        return "p"
    return ret


def phi_types(i: Instr, got: set, types: dict, ty: Any) -> set:
    """The operand types of phi i reduced to one where objects allow it: "p"
    with nil constants is "p" (the phi gets the operands' declared type);
    a scalar with nil (on an edge that proved it nil) is an optional scalar."""
    got2 = {_edge_type(i, k, types) for k in range(len(i.args)) if i.args[k] in types}
    if got2 <= {"n"} and any(a not in types and a.op != "phi" for a in i.args):
        return set()  # (nil so far: wait for the other operands, a scalar makes it optional; phis may form cycles)
    if "p" in got2 and got2 <= {"p", "n"}:
        ts = {ty.objs.get(a) for a in i.args if types.get(a) == "p" and a in ty.objs}
        if len(ts) == 1:
            ty.objs[i] = ts.pop()
        ty.heap = True
        return {"p"}
    if len(got2) == 1:
        return got2
    sc = got2 - {"n"}
    if "n" in got2 and len(sc) == 1:
        s = sc.pop()
        if s in ("i", "f", "b"):
            return {"q" + s}
        if s in OPT:
            return {s}
    return got


def _edge_type(phi: Instr, k: int, types: dict) -> str:
    """The type of phi's k-th operand on its edge: nil where the edge proved it nil, a
    scalar where it proved an optional scalar not nil."""
    a = phi.args[k]
    t = types[a]
    got = _proved(phi, k)
    if got is not None and got[0] is a:
        if got[1] and t == "p":
            return "n"
        if not got[1] and t in OPT:
            return OPT[t]
    return t


def _proved(phi: Instr, k: int) -> tuple[Instr, bool] | None:
    """(x, is_nil) when the edge of phi's k-th operand is the branch on `x == nil` (or `!=`) proving it."""
    b = phi.block
    pred = b.preds[k]
    t = pred.terminator
    if t is None or t.op != "branch" or len(t.targets) != 2 or t.targets[0] is t.targets[1]:
        return None
    c = t.args[0]
    if c.op not in ("eq", "ne") or len(c.args) != 2:
        return None
    x, y = c.args
    if x.op == "const" and x.attrs and x.attrs[0] is None:
        x, y = y, x
    if not (y.op == "const" and y.attrs and y.attrs[0] is None):
        return None
    taken = t.targets[0] is b
    return x, taken == (c.op == "eq")


def compare_type(i: Instr, a: list, ty: Any) -> str | None:
    """`==`/`!=` with an object or an optional scalar and nil (or two objects): "b"; None if not one."""
    from .select import NotEligible

    s = set(a)
    if "p" in s and s <= {"p", "n"}:
        ty.heap = True  # (None's symbol; the types of two objects)
        return "b"
    if s & set(OPT):
        if len(s) == 2 and "n" in s:
            return "b"
        raise NotEligible(f"{i.op} of an optional scalar with something else than nil")
    return None


def return_ok(got: str | None, ret: str) -> bool:
    """A nil constant may be returned as a "p" result."""
    return got == ret or got == "n" and ret == "p"


def throw_blocks(fn: Function) -> set:
    """The blocks that end in `throw` (failure exits: not typed)."""
    return {b for b in fn.blocks if b.terminator is not None and b.terminator.op == "throw"}


_SCALAR_ARRAYS = {"ai": "[int]", "af": "[float]", "ab": "[bool]"}


def arg_ok(meth: Any, k: int, m: str, ty: Any) -> bool:
    """Whether argument k (0: the receiver) of machine type m may go to a
    native method call: a scalar, an array of scalars for a parameter
    declared so, a "p" (or nil) for a parameter declared `C` or `C?`, C a class."""
    from ...bytecode.types import ClassT, OptionalT, parse_type_text

    if m in ("i", "f", "b"):
        return True
    types = meth.code.local_types
    text = types[k + 1] if k + 1 < len(types) else ""
    if m in _SCALAR_ARRAYS:  # (an array of scalars declared as such: the callee reads it as its own parameter)
        return _SCALAR_ARRAYS[m] == text.replace(" ", "")
    if m not in ("p", "n"):
        return False
    try:
        t = parse_type_text(text) if text else None
    except Exception:  # noqa: BLE001 - a type text this reader does not know
        return False
    c = strip(t)
    if not isinstance(c, ClassT) or ty.field_type is None or getattr(ty.field_type, "cls", None) is None:
        return False
    if m == "n":
        return isinstance(t, OptionalT)
    cls = ty.field_type.cls(c.name)
    if cls is None or ty.classes.setdefault(f"tvm.cls.{cls.name}", cls) is not cls:
        return False
    ty.heap = True
    return True


# ---------------------------------------------------------------- emit.py


def operand(em: Any, v: Instr, want: str) -> str:
    """v as machine type `want`: a nil constant as None's address where an object is expected."""
    t = em.ty.types.get(v)
    if t == "n" and want not in ("n", "b") and want not in OPT:
        return NONE
    return em.val(v)


def phi_operand(em: Any, phi: Instr, k: int, pred_label: str) -> str:
    """The incoming value of phi's k-th operand (emit.py writes the phi lines)."""
    types = em.ty.types
    want = types[phi]
    a = phi.args[k]
    if want not in OPT:
        x = plain_operand(em, phi, k)
        return x if x is not None else operand(em, a, want)
    t = _edge_type(phi, k, types)
    if t == "n":
        return f"{{ {_ZERO[OPT[want]]}, i1 true }}"
    if t == want:
        return em.val(a)
    return em.opt_edges[(phi, k)]  # (a scalar paired with false: made in the predecessor, pair_edges)


def pair_edges(em: Any, b: Any) -> None:
    """Before block b's terminator: the pairs its successors' optional-scalar
    phis take from it ({x, false} of a scalar x), and the scalars they take
    from an optional operand proved not nil (extractvalue)."""
    types = em.ty.types
    if not hasattr(em, "opt_edges"):
        em.opt_edges = {}
    for s in b.succs:
        for p in s.phis:
            for k, a in enumerate(p.args):
                if s.preds[k] is not b:
                    continue
                want, t = types.get(p), types.get(a)
                if want in OPT and _edge_type(p, k, types) == OPT[want] and t == OPT[want]:
                    r = em.tmp("opt")
                    em.lines.append(f"  {r} = insertvalue {LLOPT[want]} {{ {_ZERO[t]}, i1 false }}, {LLTYPE_OF[t]} {em.val(a)}, 0")
                    em.opt_edges[(p, k)] = r
                elif t in OPT and want == OPT[t]:
                    r = em.tmp("val")
                    em.lines.append(f"  {r} = extractvalue {LLOPT[t]} {em.val(a)}, 0")
                    em.opt_edges[(p, k)] = r


LLTYPE_OF = {"i": "i64", "f": "double", "b": "i1"}


def plain_operand(em: Any, phi: Instr, k: int) -> str | None:
    """A scalar phi's operand taken from an optional one (pair_edges made it), or None."""
    t = em.ty.types.get(phi.args[k])
    if t in OPT and em.ty.types.get(phi) == OPT[t]:
        return em.opt_edges[(phi, k)]
    return None


def compare(em: Any, i: Instr) -> bool:
    """Lower `==`/`!=` of objects or optional scalars (compare_type); False if i is not one."""
    types = em.ty.types
    a, b = i.args
    ta, tb = types.get(a), types.get(b)
    r = f"%v{i.id}"
    L = em.lines
    if ta in OPT or tb in OPT:
        q = a if ta in OPT else b
        nil = em.tmp("isnil")
        L.append(f"  {nil} = extractvalue {LLOPT[types[q]]} {em.val(q)}, 1")
        L.append(f"  {r} = {'or' if i.op == 'eq' else 'xor'} i1 {nil}, {'false' if i.op == 'eq' else 'true'}")
        return True
    if "p" not in (ta, tb):
        return False
    pred = "eq" if i.op == "eq" else "ne"
    if "n" in (ta, tb):
        x = a if ta == "p" else b
        L.append(f"  {r} = icmp {pred} i64 {em.val(x)}, {NONE}")
        return True
    # Two objects: the address compare is the answer when each is an
    # instance or nil (identity); a record (structural, deep) or anything
    # else reached through `any`: the interpreter's own `==`, called back
    # (`_equals`: eq has no frame state to leave at, and cannot fail).
    arr = em._arrays()
    oks = []
    for x in (a, b):
        w = em.val(x)
        t, inst, isnone, ok = arr.load(w, arr.lay.type), em.tmp("cls"), em.tmp("isn"), em.tmp("okc")
        L.append(f'  {inst} = load i64, i64* @"tvm.ty.Instance", !invariant.load !90')
        L.append(f"  {isnone} = icmp eq i64 {w}, {NONE}")
        c = em.tmp("isi")
        L.append(f"  {c} = icmp eq i64 {t}, {inst}")
        from .layout import probe_slots

        sl = probe_slots()[0]
        if sl is not None:  # (a laid-out instance, any shape: its type's base is SlotInstance; identity too)
            base, isl, c2 = arr.load(t, sl.tp_base), em.tmp("isl"), em.tmp("isi")
            L.append(f'  {isl} = icmp eq i64 {base}, ptrtoint (i8* @tvm_obj_slotinstance to i64)')
            L.append(f"  {c2} = or i1 {c}, {isl}")
            c = c2
        L.append(f"  {ok} = or i1 {c}, {isnone}")
        oks.append(ok)
    both, same, slow, join, called, deep = em.tmp(), em.tmp("same"), em.tmp("deq")[1:], em.tmp("eqj")[1:], em.tmp("deep"), em.tmp("deep")
    start = em.cur
    L.append(f"  {both} = and i1 {oks[0]}, {oks[1]}")
    L.append(f"  {same} = icmp eq i64 {em.val(a)}, {em.val(b)}")
    L.append(f"  br i1 {both}, label %{join}, label %{slow}")
    em.label(slow)
    L.append(f"  {called} = call i32 @tvm_obj_equals(i64 {em.val(a)}, i64 {em.val(b)})")
    L.append(f"  {deep} = icmp ne i32 {called}, 0")
    L.append(f"  br label %{join}")
    em.label(join)
    eq = em.tmp("eq")
    L.append(f"  {eq} = phi i1 [ {same}, %{start} ], [ {deep}, %{slow} ]")
    L.append(f"  {r} = xor i1 {eq}, {'false' if i.op == 'eq' else 'true'}")
    return True


def guard_args(em: Any, i: Instr, meth: Any, es: Any) -> None:
    """Before a native method call: each object argument is nil (a `C?`
    parameter) or an instance of exactly C, else the call leaves (es: the
    call out's state) and the VM makes it with its own checks."""
    from ...bytecode.types import OptionalT, parse_type_text

    types = em.ty.types
    arr = em._arrays()
    L = em.lines
    bads = []
    for k, x in enumerate(i.args[1:], start=1):
        if types.get(x) != "p":
            continue
        t = parse_type_text(meth.code.local_types[k + 1])
        c = strip(t)
        w = em.val(x)
        isi, cl, want, same, ok = em.tmp("isi"), em.tmp("oc"), em.tmp("want"), em.tmp("same"), em.tmp("argok")
        # (an object's class word is read only once it is known to be an Instance)
        tw = arr.load(w, arr.lay.type)
        from .slots import is_instance_of

        L.append(f"  {isi} = or i1 {is_instance_of(em, tw, c)}, false")  # (c's shape, or Instance when c is not laid out)
        lbl, join = em.tmp("argcls")[1:], em.tmp("argj")[1:]
        start = em.cur
        L.append(f"  br i1 {isi}, label %{lbl}, label %{join}")
        em.label(lbl)
        cl = arr.load(w, _instance_cls())
        L.append(f'  {want} = load i64, i64* @"tvm.cls.{c.name}", !invariant.load !90')
        L.append(f"  {same} = icmp eq i64 {cl}, {want}")
        L.append(f"  br label %{join}")
        em.label(join)
        L.append(f"  {ok} = phi i1 [ false, %{start} ], [ {same}, %{lbl} ]")
        if isinstance(t, OptionalT):
            isn, ok2 = em.tmp("isn"), em.tmp("argok")
            L.append(f"  {isn} = icmp eq i64 {w}, {NONE}")
            L.append(f"  {ok2} = or i1 {ok}, {isn}")
            ok = ok2
        bads.append(ok)
    if not bads:
        return
    acc = bads[0]
    for o in bads[1:]:
        n = em.tmp("argok")
        L.append(f"  {n} = and i1 {acc}, {o}")
        acc = n
    bad = em.tmp("argbad")
    L.append(f"  {bad} = xor i1 {acc}, true")
    em.exit_to(bad, es)


def _instance_cls() -> int:
    from .fields import field_layout

    return field_layout().instance_cls


def throw_exit(em: Any, b: Any) -> bool:
    """Lower block b as a failure exit if it ends in `throw` (True), at the
    pc of its first instruction with a frame state: the interpreter builds
    and throws the error there. Fuel ops before it count as usual."""
    from .deopt import exit_state
    from .select import NotEligible

    t = b.terminator
    if t is None or t.op != "throw":
        return False
    for i in b.instrs:
        if i.op == "fuel":
            em.fuel(i)
            continue
        if i.state is not None:
            em.exit_to("true", exit_state(i.state, em.ty.types, reason=THROW))
            em.lines.append("  unreachable")
            return True
        if i.op not in ("const", "builtin"):
            raise NotEligible(f"a throwing block computes {i.op} before its first frame state")
    if t.state is None:
        raise NotEligible("a throw without a frame state")
    em.exit_to("true", exit_state(t.state, em.ty.types, reason=THROW))
    em.lines.append("  unreachable")
    return True
