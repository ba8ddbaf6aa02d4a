# tries: reach a handle's Python attributes that are not in its allow-list (__class__, __dict__, a private method, a listed method's __globals__)
# status: 0
# stdout: ok
# needs: api-handle
from tinyvm import VM, GuestException


class Store:
    def __init__(self):
        self.secret = "host secret"

    def get(self, k):
        return k

    def _admin(self):
        return "admin"


vm = VM()
vm.globals["store"] = vm.handle(Store(), methods=["get"])
for expr in ["store.secret", "store._admin()", "store.__class__", "store.__dict__", "store.get.__globals__", "store.get.__self__"]:
    try:
        vm.run_source(f"let s: any = store\nprint({expr.replace('store', 's', 1)})\n")
        raise SystemExit(f"escaped through {expr}")
    except GuestException as e:
        assert e.class_name == "TypeError", (expr, e.class_name)
        assert "host secret" not in e.message and "Store" not in e.message, e.message
print("ok")
