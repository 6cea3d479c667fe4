"""Account signals computed right on small built stores; the heuristic prior adds up; `train`
cross-validates on labelled accounts and `score` applies the saved model; model files are checked."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from typer.testing import CliRunner

import trollscope
from trollscope.cli import app
from trollscope.errors import UserError
from trollscope.ingest import ingest
from trollscope.enrich.signals import signals
from trollscope.enrich.signals import model as M
from trollscope.enrich.signals.features import SCORED, WEIGHTS

COLUMNS = ["id", "user", "handle", "ts", "text", "kind", "tags", "followers", "category"]
MAPPING = ("post_id=id,account=user,handle=handle,time=ts,text=text,kind=kind,hashtags=tags,"
           "followers=followers,label.account_category=category")
MONDAY = datetime(2024, 3, 4, tzinfo=timezone.utc)  # a Monday
runner = CliRunner()


def build(tmp_path, rows, name="s.duckdb"):
    src = tmp_path / (name + ".csv")
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for i, r in enumerate(rows):
            w.writerow({"id": f"p{i:06d}", "kind": "post", "text": f"post number {i} with its own words",
                        "handle": r["user"], **{k: v for k, v in r.items()}})
    store = trollscope.open(tmp_path / name)
    reports = ingest(store, [str(src)], mapping=MAPPING)
    assert sum(r.rows_stored for r in reports) == len(rows), reports
    return store


def add_post(store, path, row: dict) -> None:
    """Ingest one more post (an original post, unless `row` says otherwise) from a CSV at `path`."""
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerow({"kind": "post", **row})
    ingest(store, [str(path)], mapping=MAPPING)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def features_world() -> list[dict]:
    rows = []
    # Posts only Monday–Friday 10:00–16:59 Moscow time (UTC+3): 07:00–13:59 UTC.
    for day in range(5):
        for hour in (7, 9, 13):
            rows.append({"user": "office", "ts": iso(MONDAY + timedelta(days=day, hours=hour, minutes=30))})
    # Evenings and weekends in Moscow: never in office hours.
    for day in (5, 6):
        for hour in (17, 19):
            rows.append({"user": "evening", "ts": iso(MONDAY + timedelta(days=day, hours=hour))})
    # A clock: every hour on the hour, all day, for three days (72 posts; no trough to find).
    for k in range(72):
        rows.append({"user": "clock", "ts": iso(MONDAY + timedelta(hours=k))})
    # Bursts: three posts a minute apart, then a day of silence, four times.
    burst_times = [MONDAY + timedelta(days=d, minutes=m) for d in range(4) for m in range(3)]
    rows += [{"user": "bursty", "ts": iso(t)} for t in burst_times]
    # A day with a night: posts every hour except 23:00–03:59 UTC, for three days; the trough is
    # centred on 01:00 UTC, which the estimate takes as 04:00 local, so UTC+3.
    for d in range(3):
        for h in range(4, 23):
            rows.append({"user": "daynight", "ts": iso(MONDAY + timedelta(days=d, hours=h, minutes=5))})
    # Reposts: three of four posts.
    for k in range(4):
        rows.append({"user": "reposter", "ts": iso(MONDAY + timedelta(hours=k)),
                     "kind": "repost" if k < 3 else "post",
                     "text": f"RT @someone: an original thought number {k}" if k < 3 else "my own take on it all"})
    # Duplicated text: `copier` posts a text `source` also posts, and one of its own.
    shared = "The election was stolen, share before they delete this"
    rows.append({"user": "source", "ts": iso(MONDAY), "text": shared})
    rows.append({"user": "copier", "ts": iso(MONDAY + timedelta(minutes=5)), "text": shared + " https://t.co/x"})
    rows.append({"user": "copier", "ts": iso(MONDAY + timedelta(hours=5)), "text": "Something else entirely today"})
    # Hashtags: always the same one, or four spread evenly.
    for k in range(4):
        rows.append({"user": "onetag", "ts": iso(MONDAY + timedelta(hours=k)), "tags": "maga"})
        rows.append({"user": "spread", "ts": iso(MONDAY + timedelta(hours=k)), "tags": ["a", "b", "c", "d"][k]})
    # Handle patterns and followers.
    rows.append({"user": "maria19847", "ts": iso(MONDAY), "followers": "9"})
    return rows


@pytest.fixture(scope="module")
def feats(tmp_path_factory):
    store = build(tmp_path_factory.mktemp("sig"), features_world())
    rows = {r["account_id"]: r for r in signals(store)}
    yield store, rows
    store.close()


def test_operator_hours_share_counts_moscow_office_hours(feats):
    _, s = feats
    assert s["office"]["features"]["operator_hours_share"] == 1.0
    assert s["evening"]["features"]["operator_hours_share"] == 0.0


def test_burstiness_of_a_clock_and_of_bursts(feats):
    _, s = feats
    assert s["clock"]["features"]["burstiness"] == -1.0
    gaps = np.diff([t.timestamp() for t in sorted(MONDAY + timedelta(days=d, minutes=m)
                                                   for d in range(4) for m in range(3))])
    want = (gaps.std() - gaps.mean()) / (gaps.std() + gaps.mean())
    assert s["bursty"]["features"]["burstiness"] == pytest.approx(want, abs=1e-4)
    assert want > 0.2  # bursty: well above a Poisson process (0)


def test_apparent_time_zone_from_the_nightly_trough(feats):
    _, s = feats
    assert s["daynight"]["features"]["apparent_utc_offset"] == 3.0
    assert s["office"]["features"]["apparent_utc_offset"] is None  # 15 posts: too few to tell
    # 04:05–22:05 UTC is 07:05–01:05 local; office hours 09–18 local are 06:00–14:59 UTC (9 of 19 hours), weekdays
    assert s["daynight"]["features"]["local_office_hours_share"] == pytest.approx(9 / 19, abs=1e-4)


def test_repost_duplicate_and_hashtag_shares(feats):
    _, s = feats
    assert s["reposter"]["features"]["repost_share"] == 0.75
    assert s["copier"]["features"]["duplicate_text_share"] == 0.5
    assert s["source"]["features"]["duplicate_text_share"] == 1.0
    assert s["evening"]["features"]["duplicate_text_share"] == 0.0
    assert s["onetag"]["features"]["hashtag_concentration"] == 1.0
    assert s["spread"]["features"]["hashtag_concentration"] == pytest.approx(0.0, abs=1e-9)
    assert s["evening"]["features"]["hashtag_concentration"] is None


def test_handle_patterns_and_followers(feats):
    _, s = feats
    f = s["maria19847"]["features"]
    assert (f["handle_digit_run"], f["handle_name_digits"], f["handle_length"]) == (5.0, 1.0, 10.0)
    assert f["activity_per_follower"] == pytest.approx(np.log10(2 / 10), abs=1e-4)
    assert s["office"]["features"]["handle_name_digits"] == 0.0
    assert s["office"]["features"]["activity_per_follower"] is None
    assert s["office"]["features"]["campaign_strength"] is None  # detection has not run


def test_prior_score_is_the_sum_of_shown_contributions(feats):
    store, s = feats
    for r in s.values():
        assert set(r["contributions"]) == set(SCORED)
        assert r["score"] == pytest.approx(sum(r["contributions"].values()), abs=1e-3)
        for name, c in r["contributions"].items():
            if r["features"][name] is None:
                assert c == 0.0
            assert abs(c) <= 3 * WEIGHTS[name] + 1e-9
    # asked by handle, any case, with @
    assert [r["account_id"] for r in signals(store, ["@Maria19847"])] == ["maria19847"]


def test_signals_are_cached_and_recomputed_when_posts_change(tmp_path):
    rows = features_world()
    store = build(tmp_path, rows)
    first = signals(store)
    key = store.sql("SELECT key FROM account_signals_meta").fetchall()
    assert signals(store) == first
    assert store.sql("SELECT key FROM account_signals_meta").fetchall() == key
    add_post(store, tmp_path / "more.csv", {"id": "extra1", "user": "evening", "handle": "evening",
                                           "ts": iso(MONDAY + timedelta(hours=8)), "text": "an extra weekday post"})
    after = {r["account_id"]: r for r in signals(store)}
    assert after["evening"]["features"]["posts"] == 5.0
    assert after["evening"]["features"]["operator_hours_share"] == 0.2
    store.close()


def test_a_read_only_store_computes_signals_for_its_connection_only(tmp_path):
    store = build(tmp_path, features_world())
    path = store.path
    store.close()
    with trollscope.open(path, read_only=True) as ro:
        rows = signals(ro)
        assert {r["account_id"] for r in rows} >= {"evening"}
        assert signals(ro) == rows  # the connection's temporary table is reused
    with trollscope.open(path, read_only=True) as ro:
        assert not ro.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'account_signals' AND NOT temporary"
        ).fetchall()[0][0]


# ------------------------------------------------------------------------------- train / score


def labelled_world(seed: int = 1) -> list[dict]:
    """40 operator accounts (Moscow office hours, mostly reposts) and 40 honest ones (evenings,
    weekends, mostly own posts), with some overlap so the task is not trivial."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(80):
        troll = i < 40
        user = f"{'op' if troll else 'hu'}{i:03d}"
        for k in range(int(rng.integers(12, 30))):
            day = int(rng.integers(0, 5)) if troll else int(rng.integers(0, 7))
            hour = int(rng.integers(6, 15)) if troll and rng.random() < 0.8 else int(rng.integers(0, 24))
            repost = rng.random() < (0.7 if troll else 0.3)
            rows.append({"user": user, "ts": iso(MONDAY + timedelta(days=day, hours=hour, minutes=int(rng.integers(60)))),
                         "kind": "repost" if repost else "post",
                         "text": f"RT @src{k}: item {k} of {user}" if repost else f"own words {k} by {user} here",
                         "category": "troll" if troll else ""})
    return rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    store = build(d, labelled_world())
    model = M.train(store, positive="troll")
    store.close()
    return d, str(d / "s.duckdb"), model


def test_train_reports_cross_validated_figures_and_score_applies_them(trained):
    d, db, fitted = trained
    model_path = d / "m.json"
    r = runner.invoke(app, ["train", "--db", db, "--positive", "troll", "-o", str(model_path), "--json"])
    assert r.exit_code == 0, r.output
    cv = json.loads(r.stdout)
    assert (cv["accounts"], cv["positives"], cv["negatives"], cv["folds"]) == (80, 40, 40, 5)
    assert cv["roc_auc"] >= 0.9 and cv["precision"] >= 0.8 and cv["recall"] >= 0.8
    # deterministic: the same seed gives the same figures and the same model
    assert fitted["cv"] == cv and json.loads(json.dumps(fitted)) == json.loads(model_path.read_text())
    r = runner.invoke(app, ["score", "--db", db, "--model", str(model_path), "--top", "0", "--format", "json"])
    assert r.exit_code == 0, r.output
    scored = json.loads(r.stdout)
    assert len(scored) == 80
    top20 = [x["account_id"] for x in scored[:20]]
    assert sum(a.startswith("op") for a in top20) >= 18
    assert all(len(x["top_features"]) == 3 for x in scored)
    # the table output names the account and its top features
    r = runner.invoke(app, ["score", "--db", db, "--model", str(model_path), "--top", "3"])
    assert r.exit_code == 0 and "probability" in r.stdout


def test_train_from_a_labels_file(trained, tmp_path):
    _, db, _ = trained
    labels = tmp_path / "labels.csv"
    labels.write_text("account,label\n" + "".join(f"op{i:03d},troll\n" for i in range(40))
                      + "".join(f"hu{i:03d},organic\n" for i in range(40, 80)))
    with trollscope.open(db) as store:
        from trollscope.views.evaluate import read_labels

        model = M.train(store, read_labels(labels))
    assert model["cv"]["accounts"] == 80 and model["cv"]["positives"] == 40
    assert model["cv"]["roc_auc"] >= 0.9


def test_train_needs_both_classes(trained):
    _, db, _ = trained
    r = runner.invoke(app, ["train", "--db", db, "--positive", "NoSuchCategory", "-o", "/dev/null"])
    assert r.exit_code == 2 and "need at least 2 accounts with label 'NoSuchCategory'" in r.output


def test_model_file_round_trips_and_garbage_is_refused(trained, tmp_path):
    _, db, model = trained
    with trollscope.open(db) as store:
        path = tmp_path / "m.json"
        M.save(model, path)
        loaded = M.load(path)
        assert loaded == json.loads(json.dumps(model))
        assert M.apply(store, loaded) == M.apply(store, model)
    bad = {
        "not json": "this is not json {",
        "pickle": "\x80\x04\x95",
        "wrong format": json.dumps({**model, "format": "sklearn-pickle"}),
        "short coef": json.dumps({**model, "coef": model["coef"][:-1]}),
        "nan": json.dumps({**model, "mean": [float("nan")] * len(model["mean"])}),
        "zero scale": json.dumps({**model, "scale": [0.0] * len(model["scale"])}),
        "unknown feature": json.dumps({**model, "features": ["evil"] + model["features"][1:]}),
        "list": "[1, 2, 3]",
    }
    for what, text in bad.items():
        p = tmp_path / "bad.json"
        p.write_text(text, encoding="utf-8")
        with pytest.raises(UserError):
            M.load(p)
        r = runner.invoke(app, ["score", "--db", db, "--model", str(p)])
        assert r.exit_code == 2, (what, r.output)
        assert r.output.count("\n") == 1 and r.output.startswith("error:"), (what, r.output)


def test_duplicate_share_from_the_runs_text_hashes_equals_normalising_every_text(tmp_path):
    """After detect, the duplicate share reads the hashes near-duplicate text made for the run and
    normalises only posts ingested since (here a new account copying `source`'s text): the features
    are the same as with every text normalised again."""
    from trollscope import settings as st
    from trollscope.detect import detect
    from trollscope.detect.incremental import text_hashes
    from trollscope.enrich.signals.features import features_sql

    store = build(tmp_path, features_world())
    run_id = detect(store).run_id
    add_post(store, tmp_path / "later.csv", {
        "id": "late1", "user": "latecomer", "handle": "latecomer", "ts": iso(MONDAY + timedelta(days=1)),
        "text": "The election was STOLEN, share before they delete this https://t.co/y"})
    hashes = text_hashes(store, run_id)
    assert hashes is not None and "late1" not in {p for (p,) in store.sql(f"SELECT post_id FROM ({hashes})").fetchall()}
    cfg = st.resolve()

    def rows(h):
        return sorted(store.sql(f"SELECT * FROM ({features_sql(cfg, True, h)})").fetchall(), key=lambda r: r[0])

    got, want = rows(hashes), rows(None)
    assert [r[0] for r in got] == [r[0] for r in want]
    for g, w in zip(got, want):  # averages from a parallel aggregation differ in their last bits
        assert [x for x in g if not isinstance(x, float)] == [x for x in w if not isinstance(x, float)]
        assert [x for x in g if isinstance(x, float)] == pytest.approx([x for x in w if isinstance(x, float)],
                                                                     rel=1e-12, abs=1e-12)
    dup = {r[0]: r for r in store.sql(f"SELECT account_id, duplicate_text_share FROM ({features_sql(cfg, True, hashes)})").fetchall()}
    assert dup["latecomer"][1] == 1.0 and dup["source"][1] == 1.0
    assert text_hashes(store, "R0") is None  # another run's hashes are never read
    store.close()
