"""Lox's parser: clox's single-pass compiler (compiler.c), building a tree.

The functions below are clox's, one for one, in the same order of token
reads, name resolution and checks -- so the same programs are rejected with
the same messages, at the same tokens, in the same order, with the same
panic-mode recovery (errors.py). Where clox emits bytecode, this parser builds
a node instead and tells the chunk model (scopes.py) how many bytes clox's
instruction has, which is how clox's limits (constants, jump distances) are
found exactly where clox finds them.

Name resolution is clox's too: locals by scope depth (a redeclaration in the
same scope is an error, shadowing an outer one is not), upvalues through the
enclosing functions (marking the captured local), and everything else a
global, bound at run time by name.

The tree is compiled only when no error was found, so after an error the
parser may build placeholder nodes: it must only keep going as clox does.

Nesting is limited: the parser recurses in Python, where clox recurses in C,
so an expression, statement or function nested deeper than `MAX_NESTING`
levels, or a function nested in more than `MAX_FUNCTION_NESTING` functions
(lang/nesting.py: the `.tvm` format's limit, so that `tvmc` never writes a
file `tvm run` refuses), is the error "Too much nesting." (the last one
reported) rather than a host stack overflow. Chains are not nesting: binary
operators and call/property chains are loops, as in clox, and so are `and`/
`or` chains and `else if` chains here (clox recurses for those: it nests
them to the right), so chains are as long as clox's own limits (constants,
16-bit jumps) allow.
"""

from __future__ import annotations

from ..nesting import MAX_FUNCTION_NESTING, recursion_room
from . import ast as A
from .ast import FUNCTION, GLOBAL, INITIALIZER, LOCAL, METHOD, SCRIPT, UPVAL, Ref
from .errors import Reporter
from .lexer import (
    AND, BANG, BANG_EQUAL, CLASS, COMMA, DOT, ELSE, EOF, EQUAL, EQUAL_EQUAL, ERROR, FALSE, FOR, FUN, GREATER,
    GREATER_EQUAL, IDENTIFIER, IF, LEFT_BRACE, LEFT_PAREN, LESS, LESS_EQUAL, MINUS, NIL, NUMBER, OR,
    PLUS, PRINT, RETURN, RIGHT_BRACE, RIGHT_PAREN, SEMICOLON, SLASH, STAR, STRING, SUPER, THIS, TRUE,
    VAR, WHILE, Scanner, Token,
)  # fmt: skip
from .scopes import FunctionState

# Precedences, lowest first (clox's Precedence).
(PREC_NONE, PREC_ASSIGNMENT, PREC_OR, PREC_AND, PREC_EQUALITY, PREC_COMPARISON,
 PREC_TERM, PREC_FACTOR, PREC_UNARY, PREC_CALL, PREC_PRIMARY) = range(11)  # fmt: skip

# Infix precedence per token type (clox's rules table; absent: PREC_NONE).
INFIX_PREC = {
    LEFT_PAREN: PREC_CALL, DOT: PREC_CALL,
    MINUS: PREC_TERM, PLUS: PREC_TERM, SLASH: PREC_FACTOR, STAR: PREC_FACTOR,
    BANG_EQUAL: PREC_EQUALITY, EQUAL_EQUAL: PREC_EQUALITY,
    GREATER: PREC_COMPARISON, GREATER_EQUAL: PREC_COMPARISON, LESS: PREC_COMPARISON, LESS_EQUAL: PREC_COMPARISON,
    AND: PREC_AND, OR: PREC_OR,
}  # fmt: skip

# Bytes of clox's code for each binary operator (`a != b` is EQUAL NOT).
BINARY_SIZE = {BANG_EQUAL: 2, EQUAL_EQUAL: 1, GREATER: 1, GREATER_EQUAL: 2, LESS: 1, LESS_EQUAL: 2, PLUS: 1, MINUS: 1, STAR: 1, SLASH: 1}

STATEMENT_STARTS = frozenset({CLASS, FUN, VAR, FOR, IF, WHILE, PRINT, RETURN})

MAX_NESTING = 1500
# Python frames the parser, and the compiler after it, take per level at most.
FRAMES_PER_LEVEL = 8


class ClassState:
    __slots__ = ("enclosing", "has_superclass")

    def __init__(self, enclosing: "ClassState | None") -> None:
        self.enclosing = enclosing
        self.has_superclass = False


class Parser:
    def __init__(self, source: str, path: str) -> None:
        self.scanner = Scanner(source)
        self.errors = Reporter(path)
        self.current = Token(EOF, "", 1, 1)
        self.previous = self.current
        self.fs: FunctionState = None  # type: ignore[assignment]
        self.cls: ClassState | None = None
        self.depth = 0
        self.functions = 0  # functions around the code being parsed (the script is 0)

    # ------------------------------------------------------------------ entry

    def parse(self) -> A.Function:
        """The script as a function (check `self.errors` before using it)."""
        script = A.Function("script", SCRIPT)
        script.at(1, 1)
        self.fs = FunctionState(None, script)
        with recursion_room(FRAMES_PER_LEVEL * MAX_NESTING):
            self.advance()
            while not self.match(EOF):
                script.body.append(self.declaration())
        self.fs.emit(2)  # endCompiler: NIL RETURN
        script.end_line, script.end_col = self.previous.line, self.previous.col
        return script

    # ------------------------------------------------------------------ tokens

    def advance(self) -> None:
        self.previous = self.current
        while True:
            self.current = self.scanner.scan_token()
            if self.current.type != ERROR:
                break
            self.error_at(self.current, self.current.text)

    def check(self, kind: str) -> bool:
        return self.current.type == kind

    def match(self, kind: str) -> bool:
        if self.current.type != kind:
            return False
        self.advance()
        return True

    def consume(self, kind: str, message: str) -> None:
        if self.current.type == kind:
            self.advance()
            return
        self.error_at(self.current, message)

    def error(self, message: str) -> None:
        self.errors.error_at(self.previous, message)

    def error_at(self, token: Token, message: str) -> None:
        self.errors.error_at(token, message)

    def synchronize(self) -> None:
        self.errors.panic = False
        while self.current.type != EOF:
            if self.previous.type == SEMICOLON:
                return
            if self.current.type in STATEMENT_STARTS:
                return
            self.advance()

    def here(self, node: A.Node) -> A.Node:
        """Position node at the token just consumed (where clox emits)."""
        return node.at(self.previous.line, self.previous.col)

    def _nest(self) -> bool:
        """Enter one level of nesting; False when too deep: then the error is
        reported, and the parse abandoned (see _too_deep)."""
        if self.depth >= MAX_NESTING:
            self._too_deep()
            return False
        self.depth += 1
        return True

    def _too_deep(self) -> None:
        """Report "Too much nesting." and abandon the parse: the rest of the
        file is skipped, and nothing more is reported, so that it ends
        without cascading errors."""
        self.error_at(self.current, "Too much nesting.")
        self.errors.abandoned = True
        while self.current.type != EOF:
            self.advance()

    # ------------------------------------------------------------------ clox's emission helpers

    def make_constant(self) -> None:
        if not self.fs.add_constant():
            self.error("Too many constants in one chunk.")

    def patch_jump(self, offset: int) -> None:
        if not self.fs.patch_jump(offset):
            self.error("Too much code to jump over.")

    def emit_loop(self, loop_start: int) -> None:
        if not self.fs.emit_loop(loop_start):
            self.error("Loop body too large.")

    def emit_return(self) -> None:
        # initializer: GET_LOCAL 0, RETURN; else NIL, RETURN
        self.fs.emit(3 if self.fs.kind == INITIALIZER else 2)

    def begin_scope(self) -> None:
        self.fs.scope_depth += 1

    def end_scope(self) -> None:
        fs = self.fs
        fs.scope_depth -= 1
        while fs.locals and fs.locals[-1].depth > fs.scope_depth:
            fs.emit(1)  # POP or CLOSE_UPVALUE
            fs.locals.pop()

    # ------------------------------------------------------------------ variables

    def add_local(self, name: str) -> A.Local | None:
        local = self.fs.add_local(name)
        if local is None:
            self.error("Too many local variables in function.")
        return local

    def declare_variable(self) -> A.Local | None:
        fs = self.fs
        if fs.scope_depth == 0:
            return None
        name = self.previous.text
        for local in reversed(fs.locals):
            if local.depth != -1 and local.depth < fs.scope_depth:
                break
            if local.name == name:
                self.error("Already a variable with this name in this scope.")
        return self.add_local(name)

    def parse_variable(self, message: str) -> Ref:
        self.consume(IDENTIFIER, message)
        name = self.previous.text
        local = self.declare_variable()
        if self.fs.scope_depth > 0:
            return Ref(LOCAL, None, local, name)
        self.make_constant()
        return Ref(GLOBAL, None, None, name)

    def define_variable(self, target: Ref) -> None:
        if self.fs.scope_depth > 0:
            self.fs.mark_initialized()
            return
        self.fs.emit(2)  # DEFINE_GLOBAL

    def resolve_local(self, fs: FunctionState, name: str) -> tuple[int, A.Local | None]:
        index, local, uninitialised = fs.resolve_local(name)
        if uninitialised:
            self.error("Can't read local variable in its own initializer.")
        return index, local

    def resolve_upvalue(self, fs: FunctionState, name: str) -> int:
        enclosing = fs.enclosing
        if enclosing is None:
            return -1
        index, local = self.resolve_local(enclosing, name)
        if local is not None:
            local.captured = True
            return self.add_upvalue(fs, index, True, name)
        up = self.resolve_upvalue(enclosing, name)
        if up != -1:
            return self.add_upvalue(fs, up, False, name)
        return -1

    def add_upvalue(self, fs: FunctionState, index: int, is_local: bool, name: str) -> int:
        i = fs.add_upvalue(index, is_local, name)
        if i == -1:
            self.error("Too many closure variables in function.")
            return 0
        return i

    def resolve(self, name: str) -> Ref:
        """clox's namedVariable lookup: local, upvalue or global."""
        index, local = self.resolve_local(self.fs, name)
        if local is not None:
            return Ref(LOCAL, None, local, name)
        up = self.resolve_upvalue(self.fs, name)
        if up != -1:
            return Ref(UPVAL, up, None, name)
        self.make_constant()
        return Ref(GLOBAL, None, None, name)

    def named_variable(self, name: str, can_assign: bool) -> A.Expr:
        ref = self.resolve(name)
        if can_assign and self.match(EQUAL):
            value = self.expression()
            self.fs.emit(2)  # SET_x
            return self.here(A.Assign(ref, value))
        self.fs.emit(2)  # GET_x
        return self.here(A.Variable(ref))

    # ------------------------------------------------------------------ expressions

    def expression(self) -> A.Expr:
        return self.parse_precedence(PREC_ASSIGNMENT)

    def parse_precedence(self, precedence: int) -> A.Expr:
        if not self._nest():
            return self.here(A.Literal(None))
        try:
            return self._parse_precedence(precedence)
        finally:
            self.depth -= 1

    def _parse_precedence(self, precedence: int) -> A.Expr:
        # clox's and_/or_ parse their right operand with parsePrecedence(
        # PREC_AND/PREC_OR), which takes the next `and`/`or` itself: a chain
        # nests to the right, one recursion per link. Here those recursions
        # are a loop over `links`, the `and`/`or`s whose right operand is being
        # parsed: (operator, left operand, jump to patch, and the precedence
        # and can_assign of the parsePrecedence they interrupted). The tokens
        # read, the bytes counted and the errors are clox's.
        can_assign = precedence <= PREC_ASSIGNMENT
        links: list[tuple[str, A.Expr, int, int, bool]] = []
        expr = self._prefix(can_assign)
        while True:
            if expr is not None:  # (None: "Expect expression.", and clox returns at once)
                while precedence <= INFIX_PREC.get(self.current.type, PREC_NONE):
                    self.advance()
                    kind = self.previous.type
                    if kind == AND or kind == OR:
                        links.append((kind, expr, self._open_logical(kind), precedence, can_assign))
                        precedence, can_assign = (PREC_AND if kind == AND else PREC_OR), False
                        expr = self._prefix(False)
                        if expr is None:
                            break
                        continue
                    expr = INFIX[kind](self, expr, can_assign)
                else:
                    if can_assign and self.match(EQUAL):
                        self.error("Invalid assignment target.")
            if expr is None:
                expr = self.here(A.Literal(None))
            if not links:
                return expr
            kind, left, jump, precedence, can_assign = links.pop()
            self.patch_jump(jump)  # clox's and_/or_ returning
            expr = self.here(A.Logical("and" if kind == AND else "or", left, expr))

    def _prefix(self, can_assign: bool) -> A.Expr | None:
        """An operand's prefix rule (the start of parsePrecedence); None after
        "Expect expression."."""
        self.advance()
        prefix = PREFIX.get(self.previous.type)
        if prefix is None:
            self.error("Expect expression.")
            return None
        return prefix(self, can_assign)

    def _open_logical(self, kind: str) -> int:
        """What clox's and_ or or_ emits before its right operand; the jump
        to patch after it."""
        fs = self.fs
        if kind == AND:
            end_jump = fs.emit_jump()
            fs.emit(1)  # POP
            return end_jump
        else_jump = fs.emit_jump()
        end_jump = fs.emit_jump()
        self.patch_jump(else_jump)
        fs.emit(1)  # POP
        return end_jump

    def grouping(self, can_assign: bool) -> A.Expr:
        expr = self.expression()
        self.consume(RIGHT_PAREN, "Expect ')' after expression.")
        return expr

    def number(self, can_assign: bool) -> A.Expr:
        self.make_constant()
        self.fs.emit(2)
        return self.here(A.Literal(float(self.previous.text)))

    def string(self, can_assign: bool) -> A.Expr:
        self.make_constant()
        self.fs.emit(2)
        return self.here(A.Literal(self.previous.text[1:-1]))

    def literal(self, can_assign: bool) -> A.Expr:
        self.fs.emit(1)
        kind = self.previous.type
        return self.here(A.Literal(True if kind == TRUE else False if kind == FALSE else None))

    def variable(self, can_assign: bool) -> A.Expr:
        return self.named_variable(self.previous.text, can_assign)

    def unary(self, can_assign: bool) -> A.Expr:
        op = self.previous.type
        operand = self.parse_precedence(PREC_UNARY)
        self.fs.emit(1)  # NEGATE or NOT
        return self.here(A.Unary(op, operand))

    def binary(self, left: A.Expr, can_assign: bool) -> A.Expr:
        op = self.previous.type
        right = self.parse_precedence(INFIX_PREC[op] + 1)
        self.fs.emit(BINARY_SIZE[op])
        return self.here(A.Binary(op, left, right))

    # (clox's and_ and or_: in _parse_precedence.)

    def argument_list(self) -> list[A.Expr]:
        args: list[A.Expr] = []
        count = 0  # clox's uint8_t argCount
        if not self.check(RIGHT_PAREN):
            while True:
                args.append(self.expression())
                if count == 255:
                    self.error("Can't have more than 255 arguments.")
                count = (count + 1) & 0xFF
                if not self.match(COMMA):
                    break
        self.consume(RIGHT_PAREN, "Expect ')' after arguments.")
        return args

    def call(self, callee: A.Expr, can_assign: bool) -> A.Expr:
        args = self.argument_list()
        self.fs.emit(2)  # CALL
        return self.here(A.Call(callee, args))

    def dot(self, obj: A.Expr, can_assign: bool) -> A.Expr:
        self.consume(IDENTIFIER, "Expect property name after '.'.")
        name = self.previous.text
        self.make_constant()
        if can_assign and self.match(EQUAL):
            value = self.expression()
            self.fs.emit(2)  # SET_PROPERTY
            return self.here(A.Set(obj, name, value))
        if self.match(LEFT_PAREN):
            args = self.argument_list()
            self.fs.emit(3)  # INVOKE
            return self.here(A.Invoke(obj, name, args))
        self.fs.emit(2)  # GET_PROPERTY
        return self.here(A.Get(obj, name))

    def this_(self, can_assign: bool) -> A.Expr:
        if self.cls is None:
            self.error("Can't use 'this' outside of a class.")
            return self.here(A.Literal(None))
        ref = self.resolve("this")
        self.fs.emit(2)
        return self.here(A.This(ref))

    def super_(self, can_assign: bool) -> A.Expr:
        if self.cls is None:
            self.error("Can't use 'super' outside of a class.")
        elif not self.cls.has_superclass:
            self.error("Can't use 'super' in a class with no superclass.")
        self.consume(DOT, "Expect '.' after 'super'.")
        self.consume(IDENTIFIER, "Expect superclass method name.")
        name = self.previous.text
        self.make_constant()
        this = self.resolve("this")
        self.fs.emit(2)
        if self.match(LEFT_PAREN):
            args = self.argument_list()
            superclass = self.resolve("super")
            self.fs.emit(2 + 3)  # GET super, SUPER_INVOKE
            return self.here(A.SuperInvoke(name, args, this, superclass))
        superclass = self.resolve("super")
        self.fs.emit(2 + 2)  # GET super, GET_SUPER
        return self.here(A.SuperGet(name, this, superclass))

    # ------------------------------------------------------------------ declarations

    def declaration(self) -> A.Stmt:
        if self.match(CLASS):
            stmt = self.class_declaration()
        elif self.match(FUN):
            stmt = self.fun_declaration()
        elif self.match(VAR):
            stmt = self.var_declaration()
        else:
            stmt = self.statement()
        if self.errors.panic:
            self.synchronize()
        return stmt

    def class_declaration(self) -> A.Stmt:
        fs = self.fs
        self.consume(IDENTIFIER, "Expect class name.")
        name_token = self.previous
        class_name = name_token.text
        self.make_constant()
        local = self.declare_variable()
        target = Ref(LOCAL, None, local, class_name) if fs.scope_depth > 0 else Ref(GLOBAL, None, None, class_name)
        fs.emit(2)  # CLASS
        self.define_variable(target)
        node = A.ClassDecl(class_name, target)
        node.at(name_token.line, name_token.col)
        state = ClassState(self.cls)
        self.cls = state
        if self.match(LESS):
            self.consume(IDENTIFIER, "Expect superclass name.")
            superclass = self.variable(False)
            if class_name == self.previous.text:
                self.error("A class can't inherit from itself.")
            node.super_line, node.super_col = self.previous.line, self.previous.col
            if isinstance(superclass, A.Variable):
                node.superclass = superclass
            self.begin_scope()
            node.super_local = self.add_local("super")
            self.define_variable(Ref(LOCAL, None, node.super_local, "super"))
            self.named_variable(class_name, False)
            fs.emit(1)  # INHERIT
            state.has_superclass = True
        self.named_variable(class_name, False)
        self.consume(LEFT_BRACE, "Expect '{' before class body.")
        while not self.check(RIGHT_BRACE) and not self.check(EOF):
            node.methods.append(self.method())
        self.consume(RIGHT_BRACE, "Expect '}' after class body.")
        fs.emit(1)  # POP
        if state.has_superclass:
            self.end_scope()
        self.cls = state.enclosing
        return node

    def method(self) -> A.Function:
        self.consume(IDENTIFIER, "Expect method name.")
        self.make_constant()
        kind = INITIALIZER if self.previous.text == "init" else METHOD
        fn = self.function(kind)
        self.fs.emit(2)  # METHOD
        return fn

    def fun_declaration(self) -> A.Stmt:
        target = self.parse_variable("Expect function name.")
        self.fs.mark_initialized()
        fn = self.function(FUNCTION)
        self.define_variable(target)
        return A.FunDecl(target, fn).at(fn.line, fn.col)

    def function(self, kind: str) -> A.Function:
        # (Functions nest through declarations, which do not count nesting.)
        if self.functions >= MAX_FUNCTION_NESTING:
            self._too_deep()
        if self.errors.abandoned or not self._nest():
            return self.here(A.Function(self.previous.text, kind))  # type: ignore[return-value]
        self.functions += 1
        try:
            return self._function(kind)
        finally:
            self.depth -= 1
            self.functions -= 1

    def _function(self, kind: str) -> A.Function:
        fn = A.Function(self.previous.text, kind)
        fn.at(self.previous.line, self.previous.col)
        fs = FunctionState(self.fs, fn)
        self.fs = fs
        self.begin_scope()
        self.consume(LEFT_PAREN, "Expect '(' after function name.")
        if not self.check(RIGHT_PAREN):
            while True:
                fs.arity += 1
                if fs.arity > 255:
                    self.error_at(self.current, "Can't have more than 255 parameters.")
                param = self.parse_variable("Expect parameter name.")
                self.define_variable(param)
                if param.local is not None:
                    fn.params.append(param.local)
                if not self.match(COMMA):
                    break
        self.consume(RIGHT_PAREN, "Expect ')' after parameters.")
        self.consume(LEFT_BRACE, "Expect '{' before function body.")
        fn.body = self.block()
        self.emit_return()
        fn.end_line, fn.end_col = self.previous.line, self.previous.col
        self.fs = fs.enclosing  # type: ignore[assignment]
        self.make_constant()
        self.fs.emit(2 + 2 * len(fn.upvalues))  # CLOSURE
        return fn

    def var_declaration(self) -> A.Stmt:
        target = self.parse_variable("Expect variable name.")
        init: A.Expr | None = None
        if self.match(EQUAL):
            init = self.expression()
        else:
            self.fs.emit(1)  # NIL
        self.consume(SEMICOLON, "Expect ';' after variable declaration.")
        self.define_variable(target)
        return self.here(A.VarDecl(target, init))

    # ------------------------------------------------------------------ statements

    def statement(self) -> A.Stmt:
        if not self._nest():
            return self.here(A.Block([]))
        try:
            if self.match(PRINT):
                return self.print_statement()
            if self.match(FOR):
                return self.for_statement()
            if self.match(IF):
                return self.if_statement()
            if self.match(RETURN):
                return self.return_statement()
            if self.match(WHILE):
                return self.while_statement()
            if self.match(LEFT_BRACE):
                self.begin_scope()
                stmts = self.block()
                self.end_scope()
                return self.here(A.Block(stmts))
            return self.expression_statement()
        finally:
            self.depth -= 1

    def block(self) -> list[A.Stmt]:
        stmts = []
        while not self.check(RIGHT_BRACE) and not self.check(EOF):
            stmts.append(self.declaration())
        self.consume(RIGHT_BRACE, "Expect '}' after block.")
        return stmts

    def print_statement(self) -> A.Stmt:
        value = self.expression()
        self.consume(SEMICOLON, "Expect ';' after value.")
        self.fs.emit(1)
        return self.here(A.Print(value))

    def expression_statement(self) -> A.Stmt:
        expr = self.expression()
        self.consume(SEMICOLON, "Expect ';' after expression.")
        self.fs.emit(1)  # POP
        return self.here(A.ExprStmt(expr))

    def return_statement(self) -> A.Stmt:
        if self.fs.kind == SCRIPT:
            self.error("Can't return from top-level code.")
        if self.match(SEMICOLON):
            self.emit_return()
            return self.here(A.Return(None))
        if self.fs.kind == INITIALIZER:
            self.error("Can't return a value from an initializer.")
        value = self.expression()
        self.consume(SEMICOLON, "Expect ';' after return value.")
        self.fs.emit(1)
        return self.here(A.Return(value))

    def if_statement(self) -> A.Stmt:
        # clox's ifStatement, with `else if` taken in a loop where clox
        # recurses (statement -> ifStatement): the same reads and byte counts,
        # and the else-jumps are patched innermost first, as clox does when
        # its recursion returns.
        fs = self.fs
        chain: list[tuple[A.If, int]] = []  # each `if` of an `else if` chain, and its else-jump
        while True:
            self.consume(LEFT_PAREN, "Expect '(' after 'if'.")
            cond = self.expression()
            self.consume(RIGHT_PAREN, "Expect ')' after condition.")
            then_jump = fs.emit_jump()
            fs.emit(1)  # POP
            then = self.statement()
            else_jump = fs.emit_jump()
            self.patch_jump(then_jump)
            fs.emit(1)  # POP
            node = A.If(cond, then, None)
            if chain:
                chain[-1][0].otherwise = node
            chain.append((node, else_jump))
            if not self.match(ELSE):
                break
            if not self.match(IF):
                node.otherwise = self.statement()
                break
        for node, else_jump in reversed(chain):
            self.patch_jump(else_jump)
            self.here(node)
        return chain[0][0]

    def while_statement(self) -> A.Stmt:
        fs = self.fs
        loop_start = fs.count
        self.consume(LEFT_PAREN, "Expect '(' after 'while'.")
        cond = self.expression()
        self.consume(RIGHT_PAREN, "Expect ')' after condition.")
        exit_jump = fs.emit_jump()
        fs.emit(1)  # POP
        body = self.statement()
        self.emit_loop(loop_start)
        self.patch_jump(exit_jump)
        fs.emit(1)  # POP
        return self.here(A.While(cond, body))

    def for_statement(self) -> A.Stmt:
        fs = self.fs
        self.begin_scope()
        self.consume(LEFT_PAREN, "Expect '(' after 'for'.")
        init: A.Stmt | None
        if self.match(SEMICOLON):
            init = None
        elif self.match(VAR):
            init = self.var_declaration()
        else:
            init = self.expression_statement()
        loop_start = fs.count
        exit_jump = -1
        cond: A.Expr | None = None
        if not self.match(SEMICOLON):
            cond = self.expression()
            self.consume(SEMICOLON, "Expect ';' after loop condition.")
            exit_jump = fs.emit_jump()
            fs.emit(1)  # POP
        incr: A.Expr | None = None
        if not self.match(RIGHT_PAREN):
            body_jump = fs.emit_jump()
            increment_start = fs.count
            incr = self.expression()
            fs.emit(1)  # POP
            self.consume(RIGHT_PAREN, "Expect ')' after for clauses.")
            self.emit_loop(loop_start)
            loop_start = increment_start
            self.patch_jump(body_jump)
        body = self.statement()
        self.emit_loop(loop_start)
        if exit_jump != -1:
            self.patch_jump(exit_jump)
            fs.emit(1)  # POP
        self.end_scope()
        return self.here(A.For(init, cond, incr, body))


PREFIX = {
    LEFT_PAREN: Parser.grouping, MINUS: Parser.unary, BANG: Parser.unary,
    IDENTIFIER: Parser.variable, STRING: Parser.string, NUMBER: Parser.number,
    FALSE: Parser.literal, NIL: Parser.literal, TRUE: Parser.literal,
    SUPER: Parser.super_, THIS: Parser.this_,
}  # fmt: skip

INFIX = {
    LEFT_PAREN: Parser.call, DOT: Parser.dot,
    MINUS: Parser.binary, PLUS: Parser.binary, SLASH: Parser.binary, STAR: Parser.binary,
    BANG_EQUAL: Parser.binary, EQUAL_EQUAL: Parser.binary,
    GREATER: Parser.binary, GREATER_EQUAL: Parser.binary, LESS: Parser.binary, LESS_EQUAL: Parser.binary,
}  # fmt: skip  (AND, OR: taken by _parse_precedence)


def parse(source: str, path: str) -> tuple[A.Function, Reporter]:
    """The script of `source` and the errors found (none: it can be compiled)."""
    parser = Parser(source, path)
    script = parser.parse()
    return script, parser.errors


def is_incomplete(source: str) -> bool:
    """True when `source` needs more lines: an open `(` or `{`, or an
    unterminated string (the REPL keeps reading)."""
    scanner = Scanner(source)
    depth = 0
    while True:
        tok = scanner.scan_token()
        if tok.type == EOF:
            return depth > 0
        if tok.type == ERROR and tok.text == "Unterminated string.":
            return True
        if tok.type in (LEFT_PAREN, LEFT_BRACE):
            depth += 1
        elif tok.type in (RIGHT_PAREN, RIGHT_BRACE):
            depth -= 1
