"""The typed TinyLang syntax tree produced by the parser.

Every node carries the 1-based `line` and `col` of its first character; these flow
into diagnostics, the bytecode line table and guest stack traces. Later passes
annotate nodes in place rather than building parallel trees:

* the resolver sets `Name.ref` / `Assign` targets' `ref` (where a variable lives),
  `FnDecl.scope` / `Lambda.scope` (slots, captured variables) and
  `Block.scope`;
* the type checker sets `Expr.ty` on every expression, and `conv` where a
  value flows into a typed place and needs run-time work: `(type_text, place)`
  for the emitter's CHECK_TYPE (a check of an `any` value, or an int widened
  to float).

Nodes are plain slotted dataclasses: cheap to build, easy to pattern-match.
Statement lists are Python lists; optional children are `None`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union


@dataclass(slots=True)
class Node:
    line: int
    col: int


# --------------------------------------------------------------------------- types


@dataclass(slots=True)
class TypeExpr(Node):
    pass


@dataclass(slots=True)
class NamedType(TypeExpr):
    """`int`, `Point`, `Task<int>` (args holds the generic arguments)."""

    name: str
    args: list[TypeExpr] = field(default_factory=list)
    # The type parameter it names (1.1 generics), bound by the checker.
    param: Any = field(default=None, kw_only=True)


@dataclass(slots=True)
class ArrayType(TypeExpr):
    elem: TypeExpr


@dataclass(slots=True)
class MapType(TypeExpr):
    key: TypeExpr
    value: TypeExpr


@dataclass(slots=True)
class RecordType(TypeExpr):
    fields: list[tuple[str, TypeExpr]]


@dataclass(slots=True)
class FnType(TypeExpr):
    params: list[TypeExpr]
    ret: TypeExpr | None


@dataclass(slots=True)
class OptionalType(TypeExpr):
    inner: TypeExpr


# --------------------------------------------------------------------------- expressions


@dataclass(slots=True)
class Expr(Node):
    # Checked type, filled in by the type checker.
    ty: Any = field(default=None, kw_only=True)
    # (type_text, place) when this value, as an argument or element, needs a
    # run-time check or int-to-float conversion before it is used.
    conv: Any = field(default=None, kw_only=True)


@dataclass(slots=True)
class IntLit(Expr):
    value: int  # may exceed int64: the compiler reports that


@dataclass(slots=True)
class FloatLit(Expr):
    value: float


@dataclass(slots=True)
class StrLit(Expr):
    value: str  # escapes already decoded


@dataclass(slots=True)
class BoolLit(Expr):
    value: bool


@dataclass(slots=True)
class NilLit(Expr):
    pass


@dataclass(slots=True)
class Interp(Expr):
    """String interpolation: parts alternate freely between str and Expr."""

    parts: list[Union[str, Expr]]


@dataclass(slots=True)
class Name(Expr):
    name: str
    ref: Any = field(default=None, kw_only=True)  # set by the resolver
    # `Stack<int>` / `first<int>` before a call: explicit type arguments (1.1
    # generics; checked, then erased: only the checker reads them).
    type_args: Any = field(default=None, kw_only=True)
    # tldefault: followed by `(` (a callee), as the parser saw it; a generic
    # function named elsewhere is a value, instantiated (generics.py e_Name).
    called: bool = field(default=False, kw_only=True)


@dataclass(slots=True)
class SelfExpr(Expr):
    ref: Any = field(default=None, kw_only=True)


@dataclass(slots=True)
class SuperField(Expr):
    """`super.name` (only valid inside a method of a class with a parent)."""

    name: str
    ref: Any = field(default=None, kw_only=True)  # where the parent class lives


@dataclass(slots=True)
class ArrayLit(Expr):
    items: list[Expr]


@dataclass(slots=True)
class MapLit(Expr):
    entries: list[tuple[Expr, Expr]]


@dataclass(slots=True)
class RecordLit(Expr):
    fields: list[tuple[str, Expr]]


@dataclass(slots=True)
class Unary(Expr):
    op: str  # "-", "~", "not"
    operand: Expr


@dataclass(slots=True)
class Binary(Expr):
    # "+ - * / % & | ^ << >> == != < <= > >= .. ..= is"
    op: str
    left: Expr
    right: Expr


@dataclass(slots=True)
class Logical(Expr):
    op: str  # "and" | "or"
    left: Expr
    right: Expr


@dataclass(slots=True)
class Call(Expr):
    callee: Expr
    args: list[Expr]
    # Set by the checker when it proved every argument against the callee's
    # declared parameter types (their text): emitted as CALL_TYPED /
    # CALL_METHOD_TYPED, so the callee skips its entry checks.
    proven: Any = field(default=None, kw_only=True)


@dataclass(slots=True)
class Index(Expr):
    obj: Expr
    index: Expr


@dataclass(slots=True)
class Field(Expr):
    obj: Expr
    name: str
    # tldefault: `b.map<int>(f)`, `lib.first<int>(xs)`: explicit type
    # arguments of a method or module member before a call (checker only).
    type_args: Any = field(default=None, kw_only=True)


@dataclass(slots=True)
class Param(Node):
    name: str
    type: TypeExpr | None
    default: Expr | None = None  # tlexpr: `fill: string = " "` (tldefault: any expression, evaluated by the callee)


@dataclass(slots=True)
class Lambda(Expr):
    """`fn(x: int) -> int => x * 2` (body is an Expr) or `fn(x) { ... }` (a Block)."""

    params: list[Param]
    ret_type: TypeExpr | None
    body: Union["Block", Expr]
    is_async: bool = False
    scope: Any = field(default=None, kw_only=True)


@dataclass(slots=True)
class Await(Expr):
    value: Expr


@dataclass(slots=True)
class Spawn(Expr):
    call: Expr  # a Call node


@dataclass(slots=True)
class Yield(Expr):
    value: Expr | None


# tlexpr: the 1.1 expressions (spec section 13; lang/tinylang/nilexpr.py
# checks and emits them). `**` is a Binary; defaults and named arguments are
# not here yet.


@dataclass(slots=True)
class Coalesce(Expr):
    """`left ?? right` (at the `??`): right runs only when left is nil."""

    left: Expr
    right: Expr


@dataclass(slots=True)
class Conditional(Expr):
    """`cond ? then : orelse` (at the `?`)."""

    cond: Expr
    then: Expr
    orelse: Expr


@dataclass(slots=True)
class Unwrap(Expr):
    """`operand!` (at the `!`): the value, or TypeError("unexpected nil")."""

    operand: Expr


@dataclass(slots=True)
class Hole(Expr):
    """Inside an OptChain's link: the receiver, already on the stack and
    known not to be nil (its type is set by the checker)."""


@dataclass(slots=True)
class OptChain(Expr):
    """`obj?.f`, `obj?.m(args)`, `obj?[i]` (at the `?.`/`?`): nil when obj is
    nil, else `link`, a Field, Call (of a Field) or Index whose innermost
    object is a Hole standing for obj."""

    obj: Expr
    link: Expr


@dataclass(slots=True)
class Missing(Expr):
    """tldefault: a left-out argument of a call to a known function (named
    arguments skipped a parameter with a default that is not a constant):
    LOAD_MISSING, and the callee's prologue evaluates the default."""


@dataclass(slots=True)
class NamedArg(Expr):
    """`name: value` in a call's arguments (at the name); the checker puts the
    values of a call to a known function in parameter order."""

    name: str
    value: Expr


@dataclass(slots=True)
class Formatted(Expr):
    """A part `${value:spec}` of an interpolated string (at the spec)."""

    value: Expr
    spec: str


# The links of chains: nodes whose left operand (`left`, `callee`, `obj`) is
# written first, so that `a + b + c` or `a.b(c)[d].e` is a left-deep tree as
# deep as the chain is long. The passes walk such spines in loops
# (lang/nesting.py).
CHAIN_LINKS = frozenset({Binary, Logical, Call, Index, Field})


def left_operand(e: Expr) -> Expr | None:
    """The node a chain link continues from: an operator's left operand, a
    call's callee, an index's or field's object."""
    t = type(e)
    if t is Binary or t is Logical:
        return e.left
    if t is Call:
        return e.callee
    return e.obj


def left_spine(e: Expr, down: Callable[[Expr], Expr | None] = left_operand, typed: bool = False) -> tuple[list[Expr], Expr]:
    """(the chain links `e` heads, outermost first; the node below them) --
    the loop every pass walks a chain with instead of recursing. `down(link)`
    gives the node the link continues from, or None to end the spine at the
    link (a pass whose link takes its left side itself: a method call's
    callee, say). With `typed`, the spine ends at a node the checker has
    typed already."""
    spine = []
    while type(e) in CHAIN_LINKS:
        nxt = down(e)
        if nxt is None:
            break
        spine.append(e)
        e = nxt
        if typed and e.ty is not None:
            break
    return spine, e


# --------------------------------------------------------------------------- statements


@dataclass(slots=True)
class Stmt(Node):
    pass


@dataclass(slots=True)
class Block(Stmt):
    stmts: list[Stmt]
    scope: Any = field(default=None, kw_only=True)


@dataclass(slots=True)
class ExprStmt(Stmt):
    expr: Expr


@dataclass(slots=True)
class VarDecl(Stmt):
    """`let name: T = init` (mutable=False) or `var name: T = init`."""

    mutable: bool
    name: str
    type: TypeExpr | None
    init: Expr | None  # `let` always has one; `var x: int` may not
    exported: bool = False
    ref: Any = field(default=None, kw_only=True)
    conv: Any = field(default=None, kw_only=True)  # for the initializer (see Expr.conv)


@dataclass(slots=True)
class FnDecl(Stmt):
    name: str
    params: list[Param]
    ret_type: TypeExpr | None
    body: Block
    is_async: bool = False
    exported: bool = False
    ref: Any = field(default=None, kw_only=True)  # where the function's binding lives
    scope: Any = field(default=None, kw_only=True)
    # 1.1 generics: `fn first<T>(...)` (a list of TypeParam, or None).
    type_params: Any = field(default=None, kw_only=True)


@dataclass(slots=True)
class FieldDecl(Node):
    name: str
    type: TypeExpr | None
    default: Expr | None


@dataclass(slots=True)
class ClassDecl(Stmt):
    name: str
    parent: Name | None
    fields: list[FieldDecl]
    methods: list[FnDecl]
    exported: bool = False
    ref: Any = field(default=None, kw_only=True)
    scope: Any = field(default=None, kw_only=True)
    # Checked type text per field ("" for none), set by the type checker; the
    # VM checks stores into typed fields through untyped receivers.
    field_types: Any = field(default=None, kw_only=True)
    # tlenum (1.1): `static let` (VarDecl) and `static fn` (FnDecl) members.
    statics: list = field(default_factory=list, kw_only=True)
    # 1.1 generics and interfaces: `class Stack<T>` (TypeParams or None),
    # `implements Shape, Named` (NamedTypes), and `interface Shape { ... }`
    # (is_interface: its methods are signatures with empty bodies, never run).
    type_params: Any = field(default=None, kw_only=True)
    implements: Any = field(default=None, kw_only=True)
    is_interface: bool = field(default=False, kw_only=True)
    # The names of every interface the class implements, inherited ones too
    # (set by the checker; recorded in ClassInfo for `v is Shape`).
    interfaces: Any = field(default=None, kw_only=True)


@dataclass(slots=True)
class TypeParam(Node):
    """`T` or `T: Comparable` in `fn f<T: Comparable>` / `class Stack<T>` (1.1)."""

    name: str
    bound: TypeExpr | None = None
    ty: Any = field(default=None, kw_only=True)  # its TypeParamT, set by the checker


@dataclass(slots=True)
class Assign(Stmt):
    """`target op value` with op one of `= += -= *= /= %=`; target is Name/Index/Field."""

    target: Expr
    op: str
    value: Expr
    conv: Any = field(default=None, kw_only=True)  # for the value stored (see Expr.conv)
    # A field store whose receiver's class is statically known: the checker has
    # checked (or converted) the value, so no run-time field check is needed.
    proven: bool = field(default=False, kw_only=True)


@dataclass(slots=True)
class If(Stmt):
    cond: Expr
    then: Block
    orelse: Union[Block, "If", None]


@dataclass(slots=True)
class While(Stmt):
    cond: Expr
    body: Block


@dataclass(slots=True)
class For(Stmt):
    var: str
    var_line: int
    var_col: int
    iterable: Expr
    body: Block
    ref: Any = field(default=None, kw_only=True)  # the loop variable's slot


@dataclass(slots=True)
class Return(Stmt):
    value: Expr | None
    conv: Any = field(default=None, kw_only=True)  # for the returned value


@dataclass(slots=True)
class Break(Stmt):
    pass


@dataclass(slots=True)
class Continue(Stmt):
    pass


@dataclass(slots=True)
class Throw(Stmt):
    value: Expr


@dataclass(slots=True)
class Try(Stmt):
    body: Block
    catch_name: str | None  # None with a catch body means `catch { }`
    catch_body: Block | None
    finally_body: Block | None
    catch_line: int = 0
    catch_col: int = 0
    ref: Any = field(default=None, kw_only=True)  # the catch variable's slot


@dataclass(slots=True)
class Import(Stmt):
    """`import math` (path="math", alias="math") or `import "./geo" as geo`."""

    path: str
    alias: str
    is_file: bool
    ref: Any = field(default=None, kw_only=True)


@dataclass(slots=True)
class FromImport(Stmt):
    """`from "./geo" import Point, dist` -- names as (name, line, col)."""

    path: str
    names: list[tuple[str, int, int]]
    is_file: bool
    refs: Any = field(default=None, kw_only=True)


@dataclass(slots=True)
class SelectCase(Node):
    """One `case` of a select: kind is "recv", "send", "sleep" or "default"."""

    kind: str
    var: str | None  # `case v = ch.recv()` binds v
    channel: Expr | None
    value: Expr | None  # the value sent, or the sleep duration
    body: Block
    ref: Any = field(default=None, kw_only=True)


@dataclass(slots=True)
class Select(Stmt):
    cases: list[SelectCase]


@dataclass(slots=True)
class Module(Node):
    path: str
    body: list[Stmt]


# --------------------------------------------------------------------------- tuples
# Issue 18, helper tltuple (TinyLang 1.1 section 13 "Tuples"). Destructuring
# and the two-variable `for` are desugared by the parser into VarDecl/For with
# these nodes (parser.py: Parser.destructure, Parser.for_pattern), so the later
# passes only meet them as expressions.


@dataclass(slots=True)
class TupleType(TypeExpr):
    """`(int, string)`, `(int,)`."""

    elems: list[TypeExpr]


@dataclass(slots=True)
class TupleLit(Expr):
    """`(1, "a")`, `(x,)`: two or more elements, or one with a trailing comma."""

    items: list[Expr]


@dataclass(slots=True)
class Unpack(Expr):
    """The value of a destructuring pattern of `count` names: checked (at
    compile time when typed, else at run time) to be a tuple of that arity
    (kind 0, `(a, b)`) or an array of that length (kind 1, `[a, b]`)."""

    value: Expr
    count: int
    kind: int


@dataclass(slots=True)
class Pairs(Expr):
    """The iterable of `for k, v in m` (map: (key, value) tuples) and
    `for i, x in xs` (array: (index, element) tuples)."""

    iterable: Expr
# --------------------------------------------------------------------------- tlenum (1.1)


@dataclass(slots=True)
class EnumDecl(ClassDecl):
    """`enum Color { Red, Green, Blue }`: the parser builds it as a class with
    fields `name` and `ordinal`, an `init` and one `static let` per member
    (an EnumValue); `members` are (name, line, col) in order."""

    members: list = field(default_factory=list, kw_only=True)


@dataclass(slots=True)
class EnumValue(Expr):
    """The value of member `ordinal` of enum `cls` (only in an EnumDecl's statics)."""

    cls: Name
    name: str
    ordinal: int


@dataclass(slots=True)
class MatchArm(Node):
    """`when c is Circle { }` (binding and type), `when 0, 1 { }` (values)."""

    binding: str | None
    type_: Expr | None
    values: list
    body: Block


@dataclass(slots=True)
class Match(Block):
    """`match subject { when ... { } else { } }`. The parser also lowers it
    into the block's own statements (`let $match = subject` and an if/else
    chain), which the passes run; `arms`, `else_body` and `subject` are kept
    for the checker's exhaustiveness rule (lang/tinylang/matching.py)."""

    subject: Expr | None = field(default=None, kw_only=True)
    arms: list = field(default_factory=list, kw_only=True)
    else_body: Block | None = field(default=None, kw_only=True)
