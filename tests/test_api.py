"""The Python API: the README's example runs as written, each method gives what its command gives, a run
is the store's run record, and the Jupyter tables escape what the adversary wrote."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import trollscope
from trollscope.cli import app
from trollscope.errors import StoreError
from trollscope.store import Store

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def readme_example() -> str:
    """The first Python block under the README's "From Python" heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## From Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The README's example, run in a fresh folder where `data/` is the repo's data."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / "data").symlink_to(ROOT / "data")
    cwd = Path.cwd()
    namespace: dict = {}
    try:
        import os

        os.chdir(folder)
        exec(compile(readme_example(), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    finally:
        os.chdir(cwd)
    return folder, namespace


def test_the_readme_example_runs_as_written(example):
    folder, ns = example
    (report,) = ns["report"]
    assert report["format"] == "ira" and report["rows_read"] == (
        report["rows_stored"] + report["rows_quarantined"] + report["rows_already_present"]) > 20000
    run = ns["run"]
    assert (run.run_id, run.window_seconds, run.settings["window"]) == ("R1", 60, 60)
    assert isinstance(ns["campaigns"], pa.Table) and ns["campaigns"].num_rows >= 3
    assert ns["campaigns"].column("campaign_id")[0].as_py() == "C1" == ns["c1"].campaign_id
    assert {ns["a"], ns["b"]} <= set(ns["c1"].members.column("handle").to_pylist())
    assert set(ns["why"]) >= {"account_a", "account_b", "linked", "tests", "evidence"}
    assert ns["flagged"].num_rows == sum(ns["campaigns"].column("size").to_pylist())
    assert (folder / "report.html").stat().st_size > 10000
    assert ns["posts"].num_rows == report["rows_stored"]


def _cli_json(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _plain(value):
    """As the CLI's JSON has it: Arrow's MAP cells (lists of pairs) as objects, times as text."""
    def cell(v):
        if isinstance(v, list) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
            return dict(v)
        return v

    if isinstance(value, pa.Table):
        value = [{k: cell(v) for k, v in row.items()} for row in value.to_pylist()]
    return json.loads(json.dumps(value, default=str))


def test_each_method_gives_what_its_command_gives(example):
    folder, _ = example
    db = str(folder / "demo.duckdb")
    with trollscope.open(db, read_only=True) as ts:
        run = ts.run()
        assert run.record == ts.runs()[-1]  # the store's run record itself, not a copy of its own
        assert _cli_json("campaigns", "--db", db, "--format", "json") == _plain(run.campaigns())
        assert _cli_json("accounts", "--db", db, "--format", "json", "--flagged") == _plain(run.accounts(flagged=True))
        c1 = run.campaign("c1")
        assert _cli_json("campaign", "C1", "--db", db, "--json", "--evidence", "50") == _plain(c1.as_dict())
        assert c1.members.num_rows == c1.info["size"] and c1.evidence.num_rows > 0
        assert _plain(c1.members) == _plain(c1.as_dict()["members"])
        a, b = c1.members.column("handle")[:2].to_pylist()
        assert _cli_json("explain", a, b, "--db", db, "--json") == _plain(run.explain(a, b))


def test_open_is_still_a_store(example):
    folder, _ = example
    with trollscope.open(folder / "demo.duckdb", read_only=True) as ts:
        assert isinstance(ts, Store) and isinstance(ts, trollscope.Project)
        assert ts.posts().num_rows == ts.count("posts")


def test_a_run_replaced_by_a_newer_one_says_so(example, tmp_path):
    folder, _ = example
    shutil.copy(folder / "demo.duckdb", tmp_path / "copy.duckdb")
    with trollscope.open(tmp_path / "copy.duckdb") as ts:
        first = ts.run()
        second = ts.detect(window=120, traces="co_repost")
        assert (first.run_id, second.run_id, second.settings["traces"]) == ("R1", "R2", "co_repost")
        assert ts.run().run_id == "R2" and second.campaigns().num_rows > 0
        with pytest.raises(StoreError, match="run R1 is no longer the newest"):
            first.campaigns()


def test_detect_without_posts_is_a_named_error(tmp_path):
    with trollscope.open(tmp_path / "empty.duckdb") as ts:
        with pytest.raises(StoreError, match="no detection results"):
            ts.run()
        with pytest.raises(StoreError, match="no posts"):
            ts.detect()


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.extend(name for name, _ in attrs)

    def handle_data(self, data):
        self.text.append(data)

    @classmethod
    def text_of(cls, html_text: str) -> list[str]:
        parsed = cls()
        parsed.feed(html_text)
        parsed.close()
        return parsed.text


def test_jupyter_tables_escape_hostile_handles(tmp_path_factory):
    from test_report import HOSTILE_HANDLES, shared_hostile_db

    with trollscope.open(shared_hostile_db(tmp_path_factory), read_only=True) as ts:
        run = ts.run()
        c1 = run.campaign("C1")
        assert c1.members.num_rows == len(HOSTILE_HANDLES)  # the hostile ring is C1
        for shown in (run._repr_html_(), c1._repr_html_()):
            parsed = _Tags()
            parsed.feed(shown)
            assert parsed.tags <= {"table", "thead", "tbody", "tr", "th", "td"}, parsed.tags
            assert set(parsed.attrs) <= {"style"}
            assert "<script" not in shown and "<img" not in shown and "onerror=alert(1)>" not in shown
        text = "".join(_Tags.text_of(c1._repr_html_()))
        assert all(h in text for h in HOSTILE_HANDLES)  # every handle shown as typed, as text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c1._repr_html_()
