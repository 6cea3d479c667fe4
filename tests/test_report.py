"""The report and the local web UI: escaping in every context, the page's CSP, the JSON twins, and a
server that binds to localhost, answers only GET and serves no file but its own.

The store is a planted ring of eight accounts whose handles and posts are attacks (script tags,
attribute breakouts, `javascript:` URLs, `</script>`, bidi overrides, zero-width characters, a
1 MB post) among an honest crowd; `hostile_store` is shared with the browser tests."""

from __future__ import annotations

import base64
import hashlib
import http.client
import inspect
import json
import re
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
from detect_helpers import make_store, post, synthetic_world
from typer.testing import CliRunner

import trollscope
from trollscope.cli import app
from trollscope.pipeline import detect
from trollscope.views import pages as data
from trollscope.report import render
from trollscope.report.serve import make_server

HOSTILE_HANDLES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "</script><script>alert(2)</script>",
    "evil\u202egnp.exe",               # right-to-left override: shows as "evilexe.png"
    "zero\u200bwidth\u200d",           # zero-width space and joiner
    "' onmouseover='alert(1)",
    "&lt;b&gt;amp&amp;",               # already-escaped entities must show as typed
]
BIG = "BIGPOST " + "x" * 1_000_000
HOSTILE_TEXTS = [
    "</script><script>alert('text')</script> <!-- and a comment",
    "see javascript:alert(document.domain) and http://example.com/<b>bold</b>?q=\"'",
    "\u2028line\u2029separators and `${alert(1)}` template",
    "<img src=x onerror=alert(1)> <svg onload=alert(1)>",
    BIG,
]


def build_hostile_store(folder: Path):
    """An honest crowd and a ring of eight hostile accounts that detection must put in campaign C1."""
    world = synthetic_world(seed=5, n_honest=120, n_items=200, mean_activity=10.0, mean_delay=1800.0,
                            viral_reposters=80)
    rename = dict(zip(world.ring, HOSTILE_HANDLES))
    k = 0
    for row in world.rows:
        if row["user"] in rename:
            row["user"] = rename[row["user"]]
            if row["kind"] == "repost":
                row["text"] = HOSTILE_TEXTS[k % len(HOSTILE_TEXTS)]
                k += 1
    # an honest account with a javascript: "website" in its posts, not flagged
    world.rows.append(post("js1", "user0001", 100, "visit javascript:alert(9) now"))
    store = make_store(folder, world.rows, name="hostile.duckdb")
    detect(store, window=60)
    store.close()
    return folder / "hostile.duckdb"


def shared_hostile_db(tmp_path_factory) -> Path:
    """Built once per test session (this module and the browser tests read it, read-only)."""
    folder = tmp_path_factory.getbasetemp() / "hostile-store"
    if not (folder / "hostile.duckdb").exists():
        folder.mkdir(exist_ok=True)
        build_hostile_store(folder)
    return folder / "hostile.duckdb"


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> Path:
    return shared_hostile_db(tmp_path_factory)


@pytest.fixture(scope="module")
def store(hostile_db):
    with trollscope.open(hostile_db, read_only=True) as s:
        yield s


@pytest.fixture(scope="module")
def report_html(store) -> str:
    return render.report_html(data.report(store), "hostile.duckdb")


class Scripts(HTMLParser):
    """Collects every <script> element (attributes and content) and every href."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.scripts: list[tuple[dict, str]] = []
        self.hrefs: list[str] = []
        self.meta_csp: str | None = None
        self._in: dict | None = None
        self._buf: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "script":
            self._in, self._buf = a, []
        if "href" in a:
            self.hrefs.append(a["href"])
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.meta_csp = a["content"]

    def handle_data(self, d):
        if self._in is not None:
            self._buf.append(d)

    def handle_endtag(self, tag):
        if tag == "script" and self._in is not None:
            self.scripts.append((self._in, "".join(self._buf)))
            self._in = None


def parse(html: str) -> Scripts:
    p = Scripts()
    p.feed(html)
    return p


# ---------------------------------------------------------------------------------------------
# Escaping


def test_the_planted_hostile_ring_is_campaign_c1(store):
    members = {r[0] for r in store.con.execute("SELECT handle FROM campaign_members WHERE campaign_id = 'C1'").fetchall()}
    assert members == set(HOSTILE_HANDLES)


def test_json_script_cannot_close_the_script_element_and_round_trips():
    value = {"t": "</script><script>alert(1)</script><!-- '", "u": "a\u2028b\u2029c", "amp": "&amp; <>"}
    out = str(render.json_script(value))
    assert "<" not in out and ">" not in out and "&" not in out and "'" not in out
    assert "\u2028" not in out and "\u2029" not in out
    assert json.loads(out) == value


@pytest.mark.parametrize("url,ok", [
    ("https://example.com/a?b=1", True), ("http://example.com", True),
    ("javascript:alert(1)", False), ("JavaScript:alert(1)", False), (" javascript:alert(1)", False),
    ("java\nscript:alert(1)", False), ("data:text/html,<script>alert(1)</script>", False),
    ("vbscript:msgbox(1)", False), ("//evil.example/x", False), ("/relative", False), ("http:/nohost", False),
    ("https://ok.example/\u202eexe", False), (None, False),
])
def test_only_plain_http_links_are_links(url, ok):
    assert render.safe_href(url) == (url if ok else None)


def test_no_hostile_string_reaches_the_html_unescaped(report_html):
    for bad in ("<script>alert", "<img src=x", "<svg onload", "onerror=alert(1)>", "' onmouseover='"):
        assert bad not in report_html, bad
    # the already-escaped handle is escaped once more, so it shows as typed
    assert "&amp;lt;b&amp;gt;amp&amp;amp;" in report_html
    assert not any(h.lower().lstrip().startswith(("javascript:", "data:", "vbscript:")) for h in parse(report_html).hrefs)


def test_every_inline_script_is_allowed_by_hash_and_data_blocks_parse(report_html):
    p = parse(report_html)
    csp = p.meta_csp
    assert csp and "default-src 'none'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    code = [body for attrs, body in p.scripts if attrs.get("type") != "application/json"]
    blocks = [body for attrs, body in p.scripts if attrs.get("type") == "application/json"]
    assert len(code) == 3  # graphology, sigma, the page's own script; nothing else executes
    for body in code:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    graphs = [json.loads(b) for b in blocks]
    handles = {n["handle"] for g in graphs for n in g["nodes"]}
    assert handles == set(HOSTILE_HANDLES)  # JSON carries the exact strings, bidi and zero-width included
    # canvas labels cannot isolate bidi text: there the format characters are spelt out
    labels = {n["label"] for g in graphs for n in g["nodes"]}
    assert "evil<U+202E>gnp.exe" in labels and "zero<U+200B>width<U+200D>" in labels


def test_the_report_is_offline_and_cuts_the_megabyte_post(report_html):
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", report_html.replace('href="https://', "").replace(
        'href="http://', ""))
    assert "<link" not in report_html and "@import" not in report_html
    assert BIG[:50] in report_html and "[cut: 1,000,008 characters]" in report_html
    assert len(report_html) < 3_000_000


def test_hidden_characters_are_flagged(store):
    members = {m["handle"]: m for m in data.campaign_view(store, "C1")["members"]}
    assert members["evil\u202egnp.exe"]["hidden_chars"] and members["zero\u200bwidth\u200d"]["hidden_chars"]
    assert not members["<script>alert(1)</script>"]["hidden_chars"]


def test_stages_that_are_absent_show_nothing_and_present_ones_are_escaped(store, monkeypatch):
    hostile = {"narrative_id": 1, "label": "<script>alert('n')</script>", "keywords": ["<b>kw</b>"], "posts": 3,
               "accounts": 2, "lang": "en", "first_seen": "2024-03-01", "last_seen": "2024-03-02",
               "campaigns": [{"campaign_id": "C1", "posts": 3}],
               "examples": [{"post_id": "p", "handle": "<i>h</i>", "created_at": "2024-03-01", "text": "</script>"}],
               "timeline": [{"day": "2024-03-01", "posts": 3}]}
    technique = {"campaign_id": "C1", "technique_id": "T0049", "name": "Flooding <script>", "tactic": "TA17",
                 "rule": "r", "evidence": "<img src=x onerror=alert(1)>", "url": "javascript:alert(1)"}
    monkeypatch.setattr(data, "narratives", lambda s, campaign_id=None: [hostile])
    monkeypatch.setattr(data, "techniques", lambda s, campaign_id=None: [technique])
    view = data.campaign_view(store, "C1")
    html = render.report_html({"overview": data.overview(store), "campaigns": [view],
                               "accounts": data.accounts_index(store)}, "x")
    assert "&lt;script&gt;alert(&#39;n&#39;)&lt;/script&gt;" in html and "Flooding &lt;script&gt;" in html
    assert "<img src=x" not in html and 'href="javascript' not in html
    monkeypatch.undo()
    plain = data.campaign_view(store, "C1")
    assert plain["narratives"] == []  # not computed in this store: the section is left out
    assert "<h2>Narratives</h2>" not in render.report_html(
        {"overview": data.overview(store), "campaigns": [dict(plain, narratives=[], techniques=[])],
         "accounts": data.accounts_index(store)}, "x")


def test_report_command_writes_one_file_and_a_store_without_detection_still_renders(hostile_db, tmp_path):
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", "--db", str(hostile_db), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "report written to" in res.output and out.exists() and out.stat().st_size > 200_000
    bare = make_store(tmp_path, [post("a1", "solo", 0, "hello <world>")], name="bare.duckdb")
    bare.close()
    res = CliRunner().invoke(app, ["report", "--db", str(tmp_path / "bare.duckdb"), "-o", str(tmp_path / "b.html")])
    assert res.exit_code == 0, res.output
    assert "No detection results" in (tmp_path / "b.html").read_text()
    res = CliRunner().invoke(app, ["report", "--db", str(tmp_path / "nope.duckdb"), "-o", str(tmp_path / "c.html")])
    assert res.exit_code == 2 and "no such store" in res.output


# ---------------------------------------------------------------------------------------------
# serve


@pytest.fixture(scope="module")
def server(hostile_db):
    srv = make_server(hostile_db, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    srv.app.close()


def request(server, method: str, path: str, host: str | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    headers = {"Host": host} if host else {}
    conn.putrequest(method, path, skip_host=bool(host), skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), body


def test_serve_binds_localhost_by_default(hostile_db):
    from trollscope.cli import report as cli_report

    assert inspect.signature(cli_report.serve).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(make_server).parameters["host"].default == "127.0.0.1"


def test_server_listens_on_127_0_0_1(server):
    assert server.server_address[0] == "127.0.0.1"


@pytest.mark.parametrize("path", [
    "/../../etc/passwd", "/static/../../pyproject.toml", "/static/..%2f..%2fpyproject.toml",
    "/static/%2e%2e/%2e%2e/pyproject.toml", "/static/..\\..\\pyproject.toml", "/static/vendor/sigma.min.js",
    "/static/LICENSE-sigma.txt", "/static/PROVENANCE.md", "/static/_views.html", "/static/", "/etc/passwd",
    "/campaign/..%2f..%2fetc", "/static/app.js%00.html",
])
def test_no_path_escapes_to_other_files(server, path):
    status, _, body = request(server, "GET", path)
    assert status in (400, 404), (path, status)
    assert b"[project]" not in body and b"root:" not in body and b"{% macro" not in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND"])
def test_only_get_is_answered(server, method):
    status, headers, _ = request(server, method, "/campaign/C1")
    assert status == 405 and headers["Allow"] == "GET"


def test_unknown_host_headers_are_refused(server):
    assert request(server, "GET", "/", host="attacker.example")[0] == 400
    assert request(server, "GET", "/", host=f"localhost:{server.server_address[1]}")[0] == 200


def test_static_serves_exactly_its_own_scripts(server):
    status, headers, body = request(server, "GET", "/static/sigma.min.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert body.decode() == render.asset("sigma.min.js")


@pytest.mark.parametrize("path,view", [
    ("/campaign/C1", lambda s: data.campaign_view(s, "C1")),
    ("/index", lambda s: data.overview(s)),
    ("/account/user0001", lambda s: data.account_view(s, "user0001")),
    ("/accounts?q=script", lambda s: data.accounts_index(s, "script")),
])
def test_every_page_has_a_json_twin_with_the_same_data(server, path, view):
    base, _, q = path.partition("?")
    status, headers, body = request(server, "GET", base + ".json" + (f"?{q}" if q else ""))
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    with server.app.lock:
        expected = view(server.app.store)
    assert json.loads(body) == json.loads(json.dumps(expected))
    status, headers, html = request(server, "GET", path if base != "/index" else "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert b"<script>alert" not in html and b"<img src=x" not in html


def test_pair_page_explains_a_hostile_pair(server):
    a, b = sorted(["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
    from urllib.parse import quote

    status, _, body = request(server, "GET", f"/pair/{quote(a, safe='')}/{quote(b, safe='')}.json")
    page = json.loads(body)
    assert status == 200 and page["linked"] is True
    assert {t["trace"] for t in page["tests"] if t["significant"]} >= {"co_repost"}
    status, _, html = request(server, "GET", f"/pair/{quote(a, safe='')}/{quote(b, safe='')}")
    assert status == 200 and b"are linked" in html and b"<script>alert" not in html
    assert request(server, "GET", "/pair?a=user0001&b=nobody-here")[0] == 200  # the form, with the error
    assert request(server, "GET", "/campaign/C99")[0] == 404
    assert request(server, "GET", "/account/nobody-here.json")[0] == 404


def test_the_report_is_deterministic(store, report_html):
    again = render.report_html(data.report(store), "hostile.duckdb")
    assert again == report_html
