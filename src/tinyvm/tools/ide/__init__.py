"""The web IDE (`tvm ide`): a local server for the editor, compiler view,
time-travelling execution view and profiler in the browser (docs/ide.md).

server.py is the HTTP API (starlette, served by uvicorn on 127.0.0.1);
session.py a program's recorded run and the states along it; views.py the
JSON of VM state and bytecode; lessons.py the example programs. static/
holds the built front end (ide/web/ builds it). The extra `tinyvm[ide]`
brings starlette and uvicorn: without them `tvm ide` says so in one line.
Nothing below tools/ imports this package.
"""

MISSING = "the IDE needs starlette and uvicorn: pip install 'tinyvm[ide]'"


def available() -> bool:
    """Are the IDE's extra packages importable?"""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return False
    return True
