"""Detection: traces -> window join and null model -> significant pairs -> campaigns, kept in the store.

    traces/     what each trace counts as acting on the same item (one registry of rows)
    window.py   the window join and the null model's expected co-actions, as SQL
    null.py     p-values, FDR and strength
    trace_run.py  one trace from actions to judged pairs (runs the window SQL, judges the pairs)
    campaigns.py  fused graph and Leiden campaigns
    engine/     where the SQL runs (DuckDB here, Spark on a cluster)
    stage.py    the stage itself: `detect(store, ...)`
"""

from trollscope import lazy

__all__ = ["DetectResult", "TraceResult", "detect"]


# The stage (DuckDB, Arrow, NumPy, SciPy) loads on first use, so that reading the traces' registry
# (`trollscope traces`, the CLI's help) does not load it.
__getattr__, __dir__ = lazy.exports(__name__, dict.fromkeys(__all__, "trollscope.detect.stage"), __all__)
