"""`Heap.trace`'s loop in machine code (`tvm.mark`), for a VM with the native tier: the heap objects whose size and references it knows.

    i64 tvm.mark(stack, colour, objs, kids, Array, int, float, bool, list, None,
                 Function, ModuleObject, Native, SlotInstance, tuple, Class, dict)

pops the stack (a Python list of marked objects: `Heap._trace_native`)
until it is empty. For each object it knows -- the kinds below -- it adds
the bytes `size()` says and visits the references `refs()` gives, in
machine code; any other object goes to `objs`, for the Python loop to
visit as `trace` always did. Its return is the bytes it counted, or -1
with a Python error set (an append without memory: raised, as the Python
loop's own append would).

The objects it knows, and what their Python methods say (heap/objects.py,
heap/layout.py; `tests/jit/native/test_gc_differential.py` compares the
two on random heaps of every kind):

- an exact `Array` whose items are a list: ARRAY_BASE + 8n + n/8, its
  elements;
- a `Function` (exact, or a subclass adding no slot and keeping its
  methods: AsyncFunction, GeneratorFunction): HEADER + CONTAINER + SLOT *
  (10 + upvals + code_pad), its upvals (a tuple), `module`, `owner` unless
  None;
- a `ModuleObject` (exact) whose globals are a list: HEADER + CONTAINER +
  SLOT * n, its globals;
- a `Native` (exact, or BlockingNative): HEADER, nothing;
- a laid-out instance (its type's tp_base SlotInstance: heap/layout.py):
  HEADER + CONTAINER + FIELD per slot, each slot (a reference slot's
  object; a raw int slot's int, INT_BYTES unless -5..256; a raw bool
  nothing), then `cls`;
- a `Class` (exact) whose methods, own_methods, template and statics are
  exact dicts with combined tables (fields.py's probed layout; unicode or
  general keys) and field_inits a list: HEADER + 4 * CONTAINER + FIELD *
  (methods + own_methods + template entries), the values of methods,
  template and statics, field_inits, `parent` unless None.

A reference (`visit`) is treated as `trace`'s loop treats it: None and
bools nothing, an int INT_BYTES unless -5..256 (one digit and its sign), a
float FLOAT_BYTES; an object of a kind above not yet `colour` is painted
and pushed (its mark at 16: every HeapObject's); anything else (a string:
counted once per object by the Python loop's set; a Class, a Map, a
Record, a Cell...) goes to `kids`. The Python loop then visits `objs` and `kids`
(it may push more: the machine loop runs again).

Why: after the sweep went to machine code, tracing the program's own
objects -- its functions, natives, classes, modules and the instances
alive at the collection -- was half of a Bounce collection (~100 us for
~260 objects and ~800 references, ~340 ns an object in Python). A type
table rather than a test per kind would need a dict lookup per object:
these tests are loads of the type word.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .layout import MEMBER_OFFSET, MEMBER_SIZE, MEMBER_TYPE, T_OBJECT_EX

NAME = "tvm.mark"
# What mk.visit and mk.items take beyond their own operands (the colour,
# the stack and kids lists, the types they test).
ARGS = "i64 %colour, i64 %stack, i64 %kids, i64 %arrty, i64 %long, i64 %float, i64 %bool, i64 %none, i64 %fnty, i64 %modty, i64 %natty, i64 %slotinst, i64 %classty"
MARK, ITEMS = 16, 24  # (sweep.py's: HeapObject.mark, Array.items)
T_LONGLONG, T_BOOL = 17, 14  # (a raw int slot, a raw bool slot: layout.py)
TUPLE_SIZE, TUPLE_ITEMS = 16, 24  # (a tuple's ob_size; its items inline)
DICT_USED = 16  # (PyDictObject.ma_used: len(d); fields.py's probe checks the rest of the layout)


class Kinds(NamedTuple):
    """The offsets the mark reads beyond an Array's: a type's tp_base and
    tp_members, a laid-out instance's `cls` slot, a Function's upvals,
    code_pad, module and owner slots, a ModuleObject's globals slot, a
    Class's dicts, field_inits and parent."""

    tp_base: int
    tp_members: int
    cls: int
    fn_upvals: int
    fn_pad: int
    fn_module: int
    fn_owner: int
    mod_globals: int
    cls_methods: int
    cls_own: int
    cls_template: int
    cls_inits: int
    cls_statics: int
    cls_parent: int


def kinds() -> Kinds | None:
    """The offsets, read from the types' own tp_members (layout.py's
    probe), or None when they cannot be: the mark then knows Arrays only."""
    from ...heap.objects import Class, Function, ModuleObject
    from .fields import _dict_layout_ok
    from .layout import _members, _word, probe_members, probe_slots

    tp_members, slots = probe_members(), probe_slots()[0]
    if tp_members is None or slots is None or not _dict_layout_ok():
        return None

    def offsets(t: type) -> dict[str, int]:
        return {name: off for off, (name, kind) in _members(_word(id(t), tp_members)).items() if kind == T_OBJECT_EX}

    try:
        fn, mod, c = offsets(Function), offsets(ModuleObject), offsets(Class)
        return Kinds(slots.tp_base, tp_members, slots.cls, fn["upvals"], fn["code_pad"], fn["module"], fn["owner"], mod["globals"], c["methods"], c["own_methods"], c["template"], c["field_inits"], c["statics"], c["parent"])
    except (KeyError, ValueError):
        return None


def _dispatch(k: Kinds | None) -> str:
    """From label `other` of the popped object `%o` (type `%t`, not an
    Array with a list): the kinds' tests, on to their blocks or `defer`."""
    if k is None:
        return "  br label %defer"
    return f"""  %tb = call i64 @sw.word(i64 %t, i64 {k.tp_base})
  %fn1 = icmp eq i64 %t, %fnty
  %fn2 = icmp eq i64 %tb, %fnty
  %isfn = or i1 %fn1, %fn2
  br i1 %isfn, label %func, label %kd2
kd2:
  %ismod = icmp eq i64 %t, %modty
  br i1 %ismod, label %module, label %kd3
kd3:
  %nat1 = icmp eq i64 %t, %natty
  %nat2 = icmp eq i64 %tb, %natty
  %isnat = or i1 %nat1, %nat2
  br i1 %isnat, label %native, label %kd4
kd4:
  %isshape = icmp eq i64 %tb, %slotinst
  br i1 %isshape, label %shape, label %kd5
kd5:
  %iscls = icmp eq i64 %t, %classty
  br i1 %iscls, label %class, label %defer"""


def _kinds_blocks(k: Kinds | None, list_size: int, list_item: int) -> str:
    """The blocks of the kinds `_dispatch` sends objects to; each ends at
    `done` with `%kb` (its bytes) or at `err`."""
    if k is None:
        return ""
    from ...heap.objects import CONTAINER, FIELD, HEADER, INT_BYTES, SLOT

    return f"""func:
  %up = call i64 @sw.word(i64 %o, i64 {k.fn_upvals})
  %pad = call i64 @sw.word(i64 %o, i64 {k.fn_pad})
  %upt = call i64 @sw.word(i64 %up, i64 8)
  %padt = call i64 @sw.word(i64 %pad, i64 8)
  %upok = icmp eq i64 %upt, %tuplety
  %padok = icmp eq i64 %padt, %list
  %fnok = and i1 %upok, %padok
  br i1 %fnok, label %func1, label %defer
func1:
  %nu = call i64 @sw.word(i64 %up, i64 {TUPLE_SIZE})
  %np = call i64 @sw.word(i64 %pad, i64 {list_size})
  %nup = add i64 %nu, %np
  %nup8 = shl i64 %nup, 3
  %fsz = add i64 %nup8, {HEADER + CONTAINER + SLOT * 10}
  %upv = add i64 %up, {TUPLE_ITEMS}
  %fb1 = call i64 @mk.items(i64 %upv, i64 %nu, {ARGS})
  %fe1 = icmp slt i64 %fb1, 0
  br i1 %fe1, label %err, label %func2, !prof !0
func2:
  %fmod = call i64 @sw.word(i64 %o, i64 {k.fn_module})
  %fb2 = call i64 @mk.visit(i64 %fmod, {ARGS})
  %fown = call i64 @sw.word(i64 %o, i64 {k.fn_owner})
  %fb3 = call i64 @mk.visit(i64 %fown, {ARGS})
  %fe2 = icmp slt i64 %fb2, 0
  %fe3 = icmp slt i64 %fb3, 0
  %fe = or i1 %fe2, %fe3
  %fs1 = add i64 %fsz, %fb1
  %fs2 = add i64 %fs1, %fb2
  %fs3 = add i64 %fs2, %fb3
  br i1 %fe, label %err, label %done, !prof !0
module:
  %gl = call i64 @sw.word(i64 %o, i64 {k.mod_globals})
  %glt = call i64 @sw.word(i64 %gl, i64 8)
  %glok = icmp eq i64 %glt, %list
  br i1 %glok, label %module1, label %defer
module1:
  %ng = call i64 @sw.word(i64 %gl, i64 {list_size})
  %gv = call i64 @sw.word(i64 %gl, i64 {list_item})
  %ng8 = shl i64 %ng, 3
  %msz = add i64 %ng8, {HEADER + CONTAINER}
  %mb = call i64 @mk.items(i64 %gv, i64 %ng, {ARGS})
  %me = icmp slt i64 %mb, 0
  %ms = add i64 %msz, %mb
  br i1 %me, label %err, label %done, !prof !0
native:
  br label %done
shape:
  %mem0 = call i64 @sw.word(i64 %t, i64 {k.tp_members})
  br label %member
member:
  %mem = phi i64 [%mem0, %shape], [%mem1, %mnext]
  %sacc = phi i64 [{HEADER + CONTAINER}, %shape], [%sacc1, %mnext]
  %mname = call i64 @sw.word(i64 %mem, i64 0)
  %mend = icmp eq i64 %mname, 0
  br i1 %mend, label %scls, label %mtype
mtype:
  %ptyp = add i64 %mem, {MEMBER_TYPE}
  %qtyp = inttoptr i64 %ptyp to i32*
  %typ = load i32, i32* %qtyp
  %moff = call i64 @sw.word(i64 %mem, i64 {MEMBER_OFFSET})
  %isref = icmp eq i32 %typ, {T_OBJECT_EX}
  br i1 %isref, label %mref, label %mraw
mref:
  %mv = call i64 @sw.word(i64 %o, i64 %moff)
  %mvb = call i64 @mk.visit(i64 %mv, {ARGS})
  %mve = icmp slt i64 %mvb, 0
  br i1 %mve, label %err, label %mnext, !prof !0
mraw:
  %isint = icmp eq i32 %typ, {T_LONGLONG}
  %raw = call i64 @sw.word(i64 %o, i64 %moff)
  %rlo = icmp sge i64 %raw, -5
  %rhi = icmp sle i64 %raw, 256
  %rsmall = and i1 %rlo, %rhi
  %rbig = xor i1 %rsmall, 1
  %rcount = and i1 %isint, %rbig
  %rb = select i1 %rcount, i64 {INT_BYTES}, i64 0
  br label %mnext
mnext:
  %madd = phi i64 [%mvb, %mref], [%rb, %mraw]
  %sacc0 = add i64 %sacc, {FIELD}
  %sacc1 = add i64 %sacc0, %madd
  %mem1 = add i64 %mem, {MEMBER_SIZE}
  br label %member
scls:
  %scl = call i64 @sw.word(i64 %o, i64 {k.cls})
  %sb = call i64 @mk.visit(i64 %scl, {ARGS})
  %se = icmp slt i64 %sb, 0
  %ss = add i64 %sacc, %sb
  br i1 %se, label %err, label %done, !prof !0
class:
  %cm = call i64 @sw.word(i64 %o, i64 {k.cls_methods})
  %co = call i64 @sw.word(i64 %o, i64 {k.cls_own})
  %ct = call i64 @sw.word(i64 %o, i64 {k.cls_template})
  %cs = call i64 @sw.word(i64 %o, i64 {k.cls_statics})
  %cf = call i64 @sw.word(i64 %o, i64 {k.cls_inits})
  %ok1 = call i1 @mk.plain(i64 %cm, i64 %dictty)
  %ok2 = call i1 @mk.plain(i64 %co, i64 %dictty)
  %ok3 = call i1 @mk.plain(i64 %ct, i64 %dictty)
  %ok4 = call i1 @mk.plain(i64 %cs, i64 %dictty)
  %cft = call i64 @sw.word(i64 %cf, i64 8)
  %ok5 = icmp eq i64 %cft, %list
  %ok12 = and i1 %ok1, %ok2
  %ok34 = and i1 %ok3, %ok4
  %ok1234 = and i1 %ok12, %ok34
  %okall = and i1 %ok1234, %ok5
  br i1 %okall, label %class1, label %defer
class1:
  %um = call i64 @sw.word(i64 %cm, i64 {DICT_USED})
  %uo = call i64 @sw.word(i64 %co, i64 {DICT_USED})
  %ut = call i64 @sw.word(i64 %ct, i64 {DICT_USED})
  %u1 = add i64 %um, %uo
  %u2 = add i64 %u1, %ut
  %u3 = mul i64 %u2, {FIELD}
  %csz = add i64 %u3, {HEADER + 4 * CONTAINER}
  %cb1 = call i64 @mk.dict(i64 %cm, {ARGS})
  %cb2 = call i64 @mk.dict(i64 %ct, {ARGS})
  %cb3 = call i64 @mk.dict(i64 %cs, {ARGS})
  %nfi = call i64 @sw.word(i64 %cf, i64 {list_size})
  %vfi = call i64 @sw.word(i64 %cf, i64 {list_item})
  %cb4 = call i64 @mk.items(i64 %vfi, i64 %nfi, {ARGS})
  %cpar = call i64 @sw.word(i64 %o, i64 {k.cls_parent})
  %cb5 = call i64 @mk.visit(i64 %cpar, {ARGS})
  %ce12 = or i64 %cb1, %cb2
  %ce34 = or i64 %cb3, %cb4
  %ce1234 = or i64 %ce12, %ce34
  %ceall = or i64 %ce1234, %cb5
  %ce = icmp slt i64 %ceall, 0
  %cs1 = add i64 %csz, %cb1
  %cs2 = add i64 %cs1, %cb2
  %cs3 = add i64 %cs2, %cb3
  %cs4 = add i64 %cs3, %cb4
  %cs5 = add i64 %cs4, %cb5
  br i1 %ce, label %err, label %done, !prof !0"""


def text(list_size: int, list_item: int, k: Kinds | None) -> str:
    """`tvm.mark` and its helpers (the sweep's `sw.*` helpers are defined in
    the same module: sweep.py's `_text`)."""
    from ...heap.objects import ARRAY_BASE, FLOAT_BYTES, HEADER, INT_BYTES
    from .fields import _DK_INDICES as DK_INDICES, _DK_KIND as DK_KIND, _DK_LOG2_INDEX as DK_LOG2_INDEX, _DK_NENTRIES as DK_NENTRIES, _MA_KEYS as MA_KEYS, _MA_VALUES as MA_VALUES

    kinds_done = "" if k is None else f", [%fs3, %func2], [%ms, %module1], [{HEADER}, %native], [%ss, %scls], [%cs5, %class1]"
    blocks = _kinds_blocks(k, list_size, list_item)
    return f"""
; a reference met by the mark: its bytes (>= 0), or -1 with an error set
define internal i64 @mk.visit(i64 %c, {ARGS}) alwaysinline {{
entry:
  %isnone = icmp eq i64 %c, %none
  %isnull = icmp eq i64 %c, 0
  %nothing = or i1 %isnone, %isnull
  br i1 %nothing, label %zero, label %ctype
ctype:
  %tc = call i64 @sw.word(i64 %c, i64 8)
  %tarr = icmp eq i64 %tc, %arrty
  br i1 %tarr, label %obj, label %ct1
ct1:
  %tint = icmp eq i64 %tc, %long
  br i1 %tint, label %int, label %ct2
ct2:
  %tflt = icmp eq i64 %tc, %float
  br i1 %tflt, label %flt, label %ct3
ct3:
  %tbool = icmp eq i64 %tc, %bool
  br i1 %tbool, label %zero, label %ct4
ct4:
{_paintable(k)}
int:
  %isz = call i64 @sw.word(i64 %c, i64 16)
  %iz = icmp eq i64 %isz, 0
  br i1 %iz, label %zero, label %int1
int1:
  %pd = add i64 %c, 24
  %qd = inttoptr i64 %pd to i32*
  %d = load i32, i32* %qd
  %pos = icmp eq i64 %isz, 1
  %neg = icmp eq i64 %isz, -1
  %dsmallp = icmp ule i32 %d, 256
  %dsmalln = icmp ule i32 %d, 5
  %sp = and i1 %pos, %dsmallp
  %sn = and i1 %neg, %dsmalln
  %small = or i1 %sp, %sn
  %iadd = select i1 %small, i64 0, i64 {INT_BYTES}
  ret i64 %iadd
flt:
  ret i64 {FLOAT_BYTES}
obj:
  %m = call i64 @sw.word(i64 %c, i64 {MARK})
  %nomark = icmp eq i64 %m, 0
  br i1 %nomark, label %other, label %cmp, !prof !0
cmp:
  %s = call i32 @sw.same(i64 %m, i64 %colour, i64 %long)
  switch i32 %s, label %err [ i32 1, label %zero
                              i32 0, label %paint ]
paint:
  call void @sw.inc(i64 %colour)
  %pm = add i64 %c, {MARK}
  %qm = inttoptr i64 %pm to i64*
  store i64 %colour, i64* %qm
  call void @sw.dec(i64 %m)
  %r1 = call i32 @PyList_Append(i64 %stack, i64 %c)
  %b1 = icmp ne i32 %r1, 0
  br i1 %b1, label %err, label %zero, !prof !0
other:
  %r2 = call i32 @PyList_Append(i64 %kids, i64 %c)
  %b2 = icmp ne i32 %r2, 0
  br i1 %b2, label %err, label %zero, !prof !0
zero:
  ret i64 0
err:
  ret i64 -1
}}

; an exact dict with a combined table of unicode (16-byte entries) or general
; (24-byte) keys: what `values()` of it reads directly (others: the Python loop)
define internal i1 @mk.plain(i64 %d, i64 %dictty) alwaysinline {{
entry:
  %t = call i64 @sw.word(i64 %d, i64 8)
  %isd = icmp eq i64 %t, %dictty
  br i1 %isd, label %table, label %no
table:
  %vals = call i64 @sw.word(i64 %d, i64 {MA_VALUES})
  %comb = icmp eq i64 %vals, 0
  %keys = call i64 @sw.word(i64 %d, i64 {MA_KEYS})
  %pk = add i64 %keys, {DK_KIND}
  %qk = inttoptr i64 %pk to i8*
  %kind = load i8, i8* %qk
  %small = icmp ule i8 %kind, 1
  %ok = and i1 %comb, %small
  ret i1 %ok
no:
  ret i1 0
}}

; the values of a dict `mk.plain` accepted: their bytes, or -1
define internal i64 @mk.dict(i64 %d, {ARGS}) alwaysinline {{
entry:
  %keys = call i64 @sw.word(i64 %d, i64 {MA_KEYS})
  %pk = add i64 %keys, {DK_KIND}
  %qk = inttoptr i64 %pk to i8*
  %kind = load i8, i8* %qk
  %pl = add i64 %keys, {DK_LOG2_INDEX}
  %ql = inttoptr i64 %pl to i8*
  %lib = load i8, i8* %ql
  %lz = zext i8 %lib to i64
  %isz = shl i64 1, %lz
  %e0 = add i64 %keys, {DK_INDICES}
  %ent = add i64 %e0, %isz
  %uni = icmp eq i8 %kind, 1
  %stride = select i1 %uni, i64 16, i64 24
  %voff = select i1 %uni, i64 8, i64 16
  %n = call i64 @sw.word(i64 %keys, i64 {DK_NENTRIES})
  %vals = add i64 %ent, %voff
  %b = call i64 @mk.each(i64 %vals, i64 %n, i64 %stride, {ARGS})
  ret i64 %b
}}

; the n references at %kv (a list's or a tuple's items): their bytes, or -1
define internal i64 @mk.items(i64 %kv, i64 %n, {ARGS}) alwaysinline {{
  %b = call i64 @mk.each(i64 %kv, i64 %n, i64 8, {ARGS})
  ret i64 %b
}}

; the n references at %kv, %kv + stride, ...: their bytes, or -1
define internal i64 @mk.each(i64 %kv, i64 %n, i64 %stride, {ARGS}) alwaysinline {{
entry:
  br label %each
each:
  %j = phi i64 [0, %entry], [%j1, %step]
  %acc = phi i64 [0, %entry], [%acc1, %step]
  %more = icmp slt i64 %j, %n
  br i1 %more, label %child, label %end
child:
  %joff = mul i64 %j, %stride
  %c = call i64 @sw.word(i64 %kv, i64 %joff)
  %b = call i64 @mk.visit(i64 %c, {ARGS})
  %bad = icmp slt i64 %b, 0
  br i1 %bad, label %err, label %step, !prof !0
step:
  %acc1 = add i64 %acc, %b
  %j1 = add i64 %j, 1
  br label %each
end:
  ret i64 %acc
err:
  ret i64 -1
}}

define i64 @{NAME}(i64 %stack, i64 %colour, i64 %objs, i64 %kids, i64 %arrty, i64 %long, i64 %float, i64 %bool, i64 %list, i64 %none, i64 %fnty, i64 %modty, i64 %natty, i64 %slotinst, i64 %tuplety, i64 %classty, i64 %dictty) {{
entry:
  br label %loop
loop:
  %tot = phi i64 [0, %entry], [%tot, %defer], [%tot2, %done]
  %n = call i64 @sw.word(i64 %stack, i64 {list_size})
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %end, label %pop
pop:
  %vec = call i64 @sw.word(i64 %stack, i64 {list_item})
  %n1 = sub i64 %n, 1
  %off = shl i64 %n1, 3
  %o = call i64 @sw.word(i64 %vec, i64 %off)
  %ps = add i64 %stack, {list_size}
  %qs = inttoptr i64 %ps to i64*
  store i64 %n1, i64* %qs
  %t = call i64 @sw.word(i64 %o, i64 8)
  %isarr = icmp eq i64 %t, %arrty
  br i1 %isarr, label %items, label %other
items:
  %it = call i64 @sw.word(i64 %o, i64 {ITEMS})
  %hasit = icmp ne i64 %it, 0
  br i1 %hasit, label %itype, label %defer
itype:
  %ti = call i64 @sw.word(i64 %it, i64 8)
  %islist = icmp eq i64 %ti, %list
  br i1 %islist, label %array, label %defer
other:
{_dispatch(k)}
defer:
  %r0 = call i32 @PyList_Append(i64 %objs, i64 %o)
  call void @sw.dec(i64 %o)
  %b0 = icmp ne i32 %r0, 0
  br i1 %b0, label %err, label %loop, !prof !0
array:
  %k = call i64 @sw.word(i64 %it, i64 {list_size})
  %kv = call i64 @sw.word(i64 %it, i64 {list_item})
  %k8 = shl i64 %k, 3
  %k3 = lshr i64 %k, 3
  %sz0 = add i64 %k8, {ARRAY_BASE}
  %sz = add i64 %sz0, %k3
  %ab = call i64 @mk.items(i64 %kv, i64 %k, {ARGS})
  %ae = icmp slt i64 %ab, 0
  %as = add i64 %sz, %ab
  br i1 %ae, label %err, label %done, !prof !0
{blocks}
done:
  %kb = phi i64 [%as, %array]{kinds_done}
  %tot2 = add i64 %tot, %kb
  call void @sw.dec(i64 %o)
  br label %loop
end:
  ret i64 %tot
err:
  ret i64 -1
}}
"""


def _paintable(k: Kinds | None) -> str:
    """From `ct4` of `mk.visit`: a reference of a kind the mark knows
    (beyond Array, tested before) to label `obj`, anything else to
    `other` (`kids`)."""
    if k is None:
        return "  br label %other"
    return f"""  %ctb = call i64 @sw.word(i64 %tc, i64 {k.tp_base})
  %p1 = icmp eq i64 %tc, %fnty
  %p2 = icmp eq i64 %ctb, %fnty
  %p3 = icmp eq i64 %tc, %modty
  %p4 = icmp eq i64 %tc, %natty
  %p5 = icmp eq i64 %ctb, %natty
  %p6 = icmp eq i64 %ctb, %slotinst
  %p12 = or i1 %p1, %p2
  %p34 = or i1 %p3, %p4
  %p7 = icmp eq i64 %tc, %classty
  %p56 = or i1 %p5, %p6
  %p567 = or i1 %p56, %p7
  %p1234 = or i1 %p12, %p34
  %pall = or i1 %p1234, %p567
  br i1 %pall, label %obj, label %other"""


def args() -> tuple[Any, ...]:
    """The types `tvm.mark` takes after (stack, colour, objs, kids)."""
    from ...heap.layout import SlotInstance
    from ...heap.objects import Array, Class, Function, ModuleObject, Native

    return (Array, int, float, bool, list, None, Function, ModuleObject, Native, SlotInstance, tuple, Class, dict)
