"""Enums and static members at run time (issue 18, helper tlenum; TinyLang 1.1).

An `enum Color { Red, Green, Blue }` is compiled to a class flagged
CLASS_ENUM (bytecode/code.py) with the two fields `name` and `ordinal`; its
values are the class's instances, made once, when the declaration runs, and
kept as the class's static members (`Color.Red`), so identity is equality.
What differs from other instances lives here:

* an enum value prints as `Color.Red`, unquoted inside containers too, and is
  a leaf for the printer (runtime/values.py), so printing never runs guest code;
* it is a valid map key (by identity: the values are unique);
* it crosses to Python as its name (embed/convert.py).

Static members (`static let`, `static fn`, and an enum's values) are a class's
`statics` dict, written by SET_STATIC and read by GET_FIELD and CALL_METHOD on
the class; a subclass inherits its ancestors' (the lookup walks `parent`).
"""

from __future__ import annotations

from typing import Any

from ..bytecode.code import CLASS_ENUM
from ..heap.layout import SlotInstance
from ..heap.objects import UNINIT, Class, Instance
from .errors import RtError


def is_enum_value(v: Any) -> bool:
    """True when v is a value of an enum (an instance of a CLASS_ENUM class)."""
    if not isinstance(v, Instance):  # (dict or laid out: heap/layout.py)
        return False
    info = v.cls.info
    return info is not None and bool(info.flags & CLASS_ENUM)


def is_enum_class(c: Any) -> bool:
    return type(c) is Class and c.info is not None and bool(c.info.flags & CLASS_ENUM)


def enum_label(v: Instance) -> str:
    """`Color.Red`: how an enum value prints, everywhere."""
    return f"{v.cls.name}.{_member_name(v)}"


def enum_name(v: Instance) -> str:
    """The member's name (`Red`): what the value is in Python."""
    return str(_member_name(v))


def _member_name(v: Instance) -> Any:
    # (printing a laid-out enum value reads its slot, heap/layout.py: no
    # FieldView made per label; a value always has the field)
    if type(v).__base__ is SlotInstance:
        return v.get("name", None)
    return v.fields.get("name")


def find_static(cls: Class, name: str) -> Any:
    """The static member `name` of cls or of its nearest ancestor declaring
    it, or UNINIT."""
    c: Class | None = cls
    while c is not None:
        v = c.statics.get(name, UNINIT)
        if v is not UNINIT:
            return v
        c = c.parent
    return UNINIT


def get_static(cls: Class, name: str) -> Any:
    """`Point.ZERO`, `Color.Red`, `Point.origin` (the function itself: static
    functions take no receiver)."""
    v = find_static(cls, name)
    if v is UNINIT:
        raise RtError("TypeError", f"class {cls.name} has no static member '{name}'")
    return v


def set_static(cls: Any, name: str, value: Any, heap: Any) -> None:
    """SET_STATIC: only the compiler writes static members (they are `let`s)."""
    if type(cls) is not Class:  # (the compiler never emits this)
        raise RtError("TypeError", f"cannot set a static member of {type(cls).__name__}")
    cls.statics[name] = value
    if cls.mark == heap.watch:  # (the write barrier: docs/gc.md)
        heap.barrier(cls, value)
