"""Commands that find coordination and check it: `detect`, `traces`, `evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from trollscope.cli.app import (DbOption, JsonOption, OutputFormat, command, emit, emit_json, err, open_store, out,
                                preload, print_campaigns)
from trollscope.store import DEFAULT_DB

PANEL = "Detect"
# imported where detection first uses them; loaded beside its first statements (see `preload`)
LIBRARIES = ("numpy.random", "scipy.special", "pyarrow.compute", "igraph", "leidenalg")


@command(PANEL)
def detect(
    db: DbOption = Path(DEFAULT_DB),
    window: Annotated[Optional[int], typer.Option(
        help="Pin one coordination window Δ in seconds (default: every scale of the `scales` setting).")] = None,
    traces: Annotated[Optional[str], typer.Option(
        help="Comma-separated traces, or `all` (see `trollscope traces`). [default: all]")] = None,
    alpha: Annotated[Optional[float], typer.Option(help="False discovery rate per trace.")] = None,
    resolution: Annotated[Optional[float], typer.Option(help="Leiden resolution.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (MinHash, Leiden).")] = None,
    engine: Annotated[str, typer.Option(help="duckdb, or spark for data beyond one machine.")] = "duckdb",
    spark_master: Annotated[Optional[str], typer.Option(help="Spark master URL (default local[*]).")] = None,
    spark_staging: Annotated[Optional[str], typer.Option(
        help="Folder every Spark executor can read, for the store's tables (needed on a cluster).")] = None,
    top: Annotated[int, typer.Option(help="Campaigns to print.")] = 10,
    full: Annotated[bool, typer.Option(
        "--full", help="Recompute everything from the posts instead of updating the newest run.")] = False,
    set_: Annotated[Optional[list[str]], typer.Option(
        "--set", help="Any other setting as NAME=VALUE (docs/settings.md); repeatable.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Find coordinated campaigns: traces, significance against the null model, Leiden communities.

    Example: trollscope detect --db demo.duckdb
    Example: trollscope detect --db demo.duckdb --window 60 --traces co_repost,near_duplicate
    Example: trollscope detect --db demo.duckdb --set evidence_scope=tested --set pair_budget=50
    Example: trollscope detect --db demo.duckdb --json > run.json

    After new posts are ingested, detect updates the newest run when its settings are the same
    and posts were only appended (docs/detection.md, "Incremental runs"); --full recomputes.
    """
    preload(*LIBRARIES)
    from dataclasses import asdict

    from trollscope.cli.summary import print_excess
    from trollscope.views.excess import excess, scale_label
    from trollscope.pipeline import detect as run_detect
    from trollscope.settings import parse_assignments
    from trollscope.views.changes import changes, summary_line
    from trollscope.views.results import campaigns as list_campaigns

    given = dict(window=window, traces=traces, alpha=alpha, resolution=resolution, seed=seed)
    overrides = {**parse_assignments(set_ or []), **{k: v for k, v in given.items() if v is not None}}

    with open_store(db) as store:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("detecting", total=None)
            result = run_detect(store, progress=lambda m: bar.update(task, description=m),
                                engine_name=engine, spark_master=spark_master, spark_staging=spark_staging,
                                full=full, **overrides)
        top_rows = list_campaigns(store, limit=top)
        ex = excess(store)
        what_changed = summary_line(changes(store))
    if as_json:
        emit_json({**asdict(result), "summary": result.summary(), "coaction_excess": ex, "campaigns_top": top_rows})
        return
    out.print(result.summary(), highlight=False, markup=False)
    if result.window is not None:
        out.print(f"run {result.run_id}: window Δ = {result.window} s (given); {result.seconds} s")
    else:
        ladder = sorted({s for t in result.traces for s in t.scales})
        out.print(f"run {result.run_id}: time scales {', '.join(scale_label(s) for s in ladder)} "
                  f"(--window pins one); {result.seconds} s")
    emit([{"trace": t.trace, "actions": t.actions, "accounts": t.accounts, "pairs tested": t.tested,
           "significant": t.significant,
           "by scale": ", ".join(f"{scale_label(s)}: {n}" for s, n in sorted(t.by_scale.items())),
           "bucket cap": t.bucket_cap, "seconds": t.seconds}
          for t in result.traces], OutputFormat.table, title="traces")
    g = result.groups
    if g is not None and g.tested:
        out.print(f"groups: {g.tested:,} tested (chosen on one half of the data, tested on the other), "
                  f"{g.confirmed:,} confirmed, linking {g.accounts:,} accounts; {g.seconds} s")
    print_excess(ex)
    out.print(f"{result.edges:,} significant links; {result.campaigns:,} campaigns; "
              f"{result.flagged_accounts:,} accounts flagged")
    out.print(what_changed, highlight=False, markup=False)
    for line in result.enrichment:
        out.print(line, highlight=False, markup=False)
    print_campaigns(top_rows)


@command(PANEL, name="traces")
def list_traces() -> None:
    """List the behavioural traces detection can use.

    Example: trollscope traces
    """
    from trollscope.detect.traces.base import TRACES

    emit([{"trace": t.name, "item": t.item_label, "what it counts": t.description} for t in TRACES],
         OutputFormat.table)


@command(PANEL)
def evaluate(
    db: DbOption = Path(DEFAULT_DB),
    labels: Annotated[Optional[Path], typer.Option(help="CSV of account,label; default: labels carried by the data.")] = None,
    label_key: Annotated[str, typer.Option(help="Which label of the data to use.")] = "account_category",
    min_posts: Annotated[int, typer.Option(help="Only score accounts with at least this many posts.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Precision, recall and F1 of flagged accounts, recall per category, NMI and ARI of campaigns.

    Example: trollscope evaluate --db demo.duckdb --min-posts 20
    """
    from trollscope.views.evaluate import evaluate as run_evaluate, read_labels

    with open_store(db, read_only=True) as store:
        r = run_evaluate(store, read_labels(labels) if labels else None, label_key=label_key, min_posts=min_posts)
    if as_json:
        emit_json(r)
        return
    emit([{k: v for k, v in r.items() if k != "per_category"}], OutputFormat.table, title="flagged accounts")
    emit([{"category": k, **v} for k, v in r["per_category"].items()], OutputFormat.table,
         title="recall per category")
