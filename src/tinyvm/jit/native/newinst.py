"""Instances native code makes inline: `Heap.alloc(Instance(cls, dict(cls.template)))` in machine code.

construct.py makes every instance through `InstanceMaker.make`, a Python
call from C (`PyObject_Vectorcall`): ~0.5 us, and AWFY List makes ~30
per iteration (`_PyEval_EvalFrameDefault` was 10% of its steady-state
profile, docs/native.md "Where the time goes"). arraymaker.py already
makes arrays inline; this module does the same for instances, step by
step what the maker does when it does not refuse:

- `dict(cls.template)`: `PyDict_Copy` of the template (the same copy:
  CPython's dict(d) of an exact dict is its copy, keys table cloned, so
  fields.py's inline reads find each field at its template index);
- `Instance(cls, d)`: `PyType_GenericAlloc` of the Instance type (tracked
  by CPython's GC as the class call's tp_alloc is) with its `cls` slot (a
  new reference to the class), its `fields` slot (the copy) and its
  `mark` slot (`heap.new_mark`, ctx word NEWMARK) set: Instance.__init__
  sets nothing else, and the type has no other slot (checked once,
  `_fits`);
- `Heap.alloc`: `heap.objects.append` by `PyList_Append` (ctx word
  OBJECTS: 0 when arraymaker.py's conditions for the inline path do not
  hold -- another heap class, snapshot numbering), the bytes charged
  against the push budget (ctx word 5), settled into `heap.bytes` when
  native code leaves as the inline arrays' are; the budget covering the
  size is the maker's own condition (`heap.bytes + size > next_gc`:
  refused), so `alloc`'s collection check cannot fire.

Only for a class whose instances cannot gain fields (`open` is false: a
TinyLang class), so the size (`Instance.size()`: HEADER + CONTAINER +
FIELD per template entry) is the one the maker computes. Anything else --
the budget short, the path off, a C call failing (the error cleared) --
takes the maker call, whose refusal rule decides.
"""

from __future__ import annotations

from typing import Any

from .arraymaker import OBJECTS, _word, admit


class Inline:
    """The inline path's result: its instance and the block it ends in."""

    def __init__(self, value: str, block: str, join: str) -> None:
        self.value = value
        self.block = block
        self.label = join

    def join(self, em: Any, slow: str) -> str:
        """After the maker's path (value `slow`): the two paths' phi."""
        L = em.lines
        back = em.cur
        L.append(f"  br label %{self.label}")
        em.label(self.label)
        out = em.tmp("niv")
        L.append(f"  {out} = phi i64 [{self.value}, %{self.block}], [{slow}, %{back}]")
        return out


_FITS: list = []


def _fits(flay: Any) -> bool:
    """Whether an Instance is exactly the slots this module sets: mark at
    16 (barrier.py's probe), cls and fields where fields.py probed them,
    nothing else (no __dict__, no __weakref__)."""
    if not _FITS:
        from ...heap.objects import HeapObject, Instance
        from .arraymaker import _fast
        from .barrier import mark_offset

        ok = (
            _fast()
            and mark_offset()[0] == 16
            and HeapObject.__slots__ == ("mark",)
            and Instance.__slots__ == ("cls", "fields")
            and Instance.__basicsize__ == 40
            and {flay.instance_cls, flay.instance} == {24, 32}
            and Instance.__init__.__code__.co_names == ("cls", "fields")
        )
        _FITS.append(ok)
    return _FITS[0]


def inline_instance(em: Any, cls: Any, c: str, flay: Any) -> Inline | None:
    """Emit the inline path of a construction of `cls` (address in `c`);
    the code after it, the maker's path, is where it goes when it cannot.
    None (nothing emitted) when it does not apply to this class."""
    from ...heap.objects import Instance
    from .fields import _find

    if getattr(cls, "open", True) or not _fits(flay):
        return None
    from .slots import shape_for

    shape = shape_for(em, cls)
    if shape is not None:
        return inline_shape(em, cls, shape, c)
    if getattr(cls, "layout", None):  # (laid out, but native code does not read its slots: the maker's new_instance)
        return None
    try:
        tpl_off = _find(cls, cls.template)
        size = Instance(cls, dict(cls.template)).size()
    except Exception:  # noqa: BLE001 - an unexpected class object: the maker only
        return None
    L = em.lines
    low = em._arrays()
    objs, budget = _word(em, OBJECTS), _word(em, 5)
    fast, slow, done = em.tmp("nifast")[1:], em.tmp("nislow")[1:], em.tmp("nidone")[1:]
    over, off, no = em.tmp(), em.tmp(), em.tmp()
    L.append(f"  {over} = icmp ugt i64 {size}, {budget}")
    L.append(f"  {off} = icmp eq i64 {objs}, 0")
    L.append(f"  {no} = or i1 {over}, {off}")
    L.append(f"  br i1 {no}, label %{slow}, label %{fast}")
    em.label(fast)
    tpl, d, bad, t, inst, bad2 = (
        em.tmp("nitpl"),
        em.tmp("nid"),
        em.tmp(),
        em.tmp("nity"),
        em.tmp("niinst"),
        em.tmp(),
    )
    fail, ok1, ok2, fail2 = (
        em.tmp("nifail")[1:],
        em.tmp("niok")[1:],
        em.tmp("niok")[1:],
        em.tmp("nifail")[1:],
    )
    L.append(
        f"  {tpl} = add i64 {low.load(c, tpl_off)}, 0"
    )  # (Class.template: the class's own, read each time)
    L.append(f"  {d} = call i64 @PyDict_Copy(i64 {tpl})")
    L.append(f"  {bad} = icmp eq i64 {d}, 0")
    L.append(f"  br i1 {bad}, label %{fail}, label %{ok1}")
    em.label(ok1)
    L.append(f'  {t} = load i64, i64* @"tvm.ty.Instance", !invariant.load !90')
    L.append(f"  {inst} = call i64 @PyType_GenericAlloc(i64 {t}, i64 0)")
    L.append(f"  {bad2} = icmp eq i64 {inst}, 0")
    L.append(f"  br i1 {bad2}, label %{fail2}, label %{ok2}")
    em.label(ok2)
    low.incref(c)
    low.store(inst, flay.instance_cls, c)
    low.store(inst, flay.instance, d)  # (the copy's reference: the instance's now)
    good = admit(em, inst, objs, budget, str(size), fail)  # (the mark: _fits checked its offset; a failed append frees the dict and class reference with it)
    L.append(f"  br label %{done}")
    em.label(fail2)
    L.append(f"  call void @tvm.decref(i64 {d})")  # (the copy nobody holds)
    L.append(f"  br label %{fail}")
    em.label(fail)
    L.append(
        "  call void @PyErr_Clear()"
    )  # (the maker tries again, and refuses if it fails too)
    L.append(f"  br label %{slow}")
    em.label(slow)
    return Inline(inst, good, done)


def _raw_defaults(em: Any, low: Any, shape: Any, keys: str, ok: str, fast: str, slow: str) -> dict[int, str]:
    """The value of each raw slot k of a new instance (heap/layout.py "Raw
    slots"), from the template's entry k, in a block of its own before the
    allocation, which ends the block ok's test is in: nil (a field init
    assigns) is 0 (false), an int of at most two digits its value
    (arrays.small_int), a bool its byte; anything else -- a bigger int --
    takes the maker (`slow`), which nothing was allocated for yet.
    {k: SSA name (an i64, or an i8 for a bool)}."""
    from .arrays import _FALSE, _TRUE
    from .fields import _DK_LOG2_INDEX, entries_start
    from .objects import NONE

    L = em.lines
    rawb = em.tmp("nsraw")[1:]
    L.append(f"  br i1 {ok}, label %{rawb}, label %{slow}")
    em.label(rawb)
    base = entries_start(em, keys, low.load(keys, _DK_LOG2_INDEX, "i8"))
    out: dict[int, str] = {-1: base}  # (-1: the entries' start, which the fast path's slot loop reuses)
    good = "true"
    for k, raw in enumerate(shape.RAW):
        if not raw:
            continue
        e = low.load(base, 16 * k + 8)
        nil, fits, val, both = em.tmp(), em.tmp(), em.tmp("nsraw"), em.tmp()
        L.append(f"  {nil} = icmp eq i64 {e}, {NONE}")
        if raw == "i":
            v, mag, _ = low.small_int(e, low.load(e, low.lay.type))
            small = em.tmp()
            L.append(f"  {small} = icmp ule i64 {mag}, 2")
            L.append(f"  {fits} = or i1 {nil}, {small}")
            L.append(f"  {val} = select i1 {nil}, i64 0, i64 {v}")
        else:
            t, f, tf = em.tmp(), em.tmp(), em.tmp()
            L.append(f"  {t} = icmp eq i64 {e}, {_TRUE}")
            L.append(f"  {f} = icmp eq i64 {e}, {_FALSE}")
            L.append(f"  {tf} = or i1 {t}, {f}")
            L.append(f"  {fits} = or i1 {nil}, {tf}")
            L.append(f"  {val} = zext i1 {t} to i8")
        L.append(f"  {both} = and i1 {good}, {fits}")
        good, out[k] = both, val
    L.append(f"  br i1 {good}, label %{fast}, label %{slow}")
    return out


def _reuse_or_alloc(em: Any, low: Any, c: str, t: str, rc_off: int, fail: str) -> str:
    """A new instance of shape `t` for class `c` (our reference; label
    `fail` when none could be made): the last one of the class's recycle
    list (`Class.recycle`, a list when fields.bind made one: the machine
    sweep's dead instances, emptied -- every reference slot, `cls`,
    `fields` and `mark` NULL, as PyType_GenericAlloc leaves them; the raw
    slots' stale words are overwritten by the caller's stores), popped
    without a call, else PyType_GenericAlloc's. The list's other checks
    (its type: None until bound) cost a load and a test per allocation."""
    from .layout import probe

    lay = probe()[0]
    L = em.lines
    isl, has = em.tmp("rcisl"), em.tmp("rchas")
    chk, pop, new, got = (em.tmp(x)[1:] for x in ("rcchk", "rcpop", "rcnew", "rcgot"))
    rl = low.load(c, rc_off)
    L.append(f"  {isl} = icmp eq i64 {low.load(rl, 8)}, ptrtoint (i8* @PyList_Type to i64)")
    L.append(f"  br i1 {isl}, label %{chk}, label %{new}")
    em.label(chk)
    n = low.load(rl, lay.list_size)
    L.append(f"  {has} = icmp sgt i64 {n}, 0")
    L.append(f"  br i1 {has}, label %{pop}, label %{new}")
    em.label(pop)
    n1 = em.tmp("rcn1")
    L.append(f"  {n1} = sub i64 {n}, 1")
    low.store(rl, lay.list_size, n1)  # (ob_size down: the list's reference is ours now)
    vec = low.load(rl, lay.list_item)
    p8, pp = em.tmp(), em.tmp()
    L.append(f"  {p8} = shl i64 {n1}, 3")
    L.append(f"  {pp} = add i64 {vec}, {p8}")
    old = low.load(pp, 0)
    L.append(f"  br label %{got}")
    em.label(new)
    fresh, bad, ok = em.tmp("nsinst"), em.tmp(), em.tmp("nsok")[1:]
    L.append(f"  {fresh} = call i64 @PyType_GenericAlloc(i64 {t}, i64 0)")
    L.append(f"  {bad} = icmp eq i64 {fresh}, 0")
    L.append(f"  br i1 {bad}, label %{fail}, label %{ok}")
    em.label(ok)
    L.append(f"  br label %{got}")
    em.label(got)
    inst = em.tmp("nsinst")
    L.append(f"  {inst} = phi i64 [{old}, %{pop}], [{fresh}, %{ok}]")
    return inst


def inline_shape(em: Any, cls: Any, shape: Any, c: str) -> Inline | None:
    """The inline path for a laid-out class (heap/layout.py `new_instance`
    and `Heap.alloc`, as `inline_instance` for a dict): `PyType_GenericAlloc`
    of the class's shape (`@"tvm.sh.<cls>"`, fields.bind; 0 here means
    not laid out in this process: the maker), its `cls` (a new reference
    to the class), its `fields` None (a reference to None), each slot k the
    template's value k (a new reference: the template is a combined dict
    of unicode keys whose entry k is field k -- checked each time, its
    entry count being the shape's field count, else the maker), then
    `admit` (the mark, heap.objects, the budget) with the shape's size
    (`SIZE`: Instance.size's formula). Anything else takes the maker."""
    from .fields import _DK_KIND, _DK_LOG2_INDEX, _DK_NENTRIES, _MA_KEYS, _MA_VALUES, _find, entries_start, field_layout
    from .layout import probe_slots
    from .objects import NONE
    from .select import NotEligible
    from .slots import RAW_LLTYPE
    from .sweep import recycle_offset

    slots = probe_slots()[0]
    flay = field_layout()
    if slots is None or not flay.fast:
        return None
    try:
        tpl_off = _find(cls, cls.template)
        rc_off = recycle_offset()
        n, size = len(shape.NAMES), shape.SIZE
    except Exception:  # noqa: BLE001 - an unexpected class object: the maker only
        return None
    g = f"tvm.sh.{cls.name}"
    if em.ty.classes.setdefault(g, cls) is not cls:
        raise NotEligible(f"two classes named {cls.name}")
    em.ty.classes[f"tvm.rc.{cls.name}"] = cls  # (fields.bind gives it a recycle list)
    L = em.lines
    low = em._arrays()
    objs, budget = _word(em, OBJECTS), _word(em, 5)
    fast, tab, slow, done = em.tmp("nsfast")[1:], em.tmp("nstab")[1:], em.tmp("nsslow")[1:], em.tmp("nsdone")[1:]
    t = em.tmp("nsty")
    over, off, no, zt, no2 = em.tmp(), em.tmp(), em.tmp(), em.tmp(), em.tmp()
    L.append(f'  {t} = load i64, i64* @"{g}", !invariant.load !90')
    L.append(f"  {over} = icmp ugt i64 {size}, {budget}")
    L.append(f"  {off} = icmp eq i64 {objs}, 0")
    L.append(f"  {zt} = icmp eq i64 {t}, 0")
    L.append(f"  {no} = or i1 {over}, {off}")
    L.append(f"  {no2} = or i1 {no}, {zt}")
    L.append(f"  br i1 {no2}, label %{slow}, label %{tab}")
    em.label(tab)
    tpl = em.tmp("nstpl")
    L.append(f"  {tpl} = add i64 {low.load(c, tpl_off)}, 0")  # (Class.template: the class's own, read each time)
    keys, vals = low.load(tpl, _MA_KEYS), low.load(tpl, _MA_VALUES)
    kind, nent = low.load(keys, _DK_KIND, "i8"), low.load(keys, _DK_NENTRIES)
    c1, c2, c3, ok12, ok = (em.tmp() for _ in range(5))
    L.append(f"  {c1} = icmp eq i64 {vals}, 0")
    L.append(f"  {c2} = icmp eq i8 {kind}, 1")
    L.append(f"  {c3} = icmp eq i64 {nent}, {n}")
    L.append(f"  {ok12} = and i1 {c1}, {c2}")
    L.append(f"  {ok} = and i1 {ok12}, {c3}")
    raws = _raw_defaults(em, low, shape, keys, ok, fast, slow) if any(shape.RAW) else {}
    if not raws:
        L.append(f"  br i1 {ok}, label %{fast}, label %{slow}")
    em.label(fast)
    fail = em.tmp("nsfail")[1:]
    inst = _reuse_or_alloc(em, low, c, t, rc_off, fail)
    low.incref(c)
    low.store(inst, slots.cls, c)
    none = em.tmp("none")
    L.append(f"  {none} = add i64 {NONE}, 0")
    low.incref(none)
    low.store(inst, slots.fields, none)
    if n:
        base = raws.get(-1) or entries_start(em, keys, low.load(keys, _DK_LOG2_INDEX, "i8"))
        for k in range(n):
            if k in raws:  # (a raw slot: the int64 or the bool's byte, heap/layout.py)
                low.store(inst, slots.base + 8 * k, raws[k], RAW_LLTYPE[shape.RAW[k]])
                continue
            v = low.load(base, 16 * k + 8)
            low.incref(v)
            low.store(inst, slots.base + 8 * k, v)
    good = admit(em, inst, objs, budget, str(size), fail)  # (a failed append frees the instance, and with it what its slots hold)
    L.append(f"  br label %{done}")
    em.label(fail)
    L.append("  call void @PyErr_Clear()")  # (the maker tries again, and refuses if it fails too)
    L.append(f"  br label %{slow}")
    em.label(slow)
    return Inline(inst, good, done)
