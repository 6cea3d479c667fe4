"""Commands that read detection results: `campaigns`, `campaign`, `explain`, `accounts`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from trollscope.cli.app import (DbOption, FormatOption, JsonOption, OutputFormat, RawOption, clip, command, emit,
                                emit_json, open_store, out, print_campaigns)
from trollscope.store import DEFAULT_DB

PANEL = "Results"


@command(PANEL)
def campaigns(
    db: DbOption = Path(DEFAULT_DB),
    format: FormatOption = OutputFormat.table,
    raw: RawOption = False,
    limit: Annotated[int, typer.Option(help="At most this many (0 for all).")] = 0,
    run: Annotated[Optional[str], typer.Option(
        "--run", help="As a past run found them: a run id (R3) or a date (2026-03-03: the newest run finished "
                      "by the end of that day). See `trollscope runs`.")] = None,
) -> None:
    """List the campaigns found, ranked by coordination score.

    Example: trollscope campaigns --db demo.duckdb --format json
    Example: trollscope campaigns --db demo.duckdb --run 2026-03-03
    """
    from trollscope.views.results import campaigns as list_campaigns

    with open_store(db, read_only=True) as store:
        rows = list_campaigns(store, limit=limit or None, run=run)
    if format is OutputFormat.table:
        print_campaigns(rows)
    else:
        emit(rows, format, raw=raw)


@command(PANEL)
def campaign(
    campaign_id: Annotated[str, typer.Argument(help="A campaign id such as C1.")],
    db: DbOption = Path(DEFAULT_DB),
    as_json: JsonOption = False,
    evidence: Annotated[int, typer.Option(help="Evidence rows to show.")] = 30,
) -> None:
    """One campaign: members, traces, top shared items, and the evidence with timestamps.

    Example: trollscope campaign C1 --db demo.duckdb
    """
    from trollscope.views.results import campaign as get_campaign

    with open_store(db, read_only=True) as store:
        c = get_campaign(store, campaign_id, evidence_limit=evidence)
    if as_json:
        emit_json(c)
        return
    h = c["campaign"]
    out.print(f"[bold]{h['campaign_id']}[/]: {h['size']} accounts, score {h['score']:.2f} "
              f"(density {h['density']:.3f} × mean strength {h['mean_strength']:.1f} × log2(1+size)), "
              f"{str(h['first_seen'])[:16]} → {str(h['last_seen'])[:16]}", highlight=False)
    emit([{"handle": m["handle"], "strength": m["strength"], "posts": m["posts"],
           "category": (m["labels"] or {}).get("account_category", "")} for m in c["members"]],
         OutputFormat.table, title="members")
    emit([{"trace": t["trace"], "item": clip(t["item"], 40), "pairs": t["pairs"],
           "first": str(t["first_time"])[:16], "example": clip(t["example_text"], 70)} for t in c["top_items"]],
         OutputFormat.table, title="top shared items")
    emit([{"trace": e["trace"], "a": e["account_a"], "b": e["account_b"], "time a": str(e["time_a"])[:19],
           "time b": str(e["time_b"])[:19], "text": clip(e["text_a"], 60)} for e in c["evidence"]],
         OutputFormat.table, title="evidence")
    _print_groups(c["groups"], c["group_evidence"])


def _print_groups(groups: list[dict], evidence: list[dict]) -> None:
    """Groups are shown apart from pair links: their members are linked as a group."""
    if not groups:
        return
    emit([{"group": g["group_id"], "trace": g["trace"], "members": f"{g['members_here']}/{g['members']}",
           "window s": g["window_seconds"],
           "items with >= k together": f"{g['units']} (k = {g['k']}; chance {g['expected']:.3g})",
           "p": f"{g['p_value']:.3g}", "q": f"{g['q_value']:.3g}"} for g in groups],
         OutputFormat.table, title="linked as a group (chosen on one half of the data, tested on the other)")
    emit([{"group": e["group_id"], "half": e["half"], "item": clip(e["item"], 30),
           "first": str(e["first_time"])[:19], "last": str(e["last_time"])[:19], "members": e["members"],
           "accounts": clip(", ".join(e["accounts"]), 60)} for e in evidence],
         OutputFormat.table, title="group evidence: members acting together")


@command(PANEL)
def explain(
    account_a: Annotated[str, typer.Argument(help="Handle or account id.")],
    account_b: Annotated[str, typer.Argument(help="Handle or account id.")],
    db: DbOption = Path(DEFAULT_DB),
    as_json: JsonOption = False,
) -> None:
    """Why two accounts are linked (or not): each trace's test against the null model, and the shared items.

    Example: trollscope explain ameliebaldwin hyddrox --db demo.duckdb
    """
    from trollscope.views.results import explain as explain_pair

    with open_store(db, read_only=True) as store:
        x = explain_pair(store, account_a, account_b)
    if as_json:
        emit_json(x)
        return
    a, b = x["account_a"], x["account_b"]
    verdict = "[bold red]linked[/]" if x["linked"] else "not linked"
    if x["linked_as_group"]:
        verdict += (" pair by pair; [bold red]linked as a group[/] "
                    f"({', '.join(g['group_id'] for g in x['groups'])})")
    out.print(f"{escape(str(a['handle']))} ({a['campaign_id'] or 'no campaign'}) and {escape(str(b['handle']))} "
              f"({b['campaign_id'] or 'no campaign'}): {verdict}")
    if not x["tests"]:
        out.print("they share no item within the window in any trace")
    from trollscope.views.excess import scale_label

    emit([{"trace": t["trace"], "shared": t["shared"], "expected": t["expected"],
           "p": f"{t['p_value']:.3g}", "q": f"{t['q_value']:.3g}", "significant": t["significant"],
           "scale": scale_label(t["window_seconds"]),
           "each scale: shared (expected)": ", ".join(
               f"{scale_label(s['scale_seconds'])} {s['shared']} ({s['expected']:.2g})" for s in t["scales"] or [])}
          for t in x["tests"]], OutputFormat.table, title="tests (p over all scales; the strongest scale shown)")
    emit([{"trace": e["trace"], "time a": str(e["time_a"])[:19], "time b": str(e["time_b"])[:19],
           "within": scale_label(e["scale_seconds"]),
           "item": clip(e["item"], 30), "text": clip(e["text_a"], 70)} for e in x["evidence"]],
         OutputFormat.table, title="shared items")
    for g in x["groups"]:
        emit([{"half": t["half"], "item": clip(t["item"], 30), "time a": str(t["time_a"])[:19],
               "time b": str(t["time_b"])[:19]} for t in g["together"]], OutputFormat.table,
             title=f"{g['group_id']} ({g['trace']}, {g['members']} accounts, {g['units']} items with >= "
                   f"{g['k']} together, chance {g['expected']:.3g}, q {g['q_value']:.3g}): both took part")
    if x["tests"] and not x["linked"] and x["evidence_scope"] == "significant":
        out.print("shared items are kept for linked pairs only; `detect --set evidence_scope=tested` keeps them "
                  "for every tested pair")


@command(PANEL)
def accounts(
    db: DbOption = Path(DEFAULT_DB),
    format: FormatOption = OutputFormat.table,
    raw: RawOption = False,
    flagged: Annotated[bool, typer.Option("--flagged", help="Only accounts in a campaign.")] = False,
) -> None:
    """Every account with its campaign (empty when not flagged) and score.

    Example: trollscope accounts --db demo.duckdb --format csv > accounts.csv
    """
    from trollscope.views.results import accounts as list_accounts

    with open_store(db, read_only=True) as store:
        rows = list_accounts(store, flagged=flagged)
    emit(rows, format, raw=raw)
