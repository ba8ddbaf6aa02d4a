"""Where a program's own declarations leave a static type `any` (`tvm check --any`).

TinyLang's types are gradual: a value typed `any` is checked at run time where
it meets a typed place, and the JIT tiers know nothing about it. Since 1.1
(generics, `Array(n, fill)`, `??`, tuples) most of those places can be typed;
this report lists the ones a program still has, so that they can be removed or
justified. It runs on a module after the checker (pipeline.compile_module_ast
with emit=False), reads the types the checker recorded (`Var.ty`,
`FnScope.ty`, the class symbols behind `ClassDecl.ref`) and lists, as
`AnyUse` records:

* explicit annotations that mention `any` (`x: any`, `[any]`, `{string: any}`,
  `-> any`, `Stack<any>()`): "declared ...";
* parameters without an annotation (their type is `any`): "untyped parameter";
* fields without an annotation whose default leaves them `any` (`var x = nil`,
  `var xs = []`): "untyped field";
* `let`/`var` without an annotation whose inferred type has `any` in it (an
  empty literal, `nil`, or an initializer that is itself `any`): "inferred";
* functions without a return annotation whose inferred return type has `any`.

It reports declarations only, not every expression of type `any`: a use
downstream of one of these is fixed with it. A use the program keeps on purpose
(a heterogeneous value no generic type can name) is marked by a comment
`// any: REASON` on its line or the line above; the record carries REASON, and
the summary counts such uses apart. The report is data (`AnyUse`); `render`
and `as_json` format it for the CLI.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from ..diagnostics import Diagnostic, DiagnosticBag
from ..frontend import ModuleContext
from . import ast as A
from .definite import type_text, walk
from .types import ANY, ClassRefT, FnT, has_any

# `// any: why this value cannot be typed`, ending the use's line or alone on the one above.
_REASON = re.compile(r"//\s*any:\s*(.*?)\s*$")


@dataclass(frozen=True)
class AnyUse:
    """One place whose static type has `any` in it because of the program."""

    file: str
    line: int
    col: int
    what: str  # the name: variable, parameter, field, function
    kind: str  # "variable", "parameter", "field", "return", "type argument"
    type: str  # its static type, e.g. "[any]"
    why: str  # "declared [any]", "untyped parameter", ...
    reason: str = ""  # the program's `// any:` comment, when it keeps the use on purpose

    def text(self) -> str:
        kept = f" [kept: {self.reason}]" if self.reason else ""
        return f"{self.file}:{self.line}:{self.col}: '{self.what}' is {self.type} ({self.why}){kept}"


def mentions_any(t: A.TypeExpr | None) -> bool:
    """Does the annotation say `any` anywhere?"""
    if t is None:
        return False
    return any(isinstance(n, A.NamedType) and n.name == "any" for n in walk(t))


class _Collector:
    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.lines = source.splitlines()
        self.uses: list[AnyUse] = []

    def reason(self, line: int) -> str:
        """The `// any:` comment at the end of `line`, or alone on the line
        above (not one ending the previous declaration: that is its own)."""
        for n in (line, line - 1):
            if 1 <= n <= len(self.lines):
                text = self.lines[n - 1]
                m = _REASON.search(text)
                if m and (n == line or text.lstrip().startswith("//")):
                    return m.group(1) or "kept"
        return ""

    def add(self, node: A.Node, what: str, kind: str, ty: object, why: str) -> None:
        self.uses.append(AnyUse(self.path, node.line, node.col, what, kind, str(ty), why, self.reason(node.line)))

    def annotated(self, node: A.Node, what: str, kind: str, t: A.TypeExpr | None) -> bool:
        """Report an annotation that says `any`; True when there is an annotation."""
        if t is None:
            return False
        if mentions_any(t):
            self.add(node, what, kind, type_text(t), f"declared {type_text(t)}")
        return True

    def function(self, node: A.FnDecl | A.Lambda, name: str) -> None:
        sig = node.scope.ty if node.scope is not None else None
        params = sig.params if isinstance(sig, FnT) else ()
        for i, p in enumerate(node.params):
            if self.annotated(p, p.name, "parameter", p.type):
                continue
            t = params[i] if i < len(params) else ANY
            if has_any(t):
                self.add(p, p.name, "parameter", t, "untyped parameter" if t is ANY else f"untyped parameter, typed {t} by its default")
        inferred = not self.annotated(node, name, "return", node.ret_type) and isinstance(node, A.FnDecl)
        if inferred and isinstance(sig, FnT) and has_any(sig.ret) and node.scope.kind != "init":
            self.add(node, name, "return", sig.ret, f"return type inferred as {sig.ret}")

    def variable(self, s: A.VarDecl) -> None:
        if not s.name.isidentifier() or self.annotated(s, s.name, "variable", s.type):
            return
        var = s.ref.var if s.ref is not None else None
        t = var.ty if var is not None else None
        if t is None or not has_any(t) or isinstance(s.init, A.Lambda):  # (a lambda's own records say why)
            return
        init = s.init
        if init is None:
            why = "no annotation and no initializer"
        elif isinstance(init, A.NilLit):
            why = "initialized with nil and not annotated"
        elif isinstance(init, A.ArrayLit) and not init.items:
            why = "inferred from an empty array, not annotated"
        elif isinstance(init, A.MapLit) and not init.entries:
            why = "inferred from an empty map, not annotated"
        else:
            why = f"inferred from an initializer of type {init.ty}" if init.ty is not None else "inferred"
        self.add(s, s.name, "variable", t, why)

    def klass(self, c: A.ClassDecl) -> None:
        ct = c.ref.var.ty if c.ref is not None and c.ref.var is not None else None
        sym = ct.cls.sym if isinstance(ct, ClassRefT) else None
        for f in c.fields:
            if self.annotated(f, f"{c.name}.{f.name}", "field", f.type):
                continue
            t = sym.fields.get(f.name) if sym is not None else None
            if t is ANY or (t is not None and not isinstance(t, A.FieldDecl) and has_any(t)):
                why = "untyped field with no default" if f.default is None else ("untyped field, default nil" if isinstance(f.default, A.NilLit) else "untyped field, inferred from its default")
                self.add(f, f"{c.name}.{f.name}", "field", t, why)

    def type_args(self, e: A.Name) -> None:
        for t in e.type_args or ():
            if mentions_any(t):
                self.add(t, e.name, "type argument", type_text(t), f"declared {e.name}<{type_text(t)}>")

    def module(self, mod: A.Module) -> list[AnyUse]:
        for node in walk(mod):
            if isinstance(node, A.VarDecl):
                self.variable(node)
            elif isinstance(node, A.FnDecl):
                self.function(node, node.name)
            elif isinstance(node, A.Lambda):
                self.function(node, "lambda")
            elif isinstance(node, A.ClassDecl) and not isinstance(node, A.EnumDecl):
                self.klass(node)
            elif isinstance(node, A.Name) and node.type_args:
                self.type_args(node)
        # (a match's arms and its lowered statements share nodes: one record each)
        return sorted(set(self.uses), key=lambda u: (u.line, u.col, u.what))


def collect(mod: A.Module, path: str, source: str) -> list[AnyUse]:
    """The `any` uses of a module the checker has checked (see the docstring)."""
    return _Collector(path, source).module(mod)


def check_for_any(source: str, ctx: ModuleContext) -> tuple[list[AnyUse], list[Diagnostic]]:
    """Parse, resolve and check one module (its imports through `ctx`, as
    pipeline.compile_module does) and list its `any` uses; with errors, no
    uses and the errors."""
    from .pipeline import compile_module_ast, load_imports, parse_source

    bag = DiagnosticBag(ctx.path, source)
    mod = parse_source(source, ctx.path, bag)
    if bag:
        return [], bag.items
    imports, keys = load_imports(mod, ctx, bag)
    compile_module_ast(mod, ctx.path, source, bag, imports, tuple(keys), allow_private=ctx.privileged, emit=False)
    if bag:
        return [], bag.items
    return collect(mod, ctx.path, source), []


def summary(uses: list[AnyUse]) -> str:
    kept = sum(1 for u in uses if u.reason)
    n = len(uses)
    return f"{n} use{'s' if n != 1 else ''} of any" + (f" ({kept} kept with a reason)" if kept else "")


def render(uses: list[AnyUse]) -> list[str]:
    """The report as text lines: one per use, then the summary."""
    return [u.text() for u in uses] + [summary(uses)]


def as_json(uses: list[AnyUse]) -> dict:
    return {"uses": [asdict(u) for u in uses], "count": len(uses), "kept": sum(1 for u in uses if u.reason)}
