# tries: feed input() bytes that are not UTF-8 through a real pipe: a host UnicodeDecodeError must not surface as a traceback
# status: 0
# may-write: readline.tl
# stdout: status 0
# stdout: clean True
import subprocess
import sys

prog = 'let line = input()\nprint(typeof(line))\n'
open("readline.tl", "w").write(prog)
tvm = "import sys; from tinyvm.cli.main import tvm_main; tvm_main()"
p = subprocess.run([sys.executable, "-c", tvm, "run", "readline.tl"], input=b"\xff\xfe\xc0\x80\n", capture_output=True, timeout=20)
err = p.stderr.decode("utf-8", "replace")
print("status", 0 if p.returncode in (0, 1, 74) else p.returncode)
print("clean", "Traceback" not in err and "InternalError" not in err)
