"""Shared helpers of the profiler, tracer and metrics tests (tests/tools/prof)."""

from __future__ import annotations

import io

from tinyvm.cli.main import main

# A program with a hot function (busy: a loop) and a cold one (light), called
# from main: the profile must put nearly all self time in busy.
HOT_COLD = """fn busy(n) {
  var s = 0
  var i = 0
  while i < n {
    s = s + i * 2
    i = i + 1
  }
  return s
}

fn light(n) {
  return n + 1
}

fn main() {
  var t = 0
  for k in 0..20 {
    t = t + busy(2000) + light(k)
  }
  return t
}

print(main())
"""

# Fibers: two workers that compute, talking over a channel.
FIBERS = """fn work(n: int, out: Chan<int>) -> int {
  var s = 0
  for i in 0..n { s = s + i % 7 }
  out.send(s)
  return s
}

let ch: Chan<int> = Chan(2)
let a = spawn work(30000, ch)
let b = spawn work(30000, ch)
print(ch.recv())
print(ch.recv())
print(await a + await b)
"""


def tvm(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()
