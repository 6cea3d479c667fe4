"""`trollscope serve`: a local, read-only web UI over a store, rendered from the report's templates.

Every HTML page has a JSON twin (`/campaign/C1` and `/campaign/C1.json` carry the same data). The
server binds 127.0.0.1 unless told otherwise, opens the store read-only, answers only GET (anything
else is 405), serves no file except its own scripts (a fixed list, looked up by exact name), refuses
paths with `..` segments (400), and refuses Host headers it does not know (a DNS-rebinding defence).
"""

from __future__ import annotations

import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from trollscope.store import Store
from trollscope.errors import TrollscopeError, UserError
from trollscope.views import results as query
from trollscope.views import pages as data
from trollscope.report import render

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_LIMIT = 2000
CACHE_PAGES = 64


class BadRequest(Exception):
    pass


class App:
    """The routes, independent of HTTP: `get(path)` -> (status, content type, body, headers)."""

    def __init__(self, db: str | Path):
        self.store = Store(db, read_only=True)
        data.quiet(self.store)
        self.name = Path(db).name
        self.lock = threading.Lock()  # one DuckDB connection; requests take turns
        self.cache: dict[tuple, dict] = {}
        self.nav = query.campaigns(self.store) if self.store.has_table("campaigns") else []
        self.nav = data.plain(self.nav)
        # A store detected before `detect` stored signals and techniques computes them once for this
        # connection (tens of seconds on millions of posts): start now, so the first page need not wait.
        threading.Thread(target=self._warm, daemon=True).start()

    def _warm(self) -> None:
        with self.lock:
            try:
                data.signals(self.store)
                data.techniques(self.store)
            except Exception:  # noqa: BLE001, S110 - a page will compute (and report) it again
                pass

    def close(self) -> None:
        with self.lock:
            self.store.close()

    def view(self, route: str, args: list[str], params: dict[str, str]) -> dict:
        """The data of one page (what its .json twin returns)."""
        s = self.store
        if route == "" and not args:
            return data.overview(s)
        if route == "campaign" and len(args) == 1:
            return data.campaign_view(s, args[0])
        if route == "accounts" and not args:
            limit = _int(params.get("limit"), data.LIMITS["accounts"])
            return data.accounts_index(s, params.get("q") or None, limit=min(max(limit, 1), MAX_LIMIT))
        if route == "account" and len(args) == 1:
            return data.account_view(s, args[0])
        if route == "pair" and len(args) == 2:
            return data.pair_view(s, args[0], args[1])
        if route == "pair" and not args:
            a, b = params.get("a", ""), params.get("b", "")
            if a and b:
                return data.pair_view(s, a, b)
            return {"view": "pair_form", "a": a, "b": b, "error": None}
        raise LookupError

    def get(self, raw_path: str) -> tuple[int, str, bytes, dict]:
        parts = urlsplit(raw_path)
        raw_segments = [seg for seg in parts.path.split("/") if seg != ""]
        segments = [unquote(seg) for seg in raw_segments]
        if any(seg in (".", "..") for seg in raw_segments + segments) or any("\x00" in seg for seg in segments):
            raise BadRequest("path traversal")
        if segments and segments[0] == "static":
            return self.static(raw_segments[1:])
        as_json = bool(segments) and segments[-1].endswith(".json")
        if as_json:
            segments[-1] = segments[-1][: -len(".json")]
            if segments == ["index"]:
                segments = []
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        route, args = (segments[0], segments[1:]) if segments else ("", [])
        status = HTTPStatus.OK
        try:
            with self.lock:
                # The store is read-only, so a page's data never changes: keep the recent ones.
                key = (route, tuple(args), tuple(sorted(params.items())))
                page = self.cache.get(key)
                if page is None:
                    page = self.view(route, args, params)
                    if len(self.cache) >= CACHE_PAGES:
                        self.cache.pop(next(iter(self.cache)))
                    self.cache[key] = page
        except LookupError:
            status, page = HTTPStatus.NOT_FOUND, {"view": "error", "status": 404, "error": "no such page"}
        except UserError as exc:
            if route == "pair" and not args:
                page = {"view": "pair_form", "a": params.get("a", ""), "b": params.get("b", ""), "error": str(exc)}
            else:
                status, page = HTTPStatus.NOT_FOUND, {"view": "error", "status": 404, "error": str(exc)}
        except TrollscopeError as exc:
            status, page = HTTPStatus.INTERNAL_SERVER_ERROR, {"view": "error", "status": 500, "error": str(exc)}
        if as_json:
            return status, "application/json; charset=utf-8", str(render.json_script(page)).encode(), {}
        base = parts.path.rstrip("/") or "/index"
        page = dict(page, json_url=base + ".json" + (f"?{parts.query}" if parts.query else ""))
        html, csp = render.page_html(page, self.name, self.nav)
        return status, "text/html; charset=utf-8", html.encode(), {"Content-Security-Policy": csp}

    def static(self, raw_segments: list[str]) -> tuple[int, str, bytes, dict]:
        # Exact names from a fixed list: nothing the client sends is ever joined onto a file path.
        if len(raw_segments) != 1 or raw_segments[0] not in render.SCRIPTS:
            raise LookupError
        body = render.asset(raw_segments[0]).encode()
        return HTTPStatus.OK, "text/javascript; charset=utf-8", body, {"Cache-Control": "max-age=3600"}


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class Handler(BaseHTTPRequestHandler):
    server_version = "trollscope"
    sys_version = ""
    app: App
    allowed_hosts: set[str] | None
    log = None

    def handle_one_request(self) -> None:
        """As the standard library's, but every method except GET is answered 405."""
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline, self.request_version, self.command = "", "", ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            if self.command != "GET":
                self.send(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                          b"method not allowed: this server is read-only\n", {"Allow": "GET"})
            else:
                self.do_GET()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            self.send(HTTPStatus.BAD_REQUEST, "text/plain; charset=utf-8", b"unknown Host header\n", {})
            return
        try:
            status, ctype, body, headers = self.app.get(self.path)
        except BadRequest:
            status, ctype, body, headers = HTTPStatus.BAD_REQUEST, "text/plain; charset=utf-8", b"bad path\n", {}
        except LookupError:
            status, ctype, body, headers = HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n", {}
        self.send(status, ctype, body, headers)

    def send(self, status: int, ctype: str, body: bytes, headers: dict) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        headers = dict(headers)
        headers.setdefault("Cache-Control", "no-store")
        headers.setdefault("Content-Security-Policy", "default-src 'none'")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        if self.log:
            self.log(format % args)


def make_server(db: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, log=None) -> ThreadingHTTPServer:
    """A server ready for `serve_forever()`; port 0 picks a free port (see `server.server_address`)."""
    app = App(db)
    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        app.close()
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    real_port = server.server_address[1]
    wildcard = host in ("0.0.0.0", "::", "")
    names = {host, "localhost", "127.0.0.1", "[::1]"}
    allowed = None if wildcard else {f"{n}:{real_port}" for n in names} | names

    handler = type("BoundHandler", (Handler,), {"app": app, "allowed_hosts": allowed, "log": staticmethod(log) if log else None})
    server.RequestHandlerClass = handler
    server.app = app  # type: ignore[attr-defined]
    return server


def url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"
