"""Per-account behavioural features, computed in DuckDB SQL over `posts` and `accounts`.

Each feature is a plain number an analyst can check by hand (see docs/signals.md). They are
cached in the table `account_signals` for the detection run, keyed (store/catalogue.py) on the run,
the store's input and the settings they use, so a changed store is recomputed and an unchanged one
is read back. Bump the table's version in the catalogue when a feature's definition changes.

`FEATURES` lists them with the weight of the default score (`trollscope.enrich.signals.prior`).
"""

from __future__ import annotations

from dataclasses import dataclass

from trollscope.store import Store, catalogue
from trollscope.store.sql import literal
from trollscope.store import run as runs
from trollscope.store.run import Run
from trollscope.detect.incremental import text_hashes
from trollscope.detect.traces.base import NORM_TEXT
from trollscope.enrich.signals import incremental as inc

@dataclass(frozen=True)
class Feature:
    name: str
    weight: float  # weight in the default heuristic score; 0 = shown, not scored
    help: str


FEATURES: tuple[Feature, ...] = (
    Feature("posts", 0.0, "Posts by the account in the store."),
    Feature("operator_hours_share", 0.5,
            "Share of posts made Monday–Friday during the operator's office hours in the operator's time "
            "zone (settings `operator_timezone`, `operator_hours`; default Europe/Moscow 09:00–18:00, the "
            "IRA's working day)."),
    Feature("apparent_utc_offset", 0.0,
            "Estimated UTC offset of the account's own day, in hours: the quietest 5-hour stretch of its "
            "posting (hour of day, UTC) is taken as 02:00–06:00 local time. Needs 24 posts; else empty."),
    Feature("local_office_hours_share", 0.25,
            "Share of posts made Monday–Friday 09:00–18:00 in the account's apparent time zone: people "
            "post evenings and weekends, shift workers post on the clock."),
    Feature("repost_share", 1.0, "Share of the account's posts that are reposts."),
    Feature("duplicate_text_share", 1.0,
            "Share of the account's own (non-repost) posts whose normalised text (no `RT @x:`, links, "
            "case, spacing; at least 10 characters) was also posted by another account."),
    Feature("burstiness", 0.5,
            "Goh–Barabási burstiness B = (σ − μ)/(σ + μ) of the gaps between consecutive posts: −1 for a "
            "clock, 0 for a Poisson process, towards 1 for bursts. Needs 3 posts."),
    Feature("hashtag_concentration", 0.25,
            "1 − normalised entropy of the account's hashtag use (1: always the same hashtag; 0: "
            "evenly spread). Needs 3 hashtag uses."),
    Feature("hashtags_per_post", 0.25, "Mean number of hashtags per post."),
    Feature("activity_per_follower", 0.5,
            "log10((posts + 1) / (followers + 1)), posts being the platform's count when known, else the "
            "store's; empty when the source gives no follower count."),
    Feature("posts_per_day", 0.25, "log10 of posts per day between the account's first and last post (at least one day)."),
    Feature("handle_digit_run", 0.25, "Length of the longest run of digits in the handle."),
    Feature("handle_name_digits", 0.25,
            "1 when the handle is letters followed by two or more digits (e.g. `maria19847`), a pattern "
            "of bulk-registered accounts; else 0."),
    Feature("handle_length", 0.0, "Characters in the handle."),
    Feature("handle_entropy", 0.25, "Shannon entropy of the handle's characters, in bits per character."),
    Feature("campaign_strength", 2.0,
            "ln(1 + the account's summed edge strength) when it belongs to a detected campaign, 0 when "
            "detection ran and it does not, empty before `detect`."),
)

NAMES = tuple(f.name for f in FEATURES)
WEIGHTS = {f.name: f.weight for f in FEATURES}
SCORED = tuple(f.name for f in FEATURES if f.weight)


def _hours(spec: str) -> tuple[int, int]:
    start, _, end = str(spec).partition("-")
    lo, hi = int(start), int(end)
    if not (0 <= lo < hi <= 24):
        raise ValueError(f"operator_hours must be like 09-18, got {spec!r}")
    return lo, hi


def _own_texts(hashes: str | None, complete: bool = False) -> str:
    """CTEs ending in `own`: each authored post's account and normalised-text hash (texts of 10
    characters or more). With `hashes` (a SELECT of post_id, account_id, th, chars made by
    near-duplicate text for the run), its posts are read from there and only the others normalised:
    the regular expressions over every authored text were most of this table's time (7 of 9 s on
    ira-dev). `complete`: `hashes` holds every authored post's text (the posts are the run's), so
    none is looked for outside it (that anti join, which carries every text, took 2 s on ira-dev),
    and their accounts are the hashes' own (the join with the posts for them: 1.8 s of 11.8 at 10 M
    posts); otherwise only the hashes of posts still in the store count."""
    def norm(src: str) -> str:  # (a function, not str.format: the normalisation's patterns hold braces)
        return f"SELECT account_id, md5(n) AS h FROM (SELECT account_id, {NORM_TEXT} AS n FROM {src}) WHERE length(n) >= 10"

    if hashes is None:
        return "own AS (" + norm("posts WHERE kind <> 'repost' AND text IS NOT NULL") + ")"
    if complete:
        return f"own AS (SELECT account_id, th AS h FROM ({hashes}) k WHERE chars >= 10)"
    hashed = f"SELECT p.account_id, k.th AS h FROM posts p JOIN ({hashes}) k ON k.post_id = p.post_id WHERE k.chars >= 10"
    # MATERIALIZED: otherwise the optimiser pushes the length test (the regular expressions) below
    # the anti join, into the scan of every post
    return f"""rest AS MATERIALIZED (
      SELECT p.account_id, p.text FROM posts p ANTI JOIN ({hashes}) k ON k.post_id = p.post_id
      WHERE p.kind <> 'repost' AND p.text IS NOT NULL),
    own AS (
      -- (the hashes are of authored posts with a text only)
      {hashed}
      UNION ALL {norm('rest')})"""


def dup_sql(own: str) -> str:
    """One SELECT of (account_id, own_texts, shared_texts, dup_share) for every account with own texts
    (`own`: account_id, h): its own texts, those another account posted too, and their ratio. The
    counts are kept for an update, which adds to them (enrich/signals/incremental.py)."""
    return f"""
    SELECT o.account_id, count(*) AS own_texts, count(s.h) AS shared_texts,
           count(s.h)::DOUBLE / count(*) AS dup_share
    FROM {own} o
    LEFT JOIN (SELECT h FROM {own} GROUP BY h HAVING count(DISTINCT account_id) >= 2) s USING (h)
    GROUP BY o.account_id
    """


def account_features_sql(cfg: dict, hashes: str | None = None, complete: bool = False,
                         only: str | None = None, dup: str | None = None) -> str:
    """One SELECT giving every feature but the campaign's per account that has posts (`hashes`,
    `complete`: see `_own_texts`), or per such account in the table `only`, whose duplicate shares
    are then given (`dup`: a table of `dup_sql`'s columns). Only the duplicate share reads other
    accounts' posts; the other features read the account's own posts and row of `accounts`. Two
    counts behind the duplicate share come last, `own_texts` and `shared_texts` (see `with_campaign`)."""
    if (only is None) != (dup is None):
        raise ValueError("`only` and `dup` go together")
    tz = literal(str(cfg["operator_timezone"]))
    lo, hi = _hours(cfg["operator_hours"])
    mine = "" if only is None else f" AND account_id IN (SELECT account_id FROM {only})"
    # p is read by five of the CTEs below: NOT MATERIALIZED has each scan the columns of `posts` it
    # needs instead of one copy of them all (hashtag lists included) held for the query, which
    # spilled 3.6 GB at 10 M synthetic posts with the default memory: 15.3 -> 11.7 s there, the same rows
    return f"""
    WITH p AS NOT MATERIALIZED (
      SELECT account_id, created_at, kind, hashtags,
             CAST(created_at AS TIMESTAMP) AS utc,
             timezone({tz}, created_at) AS op
      FROM posts WHERE account_id IS NOT NULL AND created_at IS NOT NULL{mine}
    ),
    base AS (
      SELECT account_id, count(*) AS posts,
             avg(CASE WHEN isodow(op) <= 5 AND hour(op) >= {lo} AND hour(op) < {hi} THEN 1.0 ELSE 0.0 END) AS op_share,
             avg(CASE WHEN kind = 'repost' THEN 1.0 ELSE 0.0 END) AS repost_share,
             avg(coalesce(len(hashtags), 0)) AS hashtags_per_post,
             log10(count(*) / greatest(1.0, (epoch(max(created_at)) - epoch(min(created_at))) / 86400.0)) AS ppd
      FROM p GROUP BY account_id
    ),
    hourly AS (  -- posts per UTC hour of the day, as a list of 24 counts (accounts of 24 posts or more)
      SELECT b.account_id, [coalesce(c.n[i], 0) FOR i IN range(1, 25)] AS c
      FROM (SELECT account_id FROM base WHERE posts >= 24) b
      LEFT JOIN (SELECT account_id, map_from_entries(list(struct_pack(k := hr + 1, v := n))) AS n
                 FROM (SELECT account_id, hour(utc) AS hr, count(*) AS n FROM p GROUP BY ALL) GROUP BY account_id) c
        ON c.account_id = b.account_id
    ),
    trough AS (
      -- posts in the 5 hours centred on each hour, circularly, times 100 plus the hour: the least is
      -- the quietest hour, the earliest of a tie (list functions: the 24 x 24 self-join of each
      -- account's hours this replaces took 1.3 s more at 10 M posts)
      SELECT account_id, list_position(k, list_min(k)) - 1 AS trough_hr FROM (
        SELECT account_id, [(c[(i + 22) % 24 + 1] + c[(i + 23) % 24 + 1] + c[i + 1] + c[(i + 1) % 24 + 1]
                             + c[(i + 2) % 24 + 1]) * 100 + i FOR i IN range(24)] AS k
        FROM hourly)
    ),
    tz AS (  -- the trough's centre is taken as 04:00 local time
      SELECT account_id, CASE WHEN o > 12 THEN o - 24 ELSE o END AS offset_h
      FROM (SELECT account_id, ((4 - trough_hr) % 24 + 24) % 24 AS o FROM trough)
    ),
    local AS (
      SELECT p.account_id,
             avg(CASE WHEN isodow(p.utc + to_hours(tz.offset_h)) <= 5
                       AND hour(p.utc + to_hours(tz.offset_h)) BETWEEN 9 AND 17 THEN 1.0 ELSE 0.0 END) AS office
      FROM p JOIN tz USING (account_id) GROUP BY p.account_id
    ),
    gaps AS (  -- in microseconds: exact integers, so the moments below are too
      SELECT account_id, g FROM (
        SELECT account_id, epoch_us(created_at) - lag(epoch_us(created_at)) OVER (PARTITION BY account_id ORDER BY created_at) AS g
        FROM p) WHERE g IS NOT NULL
    ),
    burst AS (
      -- σ from exact integer sums, not stddev_pop: a float aggregate's last bits follow the order rows
      -- arrive in, which depends on the other accounts in the query; an update computes a few accounts
      -- alone and must get a full run's numbers (enrich/signals/incremental.py)
      SELECT account_id, CASE WHEN n >= 2 AND sd + mu > 0 THEN (sd - mu) / (sd + mu) END AS b
      FROM (SELECT account_id, count(*) AS n, sum(g)::DOUBLE / count(*) AS mu,
                   sqrt((count(*) * sum(g::HUGEINT * g) - sum(g::HUGEINT) * sum(g::HUGEINT))::DOUBLE) / count(*) AS sd
            FROM gaps GROUP BY account_id)
    ),
    {"" if dup else _own_texts(hashes, complete) + ","}
    dup AS ({dup_sql("own") if dup is None else f"SELECT * FROM {dup}"}),
    tags AS (
      SELECT account_id, tag, count(*) AS n FROM (SELECT account_id, unnest(hashtags) AS tag FROM p)
      WHERE tag IS NOT NULL AND tag <> '' GROUP BY ALL
    ),
    tag_conc AS (
      SELECT account_id,
             CASE WHEN count(*) = 1 THEN 1.0
                  ELSE 1.0 - (-sum(n / tot * ln(n / tot) ORDER BY tag)) / ln(count(*)) END AS conc
      FROM (SELECT *, sum(n) OVER (PARTITION BY account_id) AS tot FROM tags)
      WHERE tot >= 3 GROUP BY account_id
    ),
    chars AS (
      SELECT account_id, ch, count(*) AS n FROM (
        SELECT account_id, unnest(string_split(lower(handle), '')) AS ch FROM accounts WHERE handle <> ''{mine})
      GROUP BY ALL
    ),
    handle_h AS (
      SELECT account_id, -sum(n / tot * log2(n / tot) ORDER BY ch) AS ent  -- in one order (see burst)
      FROM (SELECT *, sum(n) OVER (PARTITION BY account_id) AS tot FROM chars) GROUP BY account_id
    )
    SELECT b.account_id, a.handle,
           b.posts::DOUBLE AS posts,
           b.op_share AS operator_hours_share,
           tz.offset_h::DOUBLE AS apparent_utc_offset,
           l.office AS local_office_hours_share,
           b.repost_share,
           coalesce(d.dup_share, 0.0) AS duplicate_text_share,
           bu.b AS burstiness,
           tc.conc AS hashtag_concentration,
           b.hashtags_per_post,
           CASE WHEN a.followers IS NOT NULL
                THEN log10((coalesce(a.post_count, b.posts) + 1.0) / (a.followers + 1.0)) END AS activity_per_follower,
           b.ppd AS posts_per_day,
           coalesce(list_max(list_transform(regexp_extract_all(coalesce(a.handle, ''), '[0-9]+'), lambda x: length(x))), 0)::DOUBLE
             AS handle_digit_run,
           CASE WHEN regexp_full_match(coalesce(a.handle, ''), '[A-Za-z]+_?[0-9]{{2,}}') THEN 1.0 ELSE 0.0 END
             AS handle_name_digits,
           length(coalesce(a.handle, ''))::DOUBLE AS handle_length,
           coalesce(hh.ent, 0.0) AS handle_entropy,
           coalesce(d.own_texts, 0) AS own_texts,
           coalesce(d.shared_texts, 0) AS shared_texts
    FROM base b
    LEFT JOIN accounts a USING (account_id)
    LEFT JOIN tz USING (account_id)
    LEFT JOIN local l USING (account_id)
    LEFT JOIN burst bu USING (account_id)
    LEFT JOIN dup d USING (account_id)
    LEFT JOIN tag_conc tc USING (account_id)
    LEFT JOIN handle_h hh USING (account_id)
    """


def with_campaign(features: str, has_detect: bool) -> str:
    """`features` (a table or parenthesised SELECT of `account_features_sql`'s columns) with the
    campaign column: the run's campaigns, read again whole each time (one join over the members)."""
    cols = "f.* EXCLUDE (own_texts, shared_texts)"  # kept for an update, not shown
    if not has_detect:
        return f"SELECT {cols}, NULL::DOUBLE AS campaign_strength FROM {features} f"
    return f"""
    SELECT {cols}, coalesce(cm.cs, 0.0) AS campaign_strength FROM {features} f
    LEFT JOIN (SELECT account_id, ln(1 + coalesce(strength, 0)) AS cs FROM campaign_members) cm
      ON cm.account_id = f.account_id
    """


def features_sql(cfg: dict, has_detect: bool, hashes: str | None = None) -> str:
    """One SELECT giving every feature per account that has posts (`hashes`: see `_own_texts`)."""
    return with_campaign(f"({account_features_sql(cfg, hashes)})", has_detect)


def scored_sql(features_table: str) -> str:
    """Add the default score: each scored feature standardised over all accounts (z clipped to
    ±3; missing = 0, the mean), times its fixed weight; the score is their sum."""
    parts, contrib = [], []
    for name in SCORED:
        # greatest/least skip NULLs, so a missing value is tested first
        z = (f"CASE WHEN {name} IS NULL OR stddev_pop({name}) OVER () = 0 THEN 0.0 ELSE "
             f"greatest(-3.0, least(3.0, ({name} - avg({name}) OVER ()) / stddev_pop({name}) OVER ())) END")
        parts.append(f"round({WEIGHTS[name]} * {z}, 4) AS c_{name}")
        contrib.append(f"c_{name}")
    return f"""
    SELECT *, round({' + '.join(contrib)}, 4) AS score FROM (
      SELECT *, {', '.join(parts)} FROM {features_table})
    ORDER BY score DESC, account_id
    """


@catalogue.produces("account_signals")
def build(store: Store, run: Run, create: str) -> None:
    """`account_signals` for `run`: its settings, its campaigns (none before detection). When `run`
    updated the run whose features are kept, only the accounts the new posts can change are computed
    again (enrich/signals/incremental.py); the table is the same as computed whole."""
    con = store.con
    cfg = run.config()
    has_detect = bool(run.run_id) and store.has_table("campaign_members")
    hashes = text_hashes(store, run.run_id) if run.run_id else None
    unscored = tuple(n for n in NAMES if n != "campaign_strength") + ("own_texts", "shared_texts")
    # the run's hashes hold every authored text while the posts are the run's (detect.traces.neardup)
    exact = inc.exact(store, run)
    complete = hashes is not None and exact
    try:
        update = inc.plan(store, run, cfg, unscored, hashes, exact)
        if update.incremental:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _sig_dup AS {inc.dup_update_sql()}")
            con.execute("CREATE OR REPLACE TEMP TABLE _sig_fresh AS "
                        f"{account_features_sql(cfg, only=inc.CHANGED, dup='_sig_dup')}")
            features = inc.updated_sql("_sig_fresh", "_sig_dup")
        else:
            features = account_features_sql(cfg, hashes, complete)
        # in one order, so the standardisation's sums over all accounts are the same in both ways
        con.execute(f"CREATE OR REPLACE TEMP TABLE _sig_features AS SELECT * FROM ({features}) ORDER BY account_id")
        con.execute(f"{create} account_signals AS WITH f AS ({with_campaign('_sig_features', has_detect)}) "
                    f"{scored_sql('f')}")
        if exact:  # what is kept must be true of the posts of the run it names
            inc.keep(store, run, cfg, unscored, "_sig_features", update)
    finally:
        inc.cleanup(store)


def ensure(store: Store, run: Run | None = None) -> str:
    """Make sure `account_signals` is current for `run` (the newest run by default); return the
    name of the table to read. In a read-only store it is built as a temporary table of this connection."""
    return store.derived("account_signals", run or runs.current(store))
