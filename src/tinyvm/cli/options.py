"""Command-line options: one table per command, one parser for all of them,
and the option lists of the help texts, generated from the same tables.

Why not argparse: `tvm run FILE args...` hands every word after FILE to the
program untouched (`--` and `-h` included), while argparse swallows a `--`
there; the `--allow-*` flags take an optional value that must never consume
the next word (`tvm run --allow-read prog.tl` runs prog.tl), which argparse's
`nargs="?"` does; and the usage errors keep their own texts and exit status
(64, EX_USAGE, not argparse's 2).

The rules, the same for every option of every command (`tvm` and `tvmc`):

* A long option's value follows it as the next word or joined with `=`:
  `--budget 100` is `--budget=100`. A short option's value follows it or is
  glued on: `-o out.tvm` is `-oout.tvm`. An option whose value is optional
  (`--allow-read[=PATH,...]`) takes it only after `=`.
* Options are matched whole: no abbreviations (`--max` is unknown), no
  clusters of short flags.
* `--` ends the options: what follows is positional even if it starts with
  `-`. A lone `-` is positional (it names standard input).
* Where a command takes program arguments (`run`), the options end at the
  first positional word; the other commands accept options between their
  file names.
* A flag given twice counts once; a value given twice: the last wins; the
  `--allow-*` grants add up.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

FLAG, REQUIRED, OPTIONAL = "flag", "required", "optional"  # how an option takes a value


class UsageError(Exception):
    """A command line the program cannot run: exit status 64 (EX_USAGE)."""


class Option:
    """One option: its spellings, the key its value is stored under, how it
    takes a value, and its help line.

    `convert(spelling, text)` turns the value's text into the stored value,
    raising ValueError for a bad one; the error is then `{spelling} needs
    {needs}` (the same text as for a missing value). A FLAG stores True.
    With `append`, every occurrence adds its value to a list under `key`."""

    __slots__ = ("names", "key", "takes", "metavar", "help", "convert", "needs", "append")

    def __init__(
        self,
        names: Sequence[str],
        key: str,
        help: str,
        takes: str = FLAG,
        metavar: str = "",
        convert: Callable[[str, str], Any] | None = None,
        needs: str = "a value",
        append: bool = False,
    ) -> None:
        self.names = tuple(names)
        self.key = key
        self.takes = takes
        self.metavar = metavar
        self.help = help
        self.convert = convert or _as_given
        self.needs = needs
        self.append = append

    def spelling(self) -> str:
        """`-o, --output FILE`, `--allow-read[=PATH,...]`: for the help text."""
        names = ", ".join(self.names)
        if self.takes == REQUIRED:
            return f"{names} {self.metavar}"
        if self.takes == OPTIONAL:
            return f"{names}[={self.metavar}]"
        return names


def _as_given(name: str, text: str | None) -> Any:
    """The default conversion: the text itself; True for a flag (or an
    optional value left out)."""
    return True if text is None else text


class Parsed:
    """The result of parsing: option values by key (`values`), the option
    words in the order given (`given`: for messages), and the positional
    words (`words`), program arguments included. `ended`: a `--` ended the
    options."""

    __slots__ = ("values", "given", "words", "ended")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.given: list[tuple[str, Option]] = []
        self.words: list[str] = []
        self.ended = False

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def merge(self, other: "Parsed") -> None:
        """Add what `other` (parsed later on the command line) holds."""
        for key, value in other.values.items():
            if key in self.values and isinstance(value, list) and isinstance(self.values[key], list):
                self.values[key] = self.values[key] + value
            else:
                self.values[key] = value
        self.given += other.given
        self.words += other.words
        self.ended = self.ended or other.ended


def parse(
    args: Sequence[str],
    options: Iterable[Option],
    unknown: Callable[[str], str],
    stop_at_word: bool = False,
    stop_at_unknown: bool = False,
) -> tuple[Parsed, list[str]]:
    """Parse `args` against `options` (see the module docstring). Returns
    (what was parsed, the words left unparsed). With `stop_at_word` parsing
    stops before the first positional word (everything from it on is left,
    and a `--` that ends the options is dropped: `parsed.ended`); with
    `stop_at_unknown` it stops before an option it does not know instead of
    raising UsageError(unknown(option)).
    Raises UsageError for a missing or bad value."""
    table: dict[str, Option] = {}
    for opt in options:
        for name in opt.names:
            table[name] = opt
    parsed = Parsed()
    i, n = 0, len(args)
    while i < n:
        arg = args[i]
        if arg == "--":
            parsed.ended = True
            if stop_at_word:
                return parsed, list(args[i + 1 :])
            parsed.words += args[i + 1 :]
            return parsed, []
        if arg == "-" or not arg.startswith("-"):
            if stop_at_word:
                return parsed, list(args[i:])
            parsed.words.append(arg)
            i += 1
            continue
        if "help" in parsed.values:  # help answers: options after it are not checked (as argparse does)
            i += 1
            continue
        name, value = _split(arg, table)
        opt = table.get(name)
        if opt is None:
            if stop_at_unknown:
                return parsed, list(args[i:])
            raise UsageError(unknown(name))
        i += 1
        if opt.takes == FLAG:
            if value is not None:
                raise UsageError(f"{name} takes no value")
        elif value is None and opt.takes == REQUIRED:
            if i == n:
                raise UsageError(f"{name} needs {opt.needs}")
            value = args[i]
            i += 1
        try:
            stored = opt.convert(name, value)
        except ValueError as e:
            raise UsageError(str(e) or f"{name} needs {opt.needs}") from None
        if opt.append:
            parsed.values.setdefault(opt.key, []).append(stored)
        else:
            parsed.values[opt.key] = stored
        parsed.given.append((name, opt))
    return parsed, []


def _split(arg: str, table: dict[str, Option]) -> tuple[str, str | None]:
    """(option name, value joined to it or None): `--a=b` -> (`--a`, `b`);
    `-oFILE` -> (`-o`, `FILE`) when `-o` takes a value."""
    if arg.startswith("--"):
        name, eq, value = arg.partition("=")
        return name, (value if eq else None)
    if len(arg) > 2:
        short = table.get(arg[:2])
        if short is not None and short.takes == REQUIRED:
            return arg[:2], arg[2:]
    return arg, None


def option_lines(options: Iterable[Option], width: int = 31) -> list[str]:
    """The help lines of `options`: spelling, then the help text aligned."""
    lines = []
    for opt in options:
        spelled = opt.spelling()
        if len(spelled) >= width:
            lines.append(f"  {spelled}")
            lines.append(f"  {'':<{width}}{opt.help}")
        else:
            lines.append(f"  {spelled:<{width}}{opt.help}")
    return lines


def positive_int(name: str, text: str | None) -> int:
    """A positive decimal integer (ASCII digits only: no sign, no `_`)."""
    if text is None or not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"{name} needs a positive integer")
    return int(text)


_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0}
_BYTES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _number(text: str) -> float | None:
    """A plain decimal number (ASCII digits, at most one `.`), else None."""
    whole, _, frac = text.partition(".")
    if not text.isascii() or not (whole or frac) or not (whole.isdigit() or not whole) or not (frac.isdigit() or not frac):
        return None
    return float(text)


def parse_duration(name: str, text: str | None) -> float:
    """A duration: plain seconds or a number with `ms`, `s` or `m`
    (`2`, `2s`, `500ms`, `1.5m`); more than zero."""
    if text is not None:
        for unit in ("ms", "s", "m", ""):
            if text.endswith(unit):
                value = _number(text[: len(text) - len(unit)])
                if value is not None and value > 0:
                    return value * _SECONDS.get(unit, 1.0)
                break
    raise ValueError(f"{name} needs a duration such as 2s, 500ms or 1m")


def parse_size(name: str, text: str | None) -> int:
    """A size in bytes: a positive integer, optionally with K, M or G (1024,
    1024 * 1024...; `KB`, `KiB` and lower case too): `1M`, `64K`, `1000`."""
    t = (text or "").upper()
    for suffix in ("IB", "B"):
        if t.endswith(suffix) and t[-len(suffix) - 1 : -len(suffix)] in ("K", "M", "G"):
            t = t[: -len(suffix)]
            break
    unit = t[-1] if t[-1:] in ("K", "M", "G") else ""
    digits = t[: len(t) - len(unit)]
    if digits.isascii() and digits.isdigit() and int(digits) > 0:
        return int(digits) * _BYTES[unit]
    raise ValueError(f"{name} needs a size such as 256M, 64K or 1000 (bytes)")
