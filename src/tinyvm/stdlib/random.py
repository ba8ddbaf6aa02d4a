"""The `random` standard module (spec section 11): a seeded pseudo-random source.

`make_random_module(vm)` returns the module's exports, name -> Native. Each VM
gets its own generator (Python's Mersenne Twister, `random.Random`), seeded
with 0 when the module is first imported, so a program that never calls `seed`
still prints the same numbers on every run.

* `seed(n)` -- restart the sequence from int `n` (any int64; distinct seeds,
  negative ones included, give distinct sequences); returns nil.
* `int(a, b)` -- a uniformly chosen int with `a <= result <= b` (both ends
  included); `a > b` is ValueError.
* `float()` -- a float in [0, 1).

Arguments must be ints (bools and floats are TypeError), as in the rest of the
language, where bool is not a number.
"""

from __future__ import annotations

import random
from typing import Any

from ..heap.objects import Native
from ..runtime.builtins import arg_count_error
from ..runtime.errors import RtError
from ..runtime.values import typeof

__all__ = ["make_random_module", "DEFAULT_SEED"]

DEFAULT_SEED = 0


def _int_arg(name: str, x: Any) -> int:
    if type(x) is not int:
        raise RtError("TypeError", f"random.{name} expects an int, got {typeof(x)}")
    return x


def make_random_module(vm: Any) -> dict[str, Any]:
    """The exports of `import random`, functions allocated on vm.heap."""
    alloc = vm.heap.alloc
    rng = random.Random(DEFAULT_SEED)

    def seed(*args: Any) -> None:
        if len(args) != 1:
            raise arg_count_error("random.seed", 1, len(args))
        # As an unsigned 64-bit value: Python seeds with abs(n), which would
        # make seed(-1) and seed(1) the same sequence.
        rng.seed(_int_arg("seed", args[0]) & 0xFFFFFFFFFFFFFFFF)
        return None

    def int_(*args: Any) -> int:
        if len(args) != 2:
            raise arg_count_error("random.int", 2, len(args))
        a = _int_arg("int", args[0])
        b = _int_arg("int", args[1])
        if a > b:
            raise RtError("ValueError", f"random.int: empty range ({a} > {b})")
        return rng.randint(a, b)

    def float_(*args: Any) -> float:
        if args:
            raise arg_count_error("random.float", 0, len(args))
        return rng.random()

    return {
        "seed": alloc(Native("seed", seed, 1)),
        "int": alloc(Native("int", int_, 2)),
        "float": alloc(Native("float", float_, 0)),
    }
