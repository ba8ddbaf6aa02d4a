"""Writes the big tests of tests/lox/limit/ (run from anywhere:
`python tests/lox/make_limit_tests.py`). The generated .lox files are
committed; this script documents how they were made and redoes them.

clox's compile-time limits and where each test sits (see lox/scopes.py for
the byte model):

* 256 local slots per function, slot 0 included: the 256th declared local is
  an error.
* 256 constants per function: every number and string literal and every use
  of a global's or property's name adds one (clox does not reuse them).
* 256 upvalues per function.
* 255 parameters and 255 arguments.
* A forward jump spans at most 65535 bytes, a loop at most 65535 bytes back:
  `if (a) { BODY }` fails when BODY is more than 65531 bytes, `while (a) {
  BODY }` when it is more than 65526 (`b = b + a;` on locals is 8 bytes,
  `a;` 3, `!a;` 4, `a = false;` 4).
* 64 frames (the script's and 63 calls).

And TinyVM's own limits, which clox has not: functions nest at most 64 deep
(the `.tvm` format's limit), while `and`/`or` and `else if` chains, which
clox parses by recursion, are as long as its jumps allow.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent / "limit"


def with_end_error(text: str) -> str:
    """text after a first line expecting clox's error at the end of the file.
    (After an error in a statement nested in a block, clox's recovery skips
    to the next statement start, past the block's closing `}`.)"""
    line = text.count("\n") + 2
    return f"// [line {line}] Error at end: Expect '}}' after block.\n" + text


def write(name: str, text: str) -> None:
    HERE.mkdir(exist_ok=True)
    (HERE / name).write_text(text, encoding="utf-8")


def lines_of(stmts: list[str], per_line: int = 16, indent: str = "  ") -> str:
    return "".join(indent + " ".join(stmts[i : i + per_line]) + "\n" for i in range(0, len(stmts), per_line))


def locals_tests() -> None:
    # Slot 0 holds the function: 255 more locals fit, the next one does not.
    decls = [f"var v{i};" for i in range(1, 256)]
    body = lines_of(decls)
    head = "fun f() {\n" + body
    n = head.count("\n") + 1
    write("too_many_locals.lox", head + f"  var oops; // Error at 'oops': Too many local variables in function.\n}}\n")
    assigns = lines_of([f"v{i} = {i};" for i in range(1, 256)])
    sums = "  return v1 + v128 + v255;\n"
    write("locals_at_limit.lox", "fun f() {\n" + body + assigns + sums + "}\n\nprint f(); // expect: 384\n")
    # Locals of nested blocks count together.
    outer = lines_of([f"var a{i};" for i in range(1, 200)])
    inner = lines_of([f"var b{i};" for i in range(1, 57)], indent="    ")
    text = "fun f() {\n" + outer + "  {\n" + inner
    write("too_many_locals_in_blocks.lox", text + "    var oops; // Error at 'oops': Too many local variables in function.\n  }\n}\n")
    del n


def constants_tests() -> None:
    nums = [f"{i};" for i in range(256)]
    body = lines_of(nums)
    write("too_many_constants.lox", "fun f() {\n" + body + '  "oops"; // Error at \'"oops"\': Too many constants in one chunk.\n}\n')
    write(
        "constants_at_limit.lox",
        "fun f() {\n" + lines_of(nums[:255]) + "  return 255;\n}\n\nprint f(); // expect: 255\n",
    )
    same = lines_of(["1;"] * 256)
    write("no_reuse_constants.lox", "fun f() {\n" + same + "  1; // Error at '1': Too many constants in one chunk.\n}\n")
    # Global names are constants of the script: `var gN = N;` adds two.
    globals_ = lines_of([f"var g{i} = {i};" for i in range(128)], per_line=8, indent="")
    write("too_many_constants_in_script.lox", globals_ + "var oops; // Error at 'oops': Too many constants in one chunk.\n")


def upvalues_tests() -> None:
    # f declares 200 locals, g 100; h reads all 300: the 257th is one too many.
    f_locals = lines_of([f"var a{i} = {i};" for i in range(200)], per_line=10)
    g_locals = lines_of([f"var b{i} = {i};" for i in range(100)], per_line=10, indent="    ")
    reads = [f"a{i};" for i in range(200)] + [f"b{i};" for i in range(56)]
    h_body = lines_of(reads, indent="      ")
    text = "fun f() {\n" + f_locals + "  fun g() {\n" + g_locals + "    fun h() {\n" + h_body
    text += "      b56; // Error at 'b56': Too many closure variables in function.\n    }\n  }\n}\n"
    write("too_many_upvalues.lox", text)
    # Exactly 256 upvalues work.
    sum_terms = " + ".join([f"a{i}" for i in range(200)] + [f"b{i}" for i in range(56)])
    ok = "fun f() {\n" + f_locals + "  fun g() {\n" + g_locals + "    fun h() {\n"
    ok += f"      return {sum_terms};\n    }}\n    return h;\n  }}\n  return g;\n}}\n\nprint f()()(); // expect: 21440\n"
    write("upvalues_at_limit.lox", ok)


def arguments_tests() -> None:
    # Arguments are a local, not literals: 255 literals would also be 255
    # constants of the script, which has a few more.
    params = ", ".join(f"a{i}" for i in range(255))
    args = ", ".join(["x"] * 255)
    text = f"fun f({params}) {{\n  return a0 + a254;\n}}\n\n{{\n  var x = 1;\n  print f({args}); // expect: 2\n}}\n"
    write("arguments_at_limit.lox", text)
    write(
        "too_many_arguments.lox",
        "fun f() {}\n\n{\n  var x = 1;\n  f(" + args + ",\n    oops); // Error at 'oops': Can't have more than 255 arguments.\n}\n",
    )
    params256 = ",\n  ".join(f"a{i}" for i in range(255))
    write(
        "too_many_parameters.lox",
        "fun f(\n  " + params256 + ",\n  oops) {} // Error at 'oops': Can't have more than 255 parameters.\n",
    )


def jump_tests() -> None:
    eight = ["b = b + a;"] * 8191  # 65528 bytes
    # if (a) { BODY } fits with BODY up to 65531 bytes: 65528 + `a;` (3).
    head = "{\n  var a = 1;\n  var b = 0;\n  if (a) {\n"
    fits = head + lines_of(eight + ["a;"], indent="    ") + "  }\n  print b; // expect: 8191\n}\n"
    write("jump_at_limit.lox", fits)
    too_far = head + lines_of(eight + ["!a;"], indent="    ")
    too_far += "  } // Error at '}': Too much code to jump over.\n}\n"
    write("jump_too_large.lox", with_end_error(too_far))
    # while (a) { BODY } fits with BODY up to 65526 bytes.
    body = ["b = b + a;"] * 8189 + ["a = false;", "b;", "b;", "!b;"]  # 65512 + 4 + 10
    head = "{\n  var a = 1;\n  var b = 0;\n  while (a) {\n"
    write("loop_at_limit.lox", head + lines_of(body, indent="    ") + "  }\n  print b; // expect: 8189\n}\n")
    big = ["b = b + a;"] * 8190 + ["a;", "!a;"]  # 65527 bytes
    write("loop_too_large.lox", with_end_error(head + lines_of(big, indent="    ") + "  } // Error at '}': Loop body too large.\n}\n"))
    # An `and` whose right operand is too long to jump over (reported at the
    # operand's last token).
    terms = " + ".join(["a"] * 21850)  # 2 + 3 * 21849 bytes
    write(
        "and_jump_too_large.lox",
        "{\n  var a = 1;\n  var b = false and " + terms + "; // Error at 'a': Too much code to jump over.\n}\n",
    )
    # A long left-associative chain is no problem otherwise.
    terms = " + ".join(["a"] * 8000)  # (deeper than any recursive walk could go)
    write("long_expression.lox", "{\n  var a = 1;\n  print " + terms + "; // expect: 8000\n}\n")


def frames_tests() -> None:
    write(
        "stack_overflow.lox",
        "fun f(n) {\n  var a; var b; var c;\n  f(n + 1); // expect runtime error: Stack overflow.\n}\n\nf(0);\n",
    )
    write(
        "frames_at_limit.lox",
        "// The script's frame and 63 nested calls fit in clox's 64 frames.\n"
        "fun down(n) {\n  if (n == 0) return \"bottom\";\n  return down(n - 1); // expect runtime error: Stack overflow.\n}\n\n"
        "print down(62); // expect: bottom\n"
        "down(63);\n",
    )
    write(
        "stack_overflow_in_initializer.lox",
        "class Node {\n  init(depth) {\n    this.next = Node(depth + 1); // expect runtime error: Stack overflow.\n  }\n}\n\nNode(0);\n",
    )


def nesting_tests() -> None:
    # Functions 64 deep; each returns the next, so calling them one after
    # another takes two frames, not 64.
    opens = "".join(f"{'  ' * i}fun f{i}() {{\n" for i in range(64))
    closes = "".join(f"{'  ' * i}  return f{i + 1};\n{'  ' * i}}}\n" for i in reversed(range(63)))
    inner = "  " * 64 + 'return "innermost";\n' + "  " * 63 + "}\n"
    write("functions_nested_at_limit.lox", opens + inner + closes + "print f0" + "()" * 64 + "; // expect: innermost\n")
    deep = "".join(f"fun f{i}() {{\n" for i in range(64)) + "fun f64() { // Error at '(': Too much nesting.\n" + "}\n" * 65
    write("functions_nested_too_deep.lox", deep)
    # Chains far longer than the 1500 levels of nesting TinyVM allows.
    write("and_chain.lox", "{\n  var t = true;\n  print t" + " and t" * 5000 + "; // expect: true\n}\n")
    links = "  else if (a) print a;\n" * 3000  # (locals: literals would be constants)
    write("else_if_chain.lox", "{\n  var a = false;\n  var b = true;\n  if (a) print 0;\n" + links + "  else print b; // expect: true\n}\n")


if __name__ == "__main__":
    nesting_tests()
    locals_tests()
    constants_tests()
    upvalues_tests()
    arguments_tests()
    jump_tests()
    frames_tests()
