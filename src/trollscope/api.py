"""The Python API: the CLI's verbs for a notebook or a script, returning Arrow tables and dicts.

    import trollscope
    ts = trollscope.open("demo.duckdb")
    ts.ingest(["data/sample/ira_sample.csv.gz"])   # the per-file report, as `ingest --json` prints it
    run = ts.detect(window=60)                     # any setting of docs/settings.md
    run.campaigns()                                # pyarrow.Table (.to_pandas() for pandas)

Each method calls the function the matching command calls (the ingest, the pipeline, views/*, the
report), so the API and the CLI cannot drift apart; none holds SQL of its own. A `RunResults` wraps a
detection run's record (`store.run.Run`: id, frozen settings, input fingerprint): it is not a second
record. Campaigns and runs show as small HTML tables in Jupyter, every value escaped (handles and posts
are written by the operations trollscope hunts).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Callable, Iterable

import pyarrow as pa

from trollscope.errors import StoreError
from trollscope.store import DEFAULT_DB, Store
from trollscope.store import run as runs


class Project(Store):
    """A store with the CLI's verbs: ingest posts, detect, and read a run's results.

    It is a `Store`, so `posts()`, `accounts()`, `quarantine()`, `table(name)` and `sql(...)` work as before.
    """

    def ingest(self, paths: str | Path | Iterable[str | Path], format: str | None = None,  # noqa: A002
               map: str | dict | None = None,  # noqa: A002
               progress: Callable[[str, int, int], None] | None = None) -> list[dict]:
        """Read post archives into the store (as `trollscope ingest`); one report per file:
        path, format, rows_read = rows_stored + rows_quarantined + rows_already_present, seconds.

        `format`: a reader name (`trollscope formats`) instead of guessing; `map`: a column mapping for a
        generic table, "FIELD=COLUMN,..." or a dict.
        """
        from trollscope.ingest import ingest

        if isinstance(paths, (str, Path)):
            paths = [paths]
        return [r.as_dict() for r in ingest(self, list(paths), fmt=format, mapping=map, progress=progress)]

    def detect(self, progress: Callable[[str], None] | None = None, engine: str = "duckdb",
               spark_master: str | None = None, spark_staging: str | None = None, full: bool = False,
               **settings) -> "RunResults":
        """Find coordinated campaigns (as `trollscope detect`) and return the run it recorded.

        `settings`: any setting of docs/settings.md by name (window=60, traces="co_repost", alpha=0.01, ...).
        The newest run is updated when posts were only appended and the settings are the same;
        `full=True` recomputes. `.detection` on the result says which it was (DetectResult.summary()).
        """
        from trollscope.pipeline import detect

        found = detect(self, progress=progress, engine_name=engine, spark_master=spark_master,
                       spark_staging=spark_staging, full=full, **settings)
        results = self.run()
        results.detection = found
        return results

    def run(self) -> "RunResults":
        """The newest detection run of the store (StoreError when detection has not run)."""
        return RunResults(self, runs.latest(self))

    def runs(self) -> list[runs.Run]:
        """Every run recorded, oldest first (only the newest one's results are kept)."""
        return runs.runs(self)


class RunResults:
    """The results of one detection run: campaigns, one campaign, a pair, the accounts, the report."""

    def __init__(self, store: Store, record: runs.Run):
        self.store = store
        self.record = record
        self.detection = None  # the DetectResult when this object came from `detect` (incremental or full, why)

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def settings(self) -> dict:
        """Every setting the run used, frozen when it ran (`window` is None when it was estimated)."""
        return dict(self.record.settings)

    @property
    def window_seconds(self) -> int:
        """The coordination window the run used, given or estimated from the data."""
        return self.record.window_seconds

    def _current(self) -> Store:
        # The result tables hold the newest run's results: reading them for an older run would mix runs.
        newest = runs.latest(self.store).run_id
        if newest != self.run_id:
            raise StoreError(f"run {self.run_id} is no longer the newest ({newest}); only the newest run's "
                             f"results are kept: use ts.run()")
        return self.store

    def campaigns(self, limit: int | None = None) -> pa.Table:
        """Campaigns ranked by coordination score (as `trollscope campaigns`)."""
        from trollscope.views.results import campaigns

        return _table(campaigns(self._current(), limit=limit))

    def campaign(self, campaign_id: str, evidence_limit: int = 50) -> "Campaign":
        """One campaign (`C1`, `c1` or `1`): members, top shared items, evidence (as `trollscope campaign`)."""
        from trollscope.views.results import campaign

        return Campaign(campaign(self._current(), campaign_id, evidence_limit=evidence_limit))

    def explain(self, account_a: str, account_b: str, evidence_limit: int = 50) -> dict:
        """Why two accounts (handles or ids) are linked or not: each trace's test and the shared items
        (as `trollscope explain`)."""
        from trollscope.views.results import explain

        return explain(self._current(), account_a, account_b, evidence_limit=evidence_limit)

    def accounts(self, flagged: bool = False) -> pa.Table:
        """Every account with its campaign and score; only those in a campaign when `flagged`
        (as `trollscope accounts`)."""
        from trollscope.views.results import accounts

        return _table(accounts(self._current(), flagged=flagged))

    def report(self, path: str | Path = "report.html") -> dict:
        """Write the self-contained HTML report (as `trollscope report`); what was written."""
        from trollscope.report.render import write_report

        return write_report(self._current(), path)

    def __repr__(self) -> str:
        r = self.record
        return f"<RunResults {r.run_id} of {self.store.path}: {r.posts:,} posts, window {r.window_seconds} s>"

    def _repr_html_(self) -> str:
        r = self.record
        top = self.campaigns(limit=5).to_pylist() if self.run_id == runs.latest(self.store).run_id else []
        head = _html_rows([("run", r.run_id), ("store", self.store.path), ("finished", str(r.finished_at)[:19]),
                           ("posts", f"{r.posts:,}"), ("window", f"{r.window_seconds} s"
                                                       + (" (estimated)" if r.window_estimated else ""))])
        rows = [[c["campaign_id"], c["size"], c["score"], ", ".join(c["top_accounts"] or [])] for c in top]
        return head + _html_table(["campaign", "size", "score", "top accounts"], rows)


class Campaign:
    """One campaign: `info` (its figures), `members`, `top_items` and `evidence` as Arrow tables."""

    def __init__(self, data: dict):
        self.data = data
        self.info: dict = data["campaign"]
        self.members = _table(data["members"])
        self.top_items = _table(data["top_items"])
        self.evidence = _table(data["evidence"])

    @property
    def campaign_id(self) -> str:
        return self.info["campaign_id"]

    def as_dict(self) -> dict:
        """As `trollscope campaign --json` prints it."""
        return self.data

    def __repr__(self) -> str:
        return f"<Campaign {self.campaign_id}: {self.info['size']} accounts, score {self.info['score']:.2f}>"

    def _repr_html_(self) -> str:
        i = self.info
        head = _html_rows([("campaign", i["campaign_id"]), ("accounts", i["size"]), ("score", f"{i['score']:.2f}"),
                           ("active", f"{str(i['first_seen'])[:16]} – {str(i['last_seen'])[:16]}")])
        members = [[m["handle"], m["strength"], m["posts"]] for m in self.data["members"][:10]]
        return head + _html_table(["member", "strength", "posts"], members)


def open(path: str | Path = DEFAULT_DB, read_only: bool = False) -> Project:  # noqa: A001
    """Open (or create) the store at `path` as a project: `posts()`, `ingest(...)`, `detect(...)`, `run()`."""
    return Project(path, read_only=read_only)


def _table(rows: list[dict]) -> pa.Table:
    """Rows from a view as an Arrow table; dict cells (trace -> count) become MAP columns."""
    if not rows:
        return pa.table({})
    columns = {}
    for name in rows[0]:
        values = [r[name] for r in rows]
        if any(isinstance(v, dict) for v in values):
            items = [None if v is None else list(v.items()) for v in values]
            kinds = pa.array([x for v in values if v for x in v.values()]).type
            columns[name] = pa.array(items, type=pa.map_(pa.string(), kinds if kinds != pa.null() else pa.int64()))
        else:
            columns[name] = pa.array(values)
    return pa.table(columns)


def _html_rows(pairs: list[tuple[str, object]]) -> str:
    cells = "".join(f"<tr><th style='text-align:left'>{_esc(k)}</th><td style='text-align:left'>{_esc(v)}</td></tr>"
                    for k, v in pairs)
    return f"<table>{cells}</table>"


def _html_table(columns: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{_esc(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)
