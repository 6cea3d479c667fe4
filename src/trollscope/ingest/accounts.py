"""Accounts seen in a batch merged into `accounts`: the latest row's fields win, a field the
batch does not know keeps the stored value, and labels are merged."""

from __future__ import annotations

from trollscope.ingest.stage import literal


def upsert_accounts(con, fmt: str, sources: list[str]) -> int:
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _acc AS
        SELECT account_id,
          arg_max(handle, latest) AS handle,
          arg_max(display_name, latest) FILTER (WHERE display_name IS NOT NULL) AS display_name,
          min(acct_created_at) AS created_at,
          arg_max(followers, latest) FILTER (WHERE followers IS NOT NULL) AS followers,
          arg_max(following, latest) FILTER (WHERE following IS NOT NULL) AS following,
          arg_max(post_count, latest) FILTER (WHERE post_count IS NOT NULL) AS post_count,
          arg_max(location, latest) FILTER (WHERE location IS NOT NULL) AS location,
          map_from_entries(list_filter(map_entries(
            arg_max(labels, latest) FILTER (WHERE labels IS NOT NULL AND cardinality(labels) > 0)),
            lambda e: e.value IS NOT NULL AND e.value <> '')) AS labels,
          {literal(fmt)} AS source_format,
          arg_max(platform, latest) AS platform
        FROM (SELECT *, {_latest_key(sources)} AS latest FROM _good) GROUP BY account_id
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _acc_merged AS
        SELECT n.account_id,
          coalesce(n.handle, o.handle) AS handle,
          coalesce(n.display_name, o.display_name) AS display_name,
          coalesce(n.created_at, o.created_at) AS created_at,
          coalesce(n.followers, o.followers) AS followers,
          coalesce(n.following, o.following) AS following,
          coalesce(n.post_count, o.post_count) AS post_count,
          coalesce(n.location, o.location) AS location,
          CASE WHEN o.labels IS NULL THEN n.labels WHEN n.labels IS NULL THEN o.labels
               ELSE map_concat(o.labels, n.labels) END AS labels,
          coalesce(o.source_format, n.source_format) AS source_format,
          coalesce(n.platform, o.platform) AS platform
        FROM _acc n LEFT JOIN accounts o USING (account_id)
        """
    )
    con.execute("DELETE FROM accounts WHERE account_id IN (SELECT account_id FROM _acc)")
    con.execute("INSERT INTO accounts BY NAME SELECT * FROM _acc_merged")
    return con.execute("SELECT count(*) FROM _acc").fetchall()[0][0]


def _latest_key(sources: list[str]) -> str:
    """SQL ordering a batch's rows by time, then file, then earliest line, as one HUGEINT.

    The latest row wins; among rows of the same time (the IRA CSV has minutes), the first in the
    file, which the IRA CSV lists newest first. One number compares far faster than a struct.
    """
    file_ord = "0" if len(sources) <= 1 else f"list_position([{', '.join(map(literal, sources))}], source_file)"
    return (f"((epoch_us(created_at)::HUGEINT * 1024 + {file_ord}) * {1 << 40} "
            "- coalesce(source_line, 0))")
