"""Unit tests for the TinyLang parser (tinyvm.lang.tinylang.parser)."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyvm.lang.diagnostics import DiagnosticBag
from tinyvm.lang.tinylang import ast
from tinyvm.lang.tinylang.parser import is_incomplete, parse
from tinyvm.lang.tinylang.tokens import KEYWORDS, OPERATORS


def parse_src(src: str) -> tuple[ast.Module, list[tuple[int, int, str]]]:
    bag = DiagnosticBag("t.tl")
    module = parse(src, "t.tl", bag)
    return module, [(d.line, d.col, d.message) for d in bag.items]


def stmts(src: str) -> list[ast.Stmt]:
    module, errors = parse_src(src)
    assert errors == [], errors
    return module.body


def expr(src: str) -> ast.Expr:
    (s,) = stmts(src)
    assert isinstance(s, ast.ExprStmt)
    return s.expr


def errors_of(src: str) -> list[tuple[int, int, str]]:
    return parse_src(src)[1]


def sx(n) -> str:
    """A compact s-expression of an expression or type, to check tree shapes."""
    match n:
        case None:
            return "_"
        case ast.Name(name=name) | ast.NamedType(name=name, args=[]):
            return name
        case ast.NamedType(name=name, args=args):
            return f"{name}<{' '.join(map(sx, args))}>"
        case ast.IntLit(value=v) | ast.FloatLit(value=v):
            return repr(v)
        case ast.StrLit(value=v):
            return repr(v)
        case ast.BoolLit(value=v):
            return "true" if v else "false"
        case ast.NilLit():
            return "nil"
        case ast.SelfExpr():
            return "self"
        case ast.SuperField(name=name):
            return f"super.{name}"
        case ast.Binary(op=op, left=l, right=r) | ast.Logical(op=op, left=l, right=r):
            return f"({op} {sx(l)} {sx(r)})"
        case ast.Unary(op=op, operand=x):
            return f"({op} {sx(x)})"
        case ast.Call(callee=c, args=args):
            return f"(call {' '.join(sx(x) for x in [c, *args])})"
        case ast.Index(obj=o, index=i):
            return f"(index {sx(o)} {sx(i)})"
        case ast.Field(obj=o, name=name):
            return f"(. {sx(o)} {name})"
        case ast.ArrayLit(items=items):
            return f"[{' '.join(map(sx, items))}]"
        case ast.MapLit(entries=entries):
            return "[" + " ".join(f"{sx(k)}:{sx(v)}" for k, v in entries) + ("]" if entries else ":]")
        case ast.RecordLit(fields=fields) | ast.RecordType(fields=fields):
            return "{" + " ".join(f"{k}:{sx(v)}" for k, v in fields) + "}"
        case ast.Interp(parts=parts):
            return "(interp " + " ".join(repr(p) if isinstance(p, str) else sx(p) for p in parts) + ")"
        case ast.Await(value=v):
            return f"(await {sx(v)})"
        case ast.Spawn(call=c):
            return f"(spawn {sx(c)})"
        case ast.Yield(value=v):
            return f"(yield {sx(v)})"
        case ast.Lambda(params=ps, ret_type=r, body=b, is_async=a):
            body = "block" if isinstance(b, ast.Block) else sx(b)
            params = " ".join(f"{p.name}:{sx(p.type)}" for p in ps)
            return f"({'async ' if a else ''}fn ({params}) {sx(r)} {body})"
        case ast.ArrayType(elem=e):
            return f"[{sx(e)}]"
        case ast.MapType(key=k, value=v):
            return f"[{sx(k)}: {sx(v)}]"
        case ast.FnType(params=ps, ret=r):
            return f"(fn ({' '.join(map(sx, ps))}) {sx(r)})"
        case ast.OptionalType(inner=i):
            return f"{sx(i)}?"
    raise AssertionError(f"no sx for {n!r}")


# --------------------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    "src,tree",
    [("1 + 2 * 3", "(+ 1 (* 2 3))"),
     ("1 - 2 - 3", "(- (- 1 2) 3)"),
     ("a < b < c", "(< (< a b) c)"),
     ("a or b and c", "(or a (and b c))"),
     ("a and b or c", "(or (and a b) c)"),
     ("not a == b", "(not (== a b))"),
     ("not a and b", "(and (not a) b)"),
     ("a or not b and c", "(or a (and (not b) c))"),
     ("not not a", "(not (not a))"),
     ("a == b .. c", "(== a (.. b c))"),
     ("0..n + 1", "(.. 0 (+ n 1))"),
     ("0..=9", "(..= 0 9)"),
     ("a | b ^ c & d << e + f * g", "(| a (^ b (& c (<< d (+ e (* f g))))))"),
     ("a >> 1 << 2", "(<< (>> a 1) 2)"),
     ("x is Point and y", "(and (is x Point) y)"),
     ("a is B == c", "(== (is a B) c)"),
     ("-a * b", "(* (- a) b)"),
     ("- -a", "(- (- a))"),
     ("~a & b", "(& (~ a) b)"),
     ("-a.b(c)[d]", "(- (index (call (. a b) c) d))"),
     ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
     ("a % b / c", "(/ (% a b) c)"),
     ("f(x)(y).z", "(. (call (call f x) y) z)"),
     ("await t + 1", "(+ (await t) 1)"),
     ("spawn f(1, 2)", "(spawn (call f 1 2))"),
     ("await spawn w()", "(await (spawn (call w)))"),
     ("yield a + b", "(yield (+ a b))"),
     ("f(yield)", "(call f (yield _))"),
     ("r.default.in", "(. (. r default) in)"),
     ("super.init(x)", "(call super.init x)"),
     ("self.x", "(. self x)"),
     ("[1, 2, 3,]", "[1 2 3]"),
     ("[]", "[]"),
     ('["a": 1, "b": 2,]', "['a':1 'b':2]"),
     ("[:]", "[:]"),
     ("f({x: 1, y: [2],})", "(call f {x:1 y:[2]})"),
     ("f({})", "(call f {})"),
     ("f(1, 2,)", "(call f 1 2)"),
     ("nil == true", "(== nil true)"),
     ("1.5e3 + 0x10", "(+ 1500.0 16)"),
     ('"a${b}c${d + 1}"', "(interp 'a' b 'c' (+ d 1))"),
     ('"${ {x: 1}.x }"', "(interp (. {x:1} x))"),
     ('"a ${f("b ${c}")} d"', "(interp 'a ' (call f (interp 'b ' c)) ' d')"),
     ("fn(x: int, y,) -> int => x * 2", "(fn (x:int y:_) int (* x 2))"),
     ("fn(x) { return x }", "(fn (x:_) _ block)"),
     ("async fn() => 1", "(async fn () _ 1)"),
     ("fn() { }()", "(call (fn () _ block))"),
     ("-9223372036854775808", "-9223372036854775808"),
     ("-9223372036854775807", "(- 9223372036854775807)")],
)  # fmt: skip
def test_expression_shapes(src, tree):
    assert sx(expr(src)) == tree


def test_operation_nodes_carry_the_operator_position():
    e = expr("aa / bb")
    assert isinstance(e, ast.Binary) and (e.line, e.col) == (1, 4)
    assert (e.left.col, e.right.col) == (1, 6)
    e = expr("a and b")
    assert (e.line, e.col) == (1, 3)
    e = expr("foo.bar(1)[2]")
    assert isinstance(e, ast.Index) and e.col == 11
    assert isinstance(e.obj, ast.Call) and e.obj.col == 8
    assert isinstance(e.obj.callee, ast.Field) and e.obj.callee.col == 5
    e = expr("-x")
    assert (e.line, e.col) == (1, 1)
    e = expr("\n  [1, {a: 2}]")
    assert (e.line, e.col) == (2, 3) and (e.items[1].line, e.items[1].col) == (2, 7)
    e = expr('"ab${ x }"')
    assert (e.parts[1].line, e.parts[1].col) == (1, 7)


def test_brackets_may_span_lines():
    e = expr("f(\n  1,\n  2\n)")
    assert sx(e) == "(call f 1 2)"
    assert sx(expr("[\n 1,\n 2\n]")) == "[1 2]"
    assert sx(expr('[\n "a": 1\n]')) == "['a':1]"
    assert sx(expr("f({\n  x: 1,\n  y: 2\n})")) == "(call f {x:1 y:2})"
    assert sx(expr("(a\n  and b)")) == "(and a b)"
    assert sx(expr("f(xs\n  .map(g))")) == "(call f (call (. xs map) g))"
    (fn,) = stmts("fn f(\n  a: int,\n  b\n) { }")
    assert [p.name for p in fn.params] == ["a", "b"]


def test_int_min_literal():
    _, errors = parse_src("let a = 9223372036854775808\nlet b = -(9223372036854775808)\nlet c = -9223372036854775808.x")
    assert errors == [(1, 9, "integer literal too large"), (2, 11, "integer literal too large"),
                      (3, 10, "integer literal too large")]  # fmt: skip
    (s,) = stmts("let a = -9223372036854775808")
    assert isinstance(s.init, ast.IntLit) and s.init.value == -(2**63) and s.init.col == 9


# --------------------------------------------------------------------------- statements


def test_let_and_var():
    a, b, c, d, e = stmts("let x = 1\nlet y: float = 2\nvar z\nvar w: int\nvar v: int? = nil")
    assert (a.mutable, a.name, a.type, sx(a.init)) == (False, "x", None, "1")
    assert (sx(b.type), sx(b.init)) == ("float", "2")
    assert (c.mutable, c.type, c.init) == (True, None, None)
    assert (sx(d.type), d.init) == ("int", None)
    assert (sx(e.type), sx(e.init)) == ("int?", "nil")
    assert errors_of("let x\nlet y: int") == [(1, 1, "'let' needs an initializer"), (2, 1, "'let' needs an initializer")]


def test_fn_decl_and_async():
    f, g = stmts("fn add(a: int, b: int) -> int { return a + b }\nasync fn w() { }")
    assert isinstance(f, ast.FnDecl) and f.name == "add" and sx(f.ret_type) == "int"
    assert [(p.name, sx(p.type), p.line, p.col) for p in f.params] == [("a", "int", 1, 8), ("b", "int", 1, 16)]
    assert isinstance(f.body.stmts[0], ast.Return)
    assert g.is_async and g.ret_type is None and (g.line, g.col) == (2, 1)
    (h,) = stmts("fn counter() -> fn() -> int {\n  var n = 0\n  return fn() -> int { n += 1; return n }\n}")
    assert sx(h.ret_type) == "(fn () int)"


def test_class_decl():
    (c,) = stmts(
        "class Point3 extends Point {\n  var z: float = 0.0\n  var tag\n"
        "  fn init(x, y, z) { super.init(x, y); self.z = z }\n  async fn run() { }\n}"
    )
    assert isinstance(c, ast.ClassDecl) and c.name == "Point3"
    assert isinstance(c.parent, ast.Name) and (c.parent.name, c.parent.col) == ("Point", 22)
    assert [(f.name, sx(f.type), sx(f.default), f.line) for f in c.fields] == [("z", "float", "0.0", 2), ("tag", "_", "_", 3)]
    assert [m.name for m in c.methods] == ["init", "run"] and c.methods[1].is_async
    assert errors_of("class A { let x = 1 }") == [(1, 11, "fields are declared with 'var'")]
    assert errors_of("class A {\n  print(1)\n  var ok = 1\n}") == [(2, 3, "expected 'var' or 'fn' in class body, found 'print'")]


def test_export():
    a, b, c, d = stmts("export let x = 1\nexport var y = 2\nexport fn f() { }\nexport class C { }")
    assert all(s.exported for s in (a, b, c, d)) and (a.line, a.col) == (1, 1)
    assert not stmts("let z = 1")[0].exported
    assert errors_of("export x = 1") == [(1, 8, "expected let, var, fn, class, interface or enum after 'export', found 'x'")]
    assert errors_of("fn f() {\n  export let x = 1\n}") == [(2, 3, "export is only allowed at top level")]


def test_imports():
    a, b, c, d, e = stmts(
        'import math\nimport math as m\nimport "./geo" as geo\nfrom "./geo" import Point, dist\nfrom math import sqrt'
    )
    assert (a.path, a.alias, a.is_file) == ("math", "math", False)
    assert (b.alias, c.path, c.alias, c.is_file) == ("m", "./geo", "geo", True)
    assert isinstance(d, ast.FromImport) and d.is_file and d.names == [("Point", 4, 21), ("dist", 4, 28)]
    assert (e.path, e.is_file, e.names) == ("math", False, [("sqrt", 5, 18)])
    assert errors_of('import "./geo"') == [(1, 15, "expected 'as NAME' after a file path in import, found end of file")]
    assert errors_of("if x {\n  import math\n}") == [(2, 3, "import is only allowed at top level")]
    assert errors_of('{ from "a" import b }') == [(1, 3, "import is only allowed at top level")]


def test_if_else_chain():
    (s,) = stmts("if a { x } else if b { y } else { z }")
    assert isinstance(s, ast.If) and sx(s.cond) == "a"
    assert isinstance(s.orelse, ast.If) and sx(s.orelse.cond) == "b" and (s.orelse.line, s.orelse.col) == (1, 17)
    assert isinstance(s.orelse.orelse, ast.Block) and len(s.orelse.orelse.stmts) == 1
    (t,) = stmts("if a { }")
    assert t.orelse is None
    (u,) = stmts("if a {} " + "else if b {} " * 2000)  # long chains do not recurse
    assert isinstance(u.orelse.orelse, ast.If)


def test_loops_and_jumps():
    w, f = stmts("while i < 10 { i += 1; break; continue }\nfor v in 0..10 { }")
    assert isinstance(w, ast.While) and sx(w.cond) == "(< i 10)"
    assert [type(s).__name__ for s in w.body.stmts] == ["Assign", "Break", "Continue"]
    assert isinstance(f, ast.For) and (f.var, f.var_line, f.var_col) == ("v", 2, 5) and sx(f.iterable) == "(.. 0 10)"
    r1, r2 = stmts("return\nreturn 1 + 2")
    assert r1.value is None and sx(r2.value) == "(+ 1 2)"
    (fn,) = stmts("fn f() { return }")
    assert fn.body.stmts[0].value is None


def test_throw_and_try():
    t, u, v = stmts(
        'try { throw Error("x") } catch e { } finally { }\ntry { } catch { }\ntry { } finally { }'
    )
    assert isinstance(t.body.stmts[0], ast.Throw)
    assert (t.catch_name, t.catch_line, t.catch_col) == ("e", 1, 32) and t.finally_body is not None
    assert u.catch_name is None and u.catch_body is not None and u.finally_body is None
    assert v.catch_body is None and v.finally_body is not None
    assert errors_of("try { }") == [(1, 1, "try needs a catch or a finally")]
    assert errors_of("try { }\ncatch e { }") == [
        (2, 1, "'catch' must be on the same line as the '}' closing the try block")
    ]


def test_assignments():
    ss = stmts("x = 1\na.b += 2\na[i] -= 3\nx *= 4\nx /= 5\nx %= 6")
    assert [(type(s.target).__name__, s.op) for s in ss] == [
        ("Name", "="), ("Field", "+="), ("Index", "-="), ("Name", "*="), ("Name", "/="), ("Name", "%="),
    ]  # fmt: skip
    assert (ss[1].line, ss[1].col) == (2, 1)
    assert errors_of("f() = 1\n1 += 2") == [(1, 1, "invalid assignment target"), (2, 1, "invalid assignment target")]


def test_select():
    (s,) = stmts(
        "select {\n  case v = a.recv() { print(v) }\n  case b.recv() { }\n  case b.send(1) { }\n"
        "  case sleep(100) { }\n  default { }\n}"
    )
    assert [(c.kind, c.var, sx(c.channel), sx(c.value), c.line) for c in s.cases] == [
        ("recv", "v", "a", "_", 2), ("recv", None, "b", "_", 3), ("send", None, "b", "1", 4),
        ("sleep", None, "_", "100", 5), ("default", None, "_", "_", 6),
    ]  # fmt: skip
    assert errors_of("select { case f(x) { } }")[0][2].startswith("a select case must be")
    assert errors_of("select {\n default { }\n default { }\n}") == [(3, 2, "select has more than one default")]


def test_yield_spawn_await_statements():
    a, b, c = stmts("yield\nyield 1\nspawn f()")
    assert sx(a.expr) == "(yield _)" and sx(b.expr) == "(yield 1)" and sx(c.expr) == "(spawn (call f))"
    assert errors_of("let t = spawn f") == [(1, 9, "spawn needs a call")]
    assert sx(stmts("fn g() { yield }")[0].body.stmts[0].expr) == "(yield _)"


def test_blocks_and_empty_statements():
    ss = stmts(";;{ let x = 1 };\n{ { } }\n;")
    assert [type(s).__name__ for s in ss] == ["Block", "Block"]
    assert isinstance(ss[1].stmts[0], ast.Block)
    (fn,) = stmts("fn f(x) { return x }")  # `}` ends a statement on one line
    assert len(fn.body.stmts) == 1


def test_record_literal_versus_block():
    # A `{` at statement start is a block; in expression position, a record.
    (b,) = stmts("{ x }")
    assert isinstance(b, ast.Block)
    (s,) = stmts("let r = {}")
    assert sx(s.init) == "{}"
    (s,) = stmts("let r = {\n  x: 1,\n  y: 2\n}")
    assert sx(s.init) == "{x:1 y:2}"
    # In a condition the `{` opens the body...
    (i,) = stmts("if x { y }")
    assert sx(i.cond) == "x" and sx(i.then.stmts[0].expr) == "y"
    (w,) = stmts("while f(x) { }")
    assert sx(w.cond) == "(call f x)"
    (f,) = stmts("for v in xs { }")
    assert sx(f.iterable) == "xs"
    # ...unless the record is inside brackets.
    (i,) = stmts("if f({a: 1}) == ({a: 1}) { }")
    assert sx(i.cond) == "(== (call f {a:1}) {a:1})"
    (i,) = stmts("if ok(fn() { return {x: 1} }) { }")
    assert isinstance(i, ast.If)
    assert errors_of("if {x: 1}.x { }")[0] == (1, 4, "expected expression, found '{'")
    assert errors_of("let r = {x: 1, x: 2}") == [(1, 16, "duplicate field 'x' in record literal")]


# --------------------------------------------------------------------------- types


@pytest.mark.parametrize(
    "src,tree",
    [("int", "int"), ("nil", "nil"), ("any", "any"), ("Point", "Point"),
     ("Task<int>", "Task<int>"), ("Chan<Task<int>>", "Chan<Task<int>>"),
     ("Gen<[string]>", "Gen<[string]>"), ("[int]", "[int]"), ("[string: [int]]", "[string: [int]]"),
     ("{x: int, y: float,}", "{x:int y:float}"), ("{}", "{}"),
     ("fn(int, string) -> bool", "(fn (int string) bool)"), ("fn()", "(fn () _)"),
     ("fn(x: int) -> int", "(fn (int) int)"), ("fn() -> fn() -> int", "(fn () (fn () int))"),
     ("int?", "int?"), ("[int]?", "[int]?"), ("[int?]", "[int?]"), ("(fn() -> int)?", "(fn () int)?")],
)  # fmt: skip
def test_types(src, tree):
    (s,) = stmts(f"var v: {src}")
    assert sx(s.type) == tree


def test_type_positions_and_split_angles():
    (s,) = stmts("var c: Chan<int>= Chan()")
    assert sx(s.type) == "Chan<int>" and sx(s.init) == "(call Chan)"
    (s,) = stmts("var v: [int]?\nv = nil")[:1]
    assert (s.type.line, s.type.col) == (1, 8)
    assert errors_of("var v: Task<int") == [(1, 16, "expected '>' to close type arguments, found end of file")]


# --------------------------------------------------------------------------- errors


def test_messages_name_what_was_expected_and_found():
    assert errors_of("f(1, 2}") == [(1, 7, "expected ')' after arguments, found '}'")]
    assert errors_of("x = ;") == [(1, 5, "expected expression, found ';'")]
    assert errors_of("x = \ny = 1") == [(2, 3, "expected newline or ';' after statement, found '='")]
    assert errors_of("x = 1 +\n") == [(2, 1, "expected expression, found end of file")]
    assert errors_of("let = 2") == [(1, 5, "expected variable name after 'let', found '='")]
    assert errors_of("x = super") == [(1, 5, "expected '.' after 'super'")]
    assert errors_of("if a { } else\nx") == [(2, 1, "expected '{' after 'else', found 'x'")]
    assert errors_of("if a { }\nelse { }") == [(2, 1, "'else' must be on the same line as the '}' closing the if block")]
    assert errors_of("f(1 2)") == [(1, 5, "expected ')' after arguments, found '2'")]
    assert errors_of("fn f() {") == [(1, 9, "expected '}' to close the block opened at 1:8, found end of file")]
    assert errors_of("}") == [(1, 1, "unexpected '}' (no open block to close)")]
    assert errors_of('x = "${}"') == [(1, 8, "expected expression in '${}'")]
    assert errors_of('x = "${a +}"\ny = "${f(1}"') == [
        (1, 11, "expected expression, found '}'"), (2, 11, "expected ')' after arguments, found '}'"),
    ]  # fmt: skip
    assert errors_of('x = "${a b}"') == [(1, 10, "expected '}' after interpolated expression, found 'b'")]
    assert errors_of("case x { }") == [(1, 1, "'case' outside of a select")]


def test_every_error_in_a_file_is_reported_once():
    src = "\n".join([
        "let a = 1 +",              # 1: error reported on line 2
        "let b = (2 * 3",           # 2
        "fn f(x, y {",              # 3
        "  return x",               # 4
        "}",                        # 5
        "print(f(1, 2})",           # 6
        'var s = "bad \\q escape"',  # 7
        "let r = {x: 1, y: }",      # 8
        "class C {",                # 9
        "  let q = 1",              # 10
        "  print(q)",               # 11
        "}",                        # 12
        "let z = 0x",               # 13
        "let ok = 42 @ 1",          # 14
        "fn g() {",                 # 15
        "  let q = 1 +",            # 16
        "}",                        # 17
        "let fine = 1",             # 18
        "let last = [1, 2",         # 19
    ])  # fmt: skip
    module, errors = parse_src(src)
    assert sorted(errors) == [
        (2, 1, "expected expression, found 'let'"),
        (3, 1, "expected ')' after expression, found 'fn'"),
        (3, 11, "expected ',' or ')' after parameter, found '{'"),
        (6, 13, "expected ')' after arguments, found '}'"),
        (7, 14, "unknown escape sequence '\\q'"),
        (8, 19, "expected expression, found '}'"),
        (10, 3, "fields are declared with 'var'"),
        (11, 3, "expected 'var' or 'fn' in class body, found 'print'"),
        (13, 9, "malformed number '0x': missing digits after '0x'"),
        (14, 13, "unexpected character '@'"),
        (17, 1, "expected expression, found '}'"),
        (19, 17, "expected ',' or ']' after array element, found end of file"),
    ]
    names = [s.name for s in module.body if isinstance(s, (ast.VarDecl, ast.FnDecl, ast.ClassDecl))]
    assert names == ["s", "C", "z", "ok", "g", "fine"]  # `ok` errs after its initializer


def test_deep_nesting_is_an_error_not_a_crash():
    limit = sys.getrecursionlimit()
    for src in ["x = " + "(" * 5000 + "1" + ")" * 5000, "{" * 5000 + "}" * 5000,
                "x = " + "-" * 5000 + "1", "x = " + "not " * 5000 + "a", "var v: " + "[" * 5000 + "int" + "]" * 5000,
                "x = " + "fn() => " * 3000 + "1", "x = " + "{a: " * 3000 + "1" + "}" * 3000]:  # fmt: skip
        module, errors = parse_src(src + "\nlet after = 1")
        assert [e[2] for e in errors] == ["expression nested too deeply"]
        assert isinstance(module.body[-1], ast.VarDecl) and module.body[-1].name == "after"
    assert sys.getrecursionlimit() == limit
    assert errors_of("x = " + "(" * 150 + "1" + ")" * 150) == []


# --------------------------------------------------------------------------- REPL support


@pytest.mark.parametrize(
    "src", ["f(a", "f(a,", "x = 1 +", "x = 1 + // more", "if x {", "if x {\n  let y = 1", "/* abc", "let x =",
            "fn f() -> ", "let f = fn(x) =>", "[1, 2", "class A {", "a.", "let r = {x: 1,\n", "if x { } else"],
)  # fmt: skip
def test_incomplete_input(src):
    assert is_incomplete(src)


@pytest.mark.parametrize(
    "src", ["", "let x = 1", "f(1 2", "fn f()", "let x", "}", '"abc', 'let s = "${', "try { }", "x = 1 @", "f(x]",
            'x = "${a +}"'],
)
def test_complete_or_erroneous_input(src):
    assert not is_incomplete(src)


# --------------------------------------------------------------------------- robustness


def _never_raises(src: str) -> None:
    module, errors = parse_src(src)
    assert isinstance(module, ast.Module)
    assert all(isinstance(e[0], int) and isinstance(e[1], int) for e in errors)
    assert isinstance(is_incomplete(src), bool)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_random_text_never_raises(src):
    _never_raises(src)


_PIECES = sorted(KEYWORDS) + sorted(OPERATORS) + [
    "x", "y", "1", "2.5", '"s"', '"a${x}b"', '"${', "\n", "\n", "/*", "*/", "9223372036854775808", "@", "int",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_random_token_soup_never_raises(pieces):
    _never_raises(" ".join(pieces))
