"""The CLI's promises: one clear line for user mistakes, accounting printed, help with examples."""

import gzip
import json
from pathlib import Path

from typer.testing import CliRunner

from trollscope.store import docs, schema
from trollscope.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]

IRA_HEADER = ("external_author_id,author,content,region,language,publish_date,harvested_date,following,"
              "followers,updates,post_type,account_type,retweet,account_category,new_june_2018\n")


def _ira_file(tmp_path: Path) -> Path:
    rows = [
        '1,alice_bot,"Vote! #MAGA https://Example.com/x/?utm_source=tw",United States,English,'
        "2016-10-01 12:00:00,2016-10-01 12:00:00,10,20,30,,Right,0,RightTroll,0",
        '2,bob_bot,"RT @alice_bot: Vote! #MAGA",United States,English,2016-10-01 12:01:00,'
        "2016-10-01 12:01:00,10,20,30,RETWEET,Right,1,RightTroll,0",
        '3,carl_bot,"no date",United States,English,not-a-date,x,1,1,1,,Left,0,LeftTroll,0',
    ]
    path = tmp_path / "ira.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(IRA_HEADER + "\n".join(rows) + "\n")
    return path


def test_ingest_prints_the_accounting_and_is_idempotent(tmp_path):
    src, db = _ira_file(tmp_path), str(tmp_path / "s.duckdb")
    first = runner.invoke(app, ["ingest", str(src), "--db", db])
    assert first.exit_code == 0, first.output
    assert "read 3 = stored 2 + quarantined 1 + already present 0" in first.output
    again = runner.invoke(app, ["ingest", str(src), "--db", db, "--json"])
    report = json.loads(again.output)[0]
    assert (report["rows_read"], report["rows_stored"], report["rows_already_present"]) == (3, 0, 2)


def test_quarantine_lists_file_line_field_and_reason(tmp_path):
    src, db = _ira_file(tmp_path), str(tmp_path / "s.duckdb")
    runner.invoke(app, ["ingest", str(src), "--db", db])
    result = runner.invoke(app, ["quarantine", "--db", db, "--format", "json"])
    rows = json.loads(result.output)
    assert [(r["source_line"], r["field"]) for r in rows] == [(4, "publish_date")]
    assert rows[0]["reason"] == "unreadable time not-a-date"
    assert rows[0]["source_file"] == str(src.resolve())


def test_info_json_counts_sources_and_labels(tmp_path):
    src, db = _ira_file(tmp_path), str(tmp_path / "s.duckdb")
    runner.invoke(app, ["ingest", str(src), "--db", db])
    info = json.loads(runner.invoke(app, ["info", "--db", db, "--json"]).output)
    assert info["posts"] == 2 and info["sources"][0]["format"] == "ira"
    assert info["top_hashtags"] == {"maga": 2}
    assert info["top_domains"] == {"example.com": 1}
    assert {"label": "account_category", "value": "RightTroll", "accounts": 2} in info["labels"]


def test_export_parquet_and_csv(tmp_path):
    import pyarrow.parquet as pq

    src, db = _ira_file(tmp_path), str(tmp_path / "s.duckdb")
    runner.invoke(app, ["ingest", str(src), "--db", db])
    assert runner.invoke(app, ["export", "posts", "-o", str(tmp_path / "p.parquet"), "--db", db]).exit_code == 0
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.num_rows == 2 and table.column_names == [c.name for c in schema.POSTS]
    assert runner.invoke(app, ["export", "accounts", "-o", str(tmp_path / "a.csv"), "--db", db]).exit_code == 0
    assert (tmp_path / "a.csv").read_text().splitlines()[0].startswith("account_id,handle,")


def test_user_mistakes_give_one_line_and_exit_2(tmp_path):
    db = str(tmp_path / "s.duckdb")
    cases = [
        (["ingest", str(tmp_path / "missing.csv"), "--db", db], "no such file or directory"),
        (["ingest", str(_ira_file(tmp_path)), "--format", "nope", "--db", db], "unknown format 'nope'"),
        (["ingest", str(_ira_file(tmp_path)), "--map", "account", "--db", db], "is not FIELD=COLUMN"),
        (["info", "--db", str(tmp_path / "none.duckdb")], "no such store"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output


def test_unknown_csv_layout_asks_for_a_mapping(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["ingest", str(path), "--db", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2 and "--map" in result.output


def test_bad_mapping_names_the_missing_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("user,when\nann,2020-01-01 10:00\n")
    result = runner.invoke(app, ["ingest", str(path), "--map", "handle=user,time=ts", "--db", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2 and "'ts' not in the file" in result.output


def _commands(group=None, path=()):
    """Every command the app registers, sub-commands included, as (argv path, click command)."""
    import typer.main

    group = group if group is not None else typer.main.get_command(app)
    for name, cmd in sorted(group.commands.items()):
        if getattr(cmd, "commands", None):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def test_every_command_has_help_with_an_example():
    found = [path for path, _ in _commands()]
    assert {("ingest",), ("detect",), ("campaigns",), ("export",), ("serve",)} <= set(found)
    for path in found:
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        assert "Example: trollscope " + " ".join(path) in result.output, path


def test_every_command_renders_errors_as_one_line():
    assert all(getattr(c.callback, "user_errors", False) for c in app.registered_commands)


def test_schema_doc_is_generated_from_the_code():
    assert (ROOT / "docs" / "schema.md").read_text() == docs.markdown() + "\n"


def test_help_paragraphs_wrap_at_the_terminal_not_at_the_source():
    """A docstring's paragraph is one paragraph in --help: its lines are joined, so a wide terminal
    shows the sentence unbroken where the source wrapped it; each `Example:` stays a line of its own."""
    r = runner.invoke(app, ["watch", "--help"], env={"COLUMNS": "300"}, terminal_width=300)
    assert r.exit_code == 0, r.output
    lines = [line.strip(" │") for line in r.output.splitlines()]
    assert any(line.startswith("Stops cleanly on Ctrl-C") and line.endswith("Progress goes to stderr.") for line in lines)
    assert sum(line.startswith("Example: trollscope watch") for line in lines) == 2
