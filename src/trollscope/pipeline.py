"""The stages in order: detect, then the enrichment of its run (account signals, DISARM techniques).

A stage never calls a later one; this module is the only place that chains them. Narratives are an
enrichment too, but costly: they are computed on first use (`trollscope narratives`, the report).
"""

from __future__ import annotations

from typing import Callable

from trollscope.detect import DetectResult
from trollscope.detect import detect as detect_stage
from trollscope.detect import identity
from trollscope.enrich import disarm, signals
from trollscope.store import Store
from trollscope.store import run as runs


def detect(store: Store, progress: Callable[[str], None] | None = None, engine_name: str = "duckdb",
           spark_master: str | None = None, spark_staging: str | None = None, full: bool = False,
           **settings) -> DetectResult:
    """Detect with `settings` (see settings.py), record the run, and enrich it while the store is
    writable, so read-only readers (report, serve) find every table made for the run's settings; then
    publish the store's read snapshot when it keeps one."""
    result = detect_stage(store, progress, engine_name=engine_name, spark_master=spark_master,
                          spark_staging=spark_staging, full=full, **settings)
    run = runs.latest(store)
    if progress:
        progress("account signals and DISARM techniques")
    signals.ensure(store, run)
    result.enrichment.append(signals.described(store, run))
    disarm.ensure(store, run)
    # what each campaign showed at this run, for `changes` later (the cached table holds the newest run only)
    with store.transaction():
        identity.keep_techniques(store.con, run.run_id, disarm.techniques(store, run=run))
    store.publish()  # the finished run, for a `serve` open on the store (store/snapshot.py)
    return result
