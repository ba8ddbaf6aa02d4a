"""`time.format(ms, layout)` and `time.parse(text, layout)` (1.1, spec section
13): milliseconds since the Unix epoch <-> text, always in UTC (so a program
prints the same text on every host, whatever its time zone).

The layout is text with `%` directives (a subset of C's strftime, with fixed
widths so that parsing is exact):

    %Y  year, 4 digits (0001-9999)     %H  hour 00-23
    %m  month 01-12                    %M  minute 00-59
    %d  day 01-31                      %S  second 00-59
    %L  milliseconds 000-999           %%  a literal %

Any other `%x` is a ValueError "unknown time layout directive %x". Other
characters stand for themselves. `parse` needs the whole text to follow the
layout (else ValueError "time.parse: TEXT does not match LAYOUT"); fields the
layout leaves out default to 1970-01-01 00:00:00.000. `format` of a time
outside years 1-9999 is a ValueError.
"""

from __future__ import annotations

import datetime as _dt
import re as _re
from typing import Any

from ..runtime.errors import RtError
from ..runtime.values import quote_string, typeof

__all__ = ["DIRECTIVES", "format_ms", "parse_ms"]

# directive -> (width, datetime field)
DIRECTIVES = {"Y": (4, "year"), "m": (2, "month"), "d": (2, "day"), "H": (2, "hour"), "M": (2, "minute"), "S": (2, "second"), "L": (3, "ms")}
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def _tokens(layout: str) -> list[tuple[bool, str]]:
    """(is_directive, text) pieces of a layout."""
    out: list[tuple[bool, str]] = []
    i = 0
    while i < len(layout):
        ch = layout[i]
        if ch == "%":
            d = layout[i + 1] if i + 1 < len(layout) else ""
            if d == "%":
                out.append((False, "%"))
            elif d in DIRECTIVES:
                out.append((True, d))
            else:
                raise RtError("ValueError", f"unknown time layout directive %{d}")
            i += 2
        else:
            out.append((False, ch))
            i += 1
    return out


def _want(name: str, v: Any, t: type, what: str) -> Any:
    if type(v) is not t:
        raise RtError("TypeError", f"{name} expects {what}, got {typeof(v)}")
    return v


def format_ms(ms: Any, layout: Any) -> str:
    _want("time.format", ms, int, "an int (milliseconds)")
    _want("time.format", layout, str, "a string layout")
    try:
        t = _EPOCH + _dt.timedelta(milliseconds=ms)
    except OverflowError:
        raise RtError("ValueError", f"time.format: {ms} is out of range") from None
    vals = {"year": t.year, "month": t.month, "day": t.day, "hour": t.hour, "minute": t.minute, "second": t.second, "ms": t.microsecond // 1000}
    parts = []
    for is_dir, text in _tokens(layout):
        if is_dir:
            width, field = DIRECTIVES[text]
            parts.append(str(vals[field]).zfill(width))
        else:
            parts.append(text)
    return "".join(parts)


def parse_ms(text: Any, layout: Any) -> int:
    _want("time.parse", text, str, "a string")
    _want("time.parse", layout, str, "a string layout")
    pattern = []
    fields = []
    for is_dir, piece in _tokens(layout):
        if is_dir:
            width, field = DIRECTIVES[piece]
            pattern.append(f"([0-9]{{{width}}})")
            fields.append(field)
        else:
            pattern.append(_re.escape(piece))
    m = _re.fullmatch("".join(pattern), text)
    if m is None:
        raise RtError("ValueError", f"time.parse: {quote_string(text)} does not match {quote_string(layout)}")
    vals = {"year": 1970, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0, "ms": 0}
    for field, digits in zip(fields, m.groups()):
        vals[field] = int(digits)
    ms = vals.pop("ms")
    try:
        t = _dt.datetime(**vals, tzinfo=_dt.UTC)
    except ValueError as e:
        raise RtError("ValueError", f"time.parse: {quote_string(text)}: {e}") from None
    return (t - _EPOCH) // _dt.timedelta(milliseconds=1) + ms
