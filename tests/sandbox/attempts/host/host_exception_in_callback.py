# tries: a host stdout whose write raises a Python exception: the VM must report it cleanly (not InternalError) to the host
# status: 0
# stdout: clean
import sys

from tinyvm import VM, GuestException


class Exploding:
    def write(self, s):
        raise RuntimeError("host stream exploded")

    def flush(self):
        pass


vm = VM(stdout=Exploding())
try:
    vm.run_source('print("hi")\n')
    result = "no error"
except GuestException as e:
    result = "InternalError" if e.class_name == "InternalError" else "clean"
except Exception as e:  # a host exception class of the VM or the host's own, unchanged
    result = "clean" if "InternalError" not in str(e) else "InternalError"
sys.stdout.write(result + "\n")
