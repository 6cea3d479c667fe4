"""The window join shared by every trace: actions -> co-acting account pairs at several time scales.

Two actions on the same item co-act at scale s when at most s seconds apart. A trace is tested at
a ladder of nested scales s_1 < ... < s_K (each divides the next: 1 s, 10 s, 1 min, 10 min, 1 h by
default; one scale when the user pins `--window`). The join runs ONCE, at the largest scale W: each
pair keeps, per item, its closest co-action and so its time gap g, and it co-acts at every scale
s_k >= g. Instead of a range join (which explodes on viral items), time is cut into buckets of width
W and actions are joined on (item, bucket) and (item, next bucket), then filtered to |Δt| <= W.

Each account keeps, per item and bucket, its earliest and its latest action (ties in time by post
id: the smallest for the earliest, the largest for the latest, the same in every engine). Across
neighbouring buckets the closest two actions of a pair are the latest of the earlier bucket and
the earliest of the later one, so the gap found there is exact. Within one bucket the gap is the
closest of the four earliest/latest combinations: exact when neither account acted on the item
more than twice in the bucket, otherwise never smaller than the true gap. A gap can only come out
too long, never too short, so a co-action is never counted at a scale where it did not happen.

Item-buckets holding more than the cap of actions (`max_bucket`, or less under the work budget
`pair_budget`: one cap for every scale, `WindowSql.cap_deltas`) are not enumerated pair by pair at W.
Those crowded buckets are cut into their sub-buckets at the next finer scale and enumerated there when small enough, and
so on down the ladder: a viral cascade whose hour holds 2,000 retweets still has its minutes
enumerated, so a ring co-retweeting within a minute inside it is seen at the scales up to that
minute. Whatever is not enumerated still counts in the null model's expected co-actions, so it
can only make pairs look less coordinated, never more.

The null model's counts are made per scale, each from that scale's own actions (one per account,
item and bucket of that scale), so each scale's test is the one a single window of that width gives.
"""

from __future__ import annotations

from dataclasses import dataclass

# The excess summary's expected distinct items are tabulated at x = GRID^g: 3 % apart, so a pair's x
# is read at most 3 % too high (never too low). EXCESS_ITEMS: pairs sharing >= 1, 2, ..., 5 items.
GRID = 1.03
EXCESS_ITEMS = 5


def poisson_tail_sql(lam: str, k: int) -> str:
    """SQL for P(Poisson(lam) >= k): the series for small lam (no cancellation), else 1 − cdf."""
    fact = [1.0]
    for i in range(1, k + 12):
        fact.append(fact[-1] * i)
    series = " + ".join(f"pow({lam}, {k + i}) / {fact[k + i]!r}" for i in range(10))
    head = " + ".join(f"pow({lam}, {i}) / {fact[i]!r}" for i in range(k))
    return f"(CASE WHEN {lam} < 0.5 THEN exp(-{lam}) * ({series}) ELSE 1.0 - exp(-{lam}) * ({head}) END)"


def exact_sum(term: str, digits: int = 24) -> str:
    """SQL for the sum of `term` over a group, the same in any order: each term in whole units of
    10^-`digits` as a 38-digit integer, so the sum may reach 10^(38 − digits). A float sum's last bits
    follow the order in which a parallel aggregation meets the rows, which changes from run to run,
    and rounding the sums to 12 digits still tipped now and then (on ira-dev, 2 of 112,536 pair tests
    and one co-action excess differed between two runs of one store). The terms summed with the
    default (expected co-actions 2·P·n·n'/D², distinct items, their Poisson tails) are never below
    1e-16 unless 0 or a tail too small to count, and their sums stay far below 1e14: a double's
    precision is kept."""
    return f"(CAST(sum(CAST(round(({term}) * 1e{int(digits)}) AS DECIMAL(38, 0))) AS DOUBLE) / 1e{int(digits)})"


def grid_points(max_actions: int) -> int:
    """Grid points that cover every product n_as · n_bs up to `max_actions`²."""
    import math

    return int(math.ceil(2 * math.log(max(int(max_actions), 2)) / math.log(GRID))) + 2


# An action's time and post number as one BIGINT, ordered as (t, post): seconds since T0 times 2^31
# plus the post's number (an INTEGER row number, below 2^31). T0 is ingest's EARLIEST (1995-01-01):
# no stored post is older, and 2100 (LATEST) is less than 2^32 s after it, so the code fits 63 bits.
# A min/max over these codes groups 3-4 times as fast as over structs (the act tables' groupings).
T0 = 788_918_400
POST_BITS = 2_147_483_648


def _code(t: str, post: str) -> str:
    return f"(CAST({t} AS BIGINT) - {T0}) * {POST_BITS} + {post}"


def _first(t: str = "t", post: str = "post_id") -> str:
    return f"min({_code(t, post)})"


def _last(t: str = "t", post: str = "post_id") -> str:
    return f"max({_code(t, post)})"


def _decode(code: str, t: str, post: str) -> str:
    """The time and post columns of a code (codes are never negative: // and % are exact)."""
    return f"{code} // {POST_BITS} + {T0} AS {t}, CAST({code} % {POST_BITS} AS INTEGER) AS {post}"


@dataclass(frozen=True)
class WindowSql:
    """One trace's tables at its scales (prefix `_tr_<trace>_`).

    `prepare` (src, the numbering of accounts, items and posts, one actions table per scale,
    item_buckets) comes first. Then the cap is chosen (`cap_deltas`) and the levels made from the
    top down (`level` / `open_count`: see `trace_run.run_trace`), `join(levels)` pairs the actions
    and counts co-actions per scale, and `activity_sql` and `null_stats` give the null model's counts.
    """

    prefix: str
    scales: tuple[int, ...]
    min_shared: int
    stratum: int
    prepare: list[tuple[str, str]]
    # What a pair's shared count counts: distinct items ("item"), or distinct pairs of posts that
    # co-act on some item ("post"), for traces whose one post acts on several items of one event
    # (co_object: a post's URL, its domain and its hashtag are one act, not three); or items, tested
    # only where they came from min_shared distinct pairs of posts ("events": hashtags, mentions,
    # links, domains, of which one post carries several and λ counts each).
    unit: str = "item"

    # ------------------------------------------------------------------ names

    def act(self, scale: int) -> str:
        """Actions at `scale`: one per account, item and bucket (t, post_id the earliest; t_last, post_last the latest)."""
        return f"{self.prefix}act{int(scale)}"

    def cover(self, scale: int) -> str:
        """Item-buckets examined at `scale` (all of them at the top, else the sub-buckets of crowded ones)."""
        return f"{self.prefix}cover{int(scale)}"

    @property
    def src(self) -> str:
        return self.prefix + "src"

    def names(self, table: str, columns: list[tuple[str, str | None]]) -> str:
        """A SELECT of `columns` of `table` (a table or a subquery) with the numbered ones named
        again: each column is (name, `account` | `item` | `post` | None for as it is)."""
        kinds = {"account": ("ids", "account_id"), "item": ("items", "item"), "post": ("posts", "post_id")}
        joins, cols = [], []
        for i, (col, kind) in enumerate(columns):
            if kind is None:
                cols.append(f"x.{col}")
                continue
            tbl, name = kinds[kind]
            joins.append(f"JOIN {self.prefix}{tbl} m{i} ON m{i}.n = x.{col}")
            cols.append(f"m{i}.{name} AS {col}")
        source = f"({table})" if table.lstrip().upper().startswith(("SELECT", "WITH")) else table
        return f"SELECT {', '.join(cols)} FROM {source} x {' '.join(joins)}"

    @property
    def item_buckets(self) -> str:
        return self.prefix + "item_buckets"

    @property
    def coactions(self) -> str:
        """The closest co-action of each tested pair on each item: a, b, item, post_a, post_b, t_a, t_b."""
        return self.prefix + "coactions"

    @property
    def observed(self) -> str:
        """The co-action excess's observed side, one row: o_<scale>_<k>, the co-acting pairs sharing
        >= k items within the scale (k = 1..EXCESS_ITEMS), over every co-acting pair."""
        return self.prefix + "observed"

    @property
    def pairs(self) -> str:
        """The tested pairs (at least `min_shared` items at the top scale): a, b, n_<scale>."""
        return self.prefix + "pairs"

    @property
    def activity(self) -> str:
        return self.prefix + "activity"

    @property
    def strata(self) -> str:
        return self.prefix + "strata"

    @property
    def expected(self) -> str:
        return self.prefix + "expected"

    @property
    def top(self) -> int:
        return self.scales[-1]

    def count_column(self, scale: int) -> str:
        return f"n_{int(scale)}"

    def event_column(self, scale: int) -> str:
        """Unit `events`: the distinct pairs of posts a tested pair's items within `scale` came from."""
        return f"e_{int(scale)}"

    # ------------------------------------------------------------------ the cap, levels top down

    def _candidates(self, scale: int) -> str:
        """The item-buckets examined at `scale`: every one at the top scale, else the sub-buckets
        of those left open (crowded) at the next coarser scale."""
        if scale == self.top:
            return f"SELECT item, b, c FROM {self.item_buckets} WHERE scale = {int(scale)}"
        up = self.scales[self.scales.index(scale) + 1]
        return f"""
            SELECT i.item, i.b, i.c FROM {self.item_buckets} i
            JOIN {self.cover(up)} o ON o.item = i.item AND o.b = i.b // {up // scale} AND NOT o.kept
            WHERE i.scale = {int(scale)}
        """

    def level(self, scale: int, cap: int) -> tuple[str, str]:
        """`cover(scale)`: the item-buckets examined at `scale`, kept (paired at this scale) when
        they hold at most `cap` actions; the others are left open for the next finer scale."""
        return (self.cover(scale), f"SELECT item, b, c, c <= {int(cap)} AS kept FROM ({self._candidates(scale)}) x")

    def open_count(self, scale: int) -> str:
        return f"SELECT count(*) AS n FROM {self.cover(scale)} WHERE NOT kept"

    def cap_deltas(self, max_bucket: int) -> str:
        """The work of one cap c* for every scale at once, as its changes (columns c, pairs; see
        `cap_within`). With one cap for all scales, an item-bucket of c actions is paired at its
        scale exactly when c ≤ c* < c_parent, c_parent the actions of the bucket holding it at the
        next coarser scale (none above the top): coarser buckets hold at least the accounts of
        theirs, so a crowded bucket's sub-buckets are paired instead, down the ladder. Its pairs,
        c·(c−1)/2, count from c* = c on and stop counting at c* = c_parent."""
        ib, m = self.item_buckets, int(max_bucket)
        parts = [f"SELECT c, NULL AS pc FROM {ib} WHERE scale = {self.top}"]
        for fine, coarse in zip(self.scales, self.scales[1:]):
            parts.append(f"""
                SELECT f.c, q.c AS pc FROM {ib} f
                JOIN {ib} q ON q.scale = {coarse} AND q.item = f.item AND q.b = f.b // {coarse // fine}
                WHERE f.scale = {fine}""")
        return f"""
            WITH x AS (SELECT c, pc FROM ({" UNION ALL ".join(parts)}) u WHERE c <= {m} AND (pc IS NULL OR c < pc))
            SELECT c, sum(c * (c - 1) / 2.0) AS pairs FROM x GROUP BY c
            UNION ALL
            SELECT pc AS c, -sum(c * (c - 1) / 2.0) AS pairs FROM x WHERE pc <= {m} GROUP BY pc
        """

    # ------------------------------------------------------------------ the join

    def join(self, levels: list[int]) -> list[tuple[str, str]]:
        """Statements that pair the actions of the item-buckets kept at each scale in `levels`
        (the top scale first, then finer ones for crowded buckets), keep each pair's closest
        co-action per item and count, per pair and scale, the items co-acted on within it."""
        p = self.prefix
        kept_all = " UNION ALL ".join(
            f"SELECT {int(s)} AS scale, item, b FROM {self.cover(s)} WHERE kept" for s in levels)
        opened = " UNION ALL ".join(
            f"SELECT {int(s)} AS scale, item, b FROM {self.cover(s)} WHERE NOT kept" for s in levels)
        raw = " UNION ALL ".join(self._pair_rows(s) for s in levels)
        # seen_<s>: items co-acted on within s in item-buckets paired at s or coarser, the
        # co-actions the summary's null model counts (g_<s>: the closest such co-action of the pair
        # on the item), summed over every co-acting pair into `observed`; n_<s>: items co-acted on
        # within s, wherever the join found them (the pair test), for the tested pairs only
        plain_gaps = ", ".join(f"CASE WHEN lvl >= {int(s)} THEN d END AS g_{int(s)}" for s in self.scales)
        min_gaps = ", ".join(f"min(CASE WHEN lvl >= {int(s)} THEN d END) AS g_{int(s)}" for s in self.scales)
        # (cast: DuckDB sums integers as HUGEINT, which reaches Arrow as a decimal; Spark as BIGINT)
        seen = ", ".join(f"CAST(sum(CASE WHEN g_{int(s)} <= {int(s)} THEN 1 ELSE 0 END) AS INTEGER) "
                         f"AS seen_{int(s)}" for s in self.scales)
        counts = ", ".join(f"CAST(sum(CASE WHEN g.d <= {int(s)} THEN 1 ELSE 0 END) AS INTEGER) "
                           f"AS {self.count_column(s)}" for s in self.scales)
        if self.unit in ("post", "events"):
            # ev numbers the pair of posts of the closest co-action on the item (post numbers are
            # row numbers, far below 2^32). Per pair and ev the closest gaps: a pair's counts are
            # then its distinct pairs of posts, so the objects of one post met by the objects of
            # one other post are one co-action. (Grouped once here rather than counted DISTINCT
            # per scale: Spark expands each DISTINCT count into a copy of every row.)
            plain_ev = ", post_a * 4294967296 + post_b AS ev"
            min_ev = ", struct_extract(min(struct_pack(d := d, ev := post_a * 4294967296 + post_b)), 'ev') AS ev"
        else:
            plain_ev = min_ev = ""
        # The closest co-action per pair and item: a pair has more than one row of `raw` on an item
        # only when one of its accounts acted on it in two or more of the item-buckets paired (`twice`),
        # so only those rows are grouped (`<prefix>gaps`); the others are read as they are. The two
        # together are `gaps`, a subquery: copying the rows that need no grouping into a table of
        # their own cost a write and a read of most pair rows (co_repost at 10 M posts: 6 s of 22).
        gaps = units = (f"(SELECT a, bb AS b, item, d, {plain_gaps}{plain_ev} FROM {p}raw WHERE NOT multi "
                        f"UNION ALL SELECT * FROM {p}gaps)")
        steps = []
        if self.unit == "post":
            g_min = ", ".join(f"min(g_{int(s)}) AS g_{int(s)}" for s in self.scales)
            units = p + "events"
            steps = [(units, f"SELECT a, b, ev, min(d) AS d, {g_min} FROM {gaps} x GROUP BY a, b, ev")]
        # The tested pairs straight from the grouping: every co-acting pair's counts (36 M pairs for
        # co_repost at 10 M synthetic posts, 0.5 M of them tested) were a table of their own, and
        # spilled past 8 GiB beside the rows they came from.
        derived = int(self.min_shared) <= 2  # `_observed`: the excess's observed side from the pairs
        pairs = (f"SELECT a, b, {counts}{', ' + seen if derived else ''} FROM {units} g GROUP BY a, b "
                 f"HAVING count(*) >= {int(self.min_shared)}")
        having = self.pairs if self.unit != "events" else p + "pair_items"
        steps_pairs = [(having, pairs)]
        if self.unit == "events":
            # Items counted, and per scale the distinct pairs of posts they came from (e_<s>), for the
            # pairs with min_shared items: a pair is tested at a scale only when its items there came
            # from min_shared pairs of posts, as one post pair sharing two hashtags is one act.
            ev_counts = ", ".join(f"CAST(sum(CASE WHEN d <= {int(s)} THEN 1 ELSE 0 END) AS INTEGER) "
                                  f"AS {self.event_column(s)}" for s in self.scales)
            steps_pairs.append((self.pairs, f"""
                SELECT c.a, c.b, {", ".join(f"c.{self.count_column(s)}" for s in self.scales)},
                       {", ".join(f"e.{self.event_column(s)}" for s in self.scales)}
                FROM {p}pair_items c JOIN (
                  SELECT a, b, {ev_counts} FROM (
                    SELECT g.a, g.b, g.ev, min(g.d) AS d FROM {gaps} g
                    JOIN {p}pair_items q ON q.a = g.a AND q.b = g.b
                    GROUP BY g.a, g.b, g.ev) v
                  GROUP BY a, b) e ON e.a = c.a AND e.b = c.b
                WHERE e.{self.event_column(self.top)} >= {int(self.min_shared)}
            """))
        if derived:
            # observed after the table it reads (for events, before `pairs` frees pair_items)
            steps_pairs.insert(1, (self.observed, self._observed(having)))
            excess_rows = [(p + "seen_rows", "SELECT " + ", ".join(
                f"CAST(sum(CASE WHEN g_{int(s)} <= {int(s)} THEN 1 ELSE 0 END) AS BIGINT) AS r_{int(s)}"
                for s in self.scales) + f" FROM {units} g")] if int(self.min_shared) == 2 else []
        else:
            excess_rows = [(self.observed, "SELECT " + ", ".join(
                f"CAST(sum(CASE WHEN seen_{int(s)} >= {k} THEN 1 ELSE 0 END) AS BIGINT) AS o_{int(s)}_{k}"
                for s in self.scales for k in range(1, EXCESS_ITEMS + 1))
                + f" FROM (SELECT a, b, {seen} FROM {units} g GROUP BY a, b) x")]
        paired = " UNION ALL ".join(
            f"SELECT x.account_id, x.item FROM {self.act(s)} x "
            f"JOIN {p}kept n ON n.scale = {int(s)} AND n.item = x.item AND n.b = x.b AND n.multi" for s in levels)
        return [
            # The item-buckets paired at each scale, and whether their item has other buckets paired:
            # an item with one bucket gives each pair at most one co-action, which needs no grouping.
            (p + "kept", f"""
                SELECT scale, item, b, count(*) OVER (PARTITION BY item) > 1 AS multi FROM ({kept_all}) k
            """),
            # The accounts that acted on an item in two or more of its item-buckets paired (at any
            # scale): only their pairs can co-act on the item more than once in `raw`.
            (p + "twice", f"SELECT account_id, item FROM ({paired}) x GROUP BY account_id, item HAVING count(*) > 1"),
            # Item-buckets left crowded at the finest scale examined: not paired, still in the null.
            (p + "open", f"SELECT scale, item, b FROM ({opened}) o"),
            # Every co-acting pair of actions, before keeping the closest per (pair, item). Kept as
            # a table of its own: DuckDB fed straight from these joins into the grouping below
            # does not spill (out of memory at 3 M posts with 1.5 GB).
            (p + "raw", raw),
            # Per pair and item, for the rows that need grouping (`multi`), the gap of the closest
            # co-action (d), and of the closest found at each scale or coarser (g_<s>).
            (p + "gaps", f"SELECT a, bb AS b, item, min(d) AS d, {min_gaps}{min_ev} FROM {p}raw WHERE multi "
                         f"GROUP BY a, bb, item"),
            *steps,
            *excess_rows,
            *steps_pairs,
            # The closest co-action of each tested pair on each item, with both posts: the evidence.
            (self.coactions, f"""
                WITH r AS (SELECT r.* FROM {p}raw r JOIN {self.pairs} t ON t.a = r.a AND t.b = r.bb)
                SELECT a, bb AS b, item, post_a, post_b, t_a, t_b FROM r WHERE NOT multi
                UNION ALL
                SELECT a, bb AS b, item, m.post_a AS post_a, m.post_b AS post_b, m.t_a AS t_a, m.t_b AS t_b FROM (
                  SELECT a, bb, item, min(struct_pack(d := d, t_a := t_a, t_b := t_b,
                                                      post_a := post_a, post_b := post_b)) AS m
                  FROM r WHERE multi GROUP BY a, bb, item) g
            """),
        ]

    def _observed(self, having: str) -> str:
        """The excess's observed side from `having`, the pairs with at least min_shared (1 or 2)
        items, each with its seen_<s>, instead of a grouping of every co-acting pair of its own
        (synchrony at 10 M posts: 7.5 s of its 37). A pair with fewer items than min_shared has
        fewer than min_shared seen: every pair counted at k ≥ min_shared is in `having`. With
        min_shared = 2 the pairs left out have one row each, seen 0 or 1, so those sharing one item
        within s are the rows seen within s (`seen_rows`, r_s) less those of the pairs kept."""
        inner, outer = [], []
        for s in (int(s) for s in self.scales):
            inner += [f"sum(CASE WHEN seen_{s} >= {k} THEN 1 ELSE 0 END) AS c_{s}_{k}"
                      for k in range(1, EXCESS_ITEMS + 1)] + [f"sum(seen_{s}) AS z_{s}"]
            for k in range(1, EXCESS_ITEMS + 1):
                col = f"coalesce(x.c_{s}_{k}, 0)"
                if k == 1 and int(self.min_shared) == 2:
                    col += f" + coalesce(r.r_{s}, 0) - coalesce(x.z_{s}, 0)"
                outer.append(f"CAST({col} AS BIGINT) AS o_{s}_{k}")
        rows = f" CROSS JOIN {self.prefix}seen_rows r" if int(self.min_shared) == 2 else ""
        # (the aggregate gives its one row even when no pair has min_shared items)
        return f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {having}) x{rows}"

    def pair_tables(self) -> list[str]:
        """The join's tables of pair rows (every co-acting pair of actions, then per pair and item,
        per pair, per tested pair and item): the ones that grow with the pairs enumerated."""
        p = self.prefix
        return [p + "raw", p + "gaps", p + "events", p + "pair_items", self.pairs, self.coactions]

    def frees(self, table: str) -> list[str]:
        """The join's tables no later statement reads once `table` is made: dropped at once, for
        the pair rows are the largest tables of a trace (raw: every co-acting pair of actions)."""
        p = self.prefix
        if self.unit == "post":
            return {p + "events": [p + "gaps"], self.pairs: [p + "events"],
                    self.coactions: [p + "raw"]}.get(table, [])
        return {self.pairs: [p + "gaps", p + "pair_items"], self.coactions: [p + "raw"]}.get(table, [])

    def _pair_rows(self, scale: int) -> str:
        """Pairs of actions co-acting within `scale`, from the item-buckets kept at that scale."""
        w, act, p = int(scale), self.act(scale), self.prefix
        # Within one bucket: the closest of the four earliest/latest combinations (earliest with
        # earliest first, so an account acting once per bucket gives the same row as ever).
        same = f"""
            SELECT a, bb, item, multi,
                   CASE WHEN d_ff = d THEN xt WHEN d_fl = d THEN xt WHEN d_lf = d THEN xtl ELSE xtl END AS t_a,
                   CASE WHEN d_ff = d THEN yt WHEN d_fl = d THEN ytl WHEN d_lf = d THEN yt ELSE ytl END AS t_b,
                   CASE WHEN d_ff = d THEN xp WHEN d_fl = d THEN xp WHEN d_lf = d THEN xpl ELSE xpl END AS post_a,
                   CASE WHEN d_ff = d THEN yp WHEN d_fl = d THEN ypl WHEN d_lf = d THEN yp ELSE ypl END AS post_b
            FROM (
              SELECT *, least(d_ff, d_fl, d_lf, d_ll) AS d FROM (
                SELECT x.account_id AS a, y.account_id AS bb, x.item, x.multi OR y.multi AS multi,
                       x.t AS xt, x.t_last AS xtl, x.post_id AS xp, x.post_last AS xpl,
                       y.t AS yt, y.t_last AS ytl, y.post_id AS yp, y.post_last AS ypl,
                       abs(x.t - y.t) AS d_ff, abs(x.t - y.t_last) AS d_fl,
                       abs(x.t_last - y.t) AS d_lf, abs(x.t_last - y.t_last) AS d_ll
                FROM a{w} x JOIN a{w} y ON x.item = y.item AND x.b = y.b
                WHERE x.account_id < y.account_id) s0) s1
        """
        return f"""
            SELECT a, bb, item, post_a, post_b, t_a, t_b, CAST(abs(t_a - t_b) AS INTEGER) AS d, multi,
                   CAST({w} AS INTEGER) AS lvl FROM (
              WITH a{w} AS (
                SELECT x.account_id, x.item, x.b, x.t, x.post_id, x.t_last, x.post_last, tw.item IS NOT NULL AS multi
                FROM {act} x JOIN {p}kept n ON n.scale = {w} AND n.item = x.item AND n.b = x.b
                LEFT JOIN {p}twice tw ON tw.account_id = x.account_id AND tw.item = x.item
              )
              SELECT a, bb, item, post_a, post_b, t_a, t_b, multi FROM ({same}) sb
              UNION ALL
              -- x's latest action in bucket b against y's earliest in b + 1: the closest two,
              -- so the pair co-acts across the boundary exactly when these two are within the scale
              SELECT CASE WHEN x.account_id < y.account_id THEN x.account_id ELSE y.account_id END,
                     CASE WHEN x.account_id < y.account_id THEN y.account_id ELSE x.account_id END,
                     x.item,
                     CASE WHEN x.account_id < y.account_id THEN x.post_last ELSE y.post_id END,
                     CASE WHEN x.account_id < y.account_id THEN y.post_id ELSE x.post_last END,
                     CASE WHEN x.account_id < y.account_id THEN x.t_last ELSE y.t END,
                     CASE WHEN x.account_id < y.account_id THEN y.t ELSE x.t_last END,
                     x.multi OR y.multi
              FROM a{w} x JOIN a{w} y ON x.item = y.item AND y.b = x.b + 1
              WHERE x.account_id <> y.account_id AND y.t - x.t_last <= {w}
            ) r{w}
        """

    # ------------------------------------------------------------------ the null model

    @property
    def max_activity(self) -> str:
        """The most actions any account has in one stratum at any scale (sizes the grid of `null_stats`)."""
        return f"SELECT max(n) AS n FROM {self.activity}"

    @property
    def single(self) -> str:
        """The actions on items with no other action (account_id, t): one row of each scale's actions,
        in bucket t // scale, left out of the act tables (they pair with nothing)."""
        return self.prefix + "single"

    @property
    def actions_sql(self) -> str:
        """The trace's actions at the finest scale (column d): its act table's and the single ones."""
        return (f"SELECT (SELECT count(*) FROM {self.act(self.scales[0])}) + "
                f"(SELECT count(*) FROM {self.single}) AS d")

    def activity_sql(self) -> tuple[str, str]:
        st = int(self.stratum)
        parts = []
        for s in self.scales:
            parts.append(f"SELECT {int(s)} AS scale, account_id, (b * {int(s)}) // {st} AS s, count(*) AS n "
                         f"FROM {self.act(s)} GROUP BY account_id, (b * {int(s)}) // {st}")
            parts.append(f"SELECT {int(s)} AS scale, account_id, ((t // {int(s)}) * {int(s)}) // {st} AS s, "
                         f"count(*) AS n FROM {self.single} GROUP BY account_id, ((t // {int(s)}) * {int(s)}) // {st}")
        return (self.activity, f"SELECT scale, account_id, s, CAST(sum(n) AS BIGINT) AS n FROM ("
                               f"{' UNION ALL '.join(parts)}) u GROUP BY scale, account_id, s")

    def null_stats(self, points: int, parts: int = 1) -> list[tuple[str, str]]:
        """The null model's counts. Per scale, time stratum s (`stratum` seconds) and account: its
        actions n_as. Per scale, item and stratum: P_is, the action pairs on the item within the
        scale (every pair in one bucket, half of those across neighbouring buckets: the share
        within the scale for times spread evenly), and P'_is, the same over the item-buckets the
        join enumerated. Per scale and stratum: D_s, top_s and P_s = Σ_i P_is.

        The pair test's expected co-actions are λ_ab = Σ_s 2 · P_s · n_as · n_bs / D_s²
        (`detect.null`): action pairs, which bound the distinct items. The excess summary needs
        the distinct items themselves, μ_ab = Σ_s Σ_i (1 − exp(−2 · P'_is · n_as · n_bs / D_s²)),
        which depends on a pair only through x = n_as · n_bs in each stratum: `curve` tabulates
        h_s(x) = Σ_i (1 − exp(−2 · x · P'_is / D_s²)) at x = GRID^g (g < `points`, and up to the
        point at or above top_s², top_s the most actions of one account in s: no x there is larger), with the
        Poisson tails t<k> = P(Poisson(h) >= k), and a pair reads it at the grid point at or above
        its x (h grows with x, so μ is never under-estimated by the grid). `activity_sql` first.

        The pair-by-pair sums join each tested pair with both accounts' strata (synchrony at 3 M
        posts: 1.6 M pairs, 131 M rows): with `parts` > 1 they are made in that many pieces (pairs
        split by a + b), each grouped on its own, so that no grouping holds them all (`expected_rows`).
        """
        st, p = int(self.stratum), self.prefix
        grid = ", ".join(f"({g})" for g in range(int(points)))
        tails = ", ".join(f"{poisson_tail_sql('h', k)} AS t{k}" for k in range(1, EXCESS_ITEMS + 1))
        return [
            (p + "ibc", f"""
                SELECT i.scale, i.item, i.b, i.c, o.item IS NULL AS covered
                FROM {self.item_buckets} i LEFT JOIN {p}open o ON o.scale = i.scale AND o.item = i.item AND o.b = i.b
            """),
            (p + "item_strata", f"""
                SELECT scale, item, s, sum(p) AS p, sum(pk) AS pk FROM (
                  SELECT scale, item, (b * scale) // {st} AS s, c * (c - 1) / 2.0 AS p,
                         CASE WHEN covered THEN c * (c - 1) / 2.0 ELSE 0.0 END AS pk
                  FROM {p}ibc
                  UNION ALL
                  SELECT x.scale, x.item, (x.b * x.scale) // {st} AS s, x.c * y.c / 2.0 AS p,
                         CASE WHEN x.covered AND y.covered THEN x.c * y.c / 2.0 ELSE 0.0 END AS pk
                  FROM {p}ibc x JOIN {p}ibc y ON x.scale = y.scale AND x.item = y.item AND y.b = x.b + 1
                ) u GROUP BY scale, item, s
            """),
            (self.strata, f"""
                SELECT a.scale, a.s, a.d, a.top, coalesce(q.p, 0.0) AS p, coalesce(q.pk, 0.0) AS pk FROM (
                  SELECT scale, s, sum(n) AS d, max(n) AS top FROM {self.activity} GROUP BY scale, s) a
                LEFT JOIN (SELECT scale, s, sum(p) AS p, sum(pk) AS pk FROM {p}item_strata GROUP BY scale, s) q
                  ON q.scale = a.scale AND q.s = a.s
            """),
            (p + "curve", f"""
                SELECT scale, s, g, h, {tails} FROM (
                  SELECT v.scale, v.s, g.g, {exact_sum(f'v.items * (1.0 - exp(-2.0 * pow({GRID}, g.g) * v.pk / (t.d * t.d)))')} AS h
                  FROM (SELECT scale, s, pk, count(*) AS items FROM {p}item_strata WHERE pk > 0 GROUP BY scale, s, pk) v
                  JOIN {self.strata} t ON t.scale = v.scale AND t.s = v.s
                  CROSS JOIN (SELECT * FROM (VALUES {grid}) gg(g)) g
                  -- a stratum's x = n_as · n_bs is at most top² (its busiest account's actions): no
                  -- pair reads a point above it, so none is made (most strata are far from the busiest)
                  WHERE g.g <= {self._grid_index('greatest(t.top, 1) * greatest(t.top, 1)')}
                  GROUP BY v.scale, v.s, g.g) c
            """),
        ] + self._expected(int(parts))

    def expected_rows(self) -> str:
        """How many rows the pair-by-pair sums join (column n): each tested pair with its first
        account's strata, a bound on those it shares with the second."""
        return f"""
            SELECT coalesce(sum(x.k), 0) AS n FROM {self.pairs} q
            JOIN (SELECT account_id, count(*) AS k FROM {self.activity} GROUP BY account_id) x ON x.account_id = q.a
        """

    def _expected(self, parts: int) -> list[tuple[str, str]]:
        # λ of every tested pair per scale (the pair test), and μ (the excess summary), with the sum
        # over its strata of each stratum's own tails (see `totals`). Each pair meets its first
        # account's strata in a table of its own first: in one statement DuckDB's join order paired
        # the two accounts' activity on the stratum before the pairs, every two accounts active the
        # same day (synchrony on ira-dev: 19.8 M rows for the 6.2 M the pairs need, 4.6 s).
        p = self.prefix
        tails = ", ".join(f"{exact_sum(f'coalesce(h.t{k}, 0.0)')} AS st{k}" for k in range(1, EXCESS_ITEMS + 1))

        def piece(first: str) -> str:
            return f"""
                SELECT q.a, q.b, q.scale, {exact_sum('2.0 * t.p * q.n * y.n / (t.d * t.d)')} AS expected,
                       {exact_sum('coalesce(h.h, 0.0)')} AS distinct_seen, {tails}
                FROM {first} q
                JOIN {self.activity} y ON y.account_id = q.b AND y.scale = q.scale AND y.s = q.s
                JOIN {self.strata} t ON t.scale = q.scale AND t.s = q.s
                LEFT JOIN {p}curve h ON h.scale = q.scale AND h.s = q.s AND h.g = {self._grid_index('q.n * y.n')}
                GROUP BY q.a, q.b, q.scale
            """

        def first(where: str) -> str:
            return f"""
                SELECT q.a, q.b, x.scale, x.s, x.n FROM (SELECT a, b FROM {self.pairs}{where}) q
                JOIN {self.activity} x ON x.account_id = q.a
            """

        if parts <= 1:
            return [(f"{p}expected_first", first("")), (self.expected, piece(f"{p}expected_first"))]
        steps = []
        for i in range(parts):
            steps += [(f"{p}expected_first", first(f" WHERE (a + b) % {parts} = {i}")),
                      (f"{p}expected_{i}", piece(f"{p}expected_first"))]
        return steps + [(self.expected, " UNION ALL ".join(f"SELECT * FROM {p}expected_{i}" for i in range(parts)))]

    def expected_parts(self, parts: int) -> list[str]:
        """The pieces of `null_stats(points, parts)`, dropped once the whole is made."""
        return [f"{self.prefix}expected_first"] + (
            [f"{self.prefix}expected_{i}" for i in range(parts)] if parts > 1 else [])

    @staticmethod
    def _grid_index(x: str) -> str:
        """The grid point at or above x (x >= 1): ceil(log_GRID x), nudged down by a hair so that
        an exact power of GRID is not rounded up by floating-point error."""
        return f"CAST(ceil(ln({x}) / ln({GRID}) - 1e-9) AS BIGINT)"

    @property
    def totals(self) -> str:
        """Per scale: actions D, accounts, accounts with at least `min_shared` actions (the only
        ones that can be in a tested pair), and over ALL pairs of accounts and each stratum s the
        sums of h_s and of its tails t<k> (from the activity histogram of each stratum: pairs of
        accounts with n and n' actions read h(n·n'))."""
        p = self.prefix
        sums = ", ".join(f"coalesce(l.t{k}, 0.0) AS all_t{k}" for k in range(1, EXCESS_ITEMS + 1))
        class_sums = ", ".join(
            f"{exact_sum(f'CASE WHEN x.n = y.n THEN x.k * (x.k - 1.0) ELSE x.k * y.k END * h.t{k}', 18)} / 2.0 AS t{k}"
            for k in range(1, EXCESS_ITEMS + 1))
        return f"""
            SELECT a.scale, a.d, a.accounts, a.eligible, coalesce(l.mu, 0.0) AS mu_all, {sums} FROM (
              SELECT scale, sum(n) AS d, count(*) AS accounts,
                     sum(CASE WHEN n >= {int(self.min_shared)} THEN 1 ELSE 0 END) AS eligible
              FROM (SELECT scale, account_id, sum(n) AS n FROM {self.activity} GROUP BY scale, account_id) g
              GROUP BY scale) a
            LEFT JOIN (
              -- Σ_(a<b) h(n_a·n_b) = (Σ_(n,n') k_n·k_n'·h(n·n') − Σ_n k_n·h(n²)) / 2, k_n accounts with n actions
              SELECT x.scale, {exact_sum('CASE WHEN x.n = y.n THEN x.k * (x.k - 1.0) ELSE x.k * y.k END * h.h', 18)} / 2.0 AS mu,
                     {class_sums}
              FROM (SELECT scale, s, n, count(*) AS k FROM {self.activity} GROUP BY scale, s, n) x
              JOIN (SELECT scale, s, n, count(*) AS k FROM {self.activity} GROUP BY scale, s, n) y
                ON y.scale = x.scale AND y.s = x.s
              JOIN {p}curve h ON h.scale = x.scale AND h.s = x.s AND h.g = {self._grid_index('x.n * y.n')}
              GROUP BY x.scale) l ON l.scale = a.scale
            ORDER BY a.scale
        """

    def tables(self) -> list[str]:
        p = self.prefix
        return ([t for t, _ in self.prepare]
                + [self.cover(s) for s in self.scales]
                + [p + "kept", p + "twice", p + "open", p + "raw", p + "gaps", p + "seen_rows"]
                + ([p + "events"] if self.unit == "post" else [])
                + [self.coactions, self.observed, p + "pair_items", self.pairs,
                   self.activity, p + "ibc", p + "item_strata", self.strata, p + "curve", self.expected])


def window_sql(trace: str, actions_sql: str, scales: list[int], min_shared: int, stratum: int,
               unit: str = "item") -> WindowSql:
    """SQL that turns `actions_sql` (account_id, item, t, post_id) into co-actions and pairs at
    `scales` (ascending, each dividing the next), with the null model's strata of `stratum` s;
    `unit` is what a pair's shared count counts (`WindowSql.unit`)."""
    if unit not in ("item", "post", "events"):
        raise ValueError(f"unit must be 'item', 'post' or 'events', not {unit!r}")
    scales = tuple(int(s) for s in scales)
    if not scales or any(s <= 0 for s in scales) or any(b % a for a, b in zip(scales, scales[1:])):
        raise ValueError(f"scales must be positive, ascending and each divide the next: {scales}")
    p = f"_tr_{trace}_"
    src = p + "src"
    first = scales[0]
    prepare = [
        # The trace's actions are materialised as they come, unfiltered: a filter on a computed
        # item (normalised text, an extracted domain) in the same query makes DuckDB evaluate
        # the expression once for the filter and again for the result.
        (src, f"SELECT account_id, item, t, post_id FROM ({actions_sql}) s WHERE account_id IS NOT NULL AND item IS NOT NULL"),
        # The join and its groupings run on numbers (32-bit: half the bytes of the pair rows, which are
        # what spills on dense data): accounts, items and posts are numbered in the
        # order of their ids (so a < b and the tie rules mean what they meant on the ids) and
        # named again at the end (`names`). Grouping millions of pair rows on two account ids and
        # an item (a URL, a text hash) as strings took three to four times as long.
        (p + "ids", f"SELECT account_id, CAST(row_number() OVER (ORDER BY account_id) AS INTEGER) AS n FROM "
                    f"(SELECT DISTINCT account_id FROM {src}) x"),
        # Items with one action co-act with nothing: they count in the null model's activity only
        # (`single`), not in the join's tables, whose items and posts are numbered without them (on
        # ira-dev 95 % of co_link's items, two thirds of co_repost's). Numbers keep the order of the
        # ids among those numbered, which is all the tie rules use.
        (p + "items", f"SELECT item, CAST(row_number() OVER (ORDER BY item) AS INTEGER) AS n FROM "
                      f"(SELECT item FROM {src} GROUP BY item HAVING count(*) > 1) x"),
        (p + "posts", f"SELECT post_id, CAST(row_number() OVER (ORDER BY post_id) AS INTEGER) AS n FROM "
                      f"(SELECT DISTINCT s.post_id FROM {src} s JOIN {p}items it ON it.item = s.item) x"),
        (p + "single", f"SELECT i.n AS account_id, s.t FROM {src} s JOIN {p}ids i ON i.account_id = s.account_id "
                       f"LEFT JOIN {p}items it ON it.item = s.item WHERE it.item IS NULL"),
        (f"{p}act{first}", f"""
            SELECT account_id, item, b, {_decode('m', 't', 'post_id')}, {_decode('l', 't_last', 'post_last')} FROM (
              SELECT i.n AS account_id, it.n AS item, s.t // {first} AS b,
                     {_first('s.t', 'q.n')} AS m, {_last('s.t', 'q.n')} AS l
              FROM {src} s JOIN {p}ids i ON i.account_id = s.account_id JOIN {p}items it ON it.item = s.item
              JOIN {p}posts q ON q.post_id = s.post_id
              GROUP BY i.n, it.n, s.t // {first}) g
        """),
    ]
    # Each coarser scale from the next finer one: its buckets are unions of whole finer buckets.
    for fine, coarse in zip(scales, scales[1:]):
        r = coarse // fine
        prepare.append((f"{p}act{coarse}", f"""
            SELECT account_id, item, b, {_decode('m', 't', 'post_id')}, {_decode('l', 't_last', 'post_last')} FROM (
              SELECT account_id, item, b // {r} AS b, {_first()} AS m, {_last('t_last', 'post_last')} AS l
              FROM {p}act{fine} GROUP BY account_id, item, b // {r}) g
        """))
    prepare.append((p + "item_buckets", " UNION ALL ".join(
        f"SELECT {s} AS scale, item, b, count(*) AS c FROM {p}act{s} GROUP BY item, b" for s in scales)))
    return WindowSql(p, scales, int(min_shared), int(stratum), prepare, unit)


def bucket_cap(sizes: list[tuple[int, int]], actions: int, max_bucket: int, pair_budget: float) -> int:
    """The largest bucket size to enumerate at one scale: `max_bucket`, or less when the action
    pairs of the buckets kept, Σ c·(c−1)/2 over them (about as many again across neighbouring
    buckets), would exceed `pair_budget` per action. The most crowded buckets go first: their pairs
    are the least telling (a bucket of c accounts links each to c − 1 others) and the most costly
    (c² of them), and what is left out still counts in the null. `sizes` is (c, number of buckets
    of that size); the cap is a pure function of the data."""
    return cap_within([(int(c), int(n) * c * (c - 1) / 2.0) for c, n in sizes], actions, max_bucket, pair_budget)


def cap_within(deltas: list[tuple[int, float]], actions: int, max_bucket: int, pair_budget: float) -> int:
    """The largest cap c* ≤ `max_bucket` whose work fits `pair_budget` action pairs per action,
    given the work's change at each cap: `deltas` is (c, pairs), the pairs enumerated grow by
    `pairs` when the cap reaches c (negative when a bucket of c actions, now kept whole, replaces
    its sub-buckets: `WindowSql.cap_deltas`). Every cap up to c* fits."""
    budget = float(pair_budget) * max(int(actions), 1)
    by_cap: dict[int, float] = {}
    for c, pairs in deltas:
        by_cap[int(c)] = by_cap.get(int(c), 0.0) + float(pairs)
    spent = 0.0
    for c in sorted(by_cap):
        if c > max_bucket:
            break
        spent += by_cap[c]
        if spent > budget:
            return max(int(c) - 1, 1)  # every cap below c fits
    return int(max_bucket)
