"""The IDE's HTTP server: the JSON API the front end uses, and its files.

`create_app(options)` makes the Starlette application; `serve(options)` runs
it with uvicorn on 127.0.0.1 (what `tvm ide` does). One `IdeApp` object
holds everything a server has -- its options, example catalogue and
sessions -- so several apps live side by side in one process (the tests
make one each).

The API (docs/ide.md, "The API"): `/api/info`, `/api/example/{name}`,
`/api/check`, `/api/compile`, `/api/run`, and per session `state`, `move`
and `profile`. Every error the user can cause is HTTP 4xx with
`{"error": message}`; a program's own failure is no HTTP error (the run's
`status`). The endpoints are plain functions: Starlette runs them on its
thread pool, so a long run does not stop the others being served.

Safety (docs/ide.md, "Safety"): the server binds 127.0.0.1 only and
answers only requests whose Host is 127.0.0.1 or localhost (a web page
cannot reach it through DNS rebinding); a POST must be JSON (so another
site's page cannot send one without a CORS preflight, which is never
granted); every run has the sandbox's limits and only the capabilities the
IDE was started with; nothing is fetched from or sent to anywhere else.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ...lang.driver import Languages
from .lessons import Catalogue
from .session import IdeError, Limits, Session, compile_text
from .views import functions, ir

STATIC = Path(__file__).resolve().parent / "static"
MAX_SOURCE = 256 * 1024  # characters of a program (a teaching IDE: far more than enough)
MAX_SESSIONS = 16  # runs kept per server; the oldest goes first
HOSTS = ["127.0.0.1", "localhost"]


@dataclass
class IdeOptions:
    """What `tvm ide` was started with."""

    limits: Limits = field(default_factory=Limits)
    allow_names: list[str] = field(default_factory=list)  # the granted capabilities, for /api/info
    initial: str | None = None  # FILE given to `tvm ide`
    lang: str | None = None  # its language (default: by its extension)
    port: int = 8765
    gc: str = "stw"
    max_sessions: int = MAX_SESSIONS
    hosts: list[str] = field(default_factory=lambda: list(HOSTS))
    examples: Path | None = None  # the examples folder (default: the checkout's)
    # Where programs' imports are read (and below): FILE's folder, else the
    # examples folder; source files only, compiled, never shown (docs/ide.md).
    import_root: str | None = None


class IdeApp:
    """One IDE server's state: its options, examples and live sessions."""

    def __init__(self, options: IdeOptions) -> None:
        self.options = options
        self.languages = Languages.default()
        self.catalogue = Catalogue(options.examples)
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self.initial = self._initial(options.initial)
        root = options.import_root
        if root is None and options.initial is not None:
            root = os.path.dirname(os.path.abspath(options.initial))
        if root is None and self.catalogue.root is not None:
            root = str(self.catalogue.root)
        self.import_root = root

    def _initial(self, path: str | None) -> dict | None:
        if path is None:
            return None
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise IdeError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
        fe = self.languages.select(path, self.options.lang)
        return {"name": os.path.basename(path), "language": fe.name, "source": source}

    # -- sessions

    def add(self, session: Session) -> None:
        with self._lock:
            self.sessions[session.id] = session
            while len(self.sessions) > self.options.max_sessions:
                self.sessions.popitem(last=False)

    def session(self, sid: str) -> Session:
        with self._lock:
            s = self.sessions.get(sid)
            if s is None:
                raise IdeError(f"no session {sid!r} (it ended, or was replaced by newer runs): run the program again", 404)
            self.sessions.move_to_end(sid)
            return s

    def drop(self, sid: str) -> bool:
        with self._lock:
            return self.sessions.pop(sid, None) is not None

    # -- endpoints

    def info(self) -> dict:
        lim = self.options.limits
        return {
            "version": _version(),
            "languages": list(self.languages.names),
            "examples": self.catalogue.names(),
            "initial": self.initial,
            "limits": lim.as_json(),
            "allow": list(self.options.allow_names),
            "gc": self.options.gc,
        }

    def example(self, name: str) -> dict:
        item = self.catalogue.get(name)
        if item is None:
            raise IdeError(f"no example named {name!r}", 404)
        return item

    def check(self, body: dict) -> dict:
        language, source = _program(body)
        _, diagnostics = compile_text(self.languages, language, source, check_only=True, import_root=self.import_root)
        return {"diagnostics": diagnostics}

    def compile(self, body: dict) -> dict:
        language, source = _program(body)
        bundle, diagnostics = compile_text(self.languages, language, source, import_root=self.import_root)
        if bundle is None:
            return {"diagnostics": diagnostics, "functions": [], "ir": []}
        return {"diagnostics": diagnostics, "functions": functions(bundle), "ir": ir(bundle) if body.get("ir", True) else []}

    def run(self, body: dict) -> dict:
        language, source = _program(body)
        gc = body.get("gc") or self.options.gc
        session = Session(secrets.token_hex(8), self.languages, language, source, self.options.limits, gc, self.import_root)
        self.add(session)
        return session.summary()

    def state(self, sid: str, params: Any) -> dict:
        s = self.session(sid)
        return s.state(_int(params, "step", 0), _int(params, "heap_offset", 0), _int(params, "heap_limit", 200))

    def move(self, sid: str, body: dict) -> dict:
        s = self.session(sid)
        bps = body.get("breakpoints") or []
        if not isinstance(bps, list) or not all(isinstance(b, int) and not isinstance(b, bool) for b in bps):
            raise IdeError("breakpoints must be a list of line numbers")
        start = body.get("from", 0)
        if not isinstance(start, int) or isinstance(start, bool):
            raise IdeError("from must be a step number")
        action = body.get("action")
        if not isinstance(action, str):
            raise IdeError("action must be a string")
        return s.move(start, action, bps)

    def profile(self, sid: str) -> dict:
        return self.session(sid).profile()


def _version() -> str:
    # (from the installed distribution: tools/ does not import the package's top)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tinyvm")
    except PackageNotFoundError:
        return "unknown"


def _program(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise IdeError("the request body must be a JSON object")
    language = body.get("language", "tinylang")
    source = body.get("source")
    if not isinstance(language, str):
        raise IdeError("language must be a string")
    if not isinstance(source, str):
        raise IdeError("source must be a string (the program's text)")
    if len(source) > MAX_SOURCE:
        raise IdeError(f"the program is too long ({len(source)} characters; at most {MAX_SOURCE})", 413)
    return language, source


def _int(params: Any, name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise IdeError(f"{name} must be a whole number, got {text!r}") from None


# --------------------------------------------------------------------------- the application


def create_app(options: IdeOptions | None = None) -> Starlette:
    """The IDE's Starlette application (`app.state.ide` is its IdeApp)."""
    ide = IdeApp(options or IdeOptions())

    def guarded(fn: Any) -> Any:
        """An endpoint: fn's dict as JSON; IdeError as 4xx {error}."""

        def endpoint(request: Request) -> Response:
            try:
                return JSONResponse(fn(request))
            except IdeError as e:
                return JSONResponse({"error": e.message}, status_code=e.status)

        return endpoint

    async def read_json(request: Request) -> Any:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise IdeError("send the request as JSON (Content-Type: application/json)", 415)
        raw = await request.body()
        if len(raw) > MAX_SOURCE * 6:
            raise IdeError("the request is too large", 413)
        try:
            return json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as e:
            raise IdeError(f"the request body is not JSON: {e}") from None

    def posting(fn: Any) -> Any:
        """A POST endpoint: the JSON body is read here, fn runs on the thread pool."""
        from starlette.concurrency import run_in_threadpool

        async def endpoint(request: Request) -> Response:
            try:
                data = await read_json(request)
                return JSONResponse(await run_in_threadpool(fn, request, data))
            except IdeError as e:
                return JSONResponse({"error": e.message}, status_code=e.status)

        return endpoint

    def index(request: Request) -> Response:
        page = STATIC / "index.html"
        if page.is_file():
            return FileResponse(page, media_type="text/html")
        return HTMLResponse("<!doctype html><title>TinyVM IDE</title><p>The front end is not built (ide/web: npm ci && npm run build).</p>")

    def drop(request: Request) -> Response:
        ide.drop(request.path_params["sid"])
        return JSONResponse({"ok": True})

    routes = [
        Route("/", index),
        Route("/api/info", guarded(lambda r: ide.info())),
        Route("/api/example/{name:str}", guarded(lambda r: ide.example(r.path_params["name"]))),
        Route("/api/check", posting(lambda r, b: ide.check(b)), methods=["POST"]),
        Route("/api/compile", posting(lambda r, b: ide.compile(b)), methods=["POST"]),
        Route("/api/run", posting(lambda r, b: ide.run(b)), methods=["POST"]),
        Route("/api/session/{sid:str}/state", guarded(lambda r: ide.state(r.path_params["sid"], r.query_params))),
        Route("/api/session/{sid:str}/move", posting(lambda r, b: ide.move(r.path_params["sid"], b)), methods=["POST"]),
        Route("/api/session/{sid:str}/profile", guarded(lambda r: ide.profile(r.path_params["sid"]))),
        Route("/api/session/{sid:str}", drop, methods=["DELETE"]),
        Mount("/assets", app=StaticFiles(directory=STATIC / "assets", check_dir=False), name="assets"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=ide.options.hosts)])
    app.state.ide = ide
    return app


def serve(options: IdeOptions, open_browser: bool, say: Any) -> int:
    """Serve the IDE on 127.0.0.1:options.port until SIGINT; `say(line)`
    prints the URL first (0 = a free port: the one taken)."""
    import socket

    app = create_app(options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", options.port))
    except OSError as e:
        sock.close()
        raise IdeError(f"cannot listen on 127.0.0.1:{options.port}: {e.strerror or e}") from None
    sock.listen(128)
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    say(f"TinyVM IDE: {url}")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # (uvicorn re-raises the SIGINT it shut down on: that is the way to stop the IDE)
    finally:
        sock.close()
    return 0
