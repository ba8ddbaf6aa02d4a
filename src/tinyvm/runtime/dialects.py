"""Run-time rules per source language: what the shared instructions do where
the languages differ.

Every front end emits the same instructions (bytecode/opcodes.py), and most of
their meaning is common: `ADD` of two floats, a field read, a call. Languages
differ at the edges -- which operand types an operator accepts and what the
error says, whether `"a".len` is a method or an error, whether a field may
shadow a method. A module's language (`ModuleCode.lang`) selects a `Rules`
object, and the pre-decoder builds every instruction of that module with it
(predecode.py, blocks.py): the rules are baked into the closures, so choosing
them costs nothing per instruction.

A `Rules` object gives:

* `int_fast` -- whether operators get the inline int64 fast paths (TinyLang's
  ints). Lox numbers are floats only; a TinyLang int reaching Lox arithmetic
  takes the slow path, which computes in floats.
* `binary` -- opcode -> the slow path of each binary operator: every operand
  combination the inline int/float fast paths do not take, with the
  language's type rules and messages.
* `cmp` -- comparison opcode -> the Python expression of its inline fast path
  for two numbers, `{x}` and `{y}` standing for the operands (Lox's `a >= b`
  is clox's `!(a < b)`, true when an operand is NaN).
* `neg` -- the slow path of NEG.
* `get_field`, `set_field`, `set_field_proven` -- property reads and writes
  the inline instance fast path does not take; `call_method_slow` -- the same
  for CALL_METHOD.
* `fields_shadow_methods` -- CALL_METHOD looks the name up among the
  receiver's fields before its class's methods (Lox's OP_INVOKE), instead of
  after them (TinyLang, whose classes keep field and method names apart).
* `messages` -- message key -> text template, for the errors the VM's generic
  paths raise with a key (`RtError.key`, see runtime/errors.py). A key the rules
  have no text for keeps the TinyLang text (`RtError.message`).
* `max_depth` -- the guest frame limit when the program's main module is in
  this language and the host did not set one.

Message keys and their parameters:

    undefined_global  name                 a global read (or assigned) before it has a value
    arity             name expected got    wrong argument count for a function or class
    not_callable      type                 calling a value that cannot be called
    stack_overflow                         the frame limit was reached
    no_method         cls name             CALL_METHOD / super: the class has no such method
    no_field          cls name             GET_FIELD: neither a field nor a method
    bad_superclass    type                 MAKE_CLASS with a parent that is not a class
"""

from __future__ import annotations

from typing import Any, Callable

from ..bytecode import opcodes as O
from . import arith
from .errors import RtError
from .memory import checked_binary

TINYLANG = "tinylang"
LOX = "lox"
# The rules of code that names no dialect (a module object without code).
DEFAULT_DIALECT = TINYLANG

DEFAULT_MAX_DEPTH = 100_000

# The inline fast path of each comparison, as Python source over {x} and {y}.
PLAIN_CMP: dict[int, str] = {
    O.LT: "{x} < {y}", O.LE: "{x} <= {y}", O.GT: "{x} > {y}", O.GE: "{x} >= {y}",
    O.EQ: "{x} == {y}", O.NE: "{x} != {y}",
}  # fmt: skip


class Rules:
    """The run-time rules of one language, for one VM (see the module docstring)."""

    __slots__ = (
        "lang", "int_fast", "binary", "cmp", "neg", "get_field", "set_field", "set_field_proven",
        "call_method_slow", "fields_shadow_methods", "messages", "max_depth",
    )  # fmt: skip

    def __init__(
        self,
        lang: str,
        *,
        int_fast: bool,
        binary: dict[int, Callable[[Any, Any], Any]],
        cmp: dict[int, str],
        neg: Callable[[Any], Any],
        get_field: Callable,
        set_field: Callable,
        set_field_proven: Callable,
        call_method_slow: Callable,
        fields_shadow_methods: bool = False,
        messages: dict[str, str] | None = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        self.lang = lang
        self.int_fast = int_fast
        self.binary = binary
        self.cmp = cmp
        self.neg = neg
        self.get_field = get_field
        self.set_field = set_field
        self.set_field_proven = set_field_proven
        self.call_method_slow = call_method_slow
        self.fields_shadow_methods = fields_shadow_methods
        self.messages = messages or {}
        self.max_depth = max_depth

    def message(self, err: RtError) -> str:
        """The text of `err` in this language."""
        template = self.messages.get(err.key) if err.key is not None else None
        if template is None:
            return err.message
        return template.format(**(err.params or {}))


def tinylang_rules(vm: Any) -> Rules:
    """TinyLang's rules: the VM's own paths, with their messages."""
    return Rules(
        TINYLANG,
        int_fast=True,
        # (`+` of strings and arrays pays fuel in its slow path: checked_binary.)
        binary=checked_binary(vm.heap, arith.BINARY, vm.limits.charge_items if vm.limits.metered else None, vm.limits.per_unit),
        cmp=PLAIN_CMP,
        neg=arith.neg,
        get_field=vm.get_field,
        set_field=vm.set_field,
        set_field_proven=vm.set_field_proven,
        call_method_slow=vm.call_method_slow,
    )


def make_rules(vm: Any, lang: str) -> Rules:
    """The rules of `lang` for `vm` (the verifier admits only known languages)."""
    if lang == LOX:
        from .lox_rules import lox_rules  # only programs that contain Lox load it

        return lox_rules(vm)
    return tinylang_rules(vm)
