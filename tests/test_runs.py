"""The run record: a setting given to `detect` holds in every later command, page and export.

Both bugs of issue 11 are checked through the CLI, as a user meets them: the operator's time zone
given to `detect` shows in `account`, and DISARM's `disarm_min_accounts` given to `detect` holds in
`export --stix`. The world is the copy-paste ring of test_disarm (a ring pasting the same messages
within 40 s inside an honest crowd).
"""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

import trollscope
from trollscope.cli import app
from trollscope.store import catalogue
from trollscope.store import run as runs

from test_disarm import _pristine_copy_paste_db

runner = CliRunner()


@pytest.fixture()
def db(tmp_path):
    src, ring = _pristine_copy_paste_db()
    path = tmp_path / "cp.duckdb"
    shutil.copyfile(src, path)
    return path, list(ring)


def cli(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def account_json(db, handle: str) -> dict:
    return json.loads(cli("account", handle, "--db", db, "--format", "json"))


def stix_techniques(db, tmp_path) -> set[str]:
    out = tmp_path / "bundle.json"
    cli("export", "--stix", "-o", out, "--db", db)
    objects = json.loads(out.read_text())["objects"]
    ids = {o["id"] for o in objects if o["type"] == "attack-pattern"}
    used = {o["target_ref"] for o in objects if o["type"] == "relationship" and o["relationship_type"] == "uses"}
    return ids & used


def test_operator_timezone_given_to_detect_holds_in_account(db):
    path, ring = db
    cli("detect", "--db", path, "--window", "60")
    moscow = account_json(path, ring[0])["signals"]["features"]["operator_hours_share"]
    cli("detect", "--db", path, "--window", "60", "--set", "operator_timezone=Pacific/Kiritimati")
    kiritimati = account_json(path, ring[0])["signals"]["features"]["operator_hours_share"]
    # UTC+14 against UTC+3: the same posts fall in other office hours
    assert moscow != kiritimati
    with trollscope.open(path) as store:
        assert runs.latest(store).setting("operator_timezone") == "Pacific/Kiritimati"
        meta = json.loads(store.cached_key("account_signals"))
        assert meta["settings"]["operator_timezone"] == "Pacific/Kiritimati"


def test_disarm_min_accounts_given_to_detect_holds_in_the_stix_export(db, tmp_path):
    path, _ = db
    cli("detect", "--db", path, "--window", "60")
    assert stix_techniques(path, tmp_path)  # the copy-paste ring shows techniques by default
    cli("detect", "--db", path, "--window", "60", "--set", "disarm_min_accounts=1000")
    assert stix_techniques(path, tmp_path) == set()
    # and the campaign is still there: only the tags went
    assert json.loads(cli("campaigns", "--db", path, "--format", "json"))


def test_every_run_is_kept_with_its_settings_and_input(db):
    path, _ = db
    with trollscope.open(path) as store:
        before = len(runs.runs(store))
    cli("detect", "--db", path, "--window", "60", "--set", "alpha=0.001")
    cli("detect", "--db", path, "--window", "60")
    with trollscope.open(path) as store:
        kept = runs.runs(store)
        assert len(kept) == before + 2
        new, newest = kept[-2], kept[-1]
        assert (new.setting("alpha"), newest.setting("alpha")) == (0.001, 0.01)
        assert new.fingerprint == newest.fingerprint == runs.fingerprint(store.con)
        assert runs.latest(store) == newest and newest.run_id == f"R{before + 2}"
        with pytest.raises(TypeError):
            newest.settings["alpha"] = 1  # frozen
        assert runs.latest(store).window_seconds == 60 and newest.posts == store.count("posts")


def test_the_catalogue_declares_what_detect_writes(db):
    path, _ = db
    cli("detect", "--db", path, "--window", "60")
    with trollscope.open(path) as store:
        for name in catalogue.DETECT_TABLES:
            declared = [(c.name, c.sql_type) for c in catalogue.DERIVED[name].columns]
            found = [(r[0], r[1].replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"))
                     for r in store.con.execute(f"DESCRIBE {name}").fetchall()]
            assert found == declared, name
        techniques = [(c.name, c.sql_type) for c in catalogue.DERIVED["campaign_techniques"].columns]
        assert [(r[0], r[1]) for r in store.con.execute("DESCRIBE campaign_techniques").fetchall()] == techniques


def test_a_cached_table_is_rebuilt_only_when_its_key_changes(db):
    path, _ = db
    cli("detect", "--db", path, "--window", "60")
    with trollscope.open(path) as store:
        run = runs.latest(store)
        key = store.cached_key("campaign_techniques")
        assert key == catalogue.DERIVED["campaign_techniques"].key(run)
        store.con.execute("UPDATE campaign_techniques SET evidence = 'kept'")
        store.derived("campaign_techniques", run)
        assert {r[0] for r in store.con.execute("SELECT evidence FROM campaign_techniques").fetchall()} == {"kept"}
    # a new run makes it anew
    cli("detect", "--db", path, "--window", "60")
    with trollscope.open(path) as store:
        assert "kept" not in {r[0] for r in store.con.execute("SELECT evidence FROM campaign_techniques").fetchall()}


def test_a_transaction_left_open_by_ctrl_c_closes_quietly_after_its_connection(tmp_path):
    """Ctrl-C between BEGIN and the body leaves the transaction's generator unfinished; at exit the
    connection is closed first, then the generator: its rollback must not raise (`watch` printed
    DuckDB's "Connection already closed" after its clean stop), and nothing half-done is kept."""
    import trollscope

    store = trollscope.open(tmp_path / "s.duckdb")
    store.con.execute("CREATE TABLE t (x INTEGER)")
    cm = store.transaction()
    cm.__enter__()
    store.con.execute("INSERT INTO t VALUES (1)")
    store.con.close()
    cm.gen.close()  # GeneratorExit at the yield: the rollback meets a closed connection
    again = trollscope.open(tmp_path / "s.duckdb")
    assert again.con.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
    again.close()
