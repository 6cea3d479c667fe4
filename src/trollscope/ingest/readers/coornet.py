"""CooRnet's flattened CrowdTangle shares (`ct_shares.csv`: one row per share of a URL, from the
CrowdTangle `/links` API): `id` (CrowdTangle's post id), `expanded` (the shared URL), `date`
(UTC), `account.*` (the page or group) and `account.platform` (Facebook or Instagram).

A post that shared several URLs is several rows: they are one post, whose URLs are all of them
(the later rows are counted as merged).
"""

from __future__ import annotations

from pathlib import Path

from trollscope.ingest.csvload import LINE, column_or_null, header_names, load_csv, raw_expr
from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageResult

COLUMNS = {"id", "expanded", "date", "account.id"}


class CoornetReader(Reader):
    name = "coornet"
    description = "CooRnet's flattened CrowdTangle shares CSV (id, expanded, date, account.*, is_orig)"
    extensions = (".csv",)

    def sniff(self, path: Path, head: bytes) -> bool:
        return COLUMNS <= header_names(head)

    def stage(self, con, path: Path, options: NoOptions, ctx: ReadContext) -> StageResult:
        loaded = load_csv(con, path, ctx.source_file, ctx.limits)
        if loaded is None:
            return StageResult(rows_read=0)
        c = lambda name: column_or_null(loaded.columns, name)  # noqa: E731
        sql = f"""
            SELECT {LINE} AS source_line,
              coalesce(nullif(lower(trim({c('account.platform')})), ''), 'facebook') AS platform,
              nullif(trim({c('id')}), '') AS post_id,
              nullif(trim({c('account.platformId')}), '') AS account_id,
              coalesce(nullif(nullif(trim({c('account.handle')}), ''), 'NA'), nullif(trim({c('account.name')}), '')) AS handle,
              nullif(trim({c('account.name')}), '') AS display_name,
              {c('date')} AS created_raw,
              CASE WHEN nullif(trim({c('expanded')}), '') IS NOT NULL THEN [trim({c('expanded')})] ELSE [] END AS urls,
              nullif(nullif(trim({c('account.subscriberCount')}), ''), 'NA') AS followers_raw
            FROM {loaded.table}
            """
        return StageResult(rows_read=loaded.rows_read, time_field="date", account_field="account.platformId",
                           raw_table=loaded.table, raw_expr=raw_expr(loaded.columns), stage_sql=sql,
                           incomplete=loaded.incomplete)


COORNET = CoornetReader()
