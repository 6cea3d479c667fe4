"""One report reads each thing once (issue 15): the view functions that every page calls run once per
report, no statement is sent twice with the same parameters, and the posts' texts (the store's widest
column) are read by one statement. The store is the IRA sample shipped in data/sample, detected with
the defaults. What the report shows must not change with it: each campaign of the report is what its
page in `serve` shows."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import trollscope
from trollscope.enrich import disarm
from trollscope.enrich import signals as account_signals
from trollscope.ingest import ingest
from trollscope.pipeline import detect
from trollscope.views import changes, excess, summary
from trollscope.views import narratives as nq
from trollscope.views import pages as data
from trollscope.views import results as query

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "ira_sample.csv.gz"

# (module, function): what the report's pages read alike
READERS = [(query, "campaigns"), (query, "accounts"), (nq, "narratives"), (disarm, "techniques"),
           (account_signals, "signals"), (summary, "info"), (excess, "excess"), (changes, "changes")]
# Guards that look at the catalogue or the run record (a few rows): a stage checks them itself, and a
# report may add temporary tables between two of them, so their answers are not cached.
CATALOGUE = re.compile(r"information_schema\.tables|\bFROM runs\b|^SET ", re.IGNORECASE)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reads") / "sample.duckdb"
    with trollscope.open(path) as store:
        ingest(store, [str(SAMPLE)])
        detect(store)
    return path


class Recording:
    """store.con with every statement (text and parameters) it is sent recorded."""

    def __init__(self, con):
        self._con, self.statements = con, []

    def __getattr__(self, name):
        return getattr(self._con, name)

    def _record(self, query, params):
        self.statements.append((" ".join(query.split()), repr(params)))

    def execute(self, query, parameters=None, *args, **kwargs):
        self._record(query, parameters)
        return self._con.execute(query, parameters, *args, **kwargs)

    def sql(self, query, *args, params=None, **kwargs):
        self._record(query, params)
        return self._con.sql(query, *args, params=params, **kwargs)


@pytest.fixture(scope="module")
def recorded(db):
    """(the report, its statements, how often each reader ran) for one report build."""
    calls: Counter = Counter()
    saved = [(module, name, getattr(module, name)) for module, name in READERS]

    def counted(module, name, fn):
        def wrapper(*args, **kwargs):
            calls[f"{module.__name__}.{name}"] += 1
            return fn(*args, **kwargs)
        return wrapper

    with trollscope.open(db, read_only=True) as store:
        store.con = Recording(store.con)
        try:
            for module, name, fn in saved:
                setattr(module, name, counted(module, name, fn))
            report = data.report(store)
        finally:
            for module, name, fn in saved:
                setattr(module, name, fn)
        yield report, store.con.statements, calls, store


def test_the_sample_report_has_campaigns(recorded):
    report, *_ = recorded
    assert len(report["campaigns"]) >= 2  # else a per-campaign repeat could not show


def test_each_view_function_runs_once_per_report(recorded):
    _, _, calls, _ = recorded
    assert dict(calls) == {f"{m.__name__}.{n}": 1 for m, n in READERS}


def test_no_statement_is_sent_twice(recorded):
    _, statements, _, _ = recorded
    repeated = {s: n for s, n in Counter(statements).items() if n > 1 and not CATALOGUE.search(s[0])}
    assert repeated == {}


def test_the_posts_texts_are_read_once(recorded):
    _, statements, _, _ = recorded
    texts = [q for q, _ in statements if re.search(r"\bposts\b", q) and re.search(r"\btext\b", q)]
    assert len(texts) == 1, texts


def test_the_report_shows_what_each_page_shows(recorded):
    report, _, _, store = recorded
    store.con = store.con._con
    assert report["overview"] == data.overview(store)
    assert report["accounts"] == data.accounts_index(store)
    assert [c["campaign"]["campaign_id"] for c in report["campaigns"]] == \
        [c["campaign_id"] for c in report["overview"]["campaigns"]]
    for shown in report["campaigns"]:
        assert shown == data.campaign_view(store, shown["campaign"]["campaign_id"])
