# tries: call a typed host function with the wrong types and arity, statically and through `any`, to make Python run with guest garbage
# status: 0
# stdout: ok
# needs: api-handle
from tinyvm import VM

calls = []
vm = VM()


@vm.function
def area(w: float, h: float) -> float:
    calls.append((w, h))
    return w * h


for src in ['area("a", 1.0)\n', "area(1.0)\n", 'let f: any = area\nf("a", [1])\n', "let f: any = area\nf(1.0, 2.0, 3.0)\n"]:
    try:
        vm.run_source(src)
        raise SystemExit(f"ran: {src!r}")
    except Exception as e:  # a compile error (CompileError) or a guest TypeError
        assert "InternalError" not in str(e), e
assert calls == [], calls
print("ok")
