"""Commands about what campaigns push: `narratives`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from trollscope.cli.app import (DbOption, FormatOption, OutputFormat, RawOption, clip, command, emit, emit_json,
                                err, open_store, out, preload)
from trollscope.store.names import campaign_key
from trollscope.store import DEFAULT_DB

PANEL = "Results"


@command(PANEL)
def narratives(
    db: DbOption = Path(DEFAULT_DB),
    campaign: Annotated[Optional[str], typer.Option("--campaign", "-c", help="Only narratives this campaign pushes (e.g. C1), ranked by its posts.")] = None,
    top: Annotated[int, typer.Option(help="Narratives to print (0 for all).")] = 10,
    examples: Annotated[int, typer.Option(help="Example posts per narrative (the texts closest to its centre).")] = 3,
    recompute: Annotated[bool, typer.Option("--recompute", help="Compute again even if stored narratives are current.")] = False,
    sample: Annotated[Optional[int], typer.Option(help="Distinct texts clustered per campaign and language (narrative_sample).")] = None,
    min_cluster: Annotated[Optional[int], typer.Option(help="HDBSCAN minimum cluster size (narrative_min_cluster).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (sampling, PCA).")] = None,
    format: FormatOption = OutputFormat.table,
    raw: RawOption = False,
) -> None:
    """What the flagged campaigns push: narratives found by embedding and clustering their posts.

    Computed on first use after `trollscope detect`, again when detection or the settings change.

    Each narrative: c-TF-IDF keywords, campaigns pushing it, example posts, daily timeline (JSON).

    Posts are clustered per language, on a sample per campaign; see docs/narratives.md.

    Example: trollscope narratives --db demo.duckdb
    Example: trollscope narratives --db demo.duckdb --campaign C1 --examples 5 --format json
    """
    from trollscope.enrich.narratives import find_narratives
    from trollscope.store import run as runs
    from trollscope.views import narratives as nq

    overrides = {"narrative_sample": sample, "narrative_min_cluster": min_cluster, "seed": seed}
    with open_store(db) as store:
        run = runs.latest(store)
        cfg = run.config(**overrides)
        if recompute or not nq.is_current(store, run, **overrides):
            # the clustering's libraries load while the posts' texts are cleaned in DuckDB
            preload("tokenizers", "sklearn.cluster", "sklearn.decomposition", "sklearn.feature_extraction.text")
            with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                          console=err, transient=True) as bar:
                task = bar.add_task("narratives", total=100)
                find_narratives(store, progress=lambda m, f: bar.update(task, description=m, completed=100 * f),
                                run=run, **overrides)
            store.publish()
        info = nq.run_info(store)
        rows = nq.narratives(store, campaign_id=campaign, examples=examples, limit=top or None)
        coverage = nq.coverage(store)
    if format is OutputFormat.json:
        emit_json({"run": info, "coverage": coverage, "narratives": rows})
        return
    if format is OutputFormat.csv:
        emit([{"narrative_id": r["narrative_id"], "lang": r["lang"], "label": r["label"],
               "keywords": " ".join(r["keywords"]), "posts": r["posts"], "accounts": r["accounts"],
               "first_seen": r["first_seen"], "last_seen": r["last_seen"],
               "campaigns": " ".join(f"{c['campaign_id']}:{c['posts']}" for c in r["campaigns"])} for r in rows],
             format, raw=raw)
        return
    s = info["summary"]
    out.print(f"{s['narratives']} narratives over {s['posts']:,} posts of flagged campaigns "
              f"({s['texts']:,} distinct texts); {s['assigned_posts']:,} posts belong to one; "
              f"languages: {', '.join(s['languages']) or 'none'}", highlight=False)
    mine = [c for c in coverage if not campaign or c["campaign_id"] == campaign_key(campaign)]
    # language groups too small to hold a narrative only clutter the table; they are counted below it
    shown = [c for c in mine if c["texts"] >= cfg["narrative_min_cluster"]]
    if shown:
        emit([{"campaign": c["campaign_id"], "lang": c["lang"],
               "clustered": f"{c['sampled_posts']:,} of {c['posts']:,} posts",
               "distinct texts": f"{c['sampled_texts']:,} of {c['texts']:,}",
               "in narratives": f"{c['in_narratives']:,}"} for c in shown[:40]],
             OutputFormat.table, title="what was clustered (sample per campaign and language)")
    small = sum(c["posts"] for c in mine if c not in shown)
    if small:
        out.print(f"(and {small:,} posts in language groups too small for a narrative)")
    if not rows:
        out.print("no narratives" + (f" for campaign {campaign}" if campaign else ""), markup=False)
        return
    for r in rows:
        camps = ", ".join(f"{c['campaign_id']} ({c['posts']:,})" for c in r["campaigns"][:6])
        out.print(f"\n[bold]{r['narrative_id']}[/] {escape('[' + r['lang'] + ']')} {escape(r['label'])}  ·  {r['posts']:,} posts, "
                  f"{r['accounts']} accounts, {r['first_seen']:%Y-%m-%d} – {r['last_seen']:%Y-%m-%d}",
                  highlight=False)
        out.print(f"  keywords: {', '.join(r['keywords'])}", highlight=False, markup=False)
        out.print(f"  campaigns: {camps}", highlight=False, markup=False)
        for e in r["examples"]:
            text = " ".join((e["text"] or "").split())
            out.print(f"  - @{e['handle']} {e['created_at']:%Y-%m-%d}: {clip(text, 140)}",
                      highlight=False, markup=False)
