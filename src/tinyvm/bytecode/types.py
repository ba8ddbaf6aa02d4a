"""The type language of code objects: the types front ends record and the VM checks.

Code objects carry declared types as text (`Code.local_types`, `Code.ret_type`,
`ClassInfo.field_types`, the operand of CHECK_TYPE): TinyLang's own syntax for
types (`int`, `[int]`, `[string: float]`, `{x: int}`, `fn(int) -> string`,
`Point?`, `Task<int>`). This module defines the type values and
`parse_type_text`, which reads that text back, so that the verifier (which
rejects a type text that does not parse), the VM's run-time boundary checks
(vm/typecheck.py) and the JIT tiers need neither a front end nor its syntax
tree. `str(t)` writes the text.

Types are immutable, hashable values. A class type read back from text is a
`ClassT` known only by its name (`sym` is None): run-time checks match
instances by class name along their parent chain. The rules that relate types
(subtyping, inference) belong to the front end that checks programs
(lang/tinylang/types.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

class Type:
    __slots__ = ()

    def text(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True, slots=True)
class Prim(Type):
    """int float bool string nil any, and `range` (the value of `a..b`)."""

    name: str

    def text(self) -> str:
        return self.name


ANY = Prim("any")
INT = Prim("int")
FLOAT = Prim("float")
BOOL = Prim("bool")
STRING = Prim("string")
NIL = Prim("nil")
PRIMS = {p.name: p for p in (ANY, INT, FLOAT, BOOL, STRING, NIL)}
NUMERIC = (INT, FLOAT)


@dataclass(frozen=True, slots=True)
class ArrayT(Type):
    elem: Type

    def text(self) -> str:
        return f"[{self.elem.text()}]"


@dataclass(frozen=True, slots=True)
class MapT(Type):
    key: Type
    value: Type

    def text(self) -> str:
        return f"[{self.key.text()}: {self.value.text()}]"


@dataclass(frozen=True, slots=True)
class RecordT(Type):
    fields: tuple[tuple[str, Type], ...]

    def get(self, name: str) -> Type | None:
        for n, t in self.fields:
            if n == name:
                return t
        return None

    def text(self) -> str:
        return "{" + ", ".join(f"{n}: {t.text()}" for n, t in self.fields) + "}"


@dataclass(frozen=True, slots=True)
class FnT(Type):
    params: tuple[Type, ...]
    ret: Type
    # Names for messages ("argument 'b' of add"); not part of the type's identity.
    names: tuple[str, ...] = field(default=(), compare=False)
    owner: str = field(default="", compare=False)
    # tldefault (TinyLang 1.1): the type of a declared function whose last
    # parameters have defaults may be called with `required` arguments or
    # more; -1: every parameter is required. Not part of the identity either.
    required: int = field(default=-1, compare=False)

    def text(self) -> str:
        return f"fn({', '.join(p.text() for p in self.params)}) -> {self.ret.text()}"


@dataclass(frozen=True, slots=True)
class OptionalT(Type):
    inner: Type

    def text(self) -> str:
        inner = self.inner.text()
        return f"({inner})?" if isinstance(self.inner, FnT) else inner + "?"


@dataclass(frozen=True, slots=True)
class GenericT(Type):
    """`Task<T>`, `Chan<T>`, `Gen<T>`, `Set<T>`, `WeakRef<T>`, and `WeakMap<K, V>`: the
    one built-in generic of two arguments (`arg2` is V; None for the others)."""

    name: str
    arg: Type
    arg2: Type | None = None

    def text(self) -> str:
        if self.arg2 is not None:
            return f"{self.name}<{self.arg.text()}, {self.arg2.text()}>"
        return f"{self.name}<{self.arg.text()}>"


@dataclass(frozen=True, slots=True)
class TupleT(Type):
    """`(int, string)`: a tuple of exactly these element types (issue 18,
    tltuple). One element is written `(int,)`, as a tuple of one is `(1,)`."""

    elems: tuple[Type, ...]

    def text(self) -> str:
        if len(self.elems) == 1:
            return f"({self.elems[0].text()},)"
        return "(" + ", ".join(t.text() for t in self.elems) + ")"


GENERICS = ("Task", "Chan", "Gen", "WeakRef", "WeakMap", "Set")  # (Set<T>: 1.1, helper tlset)
# How many type arguments each generic takes (1 unless listed).
GENERIC_ARITY = {"WeakMap": 2}


@dataclass(frozen=True, slots=True)
class ClassT(Type):
    """An instance of a class. `sym` is None for a class known only by name (a
    type read back from text at run time)."""

    name: str
    sym: Any = field(default=None, compare=False, hash=False)  # the checker's ClassSym
    # Identity of the declaring class; equal names in different modules differ.
    key: int = 0

    def text(self) -> str:
        return self.name



def optional(t: Type) -> Type:
    if t is ANY or t is NIL or isinstance(t, OptionalT):
        return t
    return OptionalT(t)


def strip_optional(t: Type) -> Type:
    return t.inner if isinstance(t, OptionalT) else t



# --------------------------------------------------------------------------- text


class TypeTextError(ValueError):
    pass


def parse_type_text(text: str) -> Type:
    """Parse the text form of a type (as `str(t)` writes it) back into a Type.

    Class names come back as `ClassT(name)` without a symbol: run-time checks
    match instances by class name along their parent chain.
    """
    p = _TextParser(text)
    t = p.type_()
    if p.i != len(p.toks):
        raise TypeTextError(f"unexpected {p.toks[p.i]!r} in type {text!r}")
    return t


class _TextParser:
    def __init__(self, text: str):
        import re

        self.text = text
        self.toks = re.findall(r"->|[A-Za-z_][A-Za-z0-9_]*|\S", text)
        self.i = 0

    def peek(self) -> str:
        return self.toks[self.i] if self.i < len(self.toks) else ""

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if not tok or (want is not None and tok != want):
            raise TypeTextError(f"expected {want or 'a type'} in type {self.text!r}")
        self.i += 1
        return tok

    def type_(self) -> Type:
        t = self.atom()
        while self.peek() == "?":
            self.take()
            t = optional(t)
        return t

    def atom(self) -> Type:
        tok = self.take()
        if tok == "[":
            a = self.type_()
            if self.peek() == ":":
                self.take()
                b = self.type_()
                self.take("]")
                return MapT(a, b)
            self.take("]")
            return ArrayT(a)
        if tok == "{":
            fields = []
            while self.peek() != "}":
                name = self.take()
                self.take(":")
                fields.append((name, self.type_()))
                if self.peek() == ",":
                    self.take()
            self.take("}")
            return RecordT(tuple(fields))
        if tok == "(":
            t = self.type_()
            if self.peek() == ",":  # a tuple type (tltuple): `(int, string)`, `(int,)`
                elems = [t]
                while self.peek() == ",":
                    self.take()
                    if self.peek() == ")":
                        break
                    elems.append(self.type_())
                self.take(")")
                return TupleT(tuple(elems))
            self.take(")")
            return t
        if tok == "fn":
            self.take("(")
            params = []
            while self.peek() != ")":
                params.append(self.type_())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            ret = NIL
            if self.peek() == "->":
                self.take()
                ret = self.type_()
            return FnT(tuple(params), ret)
        if not (tok[0].isalpha() or tok[0] == "_"):
            raise TypeTextError(f"unexpected {tok!r} in type {self.text!r}")
        if tok in PRIMS:
            return PRIMS[tok]
        if tok in GENERICS and self.peek() == "<":
            self.take()
            arg = self.type_()
            arg2 = None
            if GENERIC_ARITY.get(tok, 1) == 2:
                self.take(",")
                arg2 = self.type_()
            self.take(">")
            return GenericT(tok, arg, arg2)
        return ClassT(tok)
