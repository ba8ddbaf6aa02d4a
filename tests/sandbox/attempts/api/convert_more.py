# tries: more host values with no guest form (bytearray, memoryview, frozenset, range, complex, Decimal, Fraction, array, a class, a builtin), bad map keys (a tuple key with a bad element: tuples of keys are keys since TinyLang 1.1), a bad value deep inside a container, and guest values out (cyclic, 100000 deep, classes, generators, tasks)
# (a set of scalars has a guest form since TinyLang 1.1, a Set: deep inside, one holding a tuple with a bad element is refused)
# status: 0
# stdout: ok
# needs: api-handle api-globals
import array
import decimal
import fractions

from tinyvm import VM

vm = VM()
vm.run_source(
    "fn ident(x) { return x }\n"
    "fn cyc() { var a: any = []\n a.push(a)\n var m: any = [:]\n m[\"self\"] = m\n return [a, m] }\n"
    "fn deep(n) { var a: any = []\n for i in 0..n { a = [a] }\n return a }\n"
    "fn gen() { for i in 0..3 { yield i } }\n"
    "async fn job(x) { return x + 1 }\n"
    "class P { var x: int\n fn init(x: int) { self.x = x } }\n"
)
bad = [bytearray(b"x"), memoryview(b"x"), frozenset(), range(3), 1j, decimal.Decimal(1), fractions.Fraction(1, 2),
       array.array("i", [1]), type, len, {(1, frozenset()): 3}, {object(): 1}, [1, [2, [3, {(4, frozenset())}]]], {"a": [1 << 64]}, [0] * 10 + [b"x"]]
for value in bad:
    try:
        vm.call("ident", value)
        raise SystemExit(f"{type(value).__name__} entered the guest")
    except (TypeError, OverflowError):
        pass
a, m = vm.call("cyc")
assert a[0] is a and m["self"] is m
d = vm.call("deep", 100000)
depth = 0
while d:
    d, depth = d[0], depth + 1
assert depth == 100000, depth
assert list(vm.call("gen")) == [0, 1, 2]
assert vm.call("job", 1).result() == 2
p = vm.globals["P"](3)
assert p.guest_type == "P" and vm.call("ident", p).guest_type == "P"
nested = {}
nested["me"] = [nested, (nested,)]
back = vm.call("ident", nested)
assert back["me"][0] is back and back["me"][1][0] is back
assert vm.call("ident", float("nan")) != vm.call("ident", float("nan"))
assert vm.eval("1 + 1") == 2
print("ok")
