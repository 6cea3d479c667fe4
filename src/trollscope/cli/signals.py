"""Commands about accounts: `account`, `train`, `score`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from trollscope.cli.app import (DbOption, FormatOption, OutputFormat, RawOption, clip, command, emit, emit_json,
                                open_store, out)
from trollscope.store import DEFAULT_DB

PANEL = "Account signals"


@command(PANEL)
def account(
    handle: Annotated[str, typer.Argument(help="Handle (with or without @) or account id.")],
    db: DbOption = Path(DEFAULT_DB),
    format: FormatOption = OutputFormat.table,
    raw: RawOption = False,
    links: Annotated[int, typer.Option(help="Strongest linked accounts to show.")] = 5,
) -> None:
    """One account: signals, campaign, DISARM tags, narratives and the evidence that links it.

    Signals come with each feature's contribution; the evidence is its strongest links and their
    shared items with timestamps.

    The score is a heuristic prior (fixed weights, docs/signals.md), not a verdict.

    Example: trollscope account ameliebaldwin --db demo.duckdb
    Example: trollscope account @ameliebaldwin --db demo.duckdb --format json
    """
    from trollscope.views.account import profile

    with open_store(db, read_only=True) as store:
        p = profile(store, handle, links=links)
    if format is OutputFormat.json:
        emit_json(p)
        return
    if format is OutputFormat.csv:
        emit([_flat(p)], format, raw=raw)
        return
    a, s, c = p["account"], p["signals"], p["campaign"]
    where = (f"campaign {c['campaign_id']} ({c['size']} accounts, score {c['score']}; this account's "
             f"link strength {c['member_strength']})" if c else
             ("no campaign" if p["detected"] else "detection has not run (`trollscope detect`)"))
    category = (a.get("labels") or {}).get("account_category")
    out.print(f"[bold]{escape(a['handle'] or a['account_id'])}[/] ({escape(a['account_id'])}): heuristic prior "
              f"score {s['score']:.2f}; {where}" + (f"; labelled {escape(category)}" if category else ""),
              highlight=False)
    emit([{"feature": k, "value": "" if v is None else v, "contribution": s["contributions"].get(k, "")}
          for k, v in s["features"].items()], OutputFormat.table, title="signals (contribution = weight × z)")
    if p["techniques"]:
        out.print("[bold]DISARM techniques of its campaign[/]")
        for t in p["techniques"]:
            out.print(f"  {t['technique_id']} {t['name']} ({t['tactic']}), rule {t['rule']}: {t['evidence']}",
                      highlight=False, markup=False)
    if p["narratives"]:
        emit([{"narrative": n.get("narrative_id"), "label": n.get("label"), "posts": n.get("posts")}
              for n in p["narratives"]], OutputFormat.table, title="narratives")
    if p["links"]:
        emit([{"linked account": e["handle"] or e["other"], "campaign": e["campaign_id"] or "",
               "strength": e["strength"], "traces": ", ".join(e["traces"])} for e in p["links"]],
             OutputFormat.table, title="strongest links")
        emit([{"with": e["handle"] or e["other"], "trace": x["trace"], "time (this)": str(x["time_self"])[:19],
               "time (other)": str(x["time_other"])[:19], "item": clip(x["item"], 30),
               "text": clip(x["text_self"], 60)} for e in p["links"] for x in e["evidence"]],
             OutputFormat.table, title="shared items")


def _flat(p: dict) -> dict:
    s = p["signals"]
    return {"account_id": s["account_id"], "handle": s["handle"], "score": s["score"],
            "campaign_id": (p["campaign"] or {}).get("campaign_id", ""),
            "techniques": " ".join(t["technique_id"] for t in p["techniques"]),
            **{f"f_{k}": v for k, v in s["features"].items()},
            **{f"c_{k}": v for k, v in s["contributions"].items()}}


@command(PANEL)
def train(
    labels: Annotated[Optional[Path], typer.Option(
        help="CSV of account,label (as for `evaluate`); default: the labels the data carries.")] = None,
    label_key: Annotated[str, typer.Option(help="Which label of the data to use (without --labels).")] = "account_category",
    positive: Annotated[Optional[str], typer.Option(
        help="The label to detect (one category vs the rest); default: any label that is not honest/empty.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the model (JSON).")] = Path("model.json"),
    db: DbOption = Path(DEFAULT_DB),
    folds: Annotated[int, typer.Option(help="Folds of the stratified cross-validation.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the fold split.")] = 42,
    as_json: Annotated[bool, typer.Option("--json", help="Print the cross-validated figures as JSON.")] = False,
) -> None:
    """Fit a classifier on labelled accounts' signals; report cross-validated figures; save it.

    A logistic regression on the account signals; stratified, seeded k-fold cross-validation gives
    precision, recall, F1 and ROC AUC; the model is saved as JSON (never pickle).

    Example: trollscope train --db ira.duckdb --positive RightTroll -o righttroll.json
    Example: trollscope train --db demo.duckdb --labels labels.csv -o model.json
    """
    from trollscope.views.evaluate import read_labels
    from trollscope.enrich.signals import model as m

    given = read_labels(labels) if labels else None
    with open_store(db) as store:
        fitted = m.train(store, given, label_key=label_key, positive=positive, folds=folds, seed=seed)
    m.save(fitted, output)
    cv = fitted["cv"]
    if as_json:
        emit_json(cv)
        return
    target = positive or "any coordinated label"
    emit([{"target": target, "accounts": cv["accounts"], "positives": cv["positives"], "folds": cv["folds"],
           **{k: f"{cv[k]:.3f} ± {cv[k + '_sd']:.3f}" for k in ("precision", "recall", "f1", "roc_auc")}}],
         OutputFormat.table, title="cross-validated (mean ± sd over folds, threshold 0.5)")
    emit([{"feature": f, "coefficient": round(c, 3)} for f, c in
          sorted(zip(fitted["features"], fitted["coef"]), key=lambda x: -abs(x[1]))],
         OutputFormat.table, title="coefficients (per standard deviation)")
    out.print(f"model written to {output}", markup=False)


@command(PANEL)
def score(
    model: Annotated[Path, typer.Option(help="A model file written by `trollscope train`.")],
    db: DbOption = Path(DEFAULT_DB),
    top: Annotated[int, typer.Option(help="Accounts to list (0 for all).")] = 20,
    format: FormatOption = OutputFormat.table,
    raw: RawOption = False,
) -> None:
    """Apply a trained model: accounts by probability, with the features that pushed each up most.

    Example: trollscope score --model righttroll.json --db ira.duckdb --top 20
    """
    from trollscope.enrich.signals import model as m

    fitted = m.load(model)
    with open_store(db, read_only=True) as store:
        rows = m.apply(store, fitted)
    if top:
        rows = rows[:top]
    if format is OutputFormat.table:
        rows = [{"handle": r["handle"] or r["account_id"], "probability": r["probability"],
                 "top features": ", ".join(f"{k} {v:+.2f}" for k, v in r["top_features"].items())} for r in rows]
    elif format is OutputFormat.csv:
        rows = [{**{k: v for k, v in r.items() if k != "top_features"},
                 "top_features": " ".join(f"{k}={v}" for k, v in r["top_features"].items())} for r in rows]
    emit(rows, format, title=f"accounts by probability ({fitted.get('positive') or 'coordinated'})", raw=raw)
