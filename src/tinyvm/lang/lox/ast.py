"""The Lox syntax tree, as the parser leaves it: names already resolved.

Every node carries `line` and `col`: the position of the token clox's compiler
had just consumed when it emitted the node's instruction (its `previous`
token). That is the line clox reports a runtime error on, so the compiler
gives the node's TinyVM instruction this position. Examples: a binary
operator is positioned at the last token of its right operand, a call at its
closing `)`, a property read at the property name.

Variables: the parser resolves each name as clox does, to a `Local` of the
function (`Ref.kind == LOCAL`), an upvalue of the function (`UPVAL`, an index
into `Function.upvalues`) or a global (`GLOBAL`, by name). A `Local` is
shared by its declaration and every use, and is marked `captured` when an
inner function closes over it, so the compiler knows at the declaration that
the variable must live in a cell.
"""

from __future__ import annotations

from typing import Any

LOCAL, UPVAL, GLOBAL = "local", "upval", "global"

# Function kinds (clox's FunctionType).
SCRIPT, FUNCTION, METHOD, INITIALIZER = "script", "function", "method", "initializer"


class Local:
    """A local variable: its slot in clox's numbering (slot 0 is the function,
    or `this` in a method), and whether a closure captures it."""

    __slots__ = ("name", "slot", "depth", "captured")

    def __init__(self, name: str, slot: int, depth: int) -> None:
        self.name = name
        self.slot = slot
        self.depth = depth  # scope depth; -1 while its initializer is being compiled
        self.captured = False


class Ref:
    __slots__ = ("kind", "index", "local", "name")

    def __init__(self, kind: str, index: Any, local: Local | None, name: str) -> None:
        self.kind = kind  # LOCAL, UPVAL or GLOBAL
        self.index = index  # upvalue index (UPVAL); unused otherwise
        self.local = local  # the Local (LOCAL)
        self.name = name  # the variable's name (GLOBAL: how it is found)


class Node:
    __slots__ = ("line", "col")

    def at(self, line: int, col: int) -> "Node":
        self.line = line
        self.col = col
        return self


# --------------------------------------------------------------------------- expressions


class Expr(Node):
    __slots__ = ()


class Literal(Expr):
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value  # float, str, True, False or None


class Variable(Expr):
    __slots__ = ("ref",)

    def __init__(self, ref: Ref) -> None:
        self.ref = ref


class Assign(Expr):
    __slots__ = ("ref", "value")

    def __init__(self, ref: Ref, value: Expr) -> None:
        self.ref = ref
        self.value = value


class Unary(Expr):
    __slots__ = ("op", "operand")

    def __init__(self, op: str, operand: Expr) -> None:
        self.op = op  # "-" or "!"
        self.operand = operand


class Binary(Expr):
    __slots__ = ("op", "left", "right")

    def __init__(self, op: str, left: Expr, right: Expr) -> None:
        self.op = op
        self.left = left
        self.right = right


class Logical(Expr):
    __slots__ = ("op", "left", "right")

    def __init__(self, op: str, left: Expr, right: Expr) -> None:
        self.op = op  # "and" or "or"
        self.left = left
        self.right = right


class Call(Expr):
    __slots__ = ("callee", "args")

    def __init__(self, callee: Expr, args: list[Expr]) -> None:
        self.callee = callee
        self.args = args


class Get(Expr):
    __slots__ = ("obj", "name")

    def __init__(self, obj: Expr, name: str) -> None:
        self.obj = obj
        self.name = name


class Set(Expr):
    __slots__ = ("obj", "name", "value")

    def __init__(self, obj: Expr, name: str, value: Expr) -> None:
        self.obj = obj
        self.name = name
        self.value = value


class Invoke(Expr):
    """`obj.name(args)`: clox's OP_INVOKE (a field of that name shadows the method)."""

    __slots__ = ("obj", "name", "args")

    def __init__(self, obj: Expr, name: str, args: list[Expr]) -> None:
        self.obj = obj
        self.name = name
        self.args = args


class This(Expr):
    __slots__ = ("ref",)

    def __init__(self, ref: Ref) -> None:
        self.ref = ref


class SuperGet(Expr):
    """`super.name`: the superclass's method bound to `this`."""

    __slots__ = ("name", "this", "superclass")

    def __init__(self, name: str, this: Ref, superclass: Ref) -> None:
        self.name = name
        self.this = this
        self.superclass = superclass


class SuperInvoke(Expr):
    """`super.name(args)`."""

    __slots__ = ("name", "args", "this", "superclass")

    def __init__(self, name: str, args: list[Expr], this: Ref, superclass: Ref) -> None:
        self.name = name
        self.args = args
        self.this = this
        self.superclass = superclass


# --------------------------------------------------------------------------- statements


class Stmt(Node):
    __slots__ = ()


class Print(Stmt):
    __slots__ = ("expr",)

    def __init__(self, expr: Expr) -> None:
        self.expr = expr


class ExprStmt(Stmt):
    __slots__ = ("expr",)

    def __init__(self, expr: Expr) -> None:
        self.expr = expr


class VarDecl(Stmt):
    """`var name = init;` (init None: nil). `target` is a LOCAL or GLOBAL ref."""

    __slots__ = ("target", "init")

    def __init__(self, target: Ref, init: Expr | None) -> None:
        self.target = target
        self.init = init


class Block(Stmt):
    __slots__ = ("stmts",)

    def __init__(self, stmts: list[Stmt]) -> None:
        self.stmts = stmts


class If(Stmt):
    __slots__ = ("cond", "then", "otherwise")

    def __init__(self, cond: Expr, then: Stmt, otherwise: Stmt | None) -> None:
        self.cond = cond
        self.then = then
        self.otherwise = otherwise


class While(Stmt):
    __slots__ = ("cond", "body")

    def __init__(self, cond: Expr, body: Stmt) -> None:
        self.cond = cond
        self.body = body


class For(Stmt):
    __slots__ = ("init", "cond", "incr", "body")

    def __init__(self, init: Stmt | None, cond: Expr | None, incr: Expr | None, body: Stmt) -> None:
        self.init = init
        self.cond = cond
        self.incr = incr
        self.body = body


class Return(Stmt):
    __slots__ = ("value",)

    def __init__(self, value: Expr | None) -> None:
        self.value = value  # None: `return;` (nil, or `this` in an initializer)


class Function(Node):
    """A function body: a `fun` declaration, a method, or the script itself."""

    __slots__ = ("name", "kind", "params", "this", "body", "upvalues", "upvalue_names", "slot_names", "end_line", "end_col")

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind
        self.params: list[Local] = []
        self.this: Local | None = None  # slot 0 of a method or initializer
        self.body: list[Stmt] = []
        self.upvalues: list[tuple[bool, int]] = []  # (from the enclosing function's locals?, index)
        self.upvalue_names: list[str] = []
        # The variable name(s) of each local slot used (clox's numbering, slot
        # 0 included): its length is the number of slots the function needs.
        self.slot_names: list[str] = ["" if kind == FUNCTION else "this"]
        self.end_line = 0  # position of the closing `}` (implicit return, OP_CLOSURE)
        self.end_col = 0


class FunDecl(Stmt):
    __slots__ = ("target", "function")

    def __init__(self, target: Ref, function: Function) -> None:
        self.target = target
        self.function = function


class ClassDecl(Stmt):
    """`class Name < Super { methods }`. `superclass` reads the parent's
    variable; `super_local` is the hidden local that holds it for `super`."""

    __slots__ = ("name", "target", "superclass", "super_local", "methods", "super_line", "super_col")

    def __init__(self, name: str, target: Ref) -> None:
        self.name = name
        self.target = target
        self.superclass: Variable | None = None
        self.super_local: Local | None = None
        self.methods: list[Function] = []
        self.super_line = 0  # where clox's OP_INHERIT is (the superclass name)
        self.super_col = 0
