"""Ingest files into the store: choose a reader, stage, canonicalise, validate, commit.

Each file is one transaction: a process killed mid-file leaves the store as it was before that
file, and running the ingest again completes it. Post ids are deterministic, so a file ingested
twice adds nothing the second time.
"""

from __future__ import annotations

import glob
import hashlib
import time
from dataclasses import dataclass, asdict
from pathlib import Path
from typing import Callable, Iterable

from trollscope.store import schema
from trollscope.errors import FormatError, UserError
from trollscope.ingest import stage as stg
from trollscope.ingest.base import Reader, StageResult
from trollscope.ingest.cascades import CASCADE
from trollscope.ingest.csv_formats import IO_ARCHIVE, IRA
from trollscope.ingest.csvload import LINE, read_head
from trollscope.ingest.generic import TABLE, parse_mapping
from trollscope.ingest.twitter_json import TWITTER_V1, TWITTER_V2
from trollscope.store import Store

# Order matters: the first reader whose sniff accepts a file reads it; `table` is the fallback.
READERS: dict[str, Reader] = {r.name: r for r in (IRA, IO_ARCHIVE, TWITTER_V2, TWITTER_V1, CASCADE, TABLE)}


@dataclass
class FileReport:
    """What happened to one file: rows_read = rows_stored + rows_merged + rows_skipped +
    rows_quarantined + rows_already_present."""

    path: str
    format: str
    rows_read: int
    rows_stored: int
    rows_quarantined: int
    rows_already_present: int
    accounts_seen: int
    seconds: float
    rows_merged: int = 0  # rows that added their objects to the post of an earlier row
    rows_skipped: int = 0  # records that are not posts (likes, service messages)
    note: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, globbed, or found under named directories (sorted, hidden files skipped)."""
    out: list[Path] = []
    for given in paths:
        text = str(given)
        if any(ch in text for ch in "*?["):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise UserError(f"{text}: no file matches this pattern")
            out += [Path(m) for m in matches if Path(m).is_file()]
            continue
        path = Path(text)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            out += found
        elif path.is_file():
            out.append(path)
        elif path.exists():
            raise UserError(f"{text}: not a regular file")
        else:
            raise UserError(f"{text}: no such file or directory")
    # A file named twice (or inside a named directory too) is read once.
    seen: set[Path] = set()
    unique = []
    for path in out:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def choose_reader(path: Path, fmt: str | None = None, mapping: dict | None = None) -> Reader:
    """The reader for `path`: the one asked for, else the first whose sniff accepts the file."""
    if fmt:
        if fmt not in READERS:
            raise FormatError(f"unknown format {fmt!r}; formats are: {', '.join(READERS)}")
        return READERS[fmt]
    if mapping:
        return TABLE
    head = read_head(path)
    for reader in READERS.values():
        if reader is TABLE:
            continue
        try:
            if reader.sniff(path, head):
                return reader
        except Exception:  # noqa: BLE001 - a sniff that cannot tell is a no
            continue
    if not head.strip():
        return TABLE  # an empty file: the table reader reads its zero rows without a mapping
    raise FormatError(
        f"{path}: cannot tell the format; name it with --format ({', '.join(READERS)}) "
        "or give a column mapping with --map account=COL,time=COL,..."
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest(
    store: Store,
    paths: Iterable[str | Path],
    fmt: str | None = None,
    mapping: str | dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    skip_unrecognised: bool | None = None,
) -> list[FileReport]:
    """Ingest files into `store`; one report per file.

    `progress(path, done, total)` is called after each file. Files under a directory that no
    reader recognises are skipped (reported with format `skipped`); a file named directly must
    be readable.
    """
    mapping_dict = parse_mapping(mapping) if mapping else None
    files = expand_paths(paths)
    named_dirs = skip_unrecognised if skip_unrecognised is not None else any(Path(str(p)).is_dir() or any(
        ch in str(p) for ch in "*?[") for p in paths)
    plan: list[tuple[Path, Reader | None]] = []
    for path in files:
        try:
            plan.append((path, choose_reader(path, fmt, mapping_dict)))
        except FormatError:
            if not named_dirs:
                raise
            plan.append((path, None))
    reports: list[FileReport] = []
    done = 0
    for reader, batch in _batches(plan):
        if reader is None:
            reports += [FileReport(str(p.resolve()), "skipped", 0, 0, 0, 0, 0, 0.0) for p in batch]
        else:
            reports += ingest_batch(store, batch, reader, {"mapping": mapping_dict})
        done += len(batch)
        if progress:
            progress(str(batch[-1]), done, len(plan))
    return reports


# Small files (a cascade tree, an API page) are ingested many to a transaction: the fixed cost of
# one canonicalisation and one anti-join against the store is paid per batch, not per file.
BATCH_FILES, BATCH_BYTES = 256, 64 * 1024 * 1024


def _batches(plan: list[tuple[Path, Reader | None]]):
    batch: list[Path] = []
    current: Reader | None = None
    size = 0
    for path, reader in plan:
        file_size = path.stat().st_size
        big = file_size > BATCH_BYTES // 4
        if batch and (reader is not current or big or len(batch) >= BATCH_FILES or size >= BATCH_BYTES):
            yield current, batch
            batch, size = [], 0
        current = reader
        batch.append(path)
        size += file_size
        if big:
            yield current, batch
            batch, size = [], 0
    if batch:
        yield current, batch


def ingest_batch(store: Store, paths: list[Path], reader: Reader, options: dict) -> list[FileReport]:
    """Ingest files with one reader in one transaction; one report per file.

    A killed process leaves the store as it was before the batch; running again completes it.
    """
    started = time.perf_counter()
    con = store.con
    sources = [str(p.resolve()) for p in paths]
    shas = [file_sha256(p) for p in paths]
    results: dict[str, StageResult] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        stg.install_macros(con)
        stg.create_stage(con)
        for path, source in zip(paths, sources):
            results[source] = reader.stage(con, path, {**options, "source_file": source})
        counts = _canonicalise(con, reader.name, results, reader.platform)
        for source, sha in zip(sources, shas):
            c = counts[source]
            con.execute(
                "INSERT INTO ingests BY NAME SELECT ? AS source_file, ? AS sha256, ? AS source_format, "
                "now() AS ingested_at, ? AS rows_read, ? AS rows_stored, ? AS rows_quarantined, "
                "? AS rows_already_present, ? AS rows_merged, ? AS rows_skipped",
                [source, sha, reader.name, results[source].rows_read, c["stored"], c["quarantined"],
                 c["present"], c["merged"], results[source].rows_skipped],
            )
        _drop_temps(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    seconds = round((time.perf_counter() - started) / max(len(paths), 1), 3)
    return [
        FileReport(path=source, format=reader.name, rows_read=results[source].rows_read,
                   rows_stored=counts[source]["stored"], rows_quarantined=counts[source]["quarantined"],
                   rows_already_present=counts[source]["present"], accounts_seen=counts[source]["accounts"],
                   seconds=seconds, rows_merged=counts[source]["merged"],
                   rows_skipped=results[source].rows_skipped, note=results[source].note)
        for source in sources
    ]


def _drop_temps(con) -> None:
    views = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND view_name LIKE '\\_%' ESCAPE '\\'"
    ).fetchall()
    for (name,) in views:
        con.execute(f'DROP VIEW IF EXISTS "{name}"')
    temps = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE '\\_%' ESCAPE '\\'"
    ).fetchall()
    for (name,) in temps:
        if name != "_lang_names":
            con.execute(f'DROP TABLE IF EXISTS "{name}"')


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _canonicalise(con, fmt: str, results: dict[str, StageResult], platform: str | None = None) -> dict[str, dict]:
    """Staged rows of the batch -> quarantine, posts, accounts; counts per source file.

    One pass validates every row and computes its canonical columns (`_checked`); good rows then
    go to `posts` straight from it. Only post ids that are derived need a second look: identical
    rows (same account, time and text) are told apart by their rank, which is computed for the
    few rows that have a twin, not by a window over the whole batch.
    """
    first = next(iter(results.values()))
    time_field, account_field = _q(first.time_field), _q(first.account_field)
    staged = "_stage"
    in_place = [(src, r) for src, r in results.items() if r.stage_sql]
    if in_place:
        unions = " UNION ALL BY NAME ".join(
            f"(SELECT *, {_q(src)} AS source_file FROM ({r.stage_sql}))" for src, r in in_place
        )
        staged = f"(SELECT * FROM _stage UNION ALL BY NAME {unions})"
    # readers that keep no raw text (JSON) show a quarantined row by the fields that were read
    json_raw = "false" if any(r.raw_table for r in results.values()) else "true"
    bad_time = (f"created_at IS NULL OR created_at < TIMESTAMPTZ '{stg.EARLIEST}' "
                f"OR created_at >= TIMESTAMPTZ '{stg.LATEST}'")
    bare = ", ".join(map(_q, schema.BARE_ID_PLATFORMS))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _checked AS
        WITH p0 AS (
          SELECT * REPLACE (coalesce(nullif(lower(trim(platform)), ''), {_q(platform or 'unknown')}) AS platform),
                 ts_parse_time(created_raw) AS created_at,
                 coalesce(nullif(trim(account_id), ''), nullif(lower(trim(handle)), '')) AS acct0
          FROM {staged}
        ), p AS (
          -- ids of a platform other than Twitter go behind the platform's name (schema.BARE_ID_PLATFORMS)
          SELECT *, platform NOT IN ({bare}) AS ns,
                 CASE WHEN platform NOT IN ({bare}) THEN platform || ':' || acct0 ELSE acct0 END AS acct
          FROM p0
        ), v AS (
          SELECT *,
            CASE
              WHEN err_reason IS NOT NULL THEN err_reason
              WHEN acct IS NULL THEN 'missing account'
              WHEN created_raw IS NULL OR trim(created_raw) = '' THEN 'missing time'
              WHEN created_at IS NULL THEN 'unreadable time ' || left(created_raw, 60)
              WHEN created_at < TIMESTAMPTZ '{stg.EARLIEST}' OR created_at >= TIMESTAMPTZ '{stg.LATEST}'
                THEN 'time out of range ({stg.EARLIEST[:4]}-{stg.LATEST[:4]}): ' || left(created_raw, 60)
              WHEN kind IS NOT NULL AND kind NOT IN ('post', 'repost', 'quote', 'reply')
                THEN 'unknown kind ' || left(kind, 40)
              WHEN NOT regexp_full_match(platform, '[a-z][a-z0-9_.-]{{0,30}}')
                THEN 'unknown platform ' || left(platform, 40)
            END AS q_reason,
            CASE
              WHEN err_reason IS NOT NULL THEN err_field
              WHEN acct IS NULL THEN {account_field}
              WHEN {bad_time} THEN {time_field}
              WHEN kind IS NOT NULL AND kind NOT IN ('post', 'repost', 'quote', 'reply') THEN 'kind'
              WHEN NOT regexp_full_match(platform, '[a-z][a-z0-9_.-]{{0,30}}') THEN 'platform'
            END AS q_field,
            -- Entities are extracted here and made distinct in the outer query, over these
            -- columns: a macro repeats its argument, and the regexes are the costly part.
            -- Every URL the regex finds contains '://': a cheap test that skips most texts.
            CASE WHEN urls IS NOT NULL THEN ts_norm_urls(urls)
                 WHEN contains(text, '://') THEN ts_norm_urls_fast(ts_urls(text))
                 ELSE [] END AS urls_x,
            CASE WHEN hashtags IS NOT NULL THEN list_filter(hashtags, lambda h: h IS NOT NULL AND h <> '')
                 WHEN contains(text, '#') OR contains(text, '＃') THEN ts_hashtags(text)
                 ELSE [] END AS tags_x,
            CASE WHEN mentions IS NOT NULL THEN list_filter(list_transform(mentions, lambda m: lower(ltrim(m, '@'))),
                                                            lambda m: m IS NOT NULL AND m <> '')
                 WHEN contains(text, '@') OR contains(text, '＠') THEN ts_mentions(text)
                 ELSE [] END AS ments_x
          FROM p
        )
        SELECT
          v.q_reason, v.q_field,
          CASE WHEN v.q_reason IS NOT NULL THEN left(coalesce(v.raw, CASE WHEN {json_raw} THEN CAST(to_json(struct_pack(
              post_id := v.post_id, account_id := v.account_id, handle := v.handle,
              created_raw := v.created_raw, text := v.text)) AS VARCHAR) END), 2000) END AS q_raw,
          -- An id in scientific notation (6.29697E+17) lost its digits in a spreadsheet: ids
          -- like that collide, so the post gets a derived id instead.
          CASE WHEN NOT regexp_full_match(trim(v.post_id), '[0-9.]+[eE][+-]?[0-9]+')
               THEN CASE WHEN v.ns THEN v.platform || ':' ELSE '' END || nullif(trim(v.post_id), '') END AS src_id,
          v.acct AS account_id,
          coalesce(nullif(trim(v.handle), ''), v.acct) AS handle,
          nullif(trim(v.display_name), '') AS display_name,
          v.created_at,
          v.created_raw,
          v.text,
          coalesce(ln.code,
                   CASE WHEN regexp_full_match(lower(trim(v.lang_raw)), '[a-z]{{2,3}}(-[a-z0-9]+)?')
                             AND lower(trim(v.lang_raw)) NOT IN ('und', 'zxx', 'qme', 'qht', 'qam', 'qct', 'art')
                        THEN split_part(lower(trim(v.lang_raw)), '-', 1) END) AS lang,
          CASE WHEN v.kind IS NOT NULL THEN v.kind
               WHEN v.text LIKE 'RT @%' THEN 'repost' ELSE 'post' END AS kind,
          CASE WHEN v.ns THEN v.platform || ':' ELSE '' END || nullif(trim(v.ref_post_id), '') AS ref_post_id,
          CASE WHEN v.ns THEN v.platform || ':' || nullif(trim(v.ref_account), '')
               ELSE coalesce(nullif(lower(trim(v.ref_account)), ''),
                   CASE WHEN v.text LIKE 'RT @%'
                        THEN nullif(lower(regexp_extract(v.text, '^RT @([A-Za-z0-9_]{{1,15}})', 1)), '') END) END AS ref_account,
          CASE WHEN len(v.urls_x) > 1 THEN ts_distinct(v.urls_x) ELSE v.urls_x END AS urls,
          CASE WHEN len(v.tags_x) > 1 THEN ts_distinct(v.tags_x) ELSE v.tags_x END AS hashtags,
          CASE WHEN len(v.ments_x) > 1 THEN ts_distinct(v.ments_x) ELSE v.ments_x END AS mentions,
          CASE WHEN v.objects IS NULL OR len(v.objects) = 0 THEN [] ELSE ts_distinct(ts_norm_objects(v.objects)) END AS objects,
          v.platform,
          CASE WHEN regexp_matches(trim(v.permalink), '^https?://') THEN trim(v.permalink) END AS permalink,
          v.source_file,
          v.source_line,
          -- equal for rows that may be twins (same file, account, time and text): see _good_view
          hash(v.source_file, v.acct, v.created_raw, hash(v.text)) AS twin_key,
          ts_parse_time(v.acct_created_raw) AS acct_created_at,
          ts_int(v.followers_raw) AS followers,
          ts_int(v.following_raw) AS following,
          ts_int(v.post_count_raw) AS post_count,
          nullif(trim(v.location), '') AS location,
          v.labels
        FROM v LEFT JOIN _lang_names ln ON ln.name = lower(trim(v.lang_raw))
        """
    )
    quarantined = _quarantine(con, fmt, results)
    _good_view(con, fmt)
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
        if _repeated_ids(con, "posts"):
            con.execute("DELETE FROM posts")
        else:
            stored = good
    if stored is None:
        # Sources with ids may list one post on several rows (one per URL, say): keep the first
        # row, with the entities of all of them.
        posts_source = "_good"
        if _repeated_ids(con, "_good"):
            _dedup(con)
            posts_source = "_dedup"
            # A row repeating a post id of an earlier row of its own file added to that post.
            merged = per_file("SELECT source_file, count(*) - count(DISTINCT post_id) FROM _good_rows GROUP BY ALL")
        if store_empty:  # nothing to be already present against: insert straight, no copy
            stored = good if posts_source == "_good" else per_file(
                f"SELECT source_file, count(*) FROM {posts_source} GROUP BY ALL")
            con.execute(f"INSERT INTO posts BY NAME SELECT {post_cols} FROM {posts_source}")
        else:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _new AS SELECT {post_cols} FROM {posts_source} g "
                "WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.post_id = g.post_id)"
            )
            con.execute("INSERT INTO posts BY NAME SELECT * FROM _new")
            stored = per_file("SELECT source_file, count(*) FROM _new GROUP BY ALL")
    _upsert_accounts(con, fmt, list(results))
    return {
        src: {"stored": stored.get(src, 0), "quarantined": quarantined.get(src, 0),
              "merged": merged.get(src, 0),
              "present": good.get(src, 0) - merged.get(src, 0) - stored.get(src, 0),
              "accounts": accounts.get(src, 0)}
        for src in results
    }


def _repeated_ids(con, table: str) -> bool:
    return con.execute(f"SELECT count(*) - count(DISTINCT post_id) FROM {table}").fetchall()[0][0] > 0


def _dedup(con) -> None:
    """`_dedup`: one row per post id of `_good`, the first one, with the entities of all of them."""
    con.execute("CREATE OR REPLACE TEMP TABLE _good_rows AS SELECT * FROM _good")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _dedup AS
        SELECT * REPLACE (
          (SELECT ts_distinct(flatten(list(g2.urls))) FROM _good_rows g2 WHERE g2.post_id = g.post_id) AS urls,
          (SELECT ts_distinct(flatten(list(g2.hashtags))) FROM _good_rows g2 WHERE g2.post_id = g.post_id) AS hashtags,
          (SELECT ts_distinct(flatten(list(g2.mentions))) FROM _good_rows g2 WHERE g2.post_id = g.post_id) AS mentions,
          (SELECT ts_distinct(flatten(list(g2.objects))) FROM _good_rows g2 WHERE g2.post_id = g.post_id) AS objects)
        FROM _good_rows g
        QUALIFY row_number() OVER (PARTITION BY post_id ORDER BY source_file, source_line) = 1
        """
    )


def _good_view(con, fmt: str) -> None:
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
        SELECT coalesce(c.src_id, 'h' || left(md5(concat_ws(chr(31), {_q(fmt)}, c.account_id, c.created_raw,
                 coalesce(c.text, ''), CAST({rank} AS VARCHAR))), 24)) AS post_id,
               c.* EXCLUDE (q_reason, q_field, q_raw, src_id, created_raw, twin_key),
               {_q(fmt)} AS source_format
        FROM _checked c {join}
        WHERE c.q_reason IS NULL
        """
    )


def _quarantine(con, fmt: str, results: dict[str, StageResult]) -> dict[str, int]:
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _bad AS
        SELECT source_file, source_line, q_field AS field, q_reason AS reason, q_raw AS raw,
               {_q(fmt)} AS source_format
        FROM _checked WHERE q_reason IS NOT NULL
        """
    )
    for source, result in results.items():
        missing_raw = con.execute(
            "SELECT count(*) FROM _bad WHERE raw IS NULL AND source_file = ?", [source]
        ).fetchall()[0][0]
        if missing_raw and result.raw_table and result.raw_expr:
            # Render the offending records from the source table, for these few lines only.
            con.execute(
                f"""
                UPDATE _bad SET raw = left(r.rendered, 2000)
                FROM (SELECT {LINE} AS source_line, {result.raw_expr} AS rendered FROM {result.raw_table}
                      WHERE {LINE} IN (SELECT source_line FROM _bad WHERE raw IS NULL)) r
                WHERE _bad.source_line = r.source_line AND _bad.raw IS NULL AND _bad.source_file = {_q(source)}
                """
            )
    con.execute(
        """
        INSERT INTO quarantine SELECT * FROM _bad b WHERE NOT EXISTS (
          SELECT 1 FROM quarantine q WHERE q.source_file = b.source_file
            AND q.source_line IS NOT DISTINCT FROM b.source_line AND q.reason = b.reason)
        """
    )
    return dict(con.execute("SELECT source_file, count(*) FROM _bad GROUP BY ALL").fetchall())


def _latest_key(sources: list[str]) -> str:
    """SQL ordering a batch's rows by time, then file, then earliest line, as one HUGEINT.

    The latest row wins; among rows of the same time (the IRA CSV has minutes), the first in the
    file, which the IRA CSV lists newest first. One number compares far faster than a struct.
    """
    file_ord = "0" if len(sources) <= 1 else f"list_position([{', '.join(map(_q, sources))}], source_file)"
    return (f"((epoch_us(created_at)::HUGEINT * 1024 + {file_ord}) * {1 << 40} "
            "- coalesce(source_line, 0))")


def _upsert_accounts(con, fmt: str, sources: list[str]) -> int:
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
          {_q(fmt)} AS source_format,
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
