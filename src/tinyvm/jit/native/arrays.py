"""Array operations in native code: LLVM IR for get_index, set_index and len.

An array value in native code is the address of the guest `Array` object
(heap/objects.py), borrowed: the interpreter frame that passed it keeps it
alive. Every access follows CPython's own pointers (jit/native/layout.py
measured the offsets at start-up): Array.items -> the list -> ob_size and
ob_item -> the element. Nothing is copied or converted, so the interpreter,
the Python JIT and native code work on the same objects at all times
(docs/native.md, "Data representation").

Reads (no boxing):
- bounds: `index <u ob_size` (one unsigned compare also catches negative
  indexes); out of range is a failure exit at the get_index, so the
  interpreter raises its own IndexError with its trace;
- `[bool]`: the element is compared with the addresses of Py_True and
  Py_False (bools are two singletons: such an array is effectively packed);
- `[float]`: ob_type is float, then ob_fval is loaded;
- `[int]`: ob_type is int, then the digits: 0, 1 or 2 30-bit digits inline
  (|v| < 2^60), larger ones through `PyLong_AsLongLongAndOverflow` (a guest
  int is int64, so it always fits);
an element of another type (only code the checker cannot see puts one
there) is a failure exit: the interpreter continues with the value it finds.

Writes (an effect: select.py lists them in Typed.effects): bounds as above,
then the new element -- Py_True/Py_False with a reference added, one of
CPython's cached small ints (-5..256, addressed inline in _PyRuntime), or a
new object from `PyLong_FromLongLong` / `PyFloat_FromDouble` -- replaces the old one, whose count drops as
Py_DECREF does (`_Py_Dealloc` at zero). A float store into a slot whose old
float has no other reference (count 1: only this list holds it) overwrites
ob_fval in place instead: no one else can see that object, and NBody-like
loops then allocate nothing; an int of count 1 gets its digits rewritten
the same way when it has room for them (store_int). Only scalars are ever stored, so no GC write
barrier is needed (the barrier exists for heap references stored into old
or black objects; a scalar is neither young nor white).

`len(a)` and `a.len()` load ob_size.

The LLVM names of the C API (declared in PRELUDE) are the real exported
symbols; their addresses are registered with llvmlite (layout.register),
so the IR text holds no address and an object file of it can be reused by
another process.
"""

from __future__ import annotations

from typing import Any

from ...ir.nodes import Instr
from .layout import Layout

OPS = frozenset(("get_index", "set_index", "builtin", "call", "call_method"))

# (`tvm.decref` is CPython's Py_DecRef, bound by name (codegen.Codegen): a
# function of every module that decrefs cost LLVM ~0.4 ms to compile.)
# `tvm.notint` stands for an object of another type in an int read: a
# constant int of 3 digits of 2**30 - 1 (header as CPython's: a count, the
# type PyLong_Type, the size; layout.py probes that these offsets hold), so
# the read takes its big-int path and PyLong_AsLongLongAndOverflow, called
# there directly, says it overflows (it neither counts references nor
# allocates for an exact int), failing the read as a type check would.
# `tvm.ovf` is that call's overflow flag: one word per module, not an
# `alloca` (whose function, `tvm.unbox_big`, cost the code generator ~1 ms
# per module: docs/native.md "Compile time"); code touching Python objects
# runs holding the GIL, so no two threads use it at once.
PRELUDE = """@PyLong_Type = external global i8
@PyFloat_Type = external global i8
@_Py_TrueStruct = external global i8
@_Py_FalseStruct = external global i8
@_PyRuntime = external global i8
declare i64 @PyLong_FromLongLong(i64)
declare i64 @PyFloat_FromDouble(double)
declare void @_Py_Dealloc(i64)
declare i64 @PyLong_AsLongLongAndOverflow(i64, i32*)

!90 = !{}

@"tvm.notint" = internal constant [8 x i64] [i64 1, i64 ptrtoint (i8* @PyLong_Type to i64), i64 3, i64 4611686015206162431, i64 1073741823, i64 0, i64 0, i64 0]
@"tvm.ovf" = internal global i32 0

declare void @tvm.decref(i64)
"""

_TRUE = "ptrtoint (i8* @_Py_TrueStruct to i64)"
_FALSE = "ptrtoint (i8* @_Py_FalseStruct to i64)"
_INT_T = "ptrtoint (i8* @PyLong_Type to i64)"
_FLOAT_T = "ptrtoint (i8* @PyFloat_Type to i64)"


class ArrayLowering:
    """The array ops of one function (`em` is its emit._FnEmitter)."""

    def __init__(self, em: Any, lay: Layout) -> None:
        self.em = em
        self.lay = lay
        self.shared: Any = None  # (listwords.ListWords, made at the first access)
        from .layout import probe_packed

        # PackedArray's layout (layout.probe_packed), or None: then every
        # access takes the list path alone and a PackedArray never gets
        # here (the entry checks and check_array refuse it).
        self.pk = probe_packed()[0]

    def load(self, addr: str, off: int, t: str = "i64", invariant: bool = False) -> str:
        """The `t` at byte `off` of the object at address `addr` (an i64).

        `invariant`: the word cannot change while native code runs, so LLVM
        may hoist and merge its loads (!invariant.load). True of an Array's
        list, a list's size and item vector (native code never resizes a
        list, and runs no guest code: the poll runs none). Not said of an
        element's words: a store may free the element and its memory be
        reused for another object while the function runs."""
        em = self.em
        if invariant and em.grows and off != self.lay.array_items:
            invariant = False  # (a push in the module resizes lists: alloc.py)
        p, q, r = em.tmp("a"), em.tmp("p"), em.tmp("w")
        em.lines.append(f"  {p} = add i64 {addr}, {off}")
        em.lines.append(f"  {q} = inttoptr i64 {p} to {t}*")
        em.lines.append(f"  {r} = load {t}, {t}* {q}{', !invariant.load !90' if invariant else ''}")
        return r

    def store(self, addr: str, off: int, value: str, t: str = "i64") -> None:
        em = self.em
        p, q = em.tmp("a"), em.tmp("p")
        em.lines.append(f"  {p} = add i64 {addr}, {off}")
        em.lines.append(f"  {q} = inttoptr i64 {p} to {t}*")
        em.lines.append(f"  store {t} {value}, {t}* {q}")

    def list_of(self, arr: Instr, invariant: bool = True) -> str:
        return self.load(self.em.val(arr), self.lay.array_items, invariant=invariant)

    def words(self, arr: Instr, at: Instr) -> tuple[str, str, str, str | None]:
        """(items, ob_size, ob_item, packed) of `arr` for the access `at`:
        loaded once where they still hold (listwords.py). `items` is the
        object in the `items` slot -- a list, or a PackedArray's
        `array.array` buffer, whose ob_size and ob_item are at a list's
        offsets (layout.probe_packed) -- and `packed` the i1 saying which
        (None when packed arrays are off). The class is read with the
        words because a PackedArray becomes an Array (its buffer a list)
        when code that wants a list touches it: only in a call, which
        listwords.py counts as a clobber (the words are loaded again)."""
        return self._shared().get(arr, at, lambda: self._load_words(arr))

    def _shared(self) -> Any:
        """This function's listwords.ListWords, made at its first use."""
        if self.shared is None:
            from .listwords import ListWords

            self.shared = ListWords(self.em)
        return self.shared

    def _vector(self, lst: str) -> tuple[str, str]:
        """(ob_size, ob_item) of the list or buffer `lst` (an Array's items)."""
        return self.load(lst, self.lay.list_size, invariant=True), self.load(lst, self.lay.list_item, invariant=True)

    def _load_words(self, arr: Instr) -> tuple[str, str, str, str | None]:
        """`words`' loads, made where the code is now emitted."""
        lay, em = self.lay, self.em
        packed = None
        if self.pk is not None:
            t = self.load(em.val(arr), lay.type)
            w, packed = em.tmp("pkty"), em.tmp("packed")
            em.lines.append(f'  {w} = load i64, i64* @"tvm.ty.Packed", !invariant.load !90')
            em.lines.append(f"  {packed} = icmp eq i64 {t}, {w}")
        # (The slot is the same while no call runs; with calls in the
        # function a PackedArray's may be replaced: no !invariant.load then.)
        lst = self.list_of(arr, self._shared().quiet or self.pk is None)
        return (lst, *self._vector(lst), packed)

    def prefetch(self, arr: Instr) -> None:
        """At the top of the entry block, for parameter `arr`: its words,
        loaded here once when its accesses inside a loop would load them on
        every pass (listwords.ListWords.prefetch decides)."""
        self._shared().prefetch(arr, lambda: self._load_words(arr))

    def slot(self, arr: Instr, index: Instr, at: Instr) -> str:
        """The address of element `index` (bounds-checked: a failure exit at
        `at`) of an array of objects ("ap": anyval.py, fields.py, stores.py),
        which is never a PackedArray (check_array, the entry checks)."""
        em = self.em
        _, n, items, _ = self.words(arr, at)
        idx = em.val(index)
        oob = em.tmp("oob")
        em.lines.append(f"  {oob} = icmp uge i64 {idx}, {n}")
        em.fail_if(oob, at)
        off, a = em.tmp(), em.tmp()
        em.lines.append(f"  {off} = shl i64 {idx}, 3")
        em.lines.append(f"  {a} = add i64 {items}, {off}")
        return a

    def element(self, i: Instr, kind: str) -> None:
        """get_index / set_index of an array of scalars (kind i/f/b): the
        bounds check, then one branch on the representation -- a
        PackedArray's element is one load or store of the raw value at
        `ob_item + index * itemsize` (no object, no reference count, no
        barrier: scalars), a list's goes through its boxed element (read,
        write) as before."""
        em, L = self.em, self.em.lines
        _, n, vec, packed = self.words(i.args[0], i)
        idx = em.val(i.args[1])
        if i not in em.inbounds:  # (proved at its loop's entry: loopguards.py)
            oob = em.tmp("oob")
            L.append(f"  {oob} = icmp uge i64 {idx}, {n}")
            em.fail_if(oob, i)
        ls = em.tmp("list")[1:]
        if packed is not None:
            pk, join = em.tmp("pk")[1:], em.tmp("pkj")[1:]
            L.append(f"  br i1 {packed}, label %{pk}, label %{ls}")
            em.label(pk)
            t = {"i": "i64", "f": "double", "b": "i8"}[kind]
            pa, pp = em.tmp(), em.tmp()
            if kind == "b":
                L.append(f"  {pa} = add i64 {vec}, {idx}")
            else:
                off = em.tmp()
                L.append(f"  {off} = shl i64 {idx}, 3")
                L.append(f"  {pa} = add i64 {vec}, {off}")
            L.append(f"  {pp} = inttoptr i64 {pa} to {t}*")
            if i.op == "get_index":
                raw = em.tmp("pkv")
                L.append(f"  {raw} = load {t}, {t}* {pp}")
                pv = raw
                if kind == "b":
                    pv = em.tmp("pkv")
                    L.append(f"  {pv} = icmp ne i8 {raw}, 0")
            else:
                v = em.val(i.args[2])
                if kind == "b":
                    v8 = em.tmp()
                    L.append(f"  {v8} = zext i1 {v} to i8")
                    v = v8
                L.append(f"  store {t} {v}, {t}* {pp}")
            L.append(f"  br label %{join}")
            em.label(ls)
        else:
            L.append(f"  br label %{ls}")
            em.label(ls)
        off, a = em.tmp(), em.tmp()
        L.append(f"  {off} = shl i64 {idx}, 3")
        L.append(f"  {a} = add i64 {vec}, {off}")
        if i.op == "get_index":
            if packed is None:
                self.read(i, kind, self.load(a, 0))
                return
            lv = em.tmp("lsv")
            self.read(i, kind, self.load(a, 0), lv)
        else:
            self.write(i, kind, a, i.args[2])
        if packed is None:
            return
        back = em.cur
        L.append(f"  br label %{join}")
        em.label(join)
        if i.op == "get_index":
            mt = {"i": "i64", "f": "double", "b": "i1"}[kind]
            L.append(f"  %v{i.id} = phi {mt} [ {pv}, %{pk} ], [ {lv}, %{back} ]")

    def lower(self, i: Instr) -> None:
        em = self.em
        op = i.op
        ty = em.ty.types
        if op == "builtin":
            return  # `len`: no machine value, its call reads ob_size
        if op in ("call", "call_method"):
            _, n, _, _ = self.words(i.args[-1], i)  # (ob_size: a list's and an array.array's alike)
            em.lines.append(f"  %v{i.id} = add i64 {n}, 0")
            return
        self.element(i, ty[i.args[0]][1])

    def read(self, i: Instr, kind: str, e: str, r: str = "") -> None:
        """%v<i> (or `r`) = the unboxed element `e` (a PyObject address) of
        kind i/f/b; another type fails at i."""
        em, lay = self.em, self.lay
        L = em.lines
        r = r or f"%v{i.id}"
        if kind == "b":
            t, f, ok, bad = em.tmp(), em.tmp(), em.tmp(), em.tmp()
            L.append(f"  {t} = icmp eq i64 {e}, {_TRUE}")
            L.append(f"  {f} = icmp eq i64 {e}, {_FALSE}")
            L.append(f"  {ok} = or i1 {t}, {f}")
            L.append(f"  {bad} = xor i1 {ok}, true")
            em.fail_if(bad, i)
            L.append(f"  {r} = or i1 {t}, false")
            return
        typ = self.load(e, lay.type)
        if kind == "f":
            bad = em.tmp("bt")
            L.append(f"  {bad} = icmp ne i64 {typ}, {_FLOAT_T}")
            em.fail_if(bad, i)
            x = self.load(e, lay.float_val, "double")
            L.append(f"  {r} = fadd double {x}, -0.0")  # (a copy: x + -0.0 is x, also for -0.0 and nan)
            return
        # int: sign * (digit0 | digit1 << 30) for at most two digits. Reading
        # digit 1 of a one-digit int stays inside its allocation (CPython
        # rounds object sizes up to 16 bytes: header 24 + 4 -> 32). Another
        # type's object is read as `tvm.notint`, whose size (3 digits) takes
        # the slow path with big ints, where it overflows (PRELUDE): one
        # branch for both checks ("Compile time" in docs/native.md).
        v0, mag, e = self.small_int(e, typ)
        big = em.tmp("big")
        L.append(f"  {big} = icmp ugt i64 {mag}, 2")
        slow, join = em.tmp("slow")[1:], em.tmp("join")[1:]
        here = em.cur
        L.append(f"  br i1 {big}, label %{slow}, label %{join}, !prof !0")
        em.label(slow)
        sv, sf = em.tmp(), em.tmp()
        fl = em.tmp()
        L.append(f'  {sv} = call i64 @PyLong_AsLongLongAndOverflow(i64 {e}, i32* @"tvm.ovf")')
        L.append(f'  {fl} = load i32, i32* @"tvm.ovf"')
        L.append(f"  {sf} = icmp ne i32 {fl}, 0")
        em.fail_if(sf, i)
        back = em.cur
        L.append(f"  br label %{join}")
        em.label(join)
        L.append(f"  {r} = phi i64 [ {v0}, %{here} ], [ {sv}, %{back} ]")

    def small_int(self, e: str, typ: str, int_t: str = _INT_T) -> tuple[str, str, str]:
        """Int object e (of type typ: int_t when it is an int) read inline:
        (its value when it has at most two digits, its digit count, the
        object read -- e, or `tvm.notint` for another type's, whose 3 digits
        send it to the caller's slow path). Shared by element reads (read)
        and field reads (fields.py)."""
        em, lay = self.em, self.lay
        L = em.lines
        isint, o = em.tmp(), em.tmp("int")
        L.append(f"  {isint} = icmp eq i64 {typ}, {int_t}")
        L.append(f'  {o} = select i1 {isint}, i64 {e}, i64 ptrtoint ([8 x i64]* @"tvm.notint" to i64)')
        sz = self.load(o, lay.long_size)
        d0, d1 = self.load(o, lay.long_digit, "i32"), self.load(o, lay.long_digit + 4, "i32")
        neg, nsz, mag, x0, x1, s1, two, m1, zero, m, nm, fast, v = (em.tmp() for _ in range(13))
        L.append(f"  {neg} = icmp slt i64 {sz}, 0")
        L.append(f"  {nsz} = sub i64 0, {sz}")
        L.append(f"  {mag} = select i1 {neg}, i64 {nsz}, i64 {sz}")
        L.append(f"  {x0} = zext i32 {d0} to i64")
        L.append(f"  {x1} = zext i32 {d1} to i64")
        L.append(f"  {s1} = shl i64 {x1}, {lay.digit_bits}")
        L.append(f"  {two} = or i64 {x0}, {s1}")
        L.append(f"  {m1} = icmp eq i64 {mag}, 2")
        L.append(f"  {m} = select i1 {m1}, i64 {two}, i64 {x0}")
        L.append(f"  {zero} = icmp eq i64 {mag}, 0")
        L.append(f"  {nm} = sub i64 0, {m}")
        L.append(f"  {fast} = select i1 {neg}, i64 {nm}, i64 {m}")
        L.append(f"  {v} = select i1 {zero}, i64 0, i64 {fast}")
        return v, mag, o

    def write(self, i: Instr, kind: str, a: str, value: Instr) -> None:
        """Store `value` (kind i/f/b) at slot address `a`, reference counts exact."""
        em = self.em
        L = em.lines
        v = em.val(value)
        old = self.load(a, 0)
        if kind == "b":
            new = em.tmp("new")
            L.append(f"  {new} = select i1 {v}, i64 {_TRUE}, i64 {_FALSE}")
            # The slot holding that bool already: nothing changes (Sieve's
            # `flags[k] = false` mostly finds false: no count to move).
            same, go, done = em.tmp(), em.tmp("bset")[1:], em.tmp("bsame")[1:]
            L.append(f"  {same} = icmp eq i64 {old}, {new}")
            L.append(f"  br i1 {same}, label %{done}, label %{go}")
            em.label(go)
            self.incref(new)
            self.replace(i, a, old, new)
            L.append(f"  br label %{done}")
            em.label(done)
            return
        elif kind == "f":
            done = em.tmp("stored")[1:]
            new = self.store_float(old, v, done)
            self.replace(i, a, old, new)
            L.append(f"  br label %{done}")
            em.label(done)
            return
        else:
            done = em.tmp("stored")[1:]
            new = self.store_int(i, old, v, done)
            self.replace(i, a, old, new)
            L.append(f"  br label %{done}")
            em.label(done)
            return
        self.replace(i, a, old, new)

    def check_array(self, i: Instr, x: str, kind: str | None = None) -> tuple[str, str | None]:
        """Fail at i unless x is a guest Array whose items are a list (what an
        array parameter's entry check proves; None fails: its type is not
        Array) or, for an array of scalars (`kind` i/f/b), a PackedArray of
        that kind: its buffer's `ob_descr` is the typecode's ('q', 'd',
        'b'). Element types are not checked at run time, so a `[int]` may
        be a packed 'd' array through `any`: refused here, the interpreter
        runs it. A PackedArray's kind never changes (a store of another
        kind unpacks it: heap/packed.py), so this check holds for good.
        Returns what it loaded of `words`: (the items, the is-packed i1, or
        "false" when it refused PackedArrays, None when they are off)."""
        em, L = self.em, self.em.lines
        t, w, bad = self.load(x, self.lay.type), em.tmp("cls"), em.tmp("bt")
        L.append(f'  {w} = load i64, i64* @"tvm.ty.Array", !invariant.load !90')
        items = None
        if kind is not None and self.pk is not None:
            isa, pw, isp, ok, go, done = em.tmp(), em.tmp("pkty"), em.tmp(), em.tmp(), em.tmp("pkchk")[1:], em.tmp("arrok")[1:]
            L.append(f"  {isa} = icmp eq i64 {t}, {w}")
            L.append(f'  {pw} = load i64, i64* @"tvm.ty.Packed", !invariant.load !90')
            L.append(f"  {isp} = icmp eq i64 {t}, {pw}")
            L.append(f"  {ok} = or i1 {isa}, {isp}")
            L.append(f"  {bad} = xor i1 {ok}, true")
            em.fail_if(bad, i)
            items = self.load(x, self.lay.array_items)
            lst = em.tmp("list")[1:]
            L.append(f"  br i1 {isp}, label %{go}, label %{lst}")
            em.label(go)
            d, want, wrong = self.load(items, self.pk.descr), em.tmp("pkd"), em.tmp("bt")
            L.append(f'  {want} = load i64, i64* @"tvm.pk.{kind}", !invariant.load !90')
            L.append(f"  {wrong} = icmp ne i64 {d}, {want}")
            em.fail_if(wrong, i)
            L.append(f"  br label %{done}")
            em.label(lst)
        else:
            L.append(f"  {bad} = icmp ne i64 {t}, {w}")
            em.fail_if(bad, i)
            items = self.load(x, self.lay.array_items)
        lt, bad2 = self.load(items, self.lay.type), em.tmp("bt")
        L.append(f"  {bad2} = icmp ne i64 {lt}, ptrtoint (i8* @PyList_Type to i64)")
        em.fail_if(bad2, i)
        if kind is not None and self.pk is not None:
            L.append(f"  br label %{done}")
            em.label(done)
            return items, isp
        return items, (None if self.pk is None else "false")

    def checked(self, arr: Instr, items: str, packed: str | None) -> None:
        """`arr` was just read and checked (check_array's loads, `items` and
        `packed`): its words completed with ob_size and ob_item and recorded
        for its accesses (listwords.ListWords.record), which then load
        neither the type word nor the items again. Queens'
        `self.free_rows[r]` loaded both twice."""
        self._shared().record(arr, (items, *self._vector(items), packed))

    def store_float(self, old: str, v: str, done: str) -> str:
        """Store double v over `old`, the object a slot (an array's or a
        field's dict entry) holds: in place when old is a float nothing else
        references (then on to label `done`), which saves an allocation per
        store in float loops (NBody, Mandelbrot's arrays); else, in the
        block this leaves open, a new float: its register (null when out of
        memory), for the caller to put in the slot."""
        em, lay = self.em, self.lay
        L = em.lines
        inplace, box = em.tmp("inpl")[1:], em.tmp("box")[1:]
        self._if_sole(old, _FLOAT_T, inplace, box)
        self.store(old, lay.float_val, v, "double")
        L.append(f"  br label %{done}")
        em.label(box)
        new = em.tmp("new")
        L.append(f"  {new} = call i64 @PyFloat_FromDouble(double {v})")
        return new

    def _if_sole(self, old: str, typ: str, yes: str, no: str, *, typed: bool = False, likely: bool = False) -> None:
        """Branch to label `yes` (opened here) when `old` is of type `typ`
        and its only reference is the slot's (count 1: no one else can see
        it change), else to `no` (opened by the caller). `typed`: the caller
        knows old is of type typ (a field store after a read of that field
        checked it: fields.py), so only the count is tested. `likely`: `no`
        marked unlikely, so the code generator lays its call out of the hot
        path (NBody's float fields: in place every time after the first)."""
        em = self.em
        t = None if typed else self.load(old, self.lay.type)
        rc = self.load(old, self.lay.refcnt)
        one, mine = em.tmp(), em.tmp()
        if t is None:
            em.lines.append(f"  {mine} = icmp eq i64 {rc}, 1")
        else:
            same = em.tmp()
            em.lines.append(f"  {same} = icmp eq i64 {t}, {typ}")
            em.lines.append(f"  {one} = icmp eq i64 {rc}, 1")
            em.lines.append(f"  {mine} = and i1 {same}, {one}")
        if likely:
            em.lines.append(f"  {mine}.n = xor i1 {mine}, true")
            em.lines.append(f"  br i1 {mine}.n, label %{no}, label %{yes}, !prof !0")
        else:
            em.lines.append(f"  br i1 {mine}, label %{yes}, label %{no}")
        em.label(yes)

    def store_int(self, i: Instr, old: str, v: str, done: str) -> str:
        """Store int64 v over `old`, the object a slot holds: in place when
        old is an int nothing else references (count 1) with room for v's
        digits (then on to label `done`); else, in the block this leaves
        open, a new reference from box_int for the caller to put in the slot.

        As store_float, for ints: Bounce's positions and velocities, Towers'
        and List's counters above CPython's small-int cache (256) allocated
        a new int per store. Writing in place is safe because no one can
        see the object: the slot's reference is its only one, native code
        holds ints unboxed, and an `[any]` element held as a borrowed
        reference is checked to be a heap object before any store
        (anyval.py). Room: an int of |ob_size| digits has that many (at
        least one: CPython 3.11's _PyLong_New), so v fits when it needs no
        more digits than old has; the result is normalised (ob_size counts
        v's digits, 0 for 0). |v| < 2^60 only (two digits); beyond, a box.
        A slot that holds v's cached small int already is left as it is
        (no count moves: CPython's insertdict leaves a dict entry storing
        the same object unchanged too)."""
        em, lay = self.em, self.lay
        L = em.lines
        room, box = em.tmp("room")[1:], em.tmp("box")[1:]
        self._if_sole(old, _INT_T, room, box)
        size = self.load(old, lay.long_size)
        t = [em.tmp() for _ in range(14)]
        sneg, neg_s, cap, neg, nv, mag, small, zero, nd1, nd, fits0, fits1, fits, cap2 = t
        L.append(f"  {sneg} = icmp slt i64 {size}, 0")
        L.append(f"  {neg_s} = sub i64 0, {size}")
        L.append(f"  {cap} = select i1 {sneg}, i64 {neg_s}, i64 {size}")
        cap0, capz = em.tmp(), cap
        cap = em.tmp()
        L.append(f"  {cap0} = icmp eq i64 {capz}, 0")
        L.append(f"  {cap} = select i1 {cap0}, i64 1, i64 {capz}")  # (a zero written in place: CPython 3.11 allocated it one digit, _PyLong_New)
        L.append(f"  {neg} = icmp slt i64 {v}, 0")
        L.append(f"  {nv} = sub i64 0, {v}")
        L.append(f"  {mag} = select i1 {neg}, i64 {nv}, i64 {v}")  # (INT64_MIN: 2^63 unsigned, no room)
        L.append(f"  {small} = icmp ult i64 {mag}, {1 << lay.digit_bits}")
        L.append(f"  {zero} = icmp eq i64 {mag}, 0")
        L.append(f"  {nd1} = select i1 {small}, i64 1, i64 2")
        L.append(f"  {nd} = select i1 {zero}, i64 0, i64 {nd1}")
        L.append(f"  {fits0} = icmp ult i64 {mag}, {1 << (2 * lay.digit_bits)}")
        L.append(f"  {fits1} = icmp ule i64 {nd}, {cap}")
        L.append(f"  {fits} = and i1 {fits0}, {fits1}")
        write = em.tmp("inpl")[1:]
        L.append(f"  br i1 {fits}, label %{write}, label %{box}")
        em.label(write)
        sn, sv, d0, d0w, hi = em.tmp(), em.tmp(), em.tmp(), em.tmp(), em.tmp()
        L.append(f"  {sn} = sub i64 0, {nd}")
        L.append(f"  {sv} = select i1 {neg}, i64 {sn}, i64 {nd}")
        self.store(old, lay.long_size, sv)
        L.append(f"  {d0} = and i64 {mag}, {(1 << lay.digit_bits) - 1}")
        L.append(f"  {d0w} = trunc i64 {d0} to i32")
        self.store(old, lay.long_digit, d0w, "i32")
        L.append(f"  {cap2} = icmp uge i64 {cap}, 2")
        two = em.tmp("d1")[1:]
        L.append(f"  br i1 {cap2}, label %{two}, label %{done}")
        em.label(two)
        d1w = em.tmp()
        L.append(f"  {hi} = lshr i64 {mag}, {lay.digit_bits}")
        L.append(f"  {d1w} = trunc i64 {hi} to i32")
        self.store(old, lay.long_digit + 4, d1w, "i32")
        L.append(f"  br label %{done}")
        em.label(box)
        # The slot holding the cached small int of v already: nothing changes
        # (Permute's `swap` moves zeros: [0] * 6), as for bools in write().
        u, small, off, obj, eq, same = (em.tmp() for _ in range(6))
        L.append(f"  {u} = add i64 {v}, 5")
        L.append(f"  {small} = icmp ult i64 {u}, 262")
        L.append(f"  {off} = mul i64 {u}, {lay.small_stride}")
        L.append(f"  {obj} = add i64 {off}, add (i64 ptrtoint (i8* @_PyRuntime to i64), i64 {lay.small_ints})")
        L.append(f"  {eq} = icmp eq i64 {obj}, {old}")
        L.append(f"  {same} = and i1 {small}, {eq}")
        other = em.tmp("box")[1:]
        L.append(f"  br i1 {same}, label %{done}, label %{other}")
        em.label(other)
        return self.box_int(i, v)

    def box_int(self, i: Instr, v: str) -> str:
        """A new reference to an int object of value `v`: CPython's cached
        small int (-5..256) inline, else PyLong_FromLongLong (null: fails)."""
        em, lay = self.em, self.lay
        L = em.lines
        u, small = em.tmp(), em.tmp()
        L.append(f"  {u} = add i64 {v}, 5")
        L.append(f"  {small} = icmp ult i64 {u}, 262")
        s_lbl, b_lbl, j_lbl = em.tmp("small")[1:], em.tmp("boxed")[1:], em.tmp("have")[1:]
        L.append(f"  br i1 {small}, label %{s_lbl}, label %{b_lbl}")
        em.label(s_lbl)
        off, base, obj = em.tmp(), em.tmp(), em.tmp("obj")
        L.append(f"  {off} = mul i64 {u}, {lay.small_stride}")
        L.append(f"  {base} = add i64 ptrtoint (i8* @_PyRuntime to i64), {lay.small_ints}")
        L.append(f"  {obj} = add i64 {base}, {off}")
        self.incref(obj)
        L.append(f"  br label %{j_lbl}")
        em.label(b_lbl)
        boxed, null = em.tmp("obj"), em.tmp("null")
        L.append(f"  {boxed} = call i64 @PyLong_FromLongLong(i64 {v})")
        L.append(f"  {null} = icmp eq i64 {boxed}, 0")
        em.fail_if(null, i)  # (out of memory: the interpreter's store raises it)
        back = em.cur
        L.append(f"  br label %{j_lbl}")
        em.label(j_lbl)
        new = em.tmp("new")
        L.append(f"  {new} = phi i64 [ {obj}, %{s_lbl} ], [ {boxed}, %{back} ]")
        return new

    def replace(self, i: Instr, a: str, old: str, new: str) -> None:
        """Slot `a` gets `new` (a reference we own); `old` loses the list's reference."""
        em = self.em
        null = em.tmp("null")
        em.lines.append(f"  {null} = icmp eq i64 {new}, 0")
        em.fail_if(null, i)  # (out of memory: the interpreter's store raises it)
        self.store(a, 0, new)
        self.decref(old)

    def decref(self, o: str) -> None:
        """Py_DECREF of `o` (never NULL: a list slot) inline: the hot element
        store (Sieve's `flags[k] = false`) paid a call of Py_DecRef per store."""
        em = self.em
        c = self.load(o, self.lay.refcnt)
        c1, z = em.tmp(), em.tmp()
        dead, live = em.tmp("dead")[1:], em.tmp("live")[1:]
        em.lines.append(f"  {c1} = sub i64 {c}, 1")
        self.store(o, self.lay.refcnt, c1)
        em.lines.append(f"  {z} = icmp eq i64 {c1}, 0")
        em.lines.append(f"  br i1 {z}, label %{dead}, label %{live}, !prof !0")
        em.label(dead)
        em.lines.append(f"  call void @_Py_Dealloc(i64 {o})")
        em.lines.append(f"  br label %{live}")
        em.label(live)

    def incref(self, o: str) -> None:
        c = self.load(o, self.lay.refcnt)
        c1 = self.em.tmp()
        self.em.lines.append(f"  {c1} = add i64 {c}, 1")
        self.store(o, self.lay.refcnt, c1)
