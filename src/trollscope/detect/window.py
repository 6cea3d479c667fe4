"""The window join shared by every trace: actions -> co-acting account pairs, with evidence.

Two actions on the same item co-act when at most Δ seconds apart. Instead of a range join
(which explodes on viral items) time is cut into buckets of width Δ and actions are joined on
(item, bucket) and (item, next bucket), then filtered to |Δt| <= Δ: two equi-joins.

Each account keeps, per item and bucket, its earliest and its latest action (ties in time by
post id: the smallest for the earliest, the largest for the latest, the same in every engine).
That is exact: two actions in one bucket are always within Δ, and across neighbouring buckets the
closest two actions of a pair are the latest of the earlier bucket and the earliest of the later,
so the pair co-acts across the boundary exactly when those two do.

Item-buckets holding more than `max_bucket` actions (a viral item, a news burst) are not
enumerated pair by pair; they still count in the null model's expected co-actions, so skipping
them can only make pairs look less coordinated, never more. The same holds for the work budget
(`bucket_cap`): pairs grow with the square of a bucket's size, so on a dense data set the most
crowded buckets are left out until the pairs enumerated are at most `pair_budget` per action,
which keeps the join's work linear in the data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WindowSql:
    """One trace's tables. `prepare` statements (src, actions, item_buckets) come first; then
    `bucket_sizes` tells how crowded its item-buckets are, from which the cap on enumerated
    buckets is chosen (`bucket_cap`), and `join(cap)` gives the statements that pair actions."""

    window: int
    min_shared: int
    prepare: list[tuple[str, str]]
    actions: str
    item_buckets: str
    kept: str
    raw: str
    coactions: str
    pairs: str

    @property
    def bucket_sizes(self) -> str:
        """Per bucket size c: how many item-buckets have it (columns c, buckets)."""
        return f"SELECT c, count(*) AS buckets FROM {self.item_buckets} GROUP BY c"

    def join(self, cap: int) -> list[tuple[str, str]]:
        """The statements that pair actions in item-buckets of at most `cap` actions."""
        w, act, ib, kept = self.window, self.actions, self.item_buckets, self.kept
        return [
            # The item-buckets paired, and whether their item has other buckets paired: an item
            # with one bucket gives each pair at most one co-action, which needs no grouping.
            (kept, f"""
                SELECT item, b, count(*) OVER (PARTITION BY item) > 1 AS multi
                FROM {ib} WHERE c <= {int(cap)}
            """),
            # Every co-acting pair of actions, before keeping the closest per (pair, item). Kept as
            # a table of its own: DuckDB fed straight from these joins into the grouping below
            # does not spill (out of memory at 3 M posts with 1.5 GB).
            (self.raw, f"""
                WITH a AS (
                  SELECT x.account_id, x.item, x.b, x.t, x.post_id, x.t_last, x.post_last, n.multi
                  FROM {act} x JOIN {kept} n ON n.item = x.item AND n.b = x.b
                )
                SELECT x.account_id AS a, y.account_id AS bb, x.item,
                       x.post_id AS post_a, y.post_id AS post_b, x.t AS t_a, y.t AS t_b, x.multi
                FROM a x JOIN a y ON x.item = y.item AND x.b = y.b
                WHERE x.account_id < y.account_id
                UNION ALL
                -- x's latest action in bucket b against y's earliest in b + 1: the closest two,
                -- so the pair co-acts across the boundary exactly when these two are within Δ
                SELECT CASE WHEN x.account_id < y.account_id THEN x.account_id ELSE y.account_id END,
                       CASE WHEN x.account_id < y.account_id THEN y.account_id ELSE x.account_id END,
                       x.item,
                       CASE WHEN x.account_id < y.account_id THEN x.post_last ELSE y.post_id END,
                       CASE WHEN x.account_id < y.account_id THEN y.post_id ELSE x.post_last END,
                       CASE WHEN x.account_id < y.account_id THEN x.t_last ELSE y.t END,
                       CASE WHEN x.account_id < y.account_id THEN y.t ELSE x.t_last END,
                       TRUE
                FROM a x JOIN a y ON x.item = y.item AND y.b = x.b + 1
                WHERE x.account_id <> y.account_id AND y.t - x.t_last <= {w}
            """),
            (self.coactions, f"""
                SELECT a, bb AS b, item, post_a, post_b, t_a, t_b FROM {self.raw} WHERE NOT multi
                UNION ALL
                SELECT a, bb AS b, item, m.post_a AS post_a, m.post_b AS post_b, m.t_a AS t_a, m.t_b AS t_b FROM (
                  SELECT a, bb, item, min(struct_pack(d := abs(t_a - t_b), t_a := t_a, t_b := t_b,
                                                      post_a := post_a, post_b := post_b)) AS m
                  FROM {self.raw} WHERE multi GROUP BY a, bb, item) g
            """),
            (self.pairs, f"""
                SELECT a, b, count(*) AS shared,
                       min(least(t_a, t_b)) AS first_t, max(greatest(t_a, t_b)) AS last_t
                FROM {self.coactions} GROUP BY a, b HAVING count(*) >= {int(self.min_shared)}
            """),
        ]

    def tables(self) -> list[str]:
        return [t for t, _ in self.prepare] + [self.kept, self.raw, self.coactions, self.pairs]


def window_sql(trace: str, actions_sql: str, window: int, min_shared: int) -> WindowSql:
    """SQL that turns `actions_sql` (account_id, item, t, post_id) into co-actions and pairs.

    Tables made (prefix `_tr_<trace>_`): src (the actions as given), actions (one per account,
    item and bucket: the earliest, t and post_id, and the latest, t_last and post_last),
    item_buckets (actions per item and bucket), kept (the item-buckets paired), raw (every
    co-acting pair of actions), coactions (the closest co-action of each pair on each item: the
    evidence) and pairs (accounts a < b, shared items, time span).
    """
    p = f"_tr_{trace}_"
    src, act, ib = p + "src", p + "actions", p + "item_buckets"
    w = int(window)
    prepare = [
        # The trace's actions are materialised as they come, unfiltered: a filter on a computed
        # item (normalised text, an extracted domain) in the same query makes DuckDB evaluate
        # the expression once for the filter and again for the result.
        (src, f"SELECT account_id, item, t, post_id FROM ({actions_sql}) s"),
        (act, f"""
            SELECT account_id, item, b, m.t AS t, m.post_id AS post_id,
                   l.t AS t_last, l.post_id AS post_last FROM (
              SELECT account_id, item, t // {w} AS b, min(struct_pack(t := t, post_id := post_id)) AS m,
                     max(struct_pack(t := t, post_id := post_id)) AS l
              FROM {src}
              WHERE account_id IS NOT NULL AND item IS NOT NULL
              GROUP BY account_id, item, t // {w}) g
        """),
        (ib, f"SELECT item, b, count(*) AS c FROM {act} GROUP BY item, b"),
    ]
    return WindowSql(w, int(min_shared), prepare, act, ib, p + "kept", p + "raw", p + "coactions", p + "pairs")


def bucket_cap(sizes: list[tuple[int, int]], actions: int, max_bucket: int, pair_budget: float) -> int:
    """The largest bucket size to enumerate: `max_bucket`, or less when the action pairs of the
    buckets kept, Σ c·(c−1)/2 over them (about as many again across neighbouring buckets), would
    exceed `pair_budget` per action. The most crowded buckets go first: their pairs are the least
    telling (a bucket of c accounts links each to c − 1 others) and the most costly (c² of them),
    and what is left out still counts in the null. `sizes` is (c, number of buckets of that
    size); the cap is a pure function of the data."""
    budget = float(pair_budget) * max(int(actions), 1)
    spent = 0.0
    for c, n in sorted(sizes):
        if c > max_bucket:
            break
        spent += n * c * (c - 1) / 2.0
        if spent > budget:
            return max(int(c) - 1, 1)  # every size below c fits
    return int(max_bucket)


def null_stats_sql(act: str, ib: str, pairs: str, window: int, stratum: int) -> dict[str, str]:
    """Queries for the null model, stratified in time (strata of `stratum` seconds, a day by
    default): per stratum the actions D_s and the action pairs on one item within Δ, P_s (all of
    them, crowded buckets included: every pair in one bucket, and half of those across
    neighbouring buckets, which is the share within Δ for times spread evenly); per account and
    stratum its actions n_as. The expected co-actions of a tested pair are then
    λ_ab = Σ_s 2 · P_s · n_as · n_bs / D_s²  (see detect.null).
    """
    w, st = int(window), int(stratum)
    return {
        "totals": f"SELECT count(*) AS d, count(DISTINCT account_id) AS accounts FROM {act}",
        "activity": f"""
            SELECT account_id, (b * {w}) // {st} AS s, count(*) AS n FROM {act} GROUP BY account_id, (b * {w}) // {st}
        """,
        "strata": f"""
            SELECT s, sum(d) AS d, sum(p) AS p FROM (
              SELECT (b * {w}) // {st} AS s, c AS d, c * (c - 1) / 2.0 AS p FROM {ib}
              UNION ALL
              SELECT (x.b * {w}) // {st} AS s, 0 AS d, x.c * y.c / 2.0 AS p
              FROM {ib} x JOIN {ib} y ON x.item = y.item AND y.b = x.b + 1
            ) GROUP BY s
        """,
        "expected": f"""
            SELECT p.a, p.b, sum(2.0 * t.p * x.n * y.n / (t.d * t.d)) AS expected
            FROM {pairs} p
            JOIN _tr_activity x ON x.account_id = p.a
            JOIN _tr_activity y ON y.account_id = p.b AND y.s = x.s
            JOIN _tr_strata t ON t.s = x.s
            GROUP BY p.a, p.b
        """,
        "item_accounts": f"SELECT item, count(DISTINCT account_id) AS accounts FROM {act} GROUP BY item",
    }
