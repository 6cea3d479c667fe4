"""What is in a store: sources, sizes, time span, languages, hashtags, domains, labels."""

from __future__ import annotations

from trollscope.store import Store
from trollscope.store.sql import domain


def info(store: Store, top: int = 10) -> dict:
    """A summary of the store as plain data (the CLI renders it; `--format json` prints it)."""
    q = store.con

    def rows(sql: str, params=None) -> list[tuple]:
        return q.execute(sql, params or []).fetchall()

    totals = rows(
        "SELECT count(*), count(DISTINCT account_id), min(created_at), max(created_at) FROM posts"
    )[0]
    by_source = rows(
        """
        SELECT source_format, count(*) AS posts, count(DISTINCT account_id) AS accounts,
               count(DISTINCT source_file) AS files, min(created_at), max(created_at)
        FROM posts GROUP BY ALL ORDER BY posts DESC
        """
    )
    kinds = rows("SELECT kind, count(*) FROM posts GROUP BY ALL ORDER BY 2 DESC")
    platforms = rows(
        "SELECT coalesce(platform, 'unknown'), count(*), count(DISTINCT account_id) FROM posts "
        "GROUP BY ALL ORDER BY 2 DESC, 1"
    )
    langs = rows(
        "SELECT coalesce(lang, '?'), count(*) FROM posts GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT ?", [top]
    )
    hashtags = rows(
        """
        SELECT h, count(*) FROM (SELECT unnest(hashtags) AS h FROM posts)
        GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT ?
        """,
        [top],
    )
    domains = rows(
        f"""
        SELECT d, count(*) FROM (
          SELECT {domain('unnest(urls)')} AS d FROM posts)
        WHERE d <> '' GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT ?
        """,
        [top],
    )
    labels = rows(
        """
        SELECT k, v, count(*) FROM (
          SELECT unnest(map_keys(labels)) AS k, unnest(map_values(labels)) AS v FROM accounts)
        WHERE k IN ('account_category', 'account_type', 'label', 'category')
        GROUP BY ALL ORDER BY 1, 3 DESC, 2
        """
    )
    quarantined = rows("SELECT count(*) FROM quarantine")[0][0]
    ingests = rows(
        """
        SELECT count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_stored), 0),
               coalesce(sum(rows_quarantined), 0), coalesce(sum(rows_already_present), 0)
        FROM ingests
        """
    )[0]
    return {
        "store": store.path,
        "posts": totals[0],
        "accounts": q.execute("SELECT count(*) FROM accounts").fetchall()[0][0],
        "posting_accounts": totals[1],
        "first_post": _iso(totals[2]),
        "last_post": _iso(totals[3]),
        "sources": [
            {"format": r[0], "posts": r[1], "accounts": r[2], "files": r[3],
             "first_post": _iso(r[4]), "last_post": _iso(r[5])}
            for r in by_source
        ],
        "kinds": dict(kinds),
        "platforms": [{"platform": r[0], "posts": r[1], "accounts": r[2]} for r in platforms],
        "languages": dict(langs),
        "top_hashtags": dict(hashtags),
        "top_domains": dict(domains),
        "labels": [{"label": r[0], "value": r[1], "accounts": r[2]} for r in labels],
        "quarantined": quarantined,
        "ingest_runs": {"files": ingests[0], "rows_read": ingests[1], "rows_stored": ingests[2],
                        "rows_quarantined": ingests[3], "rows_already_present": ingests[4]},
    }


def _iso(value) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else None
