# tries: os.exit(3) in an embedded VM must raise tinyvm.GuestExit (status 3) to the host, never exit the host process
# status: 0
# stdout: GuestExit 3
# stdout: host still alive
from tinyvm import VM, GuestExit

vm = VM()
try:
    vm.run_source("import os\nos.exit(3)\n")
except GuestExit as e:
    print("GuestExit", e.status)
print("host still alive")
