"""Shared helpers of the debugger engine tests: write a program, make an
engine that collects its output, read variables by name."""

from __future__ import annotations

import pytest

from tinyvm.tools.debugger.engine import Engine

# The program most tests debug: a call in a loop (lines 1-4: add; 9-13: the
# loop), printing as it goes.
ADD_LOOP = """\
fn add(a: int, b: int) -> int {
    let c = a + b
    return c
}

var total = 0
let xs = [10, 20, 30]
var i = 0
for x in xs {
    total = total + add(x, i)
    i += 1
    print("step ${i}")
}
print("total ${total}")
"""


class Session:
    def __init__(self, path: str, **kwargs) -> None:
        self.out: list[tuple[str, str]] = []
        self.eng = Engine(path, on_output=lambda c, t: self.out.append((c, t)), **kwargs)
        self.path = path

    def stdout(self) -> str:
        return "".join(t for c, t in self.out if c == "stdout")

    def console(self) -> str:
        return "".join(t for c, t in self.out if c == "console")

    def top(self, fiber_id: int | None = None) -> dict:
        frames, _ = self.eng.stack(fiber_id if fiber_id is not None else self.eng.stop.fiber_id)
        return frames[0]

    def scope(self, name: str, frame: dict | None = None) -> dict[str, dict]:
        frame = frame or self.top()
        for s in self.eng.scopes(frame["id"]):
            if s["name"] == name:
                return {v["name"]: v for v in self.eng.variables(s["variablesReference"])}
        return {}

    def local(self, name: str) -> str:
        return self.scope("Locals")[name]["value"]

    def ev(self, expr: str) -> str:
        return self.eng.evaluate(expr, self.top()["id"])["result"]


@pytest.fixture
def program(tmp_path):
    def write(text: str, name: str = "prog.tl") -> str:
        p = tmp_path / name
        p.write_text(text)
        return str(p)

    return write


@pytest.fixture
def session(request):
    made: list[Session] = []

    def make(path: str, **kwargs) -> Session:
        s = Session(path, **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.eng.close()
