"""Post ids and duplicates: the source's id where it has one, else one derived from the row;
a post listed on several rows is stored once, and a post already in the store is counted, not added.

Only derived ids need a second look: identical rows (same account, time and text) are told apart
by their rank, which is computed for the few rows that have a twin, not by a window over the
whole batch.
"""

from __future__ import annotations

from trollscope.store import schema
from trollscope.ingest.stage import literal


def good_view(con, fmt: str) -> None:
    """`_good`: the valid rows of `_checked` with their post ids, as the posts table wants them.

    A derived id hashes the row's account, time and text with its rank among the batch's rows
    that share them (1 for nearly every row), so that two identical rows are two posts.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _rank AS
        WITH twins AS (  -- one hash of the four narrows the rows to rank down to those with a twin
          SELECT twin_key FROM _checked WHERE q_reason IS NULL GROUP BY twin_key HAVING count(*) > 1
        )
        SELECT rowid AS row_id,
               row_number() OVER (PARTITION BY source_file, account_id, created_raw, hash(text)
                                  ORDER BY source_line) AS rank
        FROM _checked
        WHERE q_reason IS NULL AND twin_key IN (SELECT twin_key FROM twins)
        """
    )
    twins = con.execute("SELECT count(*) FROM _rank").fetchall()[0][0] > 0
    rank = "coalesce(r.rank, 1)" if twins else "1"
    join = "LEFT JOIN _rank r ON r.row_id = c.rowid" if twins else ""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW _good AS
        SELECT coalesce(c.src_id, 'h' || left(md5(concat_ws(chr(31), {literal(fmt)}, c.account_id, c.created_raw,
                 coalesce(c.text, ''), CAST({rank} AS VARCHAR))), 24)) AS post_id,
               c.* EXCLUDE (q_reason, q_field, q_raw, src_id, created_raw, twin_key),
               {literal(fmt)} AS source_format
        FROM _checked c {join}
        WHERE c.q_reason IS NULL
        """
    )


def store_posts(con) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, int]]:
    """The good rows of `_good` into `posts`, each post id once; per file: good rows, rows
    stored, rows merged into the post of an earlier row of the file (the rest were already
    present) and distinct accounts."""
    post_cols = ", ".join(c.name for c in schema.POSTS)
    per_file = lambda sql: dict(con.execute(sql).fetchall())  # noqa: E731
    good, accounts, with_ids = {}, {}, 0
    for src, n_good, n_accounts, n_ids in con.execute(
        "SELECT source_file, count(*), count(DISTINCT account_id), count(src_id) "
        "FROM _checked WHERE q_reason IS NULL GROUP BY ALL"
    ).fetchall():
        good[src], accounts[src] = n_good, n_accounts
        with_ids += n_ids
    merged: dict[str, int] = {}
    store_empty = con.execute("SELECT count(*) FROM (SELECT 1 FROM posts LIMIT 1)").fetchall()[0][0] == 0
    stored = None
    if store_empty and not with_ids:
        # Derived ids only: they repeat only across files or by a hash collision, so the rows go
        # straight in and the check for repeated ids reads the stored ids, which saves hashing
        # every row twice. When ids do repeat, the batch's rows come out and take the path below.
        con.execute(f"INSERT INTO posts BY NAME SELECT {post_cols} FROM _good")
        if repeated_ids(con, "posts"):
            con.execute("DELETE FROM posts")
        else:
            stored = good
    if stored is None:
        # Sources with ids may list one post on several rows (one per URL, say): keep the first
        # row, with the entities of all of them.
        posts_source = "_good"
        if repeated_ids(con, "_good"):
            dedup(con)
            posts_source = "_dedup"
            # A row repeating a post id of an earlier row of its own file added to that post.
            merged = per_file("SELECT source_file, count(*) - count(DISTINCT post_id) FROM _good_rows GROUP BY ALL")
        if store_empty:  # nothing to be already present against: insert straight, no copy
            con.execute(f"INSERT INTO posts BY NAME SELECT {post_cols} FROM {posts_source}")
            stored = good if posts_source == "_good" else per_file(
                "SELECT source_file, count(*) FROM posts GROUP BY ALL")
        else:
            # The ids already present first, from a join that hashes the batch's ids and reads the
            # stored ones; then the other rows inserted straight. [NOT] EXISTS or an ANTI JOIN against
            # `posts` were planned with a hash table of every stored post id, rebuilt each batch: at
            # 50 M synthetic posts a file's ingest grew from 8 s to 15 s as the store filled.
            rows = "_good" if posts_source == "_good" else "_good_rows"  # (the view, or its copy made by dedup)
            con.execute("CREATE OR REPLACE TEMP TABLE _present AS "
                        f"SELECT p.post_id FROM posts p SEMI JOIN {rows} g ON g.post_id = p.post_id")
            if posts_source == "_good":
                # per file, the rows already present (none, nearly always: no query then)
                present = per_file(
                    "SELECT source_file, count(*) FROM _good g SEMI JOIN _present p ON p.post_id = g.post_id "
                    "GROUP BY ALL") if con.execute("SELECT count(*) FROM _present").fetchall()[0][0] else {}
                con.execute(f"INSERT INTO posts BY NAME SELECT {post_cols} FROM _good g "
                            "ANTI JOIN _present p ON p.post_id = g.post_id")
                stored = {src: n - present.get(src, 0) for src, n in good.items()}
            else:  # (`_dedup`, a view read once)
                con.execute(f"CREATE OR REPLACE TEMP TABLE _new AS SELECT {post_cols} FROM {posts_source} g "
                            "ANTI JOIN _present p ON p.post_id = g.post_id")
                con.execute("INSERT INTO posts BY NAME SELECT * FROM _new")
                stored = per_file("SELECT source_file, count(*) FROM _new GROUP BY ALL")
            con.execute("DROP TABLE _present")
    return good, stored, merged, accounts


def repeated_ids(con, table: str) -> bool:
    return con.execute(f"SELECT count(*) - count(DISTINCT post_id) FROM {table}").fetchall()[0][0] > 0


def dedup(con) -> None:
    """`_dedup`, a view read once: one row per post id of `_good`, the first one, with the entities
    of all of them in the order of their rows. Only the ids that repeat are grouped (their rows are
    sorted per group); a row's own lists are already distinct (canonical.check)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _good_rows AS SELECT * FROM _good")
    lists = ("urls", "hashtags", "mentions", "objects")
    # One list of each repeated id's rows, sorted by (file, line): an aggregate with ORDER BY sorts
    # once per list, and four of them were most of this statement's time.
    fields = ", ".join(f"{c} := {c}" for c in lists)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW _dedup AS
        WITH repeated AS (SELECT post_id FROM _good_rows GROUP BY post_id HAVING count(*) > 1),
        grouped AS (
          SELECT post_id, list_sort(list(struct_pack(f := source_file, l := source_line, r := rowid, {fields}))) AS rs
          FROM _good_rows SEMI JOIN repeated USING (post_id) GROUP BY post_id
        ),
        merged AS (
          SELECT post_id, rs[1].r AS first_row,
                 {', '.join(f'ts_distinct(flatten(list_transform(rs, lambda x: x.{c}))) AS {c}' for c in lists)}
          FROM grouped
        )
        SELECT g.* REPLACE ({', '.join(f'coalesce(m.{c}, g.{c}) AS {c}' for c in lists)})
        FROM _good_rows g LEFT JOIN merged m ON m.post_id = g.post_id
        WHERE m.post_id IS NULL OR g.rowid = m.first_row
        """
    )
