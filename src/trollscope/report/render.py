"""HTML from the view data: the single-file report and the pages of `serve`, from the same templates.

Everything from the data is escaped by Jinja's autoescape (HTML text and attributes); data the page's
script needs travels as JSON inside `<script type="application/json">` with `<`, `>`, `&` and the
line separators escaped, so no post can close the script element. Links are written only for http(s)
URLs. The report carries a Content-Security-Policy that allows exactly its own inline scripts (by
sha256), so even a missed escape could not run injected script.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup

from trollscope.version import __version__
from trollscope.views import pages as data
from trollscope.store import Store

# Files `serve` may send under /static/, and the order the page loads them in.
SCRIPTS = ("graphology.umd.min.js", "sigma.min.js", "app.js")
_SOURCE_MAP = re.compile(r"\n?//# sourceMappingURL=\S+\s*$")


def asset(name: str) -> str:
    """A vendored library or the page's own script, as text (source-map comment dropped)."""
    if name not in SCRIPTS:
        raise KeyError(name)
    folder = "templates" if name == "app.js" else "vendor"
    return _asset(folder, name)


@cache
def _asset(folder: str, name: str) -> str:
    text = resources.files("trollscope.report").joinpath(folder, name).read_text(encoding="utf-8")
    return _SOURCE_MAP.sub("", text)


def json_script(value) -> Markup:
    """JSON safe inside a <script type="application/json"> element (and inside HTML generally)."""
    text = json.dumps(data.plain(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, esc in (("&", "\\u0026"), ("'", "\\u0027"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return Markup(text)


def safe_href(url) -> str | None:
    """The URL if it is a plain http(s) link, else None (no javascript:, data:, relative tricks)."""
    # Control, space and format characters (bidi overrides, zero-width) make a link lie about itself.
    if not isinstance(url, str) or any(ord(c) < 33 or c in "\\\u2028\u2029" for c in url) or data.hidden_chars(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def path_segment(value) -> str:
    return quote(str(value), safe="")


def sha256_csp(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _bars(bins: list[dict], width: int = 900, height: int = 110) -> dict:
    """Geometry of the timeline's bars (an inline SVG, no script needed)."""
    if not bins:
        return {"bars": [], "width": width, "height": height, "max": 0}
    top = max(b["posts"] for b in bins) or 1
    step = width / len(bins)
    bars = []
    for i, b in enumerate(bins):
        h = max(1.0, (height - 14) * b["posts"] / top) if b["posts"] else 0
        hc = (height - 14) * b["coordinated"] / top if b["coordinated"] else 0
        bars.append({"x": round(i * step, 2), "w": round(max(step - 1, 0.8), 2), "h": round(h, 2),
                     "y": round(height - h, 2), "hc": round(hc, 2), "yc": round(height - hc, 2), **b})
    return {"bars": bars, "width": width, "height": height, "max": top,
            "first": bins[0]["t"], "last": bins[-1]["t"]}


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trollscope.report", "templates"),
        autoescape=True,  # every template, whatever its name: all of them are HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["json_script"] = json_script
    env.filters["safe_href"] = safe_href
    env.filters["seg"] = path_segment
    env.filters["num"] = lambda v: "" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:,.2f}")
    env.filters["short"] = lambda v: "" if v is None else str(v)[:16].replace("T", " ")
    env.globals["bars"] = _bars
    env.globals["hidden_chars"] = data.hidden_chars
    env.filters["visible"] = data.visible
    env.globals["version"] = __version__
    env.globals["limits"] = data.LIMITS
    return env


def _render(template: str, mode: str, **context) -> tuple[str, str]:
    """(html, csp): inline scripts in the report; `serve` loads them from /static/ instead."""
    inline = mode == "report"
    scripts = [asset(n) for n in SCRIPTS] if inline else []
    if inline:
        csp = ("default-src 'none'; script-src " + " ".join(sha256_csp(s) for s in scripts)
               + "; style-src 'unsafe-inline'; img-src data: blob:; base-uri 'none'; form-action 'none'")
    else:
        csp = ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data: blob:; "
               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    # The meta copy must not carry frame-ancestors (browsers ignore it there, with a console error).
    meta_csp = csp.replace("; frame-ancestors 'none'", "")
    html = environment().get_template(template).render(
        mode=mode, scripts=scripts, script_names=SCRIPTS, csp=meta_csp, **context)
    return html, csp


def report_html(view: dict, store_name: str) -> str:
    """The single-file report for `data.report(store)`."""
    return _render("report.html", "report", report=view, overview=view["overview"], store_name=store_name)[0]


def page_html(view: dict, store_name: str, nav: list[dict]) -> tuple[str, str]:
    """One page of `serve` (overview, campaign, account, pair, accounts) and its CSP header."""
    return _render("page.html", "serve", page=view, store_name=store_name, nav=nav)


def write_report(store: Store, path: str | Path, progress=None) -> dict:
    """Render the report for `store` to `path`; returns what it wrote (size, campaigns, cut lists)."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        from trollscope.errors import UserError

        raise UserError(f"{path.parent}: no such directory")
    view = data.report(store, progress=progress)
    html = report_html(view, Path(store.path).name)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return {"path": str(path), "bytes": path.stat().st_size, "campaigns": len(view["campaigns"]),
            "accounts_indexed": len(view["accounts"]["accounts"]), "accounts_total": view["accounts"]["total"]}
