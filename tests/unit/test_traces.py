"""Stack traces a person can read (runtime/errors.py `trace_lines`, vm/calls.py).

* A frame repeated on consecutive lines (deep recursion) is shown three times,
  then counted: `[previous line repeated N more times]`, as CPython does; a
  trace still longer keeps its 50 innermost and 50 outermost lines. The same
  text is the printed trace and an error's `stack` field.
* The runtime library's frames (the prelude: `array_map`, `format_value`,
  `print_guest`...) never appear: built-ins have no frame of their own.
* A structure nested deeper than the frame limit prints with an instance with a
  `str()` method in it, as it does without one (the guest formatter is iterative).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tinyvm.api import VM
from tinyvm.cli.main import main
from tinyvm.runtime.errors import GuestException, TraceFrame


def run(tmp_path: Path, source: str, *flags: str) -> tuple[int, str, str]:
    path = tmp_path / "prog.tl"
    path.write_text(source, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", *flags, str(path)], stdin=io.StringIO(), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue().replace(str(path), "prog.tl")


def test_deep_recursion_is_collapsed_in_the_printed_trace(tmp_path):
    code, out, err = run(tmp_path, "fn f(n) { return f(n + 1) }\nf(0)\n", "--max-depth", "200")
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "error: StackOverflowError: maximum call depth exceeded",
        "  at f (prog.tl:1:18)",
        "  at f (prog.tl:1:18)",
        "  at f (prog.tl:1:18)",
        "  [previous line repeated 196 more times]",
        "  at <module> (prog.tl:2:1)",
    ]


def test_a_caught_errors_stack_is_collapsed_too(tmp_path):
    src = "fn f(n) { return f(n + 1) }\ntry { f(0) } catch e { print(e.stack) }\n"
    code, out, err = run(tmp_path, src, "--max-depth", "1000")
    assert (code, err) == (0, "")
    lines = out.replace(str(tmp_path / "prog.tl"), "prog.tl").splitlines()
    assert lines == ["at f (prog.tl:1:18)"] * 3 + ["[previous line repeated 996 more times]", "at <module> (prog.tl:2:7)"]


def test_a_long_trace_without_repeats_keeps_both_ends(tmp_path):
    # Mutual recursion: no two consecutive lines are equal, so the middle is counted.
    src = "fn a(n) { return b(n + 1) }\nfn b(n) { return a(n + 1) }\na(0)\n"
    code, out, err = run(tmp_path, src, "--max-depth", "300")
    lines = err.splitlines()
    assert code == 1 and lines[0] == "error: StackOverflowError: maximum call depth exceeded"
    frames = lines[1:]
    assert len(frames) == 50 + 1 + 50
    assert frames[50] == "  [200 more lines]"  # 300 frames in all
    assert frames[-1] == "  at <module> (prog.tl:3:1)"
    assert frames[0] in ("  at a (prog.tl:1:18)", "  at b (prog.tl:2:18)")


def test_trace_lines_counts_each_run_of_repeats():
    from tinyvm.runtime.errors import trace_lines

    f = TraceFrame("f", "x.tl", 1, 2, False)
    g = TraceFrame("g", "x.tl", 3, 4, False)
    m = TraceFrame("<module>", "x.tl", 5, 1, True)
    assert trace_lines([f, f, f, f, g, g, g, g, g, m]) == [
        "at f (x.tl:1:2)", "at f (x.tl:1:2)", "at f (x.tl:1:2)", "[previous line repeated 1 more time]",
        "at g (x.tl:3:4)", "at g (x.tl:3:4)", "at g (x.tl:3:4)", "[previous line repeated 2 more times]",
        "at <module> (x.tl:5:1)",
    ]  # fmt: skip
    assert trace_lines([f, f, f, m]) == ["at f (x.tl:1:2)"] * 3 + ["at <module> (x.tl:5:1)"]
    assert trace_lines([]) == []


@pytest.mark.parametrize(
    "src",
    [
        "let xs = [1, 0]\nprint(xs.map(fn(x) => 1 / x))\n",  # array_map
        "class P { fn str() -> string { return str(1 / 0) } }\nprint([P()])\n",  # print_guest, format_value
        'class P { fn str() -> string { throw Error("no") } }\nlet s = "${[P()]}"\n',  # format_value
    ],
)
def test_prelude_frames_never_appear(tmp_path, src):
    code, out, err = run(tmp_path, src)
    assert code == 1
    assert "<prelude>" not in err and "array_map" not in err and "format_" not in err and "print_guest" not in err
    assert "  at <module> (prog.tl:2:" in err
    vm = VM(stdout=io.StringIO())
    with pytest.raises(GuestException) as e:
        vm.run_source(src, "prog.tl")
    assert all(f.path == "prog.tl" for f in e.value.frames)  # the data too
    assert all("<prelude>" not in line for line in e.value.trace)


def test_a_deep_structure_with_a_str_method_prints_like_plain_arrays(tmp_path):
    # 300 nested arrays with the frame limit at 100: the guest formatter (used
    # because of the instance with a str method) must not recurse per level.
    src = """
class P { fn str() -> string { return "p" } }
var plain: any = [1]
var fancy: any = [P()]
for i in 0..300 {
  plain = [plain]
  fancy = [fancy]
}
let a = str(plain)
let b = str(fancy)
print(a == b.replace("p", "1"), len(b))
let m = ["k": [P(), {x: P()}], "e": [:]]
m["self"] = [m]
print(m)
"""
    code, out, err = run(tmp_path, src, "--max-depth", "100")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["true 603", '["k": [p, {x: p}], "e": [:], "self": [[...]]]']
