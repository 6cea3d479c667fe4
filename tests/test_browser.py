"""The report and `serve` in a real browser (Debian's Chromium driven by Playwright): the report opens
with the network off and asks for nothing, the graph draws, a campaign shows its evidence, search finds
accounts, and the hostile ring's handles and posts (see test_report.py) show literally while nothing
runs: no dialog, no console error. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest
from test_report import BIG, HOSTILE_HANDLES, shared_hostile_db

from trollscope.views import pages as data
from trollscope.report import render

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
        "--no-first-run", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> Path:
    return shared_hostile_db(tmp_path_factory)


@pytest.fixture(scope="module")
def report_file(hostile_db, tmp_path_factory) -> Path:
    import trollscope

    out = tmp_path_factory.mktemp("report") / "report.html"
    with trollscope.open(hostile_db, read_only=True) as store:
        render.write_report(store, out)
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Watch:
    """A page with everything that would betray injected script or a network request recorded."""

    def __init__(self, browser, offline: bool, allowed_prefix: str | None = None):
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.dialogs, self.errors, self.requests = [], [], []
        if offline:
            self.context.set_offline(True)

        def route(r):
            url = r.request.url
            if url.startswith("file://") or (allowed_prefix and url.startswith(allowed_prefix)):
                r.continue_()
            else:
                self.requests.append(url)
                r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def clean(self) -> None:
        assert self.dialogs == [], self.dialogs
        assert self.errors == [], self.errors
        assert self.requests == [], self.requests

    def close(self) -> None:
        self.context.close()


def graph_pixels(page, selector: str) -> int:
    """How many pixels of the graph differ from its background: 0 means nothing was drawn."""
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("RGB")).astype(int)
    bg = img[3, 3]
    return int((np.abs(img - bg).sum(axis=2) > 60).sum())


def ready(page) -> None:
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)


# ---------------------------------------------------------------------------------------------
# The report file


@pytest.fixture(scope="module")
def report_page(browser, report_file):
    w = Watch(browser, offline=True)
    w.page.goto(report_file.as_uri())
    ready(w.page)
    yield w
    w.close()


def test_report_opens_offline_and_requests_nothing(report_page):
    page = report_page.page
    assert page.locator("#view-overview").is_visible()
    assert page.locator("#campaign-table tbody tr").count() == 1
    page.screenshot(path=str(SHOTS / "report-overview.png"))
    report_page.clean()


def test_clicking_a_campaign_draws_its_graph_and_shows_its_evidence(report_page):
    page = report_page.page
    page.locator("aside a.camp[data-campaign='C1']").click()
    page.wait_for_selector("#view-C1 .graph canvas")
    page.wait_for_timeout(500)  # sigma draws on the next animation frame
    assert page.locator("#view-overview").is_hidden()
    assert graph_pixels(page, "#g-C1") > 500
    rows = page.locator("#ev-C1 tbody tr")
    assert rows.count() == 50  # the first page of the evidence table
    assert "showing 300 of" in page.locator("#view-C1").inner_text()
    page.screenshot(path=str(SHOTS / "report-campaign.png"), full_page=False)
    # filtering the evidence: the megabyte post shows cut, literally
    page.locator("input[data-filter-for='ev-C1']").fill("BIGPOST")
    page.wait_for_timeout(400)
    first = page.locator("#ev-C1 tbody tr").first.inner_text()
    assert BIG[:200] in first and "[cut: 1,000,008 characters]" in first
    report_page.clean()


def test_hostile_handles_and_posts_show_literally_and_nothing_runs(report_page):
    page = report_page.page
    page.evaluate("location.hash = '#C1'")
    page.locator("input[data-filter-for='ev-C1']").fill("")
    page.wait_for_timeout(400)
    members = page.locator("#mem-C1 tbody").evaluate("b => Array.from(b.rows).map(r => r.cells[0].innerText)")
    shown = {m.replace(" ⚠", "").strip() for m in members}
    assert shown == {h.strip() for h in HOSTILE_HANDLES}  # including the RLO and zero-width characters
    bidi = page.locator("#mem-C1 tbody tr", has_text="gnp.exe")
    assert bidi.locator(".warn").count() == 1
    assert "evil<U+202E>gnp.exe" in bidi.locator(".warn").get_attribute("title")  # spelt out on hover
    text = page.locator("#ev-C1").inner_text()
    assert "</script><script>alert('text')</script>" in text
    assert "<img src=x onerror=alert(1)> <svg onload=alert(1)>" in text
    # no element came from the data: no injected img/svg, no javascript: link
    assert page.locator("img").count() == 0
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert page.evaluate("document.querySelectorAll('script').length") == 3 + 1  # 3 scripts + the graph data
    page.screenshot(path=str(SHOTS / "report-hostile.png"), full_page=False)
    report_page.clean()


def test_search_finds_an_account(report_page):
    page = report_page.page
    page.locator("#q").fill("onerror")
    page.wait_for_selector("#results.open button")
    hit = page.locator("#results button").first
    assert '"><img src=x onerror=alert(1)>' in hit.inner_text() and "in C1" in hit.inner_text()
    hit.click()
    assert page.locator("#view-C1").is_visible()
    row = page.locator("#mem-C1 tbody tr.hl")
    assert row.count() == 1 and '"><img src=x onerror=alert(1)>' in row.inner_text()
    # an honest account is found in the accounts view
    page.locator("#q").fill("user0001")
    page.wait_for_selector("#results.open button")
    page.keyboard.press("Enter")
    assert page.locator("#view-accounts").is_visible()
    assert page.locator("#accounts-table tbody tr.hl").inner_text().startswith("user0001")
    page.screenshot(path=str(SHOTS / "report-search.png"))
    report_page.clean()


# ---------------------------------------------------------------------------------------------
# serve


@pytest.fixture(scope="module")
def server(hostile_db):
    from trollscope.report.serve import make_server

    srv = make_server(hostile_db, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    srv.app.close()


def test_serve_pages_in_the_browser(browser, server):
    w = Watch(browser, offline=False, allowed_prefix=server + "/")
    page = w.page
    page.goto(server + "/")
    ready(page)
    assert "Overview" in page.locator("h1").inner_text()
    page.locator("aside a.camp[data-campaign='C1']").click()
    page.wait_for_url(server + "/campaign/C1")
    ready(page)
    page.wait_for_selector("#g-C1 canvas")
    page.wait_for_timeout(500)
    assert graph_pixels(page, "#g-C1") > 500
    assert page.locator("#ev-C1 tbody tr").count() == 50
    page.screenshot(path=str(SHOTS / "serve-campaign.png"))
    # search goes through /accounts.json and lands on the account page
    page.locator("#q").fill("script")
    page.wait_for_selector("#results.open button")
    labels = page.locator("#results button").all_inner_texts()
    assert any("<script>alert(1)</script>" in t for t in labels)
    page.locator("#results button", has_text="<script>alert(1)</script>").first.click()
    page.wait_for_url("**/account/**")
    ready(page)
    assert "<script>alert(1)</script>" in page.locator("h1").inner_text()
    # why are these two linked
    page.locator("a", has_text="pair evidence").first.click()
    page.wait_for_url("**/pair/**")
    assert "are linked" in page.locator("h1").inner_text()
    page.screenshot(path=str(SHOTS / "serve-pair.png"))
    w.clean()
    w.close()


def test_json_twin_in_the_browser_is_the_page_data(browser, server, hostile_db):
    import json

    w = Watch(browser, offline=False, allowed_prefix=server + "/")
    w.page.goto(server + "/campaign/C1.json")
    shown = json.loads(w.page.locator("body").inner_text())
    assert {m["handle"] for m in shown["members"]} == set(HOSTILE_HANDLES)
    assert shown["evidence_total"] == len(shown["evidence"]) or shown["evidence_total"] > data.LIMITS["evidence"]
    w.clean()
    w.close()


def test_clicking_an_account_in_the_graph_shows_it_and_filters_the_evidence(report_page):
    page = report_page.page
    page.evaluate("location.hash = '#C1'")
    page.wait_for_selector("#view-C1 .graph canvas")
    page.wait_for_timeout(500)
    where = page.evaluate("""() => {
        const box = document.getElementById('g-C1'), s = box.sigma, g = s.getGraph();
        const id = g.nodes().find(n => g.getNodeAttribute(n, 'label').includes('onerror'));
        const p = s.framedGraphToViewport(s.getNodeDisplayData(id));
        const r = box.querySelector('.canvas').getBoundingClientRect();
        return {x: r.left + p.x, y: r.top + p.y};
    }""")
    page.mouse.click(where["x"], where["y"])
    info = page.locator("#g-C1 .info")
    info.wait_for(state="visible")
    assert '"><img src=x onerror=alert(1)>' in info.inner_text()
    assert page.locator("#mem-C1 tbody tr.hl").count() == 1
    page.screenshot(path=str(SHOTS / "report-node.png"))
    info.locator("button", has_text="show its evidence").click()
    page.wait_for_timeout(400)
    rows = page.locator("#ev-C1 tbody tr").all_inner_texts()
    assert rows and all('"><img src=x onerror=alert(1)>' in r for r in rows)
    report_page.clean()


def test_a_request_leaving_the_file_would_be_seen(browser, tmp_path):
    # the watch itself: a page that asks the network for an image is caught
    page_file = tmp_path / "leak.html"
    page_file.write_text('<!DOCTYPE html><img src="http://example.invalid/x.png">', encoding="utf-8")
    w = Watch(browser, offline=True)
    w.page.goto(page_file.as_uri())
    w.page.wait_for_timeout(300)
    assert w.requests == ["http://example.invalid/x.png"]
    w.close()


def test_clicking_a_member_row_shows_it_in_the_graph(report_page):
    page = report_page.page
    page.evaluate("location.hash = '#C1'")
    page.wait_for_selector("#view-C1 .graph canvas")
    page.locator("input[data-filter-for='mem-C1']").fill("")
    page.wait_for_timeout(300)
    page.locator("#mem-C1 tbody tr", has_text="javascript:alert(1)").locator("td").nth(2).click()
    info = page.locator("#g-C1 .info")
    info.wait_for(state="visible")
    assert "javascript:alert(1)" in info.inner_text()
    report_page.clean()
