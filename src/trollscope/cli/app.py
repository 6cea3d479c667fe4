"""The command line: each command parses, calls one library function, renders. No analysis here."""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

import trollscope
from trollscope.errors import TrollscopeError, UserError
from trollscope.store import DEFAULT_DB

app = typer.Typer(
    name="trollscope",
    help="Find coordinated networks in dumps of social-media posts, with the evidence.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


# Options shared by every command, declared once.
DbOption = Annotated[
    Path, typer.Option("--db", help="The store: a DuckDB file.", envvar="TROLLSCOPE_DB", show_default=True)
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output as a table, CSV or JSON.")
]


def user_errors(fn):
    """Turn the library's named errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TrollscopeError as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


def _emit(rows: list[dict], fmt: OutputFormat, title: str | None = None) -> None:
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(rows, default=str, ensure_ascii=False))
    elif fmt is OutputFormat.csv:
        buf = io.StringIO()
        if rows:
            writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in r.items()} for r in rows)
        sys.stdout.write(buf.getvalue())
    else:
        table = Table(title=title, show_lines=False)
        for key in rows[0] if rows else ["(none)"]:
            table.add_column(str(key), overflow="fold")
        for r in rows:
            table.add_row(*(_cell(v) for v in r.values()))
        out.print(table)


def _clip(text: str | None, n: int) -> str:
    return "" if text is None else (text if len(text) <= n else text[: n - 1] + "…")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


@app.command()
@user_errors
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, directories or glob patterns ('data/*.csv.gz').")],
    db: DbOption = Path(DEFAULT_DB),
    format: Annotated[Optional[str], typer.Option(
        "--format", help="Reader to use instead of guessing: ira, io-archive, twitter-v1, twitter-v2, cascade, table."
    )] = None,
    map: Annotated[Optional[str], typer.Option(
        "--map", help="Column mapping for a generic table: FIELD=COLUMN,... e.g. account=author,time=ts,text=body."
    )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the per-file report as JSON.")] = False,
) -> None:
    """Read post archives into the store; every row is stored or quarantined, and counted.

    Example: trollscope ingest data/sample/ira_sample.csv.gz --db demo.duckdb
    """
    from trollscope.ingest import ingest as run_ingest

    with trollscope.open(db) as store:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} files"), TimeElapsedColumn(),
                      console=err, transient=True, disable=as_json) as bar:
            task = bar.add_task("ingesting", total=None)

            def progress(path: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=f"ingesting {Path(path).name}")

            reports = run_ingest(store, paths, fmt=format, mapping=map, progress=progress)
    rows = [r.as_dict() for r in reports]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    shown = [r for r in reports if r.format != "skipped"]
    skipped = len(reports) - len(shown)
    if len(shown) <= 20:
        _emit([{"file": Path(r.path).name, "format": r.format, "read": r.rows_read, "stored": r.rows_stored,
                "quarantined": r.rows_quarantined, "already present": r.rows_already_present,
                "seconds": r.seconds} for r in shown], OutputFormat.table)
    total = {k: sum(getattr(r, k) for r in shown)
             for k in ("rows_read", "rows_stored", "rows_quarantined", "rows_already_present")}
    out.print(
        f"{len(shown)} file(s): read {total['rows_read']:,} = stored {total['rows_stored']:,}"
        f" + quarantined {total['rows_quarantined']:,} + already present {total['rows_already_present']:,}"
        f"  → {db}"
    )
    if skipped:
        out.print(f"skipped {skipped} file(s) no reader recognises (name them directly with --format to read them)")
    if total["rows_quarantined"]:
        out.print(f"see the quarantined rows with: trollscope quarantine --db {db}")


@app.command()
@user_errors
def info(
    db: DbOption = Path(DEFAULT_DB),
    top: Annotated[int, typer.Option(help="How many languages, hashtags and domains to list.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Summarise the store: sources, posts, accounts, time span, languages, hashtags, domains, labels.

    Example: trollscope info --db demo.duckdb
    """
    from trollscope.views.summary import info as summarise

    with trollscope.open(db, read_only=True) as store:
        s = summarise(store, top=top)
    if as_json:
        out.print_json(json.dumps(s, default=str, ensure_ascii=False))
        return
    out.print(f"[bold]{s['store']}[/]: {s['posts']:,} posts by {s['posting_accounts']:,} accounts, "
              f"{s['first_post']} → {s['last_post']}; {s['quarantined']:,} rows quarantined")
    _emit(s["sources"], OutputFormat.table, title="sources")
    for key, title in (("kinds", "kinds"), ("languages", "languages"), ("top_hashtags", "top hashtags"),
                       ("top_domains", "top domains")):
        _emit([{"value": k, "posts": v} for k, v in s[key].items()], OutputFormat.table, title=title)
    if s["labels"]:
        _emit(s["labels"], OutputFormat.table, title="account labels")


@app.command()
@user_errors
def quarantine(
    db: DbOption = Path(DEFAULT_DB),
    format: FormatOption = OutputFormat.table,
    limit: Annotated[int, typer.Option(help="At most this many rows (0 for all).")] = 50,
) -> None:
    """List the rows that were not stored, with file, line, field and reason.

    Example: trollscope quarantine --db demo.duckdb --format csv > quarantine.csv
    """
    with trollscope.open(db, read_only=True) as store:
        table = store.quarantine()
    rows = table.to_pylist()
    total = len(rows)
    if limit and format is OutputFormat.table:
        rows = rows[:limit]
    if format is OutputFormat.table:
        rows = [{"file": Path(r["source_file"]).name, "line": r["source_line"], "field": r["field"],
                 "reason": r["reason"], "raw": _clip(r["raw"], 80)} for r in rows]
    _emit(rows, format, title=f"quarantined rows ({total:,})")


@app.command()
@user_errors
def export(
    table: Annotated[Optional[str], typer.Argument(help="A table name, or `graph`; none with --stix.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (.parquet or .csv).")] = ...,
    db: DbOption = Path(DEFAULT_DB),
    as_: Annotated[Optional[str], typer.Option("--as", help="parquet or csv, when the name does not say.")] = None,
    stix: Annotated[bool, typer.Option("--stix", help="Write the campaigns as a STIX 2.1 bundle (JSON).")] = False,
) -> None:
    """Export a table (Parquet, CSV), the account graph (GEXF, GraphML) or the campaigns as STIX 2.1.

    With --stix the campaigns and their DISARM techniques become a STIX 2.1 bundle (docs/disarm.md).

    Tables: posts, accounts, quarantine, ingests; after `detect` pair_tests, evidence, edges,
    campaigns, campaign_members, content_links, account_signals, campaign_techniques; after
    `narratives` narratives, narrative_posts, campaign_narratives. `graph` writes the fused account graph.

    Example: trollscope export posts -o posts.parquet --db demo.duckdb
    Example: trollscope export graph -o network.gexf --db demo.duckdb
    Example: trollscope export --stix -o bundle.json --db demo.duckdb
    """
    if stix == (table is not None):
        raise UserError("name a table (or `graph`) to export, or give --stix, not both")
    with trollscope.open(db, read_only=True) as store:
        if stix:
            from trollscope.export.stix import write as write_stix

            counts = write_stix(store, output)
            out.print(f"wrote a STIX 2.1 bundle ({', '.join(f'{n} {k}' for k, n in counts.items())}) to {output}")
            return
        if table == "graph":
            from trollscope.export.gexf import write_graph

            nodes, edges = write_graph(store, output, as_)
            out.print(f"wrote the account graph ({nodes:,} accounts, {edges:,} edges) to {output}")
            return
        from trollscope.views.summary import export_table

        n = export_table(store, table, output, as_)
    out.print(f"wrote {n:,} rows of {table} to {output}")


@app.command()
@user_errors
def detect(
    db: DbOption = Path(DEFAULT_DB),
    window: Annotated[Optional[int], typer.Option(help="Coordination window Δ in seconds (default: estimated from the data).")] = None,
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
    set_: Annotated[Optional[list[str]], typer.Option(
        "--set", help="Any other setting as NAME=VALUE (docs/settings.md); repeatable.")] = None,
) -> None:
    """Find coordinated campaigns: traces, significance against the null model, Leiden communities.

    Example: trollscope detect --db demo.duckdb
    Example: trollscope detect --db demo.duckdb --window 60 --traces co_repost,near_duplicate
    Example: trollscope detect --db demo.duckdb --set evidence_scope=tested --set pair_budget=50
    """
    from trollscope.detect import detect as run_detect
    from trollscope.views.results import campaigns as list_campaigns
    from trollscope.settings import parse_assignments

    given = dict(window=window, traces=traces, alpha=alpha, resolution=resolution, seed=seed)
    overrides = {**parse_assignments(set_ or []), **{k: v for k, v in given.items() if v is not None}}

    with trollscope.open(db) as store:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("detecting", total=None)
            result = run_detect(store, progress=lambda m: bar.update(task, description=m),
                                engine_name=engine, spark_master=spark_master, spark_staging=spark_staging,
                                **overrides)
        top_rows = list_campaigns(store, limit=top)
    how = "estimated from the data" if result.window_estimated else "given"
    out.print(f"window Δ = {result.window} s ({how}); {result.seconds} s")
    _emit([{"trace": t.trace, "actions": t.actions, "accounts": t.accounts, "pairs tested": t.tested,
            "significant": t.significant, "bucket cap": t.bucket_cap, "seconds": t.seconds}
           for t in result.traces], OutputFormat.table,
          title="traces")
    out.print(f"{result.edges:,} significant links; {result.campaigns:,} campaigns; "
              f"{result.flagged_accounts:,} accounts flagged")
    _print_campaigns(top_rows)


def _print_campaigns(rows: list[dict]) -> None:
    _emit([{"id": r["campaign_id"], "size": r["size"], "score": r["score"],
            "main traces": ", ".join(list((r["trace_pairs"] or {}))[:2]),
            "active": f"{str(r['first_seen'])[:10]} – {str(r['last_seen'])[:10]}",
            "top accounts": ", ".join((r["top_accounts"] or [])[:3])} for r in rows], OutputFormat.table,
          title="campaigns, by coordination score")


@app.command()
@user_errors
def campaigns(
    db: DbOption = Path(DEFAULT_DB),
    format: FormatOption = OutputFormat.table,
    limit: Annotated[int, typer.Option(help="At most this many (0 for all).")] = 0,
) -> None:
    """List the campaigns found, ranked by coordination score.

    Example: trollscope campaigns --db demo.duckdb --format json
    """
    from trollscope.views.results import campaigns as list_campaigns

    with trollscope.open(db, read_only=True) as store:
        rows = list_campaigns(store, limit=limit or None)
    if format is OutputFormat.table:
        _print_campaigns(rows)
    else:
        _emit(rows, format)


@app.command()
@user_errors
def campaign(
    campaign_id: Annotated[str, typer.Argument(help="A campaign id such as C1.")],
    db: DbOption = Path(DEFAULT_DB),
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    evidence: Annotated[int, typer.Option(help="Evidence rows to show.")] = 30,
) -> None:
    """One campaign: members, traces, top shared items, and the evidence with timestamps.

    Example: trollscope campaign C1 --db demo.duckdb
    """
    from trollscope.views.results import campaign as get_campaign

    with trollscope.open(db, read_only=True) as store:
        c = get_campaign(store, campaign_id, evidence_limit=evidence)
    if as_json:
        out.print_json(json.dumps(c, default=str, ensure_ascii=False))
        return
    h = c["campaign"]
    out.print(f"[bold]{h['campaign_id']}[/]: {h['size']} accounts, score {h['score']:.2f} "
              f"(density {h['density']:.3f} × mean strength {h['mean_strength']:.1f} × log2(1+size)), "
              f"{str(h['first_seen'])[:16]} → {str(h['last_seen'])[:16]}", highlight=False)
    _emit([{"handle": m["handle"], "strength": m["strength"], "posts": m["posts"],
            "category": (m["labels"] or {}).get("account_category", "")} for m in c["members"]],
          OutputFormat.table, title="members")
    _emit([{"trace": t["trace"], "item": _clip(t["item"], 40), "pairs": t["pairs"],
            "first": str(t["first_time"])[:16], "example": _clip(t["example_text"], 70)} for t in c["top_items"]],
          OutputFormat.table, title="top shared items")
    _emit([{"trace": e["trace"], "a": e["account_a"], "b": e["account_b"], "time a": str(e["time_a"])[:19],
            "time b": str(e["time_b"])[:19], "text": _clip(e["text_a"], 60)} for e in c["evidence"]],
          OutputFormat.table, title="evidence")
    _print_groups(c["groups"], c["group_evidence"])


def _print_groups(groups: list[dict], evidence: list[dict]) -> None:
    """Groups are shown apart from pair links: their members are linked as a group."""
    if not groups:
        return
    _emit([{"group": g["group_id"], "trace": g["trace"], "members": f"{g.get('members_here', g['members'])}"
            f"/{g['members']}", "window s": g["window_seconds"],
            f"items with >= k together": f"{g['units']} (k = {g['k']}; chance {g['expected']:.3g})",
            "p": f"{g['p_value']:.3g}", "q": f"{g['q_value']:.3g}"} for g in groups],
          OutputFormat.table, title="linked as a group (chosen on one half of the data, tested on the other)")
    _emit([{"group": e["group_id"], "half": e["half"], "item": _clip(e["item"], 30),
            "first": str(e["first_time"])[:19], "last": str(e["last_time"])[:19], "members": e["members"],
            "accounts": _clip(", ".join(e["accounts"]), 60)} for e in evidence],
          OutputFormat.table, title="group evidence: members acting together")


@app.command()
@user_errors
def explain(
    account_a: Annotated[str, typer.Argument(help="Handle or account id.")],
    account_b: Annotated[str, typer.Argument(help="Handle or account id.")],
    db: DbOption = Path(DEFAULT_DB),
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Why two accounts are linked (or not): each trace's test against the null model, and the shared items.

    Example: trollscope explain ameliebaldwin hyddrox --db demo.duckdb
    """
    from trollscope.views.results import explain as explain_pair

    with trollscope.open(db, read_only=True) as store:
        x = explain_pair(store, account_a, account_b)
    if as_json:
        out.print_json(json.dumps(x, default=str, ensure_ascii=False))
        return
    a, b = x["account_a"], x["account_b"]
    verdict = "[bold red]linked[/]" if x["linked"] else "not linked"
    if x["linked_as_group"]:
        verdict += (" pair by pair; [bold red]linked as a group[/] "
                    f"({', '.join(g['group_id'] for g in x['groups'])})")
    out.print(f"{a['handle']} ({a['campaign_id'] or 'no campaign'}) and {b['handle']} "
              f"({b['campaign_id'] or 'no campaign'}): {verdict}")
    if not x["tests"]:
        out.print("they share no item within the window in any trace")
    _emit([{"trace": t["trace"], "shared": t["shared"], "expected": t["expected"],
            "p": f"{t['p_value']:.3g}", "q": f"{t['q_value']:.3g}", "significant": t["significant"],
            "window s": t["window_seconds"]} for t in x["tests"]], OutputFormat.table, title="tests")
    _emit([{"trace": e["trace"], "time a": str(e["time_a"])[:19], "time b": str(e["time_b"])[:19],
            "item": _clip(e["item"], 30), "text": _clip(e["text_a"], 70)} for e in x["evidence"]],
          OutputFormat.table, title="shared items")
    for g in x["groups"]:
        _emit([{"half": t["half"], "item": _clip(t["item"], 30), "time a": str(t["time_a"])[:19],
                "time b": str(t["time_b"])[:19]} for t in g["together"]], OutputFormat.table,
              title=f"{g['group_id']} ({g['trace']}, {g['members']} accounts, {g['units']} items with >= "
                    f"{g['k']} together, chance {g['expected']:.3g}, q {g['q_value']:.3g}): both took part")
    if x["tests"] and not x["linked"] and x["evidence_scope"] == "significant":
        out.print("shared items are kept for linked pairs only; `detect --set evidence_scope=tested` keeps them "
                  "for every tested pair")


@app.command()
@user_errors
def accounts(
    db: DbOption = Path(DEFAULT_DB),
    format: FormatOption = OutputFormat.table,
    flagged: Annotated[bool, typer.Option("--flagged", help="Only accounts in a campaign.")] = False,
) -> None:
    """Every account with its campaign (empty when not flagged) and score.

    Example: trollscope accounts --db demo.duckdb --format csv > accounts.csv
    """
    from trollscope.views.results import accounts as list_accounts

    with trollscope.open(db, read_only=True) as store:
        rows = list_accounts(store)
    if flagged:
        rows = [r for r in rows if r["campaign_id"]]
    _emit(rows, format)


@app.command()
@user_errors
def evaluate(
    db: DbOption = Path(DEFAULT_DB),
    labels: Annotated[Optional[Path], typer.Option(help="CSV of account,label; default: labels carried by the data.")] = None,
    label_key: Annotated[str, typer.Option(help="Which label of the data to use.")] = "account_category",
    min_posts: Annotated[int, typer.Option(help="Only score accounts with at least this many posts.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Precision, recall and F1 of flagged accounts, recall per category, NMI and ARI of campaigns.

    Example: trollscope evaluate --db demo.duckdb --min-posts 20
    """
    from trollscope.views.evaluate import evaluate as run_evaluate, read_labels

    with trollscope.open(db, read_only=True) as store:
        r = run_evaluate(store, read_labels(labels) if labels else None, label_key=label_key, min_posts=min_posts)
    if as_json:
        out.print_json(json.dumps(r))
        return
    _emit([{k: v for k, v in r.items() if k != "per_category"}], OutputFormat.table, title="flagged accounts")
    _emit([{"category": k, **v} for k, v in r["per_category"].items()], OutputFormat.table, title="recall per category")


@app.command(name="traces")
def list_traces() -> None:
    """List the behavioural traces detection can use."""
    from trollscope.detect.traces.base import TRACES

    _emit([{"trace": t.name, "item": t.item_label, "what it counts": t.description} for t in TRACES],
          OutputFormat.table)


@app.command()
def formats() -> None:
    """List the input formats the ingest can read."""
    from trollscope.ingest import READERS

    _emit([{"format": r.name, "reads": r.description} for r in READERS.values()], OutputFormat.table)
