"""The account signals of an update run, from the previous run's features and the posts it added.

Every feature but the campaign's is a function of the account's own posts and `accounts` row, except
the duplicate-text share, which also asks whether another account posted the same normalised text.
So when detection updated a run with appended posts (detect/incremental.py: `inc_added`), only
these accounts' features can differ from the previous run's:

  - accounts with a new post, or whose `accounts` row (handle, followers, post count) changed:
    every feature is computed again;
  - accounts with an own text whose hash a new post also has: a text of theirs may now be shared,
    so their duplicate-text share is updated, their other features copied. Only the texts a new post
    has can change from unshared to shared, so the kept counts (own texts, shared ones) move by what
    the posts of those texts say (`dup_update_sql`): the cost follows the new posts' texts, not the
    store's.

Every other account's row is copied. The campaign column is joined again for all accounts and the
score standardised over all (both cheap), so the table equals one computed from scratch.

Kept with the run (persistent tables, written in the transaction that writes `account_signals`):

  inc_signals        per account, every feature but the campaign's, as the run computed them, the
                     duplicate share's counts (`own_texts`, `shared_texts`), and `acct_h`, a hash
                     of the account's handle, followers and post count
  inc_signals_state  one row: the run they belong to, what they were computed with (`key`: the
                     table's catalogue version, the feature names, the settings they depend on),
                     and how (`since`: the run they were updated from, '' when computed whole;
                     `recomputed`, `dup_recomputed`: accounts computed again, wholly or for the
                     duplicate share)

`plan` says whether the kept rows can be used; when in doubt it says no and the table is computed
whole (`Update.reason` says why).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from trollscope.detect.incremental import updated_from
from trollscope.store import Store, catalogue
from trollscope.store import run as runs
from trollscope.store.run import Run

CHANGED = "_sig_changed"  # accounts whose features are computed again
DUP_ONLY = "_sig_dup_only"  # accounts whose duplicate share alone is computed again
TOUCHED = "_sig_touched"  # every own text a new post also has: account_id, h, new (the post is new)
STATE_DDL = ("CREATE OR REPLACE TABLE inc_signals_state "
             "(run_id VARCHAR, key VARCHAR, since VARCHAR, recomputed BIGINT, dup_recomputed BIGINT, reason VARCHAR)")
# each account's fields a feature reads (grouped: one row per account whatever `accounts` holds)
_ACCOUNT_H = ("(SELECT account_id, bit_xor(hash(account_id, handle, followers, post_count)) AS acct_h "
              "FROM accounts GROUP BY account_id)")


@dataclass
class Update:
    """Whether `account_signals` is updated from the kept features (`since`: their run) or computed
    whole (`reason` says why)."""

    incremental: bool
    reason: str = ""
    since: str = ""
    recomputed: int = 0
    dup_recomputed: int = 0


def key(cfg: dict, names: tuple[str, ...]) -> str:
    """What the kept features were computed with: a changed one makes them unusable."""
    entry = catalogue.DERIVED["account_signals"]
    return json.dumps({"version": entry.version, "features": list(names),
                       "settings": {s: cfg[s] for s in entry.depends}}, sort_keys=True, default=str)


def exact(store: Store, run: Run) -> bool:
    """Whether the posts now are the ones `run` saw and the kept detection state is `run`'s."""
    if not run.run_id or runs.fingerprint(store.con) != run.fingerprint or not store.has_table("inc_state"):
        return False
    return store.con.execute("SELECT run_id FROM inc_state").fetchall() == [(run.run_id,)]


def plan(store: Store, run: Run, cfg: dict, names: tuple[str, ...], hashes: str | None, posts_exact: bool) -> Update:
    """Decide between an update of the kept features and a computation from scratch (`posts_exact`:
    `exact(store, run)`). For an update, leaves the temporary tables `_sig_changed` and `_sig_dup_only`
    (account_id) and `_sig_touched`."""
    con = store.con
    if not (store.has_table("inc_signals") and store.has_table("inc_signals_state")):
        return Update(False, "no features kept")
    if not posts_exact:
        return Update(False, f"the posts are not the ones {run.run_id or 'the run'} saw")
    since = updated_from(store, run.run_id)
    if since is None:
        return Update(False, f"{run.run_id} is not an update of a run")
    kept = con.execute("SELECT run_id, key FROM inc_signals_state").fetchall()
    if len(kept) != 1 or kept[0][0] != since:
        return Update(False, f"the features kept are not those of {since}, the run {run.run_id} updated")
    if kept[0][1] != key(cfg, names):
        return Update(False, "the features kept were computed with other settings or definitions")
    if hashes is None:
        # finding whose texts a new post shares would normalise every text: the whole cost
        return Update(False, "no text hashes of the run (near_duplicate not run)")
    # `hashes` holds every authored post's text of the run (detect.traces.neardup) and the posts are
    # the run's (`exact`), so the own texts are exactly these hashes
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {CHANGED} AS
        SELECT DISTINCT p.account_id FROM posts p SEMI JOIN inc_added n ON n.post_id = p.post_id
        WHERE p.account_id IS NOT NULL
        UNION
        SELECT k.account_id FROM inc_signals k LEFT JOIN {_ACCOUNT_H} a ON a.account_id = k.account_id
        WHERE a.acct_h IS DISTINCT FROM k.acct_h
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {TOUCHED} AS
        WITH new_texts AS (
          SELECT k.th FROM ({hashes}) k SEMI JOIN inc_added n ON n.post_id = k.post_id WHERE k.chars >= 10)
        SELECT p.account_id, k.th AS h, k.post_id IN (SELECT post_id FROM inc_added) AS new
        FROM (SELECT post_id, th FROM ({hashes}) WHERE chars >= 10 AND th IN (SELECT th FROM new_texts)) k
        JOIN posts p ON p.post_id = k.post_id
    """)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {DUP_ONLY} AS SELECT DISTINCT account_id FROM {TOUCHED} "
                f"WHERE account_id IS NOT NULL AND account_id NOT IN (SELECT account_id FROM {CHANGED})")
    counts = con.execute(f"SELECT (SELECT count(*) FROM {CHANGED}), (SELECT count(*) FROM {DUP_ONLY})").fetchall()[0]
    return Update(True, "", since, int(counts[0]), int(counts[1]))


def dup_update_sql() -> str:
    """The duplicate-text counts and share (features.dup_sql's columns) of every account a new post
    can change, from the kept counts: only the texts a new post has can become shared, so an
    account's shared count moves by its posts of those texts shared now, less those of its old posts
    shared before; its own count grows by its new posts. Integer counts: exact."""
    return f"""
    WITH state AS (
      SELECT h, count(DISTINCT account_id) FILTER (WHERE NOT new) >= 2 AS was_shared,
                count(DISTINCT account_id) >= 2 AS is_shared
      FROM {TOUCHED} GROUP BY h),
    delta AS (
      SELECT t.account_id, count(*) FILTER (WHERE t.new) AS own_added,
             count(*) FILTER (WHERE s.is_shared) - count(*) FILTER (WHERE NOT t.new AND s.was_shared) AS shared_added
      FROM {TOUCHED} t JOIN state s USING (h) WHERE t.account_id IS NOT NULL GROUP BY t.account_id),
    counts AS (
      SELECT account_id, coalesce(k.own_texts, 0) + coalesce(d.own_added, 0) AS own_texts,
             coalesce(k.shared_texts, 0) + coalesce(d.shared_added, 0) AS shared_texts
      FROM delta d
      FULL JOIN (SELECT account_id, own_texts, shared_texts FROM inc_signals
                 WHERE account_id IN (SELECT account_id FROM {CHANGED} UNION ALL SELECT account_id FROM {DUP_ONLY})) k
        USING (account_id))
    SELECT account_id, own_texts, shared_texts, shared_texts::DOUBLE / own_texts AS dup_share
    FROM counts WHERE own_texts > 0
    """


def updated_sql(fresh: str, dup: str) -> str:
    """The features of every account: the kept rows, with the duplicate share of `dup` (account_id,
    dup_share) where it has one, for accounts not in `fresh` (the accounts computed again), then
    `fresh`'s rows."""
    return f"""
    SELECT k.* EXCLUDE (acct_h) REPLACE (
             CASE WHEN d.account_id IS NULL THEN k.duplicate_text_share ELSE d.dup_share END AS duplicate_text_share,
             CASE WHEN d.account_id IS NULL THEN k.own_texts ELSE d.own_texts END AS own_texts,
             CASE WHEN d.account_id IS NULL THEN k.shared_texts ELSE d.shared_texts END AS shared_texts)
    FROM inc_signals k ANTI JOIN {CHANGED} c ON c.account_id = k.account_id
    LEFT JOIN {dup} d ON d.account_id = k.account_id
    UNION ALL SELECT * FROM {fresh}
    """


def keep(store: Store, run: Run, cfg: dict, names: tuple[str, ...], features: str, update: Update) -> None:
    """Keep `features` (every account's features but the campaign's) for the next update; the caller
    keeps them only when the posts are the ones the run saw (`exact`). A read-only store keeps what
    it has, still true of the posts of the run it names."""
    if store.read_only:
        return
    con = store.con
    con.execute(f"CREATE OR REPLACE TABLE inc_signals AS SELECT f.*, a.acct_h "
                f"FROM {features} f LEFT JOIN {_ACCOUNT_H} a ON a.account_id = f.account_id")
    con.execute(STATE_DDL)
    con.execute("INSERT INTO inc_signals_state VALUES (?, ?, ?, ?, ?, ?)",
                [run.run_id, key(cfg, names), update.since, update.recomputed, update.dup_recomputed,
                 update.reason])


def described(store: Store, run: Run) -> str:
    """One line on how `run`'s account signals were made: updated (for how many accounts) or
    computed whole, and why."""
    if not store.has_table("inc_signals_state"):
        return "account signals: computed whole (nothing kept for an update)"
    cur = store.con.execute("SELECT * FROM inc_signals_state")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    if len(rows) != 1 or rows[0]["run_id"] != run.run_id:
        return (f"account signals: computed whole; not kept for the next update (the posts are not the "
                f"ones {run.run_id} saw)")
    row = rows[0]
    if row.get("since"):
        return (f"account signals: updated from {row['since']}'s, {row['recomputed']:,} account(s) computed again "
                f"and {row['dup_recomputed']:,} more for their duplicate-text share")
    return f"account signals: computed whole ({row.get('reason') or 'the reason was not kept'})"


def cleanup(store: Store) -> None:
    for table in (CHANGED, DUP_ONLY, TOUCHED, "_sig_features", "_sig_fresh", "_sig_dup"):
        store.con.execute(f"DROP TABLE IF EXISTS {table}")
