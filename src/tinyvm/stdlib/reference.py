"""The standard library reference: ONE table of every global built-in, every
method of strings, arrays, maps, sets and `re` patterns and matches, and every
export of the standard modules, with its signature and a line of meaning.

`docs/stdlib.md` is generated from it: `python -m tinyvm.stdlib.reference >
docs/stdlib.md` (as docs/bytecode.md is from the opcode table);
tests/unit/test_docs_stdlib.py checks that the page is current and that the
table names exactly what the VM provides (so nothing is added undocumented).
Channels, tasks, generators, weak references and `net` connections have their
methods documented with their concepts (docs/concurrency.md, docs/memory.md).
"""

from __future__ import annotations

# (section, name, signature, meaning). Sections: "builtin", a receiver kind
# ("string" "array" "map" "Set" "Pattern" "Match"), or "module NAME".
TABLE: list[tuple[str, str, str, str]] = [
    # ------------------------------------------------------------------ built-ins
    ("builtin", "print", "print(...)", "Writes its arguments separated by one space, then a newline."),
    ("builtin", "eprint", "eprint(...)", "As `print`, to standard error (1.1)."),
    ("builtin", "len", "len(x) -> int", "Length of a string, array, map, record, range or Set."),
    ("builtin", "str", "str(x) -> string", "The printed form of x."),
    ("builtin", "int", "int(x) -> int", "Converts a number or numeric text; ValueError on bad text."),
    ("builtin", "float", "float(x) -> float", "Converts a number or numeric text; ValueError on bad text."),
    ("builtin", "typeof", "typeof(x) -> string", "The type's name (`\"int\"`, `\"array\"`, a class name, `\"Set\"`...)."),
    ("builtin", "assert", "assert(cond, msg?)", "Throws `Error(msg)` when cond is false."),
    ("builtin", "input", "input(prompt?) -> string?", "Reads a line of standard input; nil at its end."),
    ("builtin", "sleep", "sleep(ms)", "Suspends the calling fiber for ms milliseconds."),
    ("builtin", "yield_now", "yield_now()", "Lets other fibers run."),
    ("builtin", "Chan", "Chan(cap?) -> Chan<T>", "A channel of capacity cap (0: unbuffered)."),
    ("builtin", "WeakRef", "WeakRef(obj) -> WeakRef<T>", "A weak reference to a heap object."),
    ("builtin", "WeakMap", "WeakMap() -> WeakMap<K, V>", "A table whose keys are held weakly (ephemerons)."),
    ("builtin", "abs", "abs(x)", "Absolute value of an int or float."),
    ("builtin", "min", "min(xs) / min(a, b, ...)", "Smallest of an array or of the arguments (numbers or strings)."),
    ("builtin", "max", "max(xs) / max(a, b, ...)", "Largest of an array or of the arguments (numbers or strings)."),
    ("builtin", "sqrt", "sqrt(x) -> float", "Square root (nan for negatives)."),
    ("builtin", "floor", "floor(x) -> int", "Rounds down."),
    ("builtin", "ceil", "ceil(x) -> int", "Rounds up."),
    ("builtin", "round", "round(x) -> int", "Rounds half away from zero."),
    ("builtin", "sum", "sum(xs)", "Sum of an array or range of numbers; 0 when empty (1.1)."),
    ("builtin", "sorted", "sorted(xs, key?) -> [T]", "A sorted new array; key computes each element's sort key (1.1)."),
    ("builtin", "reversed", "reversed(xs) -> [T]", "A new array in reverse order (1.1)."),
    ("builtin", "any_of", "any_of(xs, f) -> bool", "Whether f is true for some element (1.1)."),
    ("builtin", "all_of", "all_of(xs, f) -> bool", "Whether f is true for every element (1.1)."),
    ("builtin", "range", "range(a, b, step?) -> range", "A range like `a..b` (iterable, `len`-able, printed `range(a, b, step)` when step is not 1); a negative step counts down; step 0 is a ValueError (1.1)."),
    ("builtin", "ord", "ord(s) -> int", "Code point of a one-character string (1.1)."),
    ("builtin", "chr", "chr(n) -> string", "The character of code point n, 0..0x10FFFF (1.1)."),
    ("builtin", "Set", "Set<T>(xs?) -> Set<T>", "A new set, from an array, range or set; T from xs, from the context (`let s: Set<int> = Set()`) or written (`Set<int>()`) (1.1)."),
    ("builtin", "Array", "Array(n, fill) -> [T]", "An array of n elements, each `fill` (the same value in every slot); n < 0 is a ValueError (1.1)."),
    ("builtin", "zip", "zip(a, b) -> [(A, B)]", "Tuples of the elements at the same index; stops at the shorter array (1.1)."),
    ("builtin", "enumerate", "enumerate(xs) -> [(int, T)]", "Tuples of each element's index and the element (1.1)."),
    ("builtin", "Comparable", "interface Comparable { fn compare(other: Self) -> int }", "The built-in interface of ordered values, implemented by int, float and string: `a.compare(b)` is negative, zero or positive (1.1)."),
    # ------------------------------------------------------------------ strings
    ("string", "len", "s.len() -> int", "Number of characters (code points)."),
    ("string", "upper", "s.upper() -> string", "Upper case."),
    ("string", "lower", "s.lower() -> string", "Lower case."),
    ("string", "trim", "s.trim() -> string", "Without surrounding white space."),
    ("string", "split", "s.split(sep?) -> [string]", "Parts between separators; no argument: runs of white space."),
    ("string", "join", "sep.join(list) -> string", "The elements' printed forms joined by sep."),
    ("string", "contains", "s.contains(t) -> bool", "Whether t occurs in s."),
    ("string", "starts_with", "s.starts_with(t) -> bool", "Whether s begins with t."),
    ("string", "ends_with", "s.ends_with(t) -> bool", "Whether s ends with t."),
    ("string", "find", "s.find(t) -> int", "Index of the first t, or -1."),
    ("string", "replace", "s.replace(a, b) -> string", "Every a replaced by b."),
    ("string", "slice", "s.slice(a, b?) -> string", "Characters a..b (bounds clamped)."),
    ("string", "chars", "s.chars() -> [string]", "The characters."),
    ("string", "repeat", "s.repeat(n) -> string", "s n times (n >= 0) (1.1)."),
    ("string", "pad_left", "s.pad_left(w, fill?) -> string", "Padded on the left to w characters with fill (one character, default space) (1.1)."),
    ("string", "pad_right", "s.pad_right(w, fill?) -> string", "Padded on the right to w characters (1.1)."),
    ("string", "count", "s.count(t) -> int", "Non-overlapping occurrences of t (not empty) (1.1)."),
    ("string", "index_of", "s.index_of(t) -> int", "Index of the first t, or -1 (1.1)."),
    ("string", "is_digit", "s.is_digit() -> bool", "Non-empty and ASCII digits only (1.1)."),
    ("string", "is_alpha", "s.is_alpha() -> bool", "Non-empty and letters only (1.1)."),
    ("string", "is_space", "s.is_space() -> bool", "Non-empty and white space only (1.1)."),
    ("string", "to_int", "s.to_int() -> int?", "As `int(s)`, but nil on text that is not an int (1.1)."),
    ("string", "to_float", "s.to_float() -> float?", "As `float(s)`, but nil on text that is not a number (1.1)."),
    ("string", "bytes_len", "s.bytes_len() -> int", "Length in UTF-8 bytes (1.1)."),
    ("string", "compare", "s.compare(t) -> int", "Negative, zero or positive as s sorts before, with or after t (Comparable; ints and floats have it too) (1.1)."),
    # ------------------------------------------------------------------ arrays
    ("array", "push", "xs.push(v)", "Appends v."),
    ("array", "pop", "xs.pop() -> T", "Removes and returns the last element."),
    ("array", "insert", "xs.insert(i, v)", "Inserts v before index i."),
    ("array", "remove", "xs.remove(i) -> T", "Removes and returns element i."),
    ("array", "slice", "xs.slice(a, b?) -> [T]", "A new array of elements a..b (bounds clamped)."),
    ("array", "index_of", "xs.index_of(v) -> int", "Index of the first element == v, or -1."),
    ("array", "contains", "xs.contains(v) -> bool", "Whether an element == v."),
    ("array", "reverse", "xs.reverse()", "Reverses in place."),
    ("array", "sort", "xs.sort(key?)", "Sorts in place (stable), by key when given."),
    ("array", "map", "xs.map(f) -> [U]", "A new array of f(x)."),
    ("array", "filter", "xs.filter(f) -> [T]", "A new array of the x for which f(x) is true."),
    ("array", "reduce", "xs.reduce(f, init)", "Folds: acc = f(acc, x) from init."),
    ("array", "join", "xs.join(sep) -> string", "The elements' printed forms joined by sep."),
    ("array", "len", "xs.len() -> int", "Number of elements."),
    ("array", "sort_by", "xs.sort_by(cmp)", "Sorts in place (stable) by cmp(a, b): negative when a goes first (1.1)."),
    ("array", "extend", "xs.extend(ys)", "Appends the elements of ys (1.1)."),
    ("array", "clear", "xs.clear()", "Removes every element (1.1)."),
    ("array", "find", "xs.find(f) -> T?", "The first element for which f is true, or nil (1.1)."),
    ("array", "count", "xs.count(v) -> int", "Number of elements == v (1.1)."),
    ("array", "min", "xs.min() -> T", "Smallest element, as `min(xs)` (1.1)."),
    ("array", "max", "xs.max() -> T", "Largest element, as `max(xs)` (1.1)."),
    # ------------------------------------------------------------------ maps
    ("map", "get", "m.get(k, default?)", "m[k], or default (nil) when absent."),
    ("map", "has", "m.has(k) -> bool", "Whether k is a key."),
    ("map", "remove", "m.remove(k) -> V", "Removes k and returns its value (KeyError when absent)."),
    ("map", "keys", "m.keys() -> [K]", "The keys in insertion order."),
    ("map", "values", "m.values() -> [V]", "The values in insertion order."),
    ("map", "items", "m.items() -> [(K, V)]", "The entries in insertion order, as (key, value) tuples (1.1; arrays before)."),
    ("map", "len", "m.len() -> int", "Number of entries."),
    ("map", "set_default", "m.set_default(k, v) -> V", "m[k] when present, else stores v and returns it (1.1)."),
    ("map", "merge", "m.merge(other)", "Copies other's entries into m, in place (1.1)."),
    # ------------------------------------------------------------------ sets
    ("Set", "add", "s.add(v: T)", "Adds v (an int, float, bool, string or nil) (1.1)."),
    ("Set", "has", "s.has(v: T) -> bool", "Whether v is an element (1.1)."),
    ("Set", "remove", "s.remove(v: T) -> bool", "Removes v; whether it was there (1.1)."),
    ("Set", "len", "s.len() -> int", "Number of elements (1.1)."),
    ("Set", "union", "s.union(o: Set<T>) -> Set<T>", "A new set: s's elements, then o's others (1.1)."),
    ("Set", "intersect", "s.intersect(o: Set<T>) -> Set<T>", "A new set of s's elements that are in o (1.1)."),
    ("Set", "diff", "s.diff(o: Set<T>) -> Set<T>", "A new set of s's elements that are not in o (1.1)."),
    # ------------------------------------------------------------------ re
    ("Pattern", "match", "p.match(s: string) -> Match?", "A match at the start of s, or nil (1.1)."),
    ("Pattern", "search", "p.search(s: string) -> Match?", "The first match anywhere in s, or nil (1.1)."),
    ("Pattern", "find_all", "p.find_all(s: string) -> [string]", "The texts of every non-overlapping match (1.1)."),
    ("Pattern", "replace", "p.replace(s: string, repl: string) -> string", "Every match replaced by repl (`\\\\1` names a group) (1.1)."),
    ("Pattern", "split", "p.split(s: string) -> [string]", "The texts between matches (1.1)."),
    ("Match", "group", "m.group(i?: int) -> string?", "Group i's text (0: the whole match; nil if it did not take part) (1.1)."),
    ("Match", "span", "m.span() -> (int, int)", "Start and end of the match, in code points (1.1)."),
    # ------------------------------------------------------------------ modules
    ("module math", "pi", "math.pi: float", "3.14159..."),
    ("module math", "e", "math.e: float", "2.71828..."),
    ("module math", "inf", "math.inf: float", "Positive infinity."),
    ("module math", "nan", "math.nan: float", "Not a number."),
    ("module math", "sqrt", "math.sqrt(x) -> float", "Square root."),
    ("module math", "sin", "math.sin(x) -> float", "Sine (radians)."),
    ("module math", "cos", "math.cos(x) -> float", "Cosine (radians)."),
    ("module math", "tan", "math.tan(x) -> float", "Tangent (radians)."),
    ("module math", "atan2", "math.atan2(y, x) -> float", "Angle of (x, y)."),
    ("module math", "exp", "math.exp(x) -> float", "e to the x."),
    ("module math", "log", "math.log(x) -> float", "Natural logarithm."),
    ("module math", "pow", "math.pow(x, y) -> float", "x to the y."),
    ("module math", "floor", "math.floor(x) -> int", "Rounds down."),
    ("module math", "ceil", "math.ceil(x) -> int", "Rounds up."),
    ("module time", "now_ms", "time.now_ms() -> int", "Wall-clock milliseconds since the Unix epoch."),
    ("module time", "monotonic_ms", "time.monotonic_ms() -> int", "Milliseconds of a monotonic clock."),
    ("module time", "monotonic_us", "time.monotonic_us() -> int", "Microseconds of a monotonic clock."),
    ("module time", "format", "time.format(ms, layout) -> string", "UTC text of a time; layout directives `%Y %m %d %H %M %S %L %%` (1.1)."),
    ("module time", "parse", "time.parse(text, layout) -> int", "Milliseconds of a UTC text that follows the layout exactly (1.1)."),
    ("module json", "parse", "json.parse(text)", "The value of JSON text (ValueError with line and column)."),
    ("module json", "stringify", "json.stringify(v, indent?) -> string", "JSON text; compact, or one entry a line indented by indent (0-16) spaces (indent: 1.1)."),
    ("module random", "seed", "random.seed(n)", "Seeds the generator."),
    ("module random", "int", "random.int(a, b) -> int", "A random int in a..=b."),
    ("module random", "float", "random.float() -> float", "A random float in [0, 1)."),
    ("module fs", "read_text", "fs.read_text(path) -> string", "A file's text (needs a read grant)."),
    ("module fs", "write_text", "fs.write_text(path, text)", "Writes a file (needs a write grant)."),
    ("module fs", "exists", "fs.exists(path) -> bool", "Whether the path exists (needs a read grant)."),
    ("module fs", "list_dir", "fs.list_dir(path) -> [string]", "A directory's entries (needs a read grant)."),
    ("module os", "args", "os.args: [string]", "The program's arguments."),
    ("module os", "env", "os.env(name) -> string?", "An environment variable (needs an env grant)."),
    ("module os", "exit", "os.exit(code)", "Ends the program with an exit status."),
    ("module net", "listen", "net.listen(host, port)", "A TCP listener (needs a net grant; docs/concurrency.md)."),
    ("module net", "connect", "net.connect(host, port)", "A TCP connection (needs a net grant)."),
    ("module gc", "collect", "gc.collect() -> int", "Runs a full collection; bytes freed."),
    ("module gc", "stats", "gc.stats() -> [string: any]", "The collector's counters (docs/gc.md)."),
    ("module gc", "mode", "gc.mode(name?)", "The collector's mode, or sets it."),
    ("module path", "join", "path.join(a, ...) -> string", "Parts joined with `/`; an absolute part restarts (1.1)."),
    ("module path", "dirname", "path.dirname(p) -> string", "Everything before the last `/` (1.1)."),
    ("module path", "basename", "path.basename(p) -> string", "Everything after the last `/` (1.1)."),
    ("module path", "ext", "path.ext(p) -> string", "The basename's extension with its dot, or `\"\"` (1.1)."),
    ("module path", "normalize", "path.normalize(p) -> string", "Without `//`, `.` and `x/..`; `\"\"` is `\".\"` (1.1)."),
    ("module re", "compile", "re.compile(p: string) -> Pattern", "An RE2 pattern (linear-time); ValueError with RE2's message on a bad one (1.1)."),
]

_TITLES = {
    "builtin": "Global built-ins",
    "string": "String methods",
    "array": "Array methods",
    "map": "Map methods",
    "Set": "Set methods",
    "Pattern": "`re` pattern methods",
    "Match": "`re` match methods",
}


def markdown() -> str:
    """The reference as Markdown (docs/stdlib.md)."""
    out = [
        "# TinyLang standard library reference",
        "",
        "Generated from `src/tinyvm/stdlib/reference.py` by",
        "`python -m tinyvm.stdlib.reference > docs/stdlib.md`; do not edit by hand.",
        "Entries marked (1.1) are TinyLang 1.1 additions (spec section 13). Channels, tasks,",
        "generators and weak references are described with their concepts",
        "(docs/concurrency.md, docs/memory.md); the error classes in docs/errors.md.",
        "Nothing here touches the file system or the network except `fs` and `net`,",
        "which need the host's grants (docs/capabilities.md).",
    ]
    section = None
    for sec, _name, sig, meaning in TABLE:
        if sec != section:
            section = sec
            title = _TITLES.get(sec) or f"Module `{sec.split()[1]}`"
            out += ["", f"## {title}", "", "| name | meaning |", "|---|---|"]
        out.append(f"| `{sig}` | {meaning.replace('|', '&#124;')} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover - doc generator
    print(markdown(), end="")
