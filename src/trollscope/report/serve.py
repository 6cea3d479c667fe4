"""`trollscope serve`: a local, read-only web UI over a store, rendered from the report's templates.

Every HTML page has a JSON twin (`/campaign/C1` and `/campaign/C1.json` carry the same data). The
server binds 127.0.0.1 unless told otherwise, reads the store's snapshot read-only, answers only GET (anything
else is 405), serves no file except its own scripts (a fixed list, looked up by exact name), refuses
paths with `..` segments (400), and refuses Host headers it does not know (a DNS-rebinding defence).
"""

from __future__ import annotations

import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import duckdb

from trollscope.errors import StoreError, TrollscopeError, UserError
from trollscope.store import Store, snapshot
from trollscope.views import results as query
from trollscope.views import pages as data
from trollscope.report import render

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_LIMIT = 2000
CACHE_PAGES = 64


class BadRequest(Exception):
    pass


class Unavailable(Exception):
    """Nothing to show yet: the store's first snapshot is not published (a writer holds the store)."""


class App:
    """The routes, independent of HTTP: `get(path)` -> (status, content type, body, headers).

    The store is read from its snapshot (store/snapshot.py), never held open: writers (`ingest`,
    `detect`, `watch`) go on while the server runs, and each request first checks whether a new
    snapshot was published; if so it opens that one, so pages show the newest finished run.
    """

    def __init__(self, db: str | Path):
        self.db = Path(db)
        self.snapshot = snapshot.path_of(db)
        self.name = self.db.name
        self.lock = threading.Lock()  # one DuckDB connection; requests take turns
        self.cache: dict[tuple, dict] = {}
        self.store: Store | None = None
        self.stamp = None
        self.waiting: str | None = None  # why there is nothing to show yet
        self.nav: list[dict] = []
        if not self.db.exists():
            raise StoreError(f"{self.db}: no such store; run `trollscope ingest` first")
        with self.lock:
            self._refresh(fresh=True)

    def _refresh(self, fresh: bool = False) -> None:
        """Open the newest snapshot if it changed; make one when there is none (or, at start, when the
        store changed since) and no writer holds the store. Called with the lock held."""
        if fresh and snapshot.stale(self.db) or snapshot.stamp(self.snapshot) is None:
            try:
                snapshot.make(self.db)
            except duckdb.Error as exc:
                if not snapshot.is_lock_error(exc):
                    raise StoreError(f"{self.db}: cannot read the store: {exc}") from None
                self.waiting = f"the store is being written by {snapshot.holder(exc)}"
        found = snapshot.stamp(self.snapshot)
        if found is None or found == self.stamp:
            return
        # Close the old connection first: DuckDB shares one database per path within a process, so a
        # connection opened beside it would see the replaced file's old content.
        if self.store is not None:
            self.store.close()
            self.store = None
        store = Store(self.snapshot, read_only=True)
        store.path = str(self.db)  # pages and messages name the store, not its snapshot
        self.store, self.stamp, self.waiting = store, found, None
        self.cache.clear()
        self.nav = data.plain(query.campaigns(store)) if store.has_table("campaigns") else []
        # A store detected before `detect` stored signals and techniques computes them once for this
        # connection (tens of seconds on millions of posts): start now, so the first page need not wait.
        threading.Thread(target=self._warm, args=(store,), daemon=True).start()

    def _warm(self, store: Store) -> None:
        with self.lock:
            if store is not self.store:
                return
            try:
                data.signals(store)
                data.techniques(store)
            except Exception:  # noqa: BLE001, S110 - a page will compute (and report) it again
                pass

    def close(self) -> None:
        with self.lock:
            if self.store is not None:
                self.store.close()
                self.store = None

    def view(self, route: str, args: list[str], params: dict[str, str]) -> dict:
        """The data of one page (what its .json twin returns)."""
        s = self.store
        if s is None:
            raise Unavailable(f"{self.waiting or 'no snapshot of the store yet'}; this page shows it once "
                              "that has finished")
        if route == "" and not args:
            return data.overview(s)
        if route == "changes" and not args:
            return data.changes_view(s, since=params.get("since") or None)
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
                self._refresh()
                # A snapshot never changes, so neither does a page's data: keep the recent ones.
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
        except Unavailable as exc:
            status, page = HTTPStatus.SERVICE_UNAVAILABLE, {"view": "error", "status": 503, "error": str(exc)}
        except TrollscopeError as exc:
            status, page = HTTPStatus.INTERNAL_SERVER_ERROR, {"view": "error", "status": 500, "error": str(exc)}
        extra = {"Retry-After": "5"} if status == HTTPStatus.SERVICE_UNAVAILABLE else {}
        if as_json:
            return status, "application/json; charset=utf-8", str(render.json_script(page)).encode(), extra
        base = parts.path.rstrip("/") or "/index"
        page = dict(page, json_url=base + ".json" + (f"?{parts.query}" if parts.query else ""))
        html, csp = render.page_html(page, self.name, self.nav)
        return status, "text/html; charset=utf-8", html.encode(), {"Content-Security-Policy": csp, **extra}

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
