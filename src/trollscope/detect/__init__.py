"""Detection: traces -> window join and null model -> significant pairs -> campaigns, kept in the store.

    traces/     what each trace counts as acting on the same item (one registry of rows)
    window.py   the window join and the null model's expected co-actions, as SQL
    null.py     p-values, FDR and strength
    trace_run.py  one trace from actions to judged pairs (runs the window SQL, judges the pairs)
    campaigns.py  fused graph and Leiden campaigns
    engine/     where the SQL runs (DuckDB here, Spark on a cluster)
    stage.py    the stage itself: `detect(store, ...)`
"""

from trollscope.detect.stage import DetectResult, TraceResult, detect

__all__ = ["DetectResult", "TraceResult", "detect"]
