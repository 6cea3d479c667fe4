"""Near-duplicate text clusters: MinHash over word shingles, LSH banding, verified candidates.

Exact duplicates are the fast case: posts with the same normalised text share one text id and
are hashed once. Each distinct text gets a MinHash signature of K values computed in one SQL
aggregation (h_j(x) = (a_j·h(x) + b_j) mod p over the hash h of each word 3-gram). Signatures are
cut into B bands of R rows; texts sharing a band bucket are candidates, and a candidate is kept
only when its signature agrees with the bucket's representative on at least `threshold` of the
K positions (the estimate of their Jaccard similarity). Clusters are the connected components
of the kept links. Only authored posts (not reposts) are clustered: reposts are `co_repost`'s.

Result: table `text_clusters(post_id, cluster)` for posts whose cluster holds two or more posts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from trollscope.detect import rundb
from trollscope.store import Store
from trollscope.store.db import size_bytes
from trollscope.detect.traces.base import NORM_TEXT
from trollscope.detect.traces.linked import smallest_linked

K, BANDS, ROWS = 30, 6, 5  # (1/B)^(1/R) ≈ 0.70: the similarity at which a pair is caught half the time
PRIME = 2147483647  # 2^31 - 1
MIN_CHARS = 20  # shorter texts ("thank you!") are too generic to be evidence
# what one distinct text holds in the signatures' aggregation: its hash as a key and its text (the
# dedup), its K minima (the signature), and the hash tables' own overhead; a generous estimate
TEXT_BYTES = 400


def _coefficients(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(1, PRIME, size=K), rng.integers(0, PRIME, size=K)


def _parts(con, texts: int) -> int:
    """How many parts the signatures of `texts` (an upper bound: rows, not distinct texts) are
    computed in: each part's aggregation within a quarter of the connection's memory limit, at
    `TEXT_BYTES` a text."""
    limit = size_bytes(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    return max(1, -(-texts * TEXT_BYTES // max(limit // 4, 1)))


def build_text_clusters(store: Store, threshold: float = 0.7, seed: int = 42, update: bool = False,
                        staged: tuple[str, str] | None = None) -> dict:
    """Write `text_clusters`; return counts (posts, distinct texts, clusters, clustered posts) and
    the parts the signatures were computed in.

    With `update`, only the new posts (`_inc_new`, detect.incremental) are normalised and only their
    new texts hashed; the kept signatures (`inc_nd_sig`) are the index they join. Either way every
    authored post's text hash and length and the signatures are left for the next update: a full
    run's in the tables `staged` names (or `_nd_keep_posts` and `_nd_keep_sig` without it), an
    update's additions in `_nd_add_posts` and `_nd_add_sig` of the run's database (detect.rundb), which
    the kept state appends: seen by every connection, so an update's index is built beside the
    traces that do not need it, as a full run's is (detect.stage).
    """
    con = store.con
    source = "_inc_new" if update else "posts"
    authored = f"FROM {source} WHERE kind <> 'repost' AND text IS NOT NULL"
    # Texts beyond a quarter of the memory limit (50 M synthetic posts: 48 M texts) are signed in
    # parts, and the work tables holding every text (the normalised texts, the numbering, the
    # signatures: 15 GB there) go to the store's scratch database, compressed, instead of temporary
    # tables whose spill counts against `max_spill` (they passed 8 GiB).
    parts = _parts(con, con.execute(f"SELECT count(*) {authored}").fetchall()[0][0])
    with store.scratch() if parts > 1 else contextlib.nullcontext() as scratch:
        work = (lambda t: f"{scratch}.{t}") if scratch else (lambda t: t)
        work_kind = "TABLE" if scratch else "TEMP TABLE"
        return _build(store, threshold, seed, update, staged, authored, parts, work, work_kind)


def _build(store: Store, threshold: float, seed: int, update: bool, staged: tuple[str, str] | None,
           authored: str, parts: int, work: Callable[[str], str], work_kind: str) -> dict:
    """`build_text_clusters`, its work tables named by `work` and made as `work_kind`."""
    con = store.con
    a, b = _coefficients(seed)
    fresh, texts, sig = work("_nd_fresh"), work("_nd_texts"), work("_nd_sig")
    # Every authored post's account, hash and length, short ones included: the account signals'
    # duplicate share reads them too (enrich.signals), instead of normalising every text a second
    # time, or joining the hashes with the posts for their accounts (10 M posts: 1.8 s of 11.8).
    con.execute(
        f"""
        CREATE OR REPLACE {work_kind} {fresh} AS
        SELECT post_id, account_id, md5(norm) AS th, CAST(length(norm) AS INTEGER) AS chars, norm FROM (
          SELECT post_id, account_id, {NORM_TEXT} AS norm {authored})
        """
    )
    # A full run's own tables are what it keeps; an update keeps what it added apart, to append it.
    # (In a full run a second copy of each, under the other name, held a third of the temporary tables'
    # memory until the run's end: at 10 M synthetic posts the traces after it spilled past 8 GiB.)
    # With `staged` (posts, signatures: tables of the store, which detect.incremental renames into the
    # kept state) a full run writes them there instead of holding them in memory to the run's end.
    if update:  # what this run adds, in the run's database; the whole index read where its parts are
        kind, add_posts, add_sig = "TABLE", rundb.name("_nd_add_posts"), rundb.name("_nd_add_sig")
        keep_posts = (f"(SELECT post_id, account_id, th, chars FROM inc_nd_posts "
                      f"UNION ALL SELECT post_id, account_id, th, chars FROM {add_posts})")
        keep_sig = f"(SELECT * FROM inc_nd_sig UNION ALL SELECT * FROM {add_sig})"
    else:
        kind = "TABLE" if staged else "TEMP TABLE"
        add_posts, add_sig = keep_posts, keep_sig = staged or ("_nd_keep_posts", "_nd_keep_sig")
    con.execute(f"CREATE OR REPLACE {kind} {add_posts} AS SELECT post_id, account_id, th, chars FROM {fresh}")
    known = f"WHERE chars >= {MIN_CHARS}" + (" AND th NOT IN (SELECT th FROM inc_nd_sig)" if update else "")
    # each value is below 2^31 - 1: 32-bit, half the bytes of the signatures (the largest tables here)
    mins = ", ".join(f"CAST(min(({int(a[j])} * h + {int(b[j])}) % {PRIME}) AS INTEGER) AS m{j}" for j in range(K))
    # The signatures' aggregation holds every distinct text's K minima and the text itself: in parts
    # by the text's hash, each part's aggregation within a share of the memory limit. A text's rows
    # are all in one part, so the signatures are the same.
    for part in range(parts):
        of_part = "" if parts == 1 else f"AND hash(th) % {parts} = {part}"
        into = f"CREATE OR REPLACE {kind} {add_sig} AS" if part == 0 else f"INSERT INTO {add_sig}"
        con.execute(
            f"""
            {into}
            WITH texts AS (SELECT th, any_value(norm) AS norm FROM {fresh} {known} {of_part} GROUP BY th),
            words AS (SELECT th, string_split(norm, ' ') AS w FROM texts),
            shingles AS (
              SELECT th, CAST(hash(sh) % {PRIME} AS BIGINT) AS h FROM (
                SELECT th, unnest(CASE WHEN len(w) < 3 THEN [array_to_string(w, ' ')]
                                  ELSE list_transform(range(1, len(w) - 1),
                                                      lambda i: w[i] || ' ' || w[i + 1] || ' ' || w[i + 2]) END) AS sh
                FROM words))
            SELECT th, {mins} FROM shingles GROUP BY th
            """
        )
    con.execute(f"DROP TABLE IF EXISTS {fresh}")  # the normalised texts: hashed, no longer needed
    con.execute(f"CREATE OR REPLACE {work_kind} {texts} AS "
                f"SELECT CAST(row_number() OVER (ORDER BY th) - 1 AS INTEGER) AS tid, th FROM {keep_sig}")
    con.execute(f"CREATE OR REPLACE {work_kind} {sig} AS "
                f"SELECT t.tid, s.* EXCLUDE (th) FROM {keep_sig} s JOIN {texts} t USING (th)")
    agree = " + ".join(f"CAST(s1.m{j} = s2.m{j} AS INTEGER)" for j in range(K))
    # The candidates first, in a table of their own, then verified: one statement holding the bands,
    # their buckets and both signatures spilled past 8 GiB at 10 M synthetic posts. Band by band:
    # a band's keys are one row per text (all bands at once, six: 288 M rows at 50 M posts).
    for band in range(BANDS):
        key = f"hash({', '.join(f'm{band * ROWS + r}' for r in range(ROWS))})"
        into = "CREATE OR REPLACE TEMP TABLE _nd_cand AS" if band == 0 else "INSERT INTO _nd_cand"
        con.execute(f"""
            {into}
            WITH bd AS (SELECT tid, {key} AS key FROM {sig}),
            reps AS (SELECT key, min(tid) AS rep FROM bd GROUP BY key HAVING count(*) > 1)
            SELECT bd.tid, r.rep FROM bd JOIN reps r USING (key) WHERE bd.tid <> r.rep
        """)
    con.execute("CREATE OR REPLACE TEMP TABLE _nd_cand AS SELECT DISTINCT tid, rep FROM _nd_cand")
    edges = con.sql(
        f"""
        SELECT c.tid, c.rep FROM _nd_cand c
        JOIN {sig} s1 ON s1.tid = c.tid JOIN {sig} s2 ON s2.tid = c.rep
        WHERE ({agree}) >= {float(threshold) * K}
        """
    ).to_arrow_table()
    n_texts = con.execute(f"SELECT count(*) FROM {texts}").fetchall()[0][0]
    src = edges.column("tid").to_numpy(zero_copy_only=False).astype(np.int64)
    dst = edges.column("rep").to_numpy(zero_copy_only=False).astype(np.int64)
    # Each cluster is named by the smallest text id in it: stable for a given input and seed.
    cluster_of = smallest_linked(n_texts, src, dst)
    con.register("_nd_map", pa.table({"tid": pa.array(np.arange(n_texts, dtype=np.int64)),
                                      "cluster": pa.array(cluster_of.astype(np.int64))}))
    con.execute(
        f"""
        CREATE OR REPLACE TABLE text_clusters AS
        WITH c AS (
          SELECT p.post_id, 't' || CAST(m.cluster AS VARCHAR) AS cluster
          FROM {keep_posts} p JOIN {texts} t USING (th) JOIN _nd_map m ON m.tid = t.tid)
        SELECT post_id, cluster FROM c
        WHERE cluster IN (SELECT cluster FROM c GROUP BY cluster HAVING count(*) >= 2)
        ORDER BY cluster, post_id
        """
    )
    con.unregister("_nd_map")
    stats = con.execute(
        "SELECT count(*), count(DISTINCT cluster) FROM text_clusters"
    ).fetchall()[0]
    n_posts = con.execute(f"SELECT count(*) FROM {keep_posts} WHERE chars >= {MIN_CHARS}").fetchall()[0][0]
    for table in (texts, sig, "_nd_cand"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return {"posts": n_posts, "texts": n_texts, "near_duplicate_links": len(src),
            "clustered_posts": stats[0], "clusters": stats[1], "signature_parts": parts}
