"""Detection: traces -> window join and null model -> significant pairs -> campaigns, kept in the store.

    traces/     what each trace counts as acting on the same item (one registry of rows)
    window.py   the window join and the null model's expected co-actions, as SQL
    null.py     p-values, FDR and strength
    trace_run.py  one trace from actions to judged pairs (runs the window SQL, judges the pairs)
    campaigns.py  fused graph and Leiden campaigns
    engine/     where the SQL runs (DuckDB here, Spark on a cluster)
    stage.py    the stage itself: `detect(store, ...)`
"""

__all__ = ["DetectResult", "TraceResult", "detect"]


def __getattr__(name: str):
    # PEP 562: the stage (DuckDB, Arrow, NumPy, SciPy) loads on first use, so that reading the traces'
    # registry (`trollscope traces`, the CLI's help) does not load it
    if name in __all__:
        from trollscope.detect import stage

        value = getattr(stage, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trollscope.detect' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
