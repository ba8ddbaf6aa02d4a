"""The debugger engine on Lox programs: the same engine, Lox's names
(`this`, `script`), Lox's numbers, closures' captured variables."""

from __future__ import annotations

import pytest

PROG = """\
class Counter {
  init(n) {
    this.n = n;
  }
  inc() {
    this.n = this.n + 1;
    return this.n;
  }
}
fun makeAdder(k) {
  fun add(x) {
    return x + k;
  }
  return add;
}
var c = Counter(5);
c.inc();
var add2 = makeAdder(2);
print add2(c.inc());
"""


@pytest.mark.parametrize("jit", ["off", "eager"])
def test_lox_breakpoints_this_and_evaluate(program, session, jit):
    s = session(program(PROG, "prog.lox"), jit=jit)
    res = s.eng.set_function_breakpoints([{"name": "Counter.inc", "hitCondition": "2"}])
    assert res[0]["verified"]
    st = s.eng.start()
    assert (st.reason, st.line) == ("function breakpoint", 6)
    loc = s.scope("Locals")
    assert loc["this"]["type"] == "Counter" and loc["this"]["value"] == "Counter(n: 6)"
    fields = s.eng.variables(loc["this"]["variablesReference"])
    assert [(f["name"], f["value"], f["type"]) for f in fields] == [("n", "6", "number")]
    assert s.ev("this.n * 2") == "12"
    s.ev("this.n = 40")
    assert s.eng.resume("continue").reason == "exited"
    assert s.stdout() == "43\n"


def test_lox_captured_variables_and_set_variable(program, session):
    s = session(program(PROG, "prog.lox"))
    s.eng.set_breakpoints(s.path, [{"line": 12}])
    st = s.eng.start()
    assert st.line == 12 and s.top()["name"] == "add"
    assert s.scope("Locals")["x"]["value"] == "7"
    cap = s.scope("Captured")
    assert cap["k"]["value"] == "2"
    ref = next(x for x in s.eng.scopes(s.top()["id"]) if x["name"] == "Captured")["variablesReference"]
    assert s.eng.set_variable(ref, "k", "100")["value"] == "100"
    assert s.ev("x + k") == "107"
    assert s.eng.resume("continue").reason == "exited"
    assert s.stdout() == "107\n"


def test_lox_step_back_and_errors(program, session):
    src = "var a = 1;\nvar b = a + 1;\nprint a + b;\nprint nope;\n"
    s = session(program(src, "err.lox"))
    s.eng.set_exception_breakpoints(["uncaught"])
    st = s.eng.start()
    assert (st.reason, st.line) == ("exception", 4)
    assert s.eng.step_back().line == 3
    assert s.ev("a + b") == "3"
    assert s.eng.resume("continue").reason == "exception"  # the same error again
    end = s.eng.resume("continue")
    assert end.reason == "exited" and end.exit_code == 70  # Lox's runtime error status
    assert "nope" in end.error
    assert s.stdout() == "3\n"
