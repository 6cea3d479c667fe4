"""What narratives keep from one computation to the next: each post's cleaned text, and each
distinct English text's tokens.

Narratives are computed again whenever detection changes (every update of a watched store), and
most campaign posts are the same ones each time. Cleaning texts (regular expressions over every
campaign post) and tokenizing them were half of the narrative stage on ira-dev; both depend on
the post alone, so they are kept in the store and done only for posts not seen before:

  narrative_cache_meta    one row: the cache's version (the cleaning, the language guess and the
                          model's tokenizer); a different version empties the cache
  narrative_cache_posts   post_id -> key (md5 of the cleaned text; NULL for a text of fewer than
                          three letters, which is never clustered), lang, script
  narrative_cache_texts   key -> the cleaned text
  narrative_cache_tokens  key -> the static model's tokens of the text (uint16, as a blob)

Everything else (sampling, clustering, keywords) depends on the campaigns and is computed anew.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

# Bump when CLEAN_SQL, the language guess or the letters rule of pipeline._prepare changes.
VERSION = 1
TABLES = ("narrative_cache_posts", "narrative_cache_texts", "narrative_cache_tokens")


def ensure(con, model_version: str) -> None:
    """Create the cache tables, or empty them when they were made by another version."""
    version = f"{VERSION}:{model_version}"
    found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = "
                        "'narrative_cache_meta'").fetchall()[0][0]
    if found and con.execute("SELECT version FROM narrative_cache_meta").fetchall() == [(version,)]:
        return
    con.execute("CREATE OR REPLACE TABLE narrative_cache_meta AS SELECT ?::VARCHAR AS version", [version])
    con.execute("CREATE OR REPLACE TABLE narrative_cache_posts (post_id VARCHAR, key VARCHAR, lang VARCHAR, "
                "script VARCHAR)")
    con.execute("CREATE OR REPLACE TABLE narrative_cache_texts (key VARCHAR, clean VARCHAR)")
    con.execute("CREATE OR REPLACE TABLE narrative_cache_tokens (key VARCHAR, tokens BLOB)")


def add_posts(con, fresh: str) -> int:
    """Keep the posts of the temporary table `fresh` (post_id, clean, key, lang, script): posts the
    cache does not hold yet. Returns how many were added."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"INSERT INTO narrative_cache_posts SELECT post_id, key, lang, script FROM {fresh}")
        con.execute(f"""
            INSERT INTO narrative_cache_texts
            SELECT key, any_value(clean) FROM {fresh} f
            WHERE key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM narrative_cache_texts t WHERE t.key = f.key)
            GROUP BY key""")
        n = con.execute(f"SELECT count(*) FROM {fresh}").fetchall()[0][0]
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return int(n)


def tokens(con, keys: list[str], texts: list[str], model) -> tuple[np.ndarray, np.ndarray]:
    """The model's tokens of `texts` (flat uint16, count per text; `model.tokens`' form), read from
    the cache by `keys` and tokenized (and kept) for the texts it lacks."""
    con.register("_nar_tok_keys", pa.table({"i": pa.array(np.arange(len(keys), dtype=np.int64)),
                                            "key": pa.array(keys, pa.string())}))
    try:
        got = con.sql("""
            SELECT k.i, c.tokens FROM _nar_tok_keys k JOIN narrative_cache_tokens c USING (key) ORDER BY k.i
        """).to_arrow_table()
    finally:
        con.unregister("_nar_tok_keys")
    n = len(keys)
    counts = np.zeros(n, dtype=np.int64)
    parts: list[np.ndarray | None] = [None] * n
    index = got.column("i").to_numpy()
    blobs = got.column("tokens").combine_chunks() if got.num_rows else pa.array([], pa.binary())
    if got.num_rows:
        offsets = np.frombuffer(blobs.buffers()[1], dtype=np.int32)[blobs.offset:blobs.offset + len(blobs) + 1]
        data = np.frombuffer(blobs.buffers()[2], dtype=np.uint16, count=int(offsets[-1]) // 2) \
            if offsets[-1] else np.zeros(0, dtype=np.uint16)
        for j, i in enumerate(index):
            parts[i] = data[offsets[j] // 2:offsets[j + 1] // 2]
    missing = [i for i in range(n) if parts[i] is None]
    if missing:
        flat, counts_new = model.tokens([texts[i] for i in missing])
        ends = np.concatenate([[0], np.cumsum(counts_new)])
        for j, i in enumerate(missing):
            parts[i] = flat[ends[j]:ends[j + 1]]
        blob = pa.array([parts[i].tobytes() for i in missing], pa.binary())
        con.register("_nar_tok_new", pa.table({"key": pa.array([keys[i] for i in missing], pa.string()),
                                               "tokens": blob}))
        try:
            con.execute("INSERT INTO narrative_cache_tokens SELECT key, tokens FROM _nar_tok_new")
        finally:
            con.unregister("_nar_tok_new")
    for i in range(n):
        counts[i] = len(parts[i])
    flat = np.concatenate(parts) if n else np.zeros(0, dtype=np.uint16)
    return flat.astype(np.uint16, copy=False), counts
