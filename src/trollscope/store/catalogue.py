"""Every derived table, declared once: name, the stage that produces it, its columns, and what its
content depends on besides the run's input.

Tables produced by `detect` are written in one transaction with the run's row in `runs`, so they
always belong to the newest run. Tables produced by a later stage (signals, DISARM tags,
narratives) are cached: their key is the run's id and input plus the settings they depend on
(`Derived.key`), and `Store.derived(name, run)` rebuilds them with the producer registered for
them when the key does not match. A producer registers itself with `@produces(name)` in its own
module; whoever reads the table imports that module, so the dependency is a visible import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from trollscope.store.schema import Column

DETECT = "detect"


@dataclass(frozen=True)
class Derived:
    name: str
    producer: str                       # the stage (package) that writes it
    doc: str
    columns: tuple[Column, ...] = ()    # empty when the columns follow a registry (signals' features)
    depends: tuple[str, ...] = ()       # settings the content depends on, besides the run
    version: int = 1                    # bump when the producer's output changes for the same input
    live_input: bool = False            # reads the posts as they are now (not only the run's results)

    def key(self, run, current_input: str | None = None, settings: dict | None = None) -> str:
        """The cache key of this table for `run`: its id, input and the settings it depends on
        (`settings` when a stage was given its own on top of the run's), and, for a table that reads
        the posts themselves, the store's input as it is now."""
        cfg = settings or {}
        return json.dumps({"table": self.name, "version": self.version, "run": run.run_id,
                           "input": current_input if self.live_input else run.fingerprint,
                           "settings": {s: cfg.get(s, run.setting(s)) for s in self.depends}},
                          sort_keys=True, default=str)


def _c(*cols: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*c) for c in cols)


_PAIR = (("trace", "VARCHAR", "The trace (see `trollscope traces`)."),
         ("a", "VARCHAR", "The pair's first account id (a < b)."),
         ("b", "VARCHAR", "The pair's second account id."))

DERIVED: dict[str, Derived] = {d.name: d for d in (
    Derived("pair_tests", DETECT, "Every tested account pair per trace, judged against the null model.", _c(
        *_PAIR,
        ("shared", "BIGINT", "Distinct items both acted on within the pair's strongest scale (window_seconds)."),
        ("expected", "DOUBLE", "Co-actions the null model expects for the pair at that scale."),
        ("p_value", "DOUBLE", "The pair's p-value over its K scales: K x the smallest Poisson tail (Bonferroni)."),
        ("q_value", "DOUBLE", "Benjamini-Hochberg q over the trace's family of pairs."),
        ("significant", "BOOLEAN", "q_value <= alpha."),
        ("strength", "DOUBLE", "-log10 p, capped."),
        ("weight", "DOUBLE", "Sum over shared items of ln(accounts / accounts acting on the item)."),
        ("first_t", "BIGINT", "Epoch seconds of the pair's first co-action."),
        ("last_t", "BIGINT", "Epoch seconds of its last co-action."),
        ("window_seconds", "BIGINT", "The scale at which the pair is strongest (the pinned window with `window`)."),
        ("scales", "STRUCT(scale_seconds BIGINT, shared BIGINT, expected DOUBLE, p_value DOUBLE)[]",
         "The test at each scale of the trace: items within it, expected, Poisson tail (before Bonferroni); "
         "for the pairs whose evidence is kept (`evidence_scope`), else NULL."))),
    Derived("evidence", DETECT, "The co-actions behind each kept pair: both posts and both times.", _c(
        *_PAIR,
        ("item", "VARCHAR", "The shared item (post id, URL, hashtag, text cluster, time bin, ...)."),
        ("post_a", "VARCHAR", "a's post on the item."), ("post_b", "VARCHAR", "b's post on the item."),
        ("time_a", "TIMESTAMPTZ", "When a acted."), ("time_b", "TIMESTAMPTZ", "When b acted."),
        ("scale_seconds", "BIGINT", "The finest scale of the trace at which this co-action counts."))),
    Derived("coaction_excess", DETECT,
            "Per trace, scale and k: account pairs sharing >= k items, observed and as the null model predicts.", _c(
        ("trace", "VARCHAR", "The trace."), ("scale_seconds", "BIGINT", "The time scale."),
        ("min_items", "BIGINT", "k: pairs sharing at least k items within the scale."),
        ("observed", "BIGINT", "Such pairs found (in the item-buckets the join enumerated)."),
        ("expected", "DOUBLE", "Such pairs the null model predicts (same item-buckets; docs/detection.md)."))),
    Derived("edges", DETECT, "Significant pairs and confirmed groups fused over traces.", _c(
        ("a", "VARCHAR", "First account."), ("b", "VARCHAR", "Second account."),
        ("strength", "DOUBLE", "Sum of the traces' strengths."), ("shared", "HUGEINT", "Shared items, all traces."),
        ("traces", "VARCHAR[]", "Traces linking the pair."), ("trace_strength", "MAP(VARCHAR, DOUBLE)", "Per trace."),
        ("groups", "VARCHAR[]", "Confirmed groups (detect/groups.py) both accounts belong to: linked as a group."),
        ("pair_strength", "DOUBLE", "Strength from significant pair tests alone."),
        ("group_strength", "DOUBLE", "Strength from confirmed groups alone."),
        ("first_t", "BIGINT", "First co-action (epoch s)."), ("last_t", "BIGINT", "Last co-action (epoch s)."))),
    Derived("campaigns", DETECT, "Ranked campaigns (Leiden communities of the fused graph).", _c(
        ("campaign_id", "VARCHAR", "C1, C2, ...: by rank in a store's first run, then kept across runs (detect/identity.py)."),
        ("rank", "BIGINT", "By score."),
        ("size", "BIGINT", "Member accounts."), ("internal_edges", "BIGINT", "Significant links inside."),
        ("density", "DOUBLE", "Links / possible links."), ("mean_strength", "DOUBLE", "Mean link strength."),
        ("score", "DOUBLE", "Coordination score (docs/detection.md)."),
        ("first_seen", "TIMESTAMPTZ", "First co-action."), ("last_seen", "TIMESTAMPTZ", "Last co-action."),
        ("trace_pairs", "MAP(VARCHAR, BIGINT)", "Significant pairs inside, per trace."),
        ("groups", "VARCHAR[]", "Confirmed groups among its members."),
        ("community", "BIGINT", "Leiden community number."))),
    Derived("campaign_members", DETECT, "Account -> campaign.", _c(
        ("campaign_id", "VARCHAR", "The campaign."), ("account_id", "VARCHAR", "The account."),
        ("handle", "VARCHAR", "Its handle."), ("strength", "DOUBLE", "Sum of its links' strengths inside."))),
    Derived("content_links", DETECT, "Flagged pairs sharing more hashtags / link domains than chance (grouping only).", _c(
        ("a", "VARCHAR", "First account."), ("b", "VARCHAR", "Second account."),
        ("shared", "BIGINT", "Shared tokens."), ("expected", "DOUBLE", "Expected under the null."),
        ("p_value", "DOUBLE", "Poisson tail."), ("strength", "DOUBLE", "-log10 p."))),
    Derived("run_campaigns", DETECT, "Every run's campaigns, kept (detect/identity.py).", _c(
        ("run_id", "VARCHAR", "The run (see `runs`)."), ("campaign_id", "VARCHAR", "The lasting campaign id."),
        ("rank", "BIGINT", "By score, in that run."), ("size", "BIGINT", "Member accounts."),
        ("internal_edges", "BIGINT", "Significant links inside."), ("density", "DOUBLE", "Links / possible links."),
        ("mean_strength", "DOUBLE", "Mean link strength."), ("score", "DOUBLE", "Coordination score."),
        ("first_seen", "TIMESTAMPTZ", "First co-action."), ("last_seen", "TIMESTAMPTZ", "Last co-action."),
        ("trace_pairs", "MAP(VARCHAR, BIGINT)", "Significant pairs inside, per trace."),
        ("matched_from", "VARCHAR", "The previous run's campaign it continues (NULL when new)."))),
    Derived("run_members", DETECT, "Every run's campaign members, kept.", _c(
        ("run_id", "VARCHAR", "The run."), ("campaign_id", "VARCHAR", "The campaign."),
        ("account_id", "VARCHAR", "The account."), ("handle", "VARCHAR", "Its handle then."),
        ("strength", "DOUBLE", "Sum of its links' strengths inside."))),
    Derived("run_techniques", DETECT, "Every run's DISARM techniques per campaign, kept (a row with no campaign "
            "marks a run whose techniques were recorded).", _c(
        ("run_id", "VARCHAR", "The run."), ("campaign_id", "VARCHAR", "The campaign."),
        ("technique_id", "VARCHAR", "e.g. T0049.001."), ("name", "VARCHAR", "Technique name."))),
    Derived("account_signals", "enrich.signals",
            "Per-account features, each scored feature's contribution `c_<name>`, and the prior `score`.",
            depends=("operator_timezone", "operator_hours"), version=3, live_input=True),
    Derived("campaign_techniques", "enrich.disarm", "DISARM techniques each campaign shows, with rule and evidence.", _c(
        ("campaign_id", "VARCHAR", "The campaign."), ("technique_id", "VARCHAR", "e.g. T0049.001."),
        ("name", "VARCHAR", "Technique name."), ("tactic", "VARCHAR", "Tactic name."),
        ("rule", "VARCHAR", "The rule that fired (docs/disarm.md)."), ("evidence", "VARCHAR", "One line."),
        ("url", "VARCHAR", "DISARM page."), ("tactic_id", "VARCHAR", "e.g. TA17."), ("stix_id", "VARCHAR", "STIX id."),
        ("condition", "VARCHAR", "The rule's condition."), ("pairs", "BIGINT", "Significant pairs behind it."),
        ("accounts", "BIGINT", "Accounts they link."), ("items", "BIGINT", "Items behind it."),
        ("examples", "VARCHAR", "Example items (JSON)."), ("rank", "BIGINT", "The campaign's rank.")),
            depends=("disarm_min_accounts",), version=2),
    Derived("narratives", "enrich.narratives",
            "Narratives of the flagged campaigns (with narrative_posts, campaign_narratives, narrative_examples, "
            "narrative_runs written in the same transaction).",
            depends=("narrative_sample", "narrative_min_cluster", "narrative_min_samples", "narrative_dims",
                     "narrative_assign_quantile", "narrative_min_lang", "narrative_keywords", "seed")),
)}

DETECT_TABLES = tuple(name for name, d in DERIVED.items() if d.producer == DETECT)

Builder = Callable[..., None]  # builder(store, run, create) runs the statements, starting with `create`
_BUILDERS: dict[str, Builder] = {}


def produces(name: str) -> Callable[[Builder], Builder]:
    """Register `fn(store, run, create)` as the builder of the cached table `name`."""
    if name not in DERIVED or DERIVED[name].producer == DETECT:
        raise KeyError(f"{name!r} is not a cached derived table of the catalogue")

    def register(fn: Builder) -> Builder:
        _BUILDERS[name] = fn
        return fn

    return register


def builder(name: str) -> Builder | None:
    return _BUILDERS.get(name)
