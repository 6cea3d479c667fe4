"""What a trace is: a pure function from the posts table to the actions it counts.

Every trace has the same shape. It names, for each post, the *item* the account acted on (the
reposted post, a URL, a hashtag, a text cluster, ...) and when; the shared window join
(`detect.window`) turns actions into account pairs with their evidence, and `detect.null`
judges each pair against the null model. Adding a trace is adding one `Trace` to `TRACES`.

The SQL is written once, in DuckDB's dialect, using only what `sqlglot` carries over to Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from trollscope.store.sql import domain

# Link shorteners carry no domain information: a domain-level co-link on them means nothing.
# youtu.be links are stored as youtube.com watch URLs (ingest folds a page's names into one), so
# youtube.com stands in for youtu.be: any two videos are not one site being pushed.
SHORTENERS = (
    "t.co", "bit.ly", "ow.ly", "goo.gl", "tinyurl.com", "dlvr.it", "ift.tt", "buff.ly", "fb.me",
    "trib.al", "j.mp", "is.gd", "lnkd.in", "youtu.be", "youtube.com", "tiny.cc", "shar.es", "po.st", "wp.me",
)

# A post's text with what differs between copies of one message removed: the `RT @user:`
# prefix, links (shorteners give each copy its own), mentions at the start, case and spacing.
# Spacing: every run of whitespace becomes one space. The pattern matches only the runs that are not
# one space already (two or more characters, or one tab or line break): matching every single space
# of every text, to put the same space back, made this a third of the normalisation's time (1M IRA
# texts: 4.2 s -> 2.6 s, the same text for every one of them).
NORM_TEXT = (
    "trim(regexp_replace(regexp_replace(regexp_replace(lower(text), "
    "'^rt @[a-z0-9_]+:?[\\t\\n\\f\\r ]*', ''), 'https?://[^\\t\\n\\f\\r ]+', ' ', 'g'), "
    "'[\\t\\n\\f\\r ]{2,}|[\\t\\n\\f\\r]', ' ', 'g'))"
)


@dataclass(frozen=True)
class Trace:
    """One behavioural trace.

    `actions(settings, window)` returns SQL over `posts` giving columns account_id, item, t
    (epoch seconds), post_id; `window` is the trace's window Δ in seconds (synchrony's item, the
    time bin, is Δ wide; the other traces ignore it).
    """

    name: str
    description: str
    actions: Callable[[dict, int], str]
    item_label: str  # what the item is, for evidence tables
    needs: tuple[str, ...] = ()  # tables other than posts that the SQL reads
    # Topic-level traces (hashtags, domains, mentions) coordinate over hours, not seconds: their
    # window is `slow_window` instead of Δ. The null model uses the same window, so a longer one
    # does not by itself make pairs significant.
    slow: bool = False
    # Longest time stratum of the null model for this trace, in seconds (0: the `stratum`
    # setting). Synchrony keeps each account's activity day by day, so what counts is alignment
    # within Δ finer than the days each account was active anyway (a jitter null). Its item, the
    # time bin, is not chosen by the account: light accounts who post mostly when news breaks
    # land in the same busy bins, and a null spreading their few posts over the whole month
    # cannot see that. (Strata of an hour were measured too: on the IRA file, made of trolls
    # only, the farm's own co-activity then fills the strata and recall fell from 0.87 to 0.82.)
    null_stratum: int = 0
    # Whether the group test (detect.groups) runs on this trace. Not on synchrony: its item is the
    # clock's own bin, which every account active at the time shares.
    group_test: bool = True
    # Longest time scale this trace is tested at by default, in seconds (0: `slow_window`).
    # Synchrony's item is a bin of that width: bins of minutes and longer hold most of a busy
    # crowd, and posting in the same hour is no evidence of anything.
    max_scale: int = 0
    # Whether the actions keep one row per account and item, the earliest (synchrony: its post in a
    # bin): an incremental run then takes the earliest of the kept action and the new posts' ones.
    earliest_per_item: bool = False
    # What a pair's shared count counts (`detect.window.WindowSql.unit`): distinct items; distinct
    # pairs of co-acting posts where one post acts on several items of one event (co_object); or
    # items, tested only where they came from `min_shared` distinct pairs of posts ("events": two
    # posts sharing two hashtags, mentions, links or domains are one act). Counted by item alone,
    # one post pair carrying two common hashtags passed `min_shared` by itself, and was all the
    # evidence of every crowd account flagged on bench/synth.py at 1 M posts (two hashtags of one
    # news story in the same minute) and of one flagged on #GOPDebate (one tweet's three mentions
    # copied within the second). Counting post pairs instead (against a λ that counts each item)
    # cost power: a copy-paste ring's two hashtags a post fell from q ≤ 0.01 to 0.04.
    unit: str = "item"


def epoch_t() -> str:
    """A post's time as whole epoch seconds (SQL over `posts`)."""
    return "CAST(epoch(created_at) AS BIGINT)"


def _co_repost(settings: dict, window: int) -> str:
    # Where the source gives the reposted post's id, that is the item; where it does not (the
    # IRA CSV), a repost carries the original text, so identical normalised text is the item.
    # Texts shorter than 10 characters give no item (NULL, dropped by the window join): a test
    # in the projection, not a WHERE, because a filter on the normalised text makes DuckDB
    # compute the regular expressions twice (half of this trace's time on the IRA file). Each
    # distinct text is normalised once: reposts of one post repeat its text (ira-dev: 629,577
    # reposts, 449,300 texts; 1.32 s -> 0.88 s).
    return f"""
        SELECT p.account_id, coalesce(p.ref_post_id, n.item) AS item, {epoch_t()} AS t, p.post_id
        FROM posts p
        LEFT JOIN (
          SELECT text, CASE WHEN length({NORM_TEXT}) >= 10 THEN 'text:' || md5({NORM_TEXT}) END AS item
          FROM (SELECT DISTINCT text FROM posts WHERE kind = 'repost' AND ref_post_id IS NULL) d
        ) n ON p.ref_post_id IS NULL AND n.text = p.text
        WHERE p.kind = 'repost'
    """


def _unnested(column: str, where: str = "kind <> 'repost'") -> str:
    return f"""
        SELECT account_id, item, t, post_id FROM (
          SELECT account_id, unnest({column}) AS item, {epoch_t()} AS t, post_id
          FROM posts WHERE {where} AND array_length({column}) > 0)
        WHERE item IS NOT NULL AND item <> ''
    """


def _co_link(settings: dict, window: int) -> str:
    return _unnested("urls")


def _co_domain(settings: dict, window: int) -> str:
    shorteners = ", ".join(f"'{d}'" for d in SHORTENERS)
    return f"""
        SELECT account_id, item, min(t) AS t, min_by(post_id, t) AS post_id FROM (
          SELECT account_id, {domain('u')} AS item, t, post_id FROM (
            SELECT account_id, unnest(urls) AS u, {epoch_t()} AS t, post_id
            FROM posts WHERE kind <> 'repost' AND array_length(urls) > 0))
        WHERE item <> '' AND item NOT IN ({shorteners})
        GROUP BY account_id, item, post_id
    """


def _co_hashtag(settings: dict, window: int) -> str:
    return _unnested("hashtags")


def _hashtag_sequence(settings: dict, window: int) -> str:
    return f"""
        SELECT account_id, array_to_string(list_sort(list_distinct(hashtags)), ' ') AS item,
               {epoch_t()} AS t, post_id
        FROM posts WHERE kind <> 'repost' AND array_length(list_distinct(hashtags)) >= 2
    """


def _co_mention(settings: dict, window: int) -> str:
    return _unnested("mentions", "kind IN ('post', 'quote')")


def _co_reply(settings: dict, window: int) -> str:
    return f"""
        SELECT account_id, coalesce(ref_account, ref_post_id) AS item, {epoch_t()} AS t, post_id
        FROM posts WHERE kind = 'reply' AND coalesce(ref_account, ref_post_id) IS NOT NULL
    """


def _co_object(settings: dict, window: int) -> str:
    # `object_clusters` (object, cluster) comes from traces.objects: near-identical image hashes.
    from trollscope.detect.traces.objects import phash_item

    return f"""
        SELECT o.account_id, coalesce(c.cluster, o.item) AS item, o.t, o.post_id FROM (
          SELECT account_id, {phash_item('obj')} AS item, t, post_id FROM (
            SELECT account_id, unnest(objects) AS obj, {epoch_t()} AS t, post_id
            FROM posts WHERE kind <> 'repost' AND array_length(objects) > 0)
          WHERE obj IS NOT NULL AND obj <> '') o
        LEFT JOIN object_clusters c ON c.object = o.item
    """


def _near_duplicate(settings: dict, window: int) -> str:
    # `text_clusters` (post_id, cluster) comes from traces.neardup, computed before the traces.
    return f"""
        SELECT p.account_id, 'ndup:' || c.cluster AS item, {epoch_t()} AS t, p.post_id
        FROM posts p JOIN text_clusters c ON c.post_id = p.post_id
        WHERE p.kind <> 'repost'
    """


def _synchrony(settings: dict, window: int) -> str:
    # The item is the time bin itself: two accounts co-act when both post in the same bin.
    # The earliest post of the bin, ties by post id (a struct min, as in detect.window).
    w = int(window)
    return f"""
        SELECT account_id, item, m.t AS t, m.post_id AS post_id FROM (
          SELECT account_id, 'bin:' || CAST({epoch_t()} // {w} AS VARCHAR) AS item,
                 min(struct_pack(t := {epoch_t()}, post_id := post_id)) AS m
          FROM posts GROUP BY account_id, {epoch_t()} // {w}) g
    """


TRACES: tuple[Trace, ...] = (
    Trace("co_repost", "Reposted the same post (or, without ids, the same text) within Δ.", _co_repost,
          "reposted post"),
    Trace("co_link", "Shared the same normalised URL within Δ.", _co_link, "URL", unit="events"),
    Trace("co_object", "Posted the same media or other object (image hash, video, sound, any named type) "
          "within Δ; 64-bit image hashes also match within `phash_distance` bits.", _co_object,
          "object", needs=("object_clusters",), unit="post"),
    Trace("co_domain", "Shared links to the same domain (shorteners excluded) within Δ.", _co_domain, "domain", slow=True,
          unit="events"),
    Trace("co_hashtag", "Used the same hashtag within Δ; rare hashtags weigh more.", _co_hashtag, "hashtag", slow=True,
          unit="events"),
    Trace("hashtag_sequence", "Used the same set of two or more hashtags within Δ.", _hashtag_sequence,
          "hashtag set", slow=True),
    Trace("near_duplicate", "Authored near-identical text (MinHash of word shingles, verified) within Δ.",
          _near_duplicate, "text cluster", needs=("text_clusters",)),
    Trace("co_mention", "Mentioned the same account within Δ.", _co_mention, "mentioned account", slow=True,
          unit="events"),
    Trace("co_reply", "Replied to the same account within Δ.", _co_reply, "replied-to account", slow=True),
    Trace("synchrony", "Posted in the same time bin of width Δ, more often than activity day by day explains.",
          _synchrony, "time bin", null_stratum=86400, group_test=False, max_scale=60,
          earliest_per_item=True),
)

BY_NAME = {t.name: t for t in TRACES}


def select(names: str | list[str] | None) -> list[Trace]:
    """The traces named (comma-separated or a list), or all of them."""
    if names is None or names == "all":
        return list(TRACES)
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    unknown = [n for n in wanted if n not in BY_NAME]
    if unknown:
        from trollscope.errors import UserError

        raise UserError(f"unknown trace(s) {', '.join(unknown)}; traces are: {', '.join(BY_NAME)}")
    return [BY_NAME[n] for n in wanted]
