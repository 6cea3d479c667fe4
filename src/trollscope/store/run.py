"""The run record: what one `detect` was given and what it was run on.

Every derived table (pair tests, evidence, campaigns, signals, DISARM tags, narratives) is made for
one run and read through it, so a setting given to `detect` holds in every later command, page and
export: readers take the run's frozen settings, never the defaults. Runs are kept in the table
`runs`, one row each; the result tables hold the newest finished run's results.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from trollscope import settings as st
from trollscope.errors import StoreError, UserError
from trollscope.store.schema import Column

RUNS: tuple[Column, ...] = (
    Column("run_id", "VARCHAR", "R1, R2, ... in the order the runs finished."),
    Column("started_at", "TIMESTAMPTZ", "When detection started."),
    Column("finished_at", "TIMESTAMPTZ", "When its results were committed."),
    Column("settings", "VARCHAR", "Every setting as resolved for the run (JSON)."),
    Column("fingerprint", "VARCHAR", "The input: every ingested file's hash and rows stored, and the post count."),
    Column("posts", "BIGINT", "Posts in the store when the run started."),
    Column("window_seconds", "BIGINT", "The window Δ used."),
    Column("window_estimated", "BOOLEAN", "Whether Δ was estimated from the data."),
)
RUNS_DDL = "CREATE TABLE IF NOT EXISTS runs (" + ", ".join(f"{c.name} {c.sql_type}" for c in RUNS) + ")"


@dataclass(frozen=True)
class Run:
    """One finished detection run: its id, frozen settings and the input it saw."""

    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime
    settings: Mapping[str, object] = field(repr=False)
    fingerprint: str
    posts: int
    window_seconds: int
    window_estimated: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    def setting(self, name: str):
        """The run's value of a setting (the default for settings added after the run was made)."""
        if name not in st.DEFAULTS:
            raise KeyError(f"unknown setting {name!r}")
        return self.settings.get(name, st.DEFAULTS[name])

    def config(self, **overrides) -> dict:
        """The run's settings with `overrides` (non-None) on top: what a later stage works with."""
        unknown = set(overrides) - set(st.DEFAULTS)
        if unknown:
            raise KeyError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        cfg = {name: self.setting(name) for name in st.DEFAULTS}
        cfg.update({k: v for k, v in overrides.items() if v is not None})
        return cfg

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "run_at": self.finished_at.isoformat(),
                "started_at": self.started_at.isoformat(), "fingerprint": self.fingerprint, "posts": self.posts,
                "window_seconds": self.window_seconds, "window_estimated": self.window_estimated,
                "settings": dict(self.settings)}


def fingerprint(con) -> str:
    """The input a run saw: every ingested file's content hash and rows stored, and the post count.

    Two stores with the same fingerprint hold the same posts (up to files ingested twice).
    """
    files = con.execute(
        "SELECT source_file, sha256, rows_stored FROM ingests ORDER BY source_file, ingested_at").fetchall()
    posts = con.execute("SELECT count(*) FROM posts").fetchall()[0][0]
    digest = hashlib.sha256(json.dumps([[str(c) for c in f] for f in files] + [posts]).encode())
    return digest.hexdigest()[:24]


def _from_row(row) -> Run:
    run_id, started, finished, settings, fp, posts, window, estimated = row
    return Run(run_id, started, finished, json.loads(settings), fp, int(posts or 0), int(window or 0),
               bool(estimated))


_COLUMNS = ", ".join(c.name for c in RUNS)


def has_runs(con) -> bool:
    found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'").fetchall()
    return found[0][0] > 0 and con.execute("SELECT count(*) FROM runs").fetchall()[0][0] > 0


def latest(store) -> Run:
    """The newest finished run; StoreError when the store holds none."""
    if not has_runs(store.con):
        raise StoreError(f"{store.path}: no detection results; run `trollscope detect` first")
    row = store.con.execute(
        f"SELECT {_COLUMNS} FROM runs ORDER BY finished_at DESC, run_id DESC LIMIT 1").fetchall()[0]
    return _from_row(row)


def current(store) -> Run:
    """The newest run, or, in a store not yet detected, a provisional run of the default settings
    over the input as it is (for stages that also work before detection, such as account signals)."""
    if has_runs(store.con):
        return latest(store)
    now = dt.datetime.fromtimestamp(0, dt.timezone.utc)
    posts = store.con.execute("SELECT count(*) FROM posts").fetchall()[0][0]
    return Run("", now, now, dict(st.DEFAULTS), fingerprint(store.con), int(posts), 0, False)


def runs(store) -> list[Run]:
    """Every run kept, oldest first."""
    if not has_runs(store.con):
        return []
    return [_from_row(r) for r in store.con.execute(f"SELECT {_COLUMNS} FROM runs ORDER BY finished_at, run_id")
            .fetchall()]


def number(run_id: str | None) -> int:
    """The number in a run or campaign id (R12 -> 12), for ordering; 0 when there is none."""
    digits = (run_id or "")[1:]
    return int(digits) if digits.isdigit() else 0


def resolve(store, spec: str) -> Run:
    """The run `spec` names: a run id (R3), or a date or time (2026-03-03, 2026-03-03T12:00): the newest
    run finished by then (by the end of the day for a date, UTC unless the time says otherwise)."""
    kept = runs(store)
    if not kept:
        raise StoreError(f"{store.path}: no detection results; run `trollscope detect` first")
    text = spec.strip()
    by_id = {r.run_id: r for r in kept}
    if text.upper() in by_id:
        return by_id[text.upper()]
    if text[:1] in "Rr" and text[1:].isdigit():
        raise UserError(f"no run {text!r}; this store has {kept[0].run_id} to {kept[-1].run_id}")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"{spec!r} is neither a run id (R3) nor a date (2026-03-03)") from None
    if len(text) <= 10:  # a date alone: everything finished that day counts
        moment = moment + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    before = [r for r in kept if r.finished_at <= moment]
    if not before:
        raise UserError(f"no run had finished by {text}; the first finished at "
                        f"{kept[0].finished_at.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    return before[-1]


def record(con, started_at: dt.datetime, settings: dict, window: int, estimated: bool) -> Run:
    """Add the run's row (inside the caller's transaction, with its results) and return it."""
    con.execute(RUNS_DDL)
    n = con.execute("SELECT count(*) FROM runs").fetchall()[0][0]
    posts = con.execute("SELECT count(*) FROM posts").fetchall()[0][0]
    frozen = json.loads(json.dumps(settings, default=str))
    fp = fingerprint(con)
    con.execute(f"INSERT INTO runs ({_COLUMNS}) VALUES (?, ?, now(), ?, ?, ?, ?, ?)",
                [f"R{n + 1}", started_at, json.dumps(frozen, sort_keys=True), fp, posts, window, estimated])
    row = con.execute(f"SELECT {_COLUMNS} FROM runs WHERE run_id = ?", [f"R{n + 1}"]).fetchall()[0]
    return _from_row(row)
