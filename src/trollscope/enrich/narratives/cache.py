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

from trollscope.enrich.narratives.embed import gather_runs

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
            SELECT f.key, any_value(f.clean) FROM {fresh} f
            ANTI JOIN narrative_cache_texts t ON t.key = f.key  -- (not NOT EXISTS: see ingest.ids)
            WHERE f.key IS NOT NULL
            GROUP BY f.key""")
        n = con.execute(f"SELECT count(*) FROM {fresh}").fetchall()[0][0]
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return int(n)


def tokens(con, keys: list[str], texts: list[str], model) -> tuple[np.ndarray, np.ndarray]:
    """The model's tokens of `texts` (flat uint16, count per text; `model.tokens`' form), read from
    the cache by `keys` and tokenized (and kept) for the texts it lacks."""
    n = len(keys)
    con.register("_nar_tok_keys", pa.table({"i": pa.array(np.arange(n, dtype=np.int64)),
                                            "key": pa.array(keys, pa.string())}))
    try:
        got = con.sql("""
            SELECT k.i, c.tokens FROM _nar_tok_keys k JOIN narrative_cache_tokens c USING (key) ORDER BY k.i
        """).to_arrow_table()
    finally:
        con.unregister("_nar_tok_keys")
    counts = np.zeros(n, dtype=np.int64)
    have = got.column("i").to_numpy().astype(np.int64) if got.num_rows else np.zeros(0, dtype=np.int64)
    cached, cached_counts = _unpack(got.column("tokens").combine_chunks() if got.num_rows else pa.array([], pa.binary()))
    missing = np.setdiff1d(np.arange(n), have)
    fresh, fresh_counts = model.tokens([texts[i] for i in missing]) if len(missing) else \
        (np.zeros(0, dtype=np.uint16), np.zeros(0, dtype=np.int64))
    if len(missing):
        con.register("_nar_tok_new", pa.table({"key": pa.array([keys[i] for i in missing], pa.string()),
                                               "tokens": _pack(fresh, fresh_counts)}))
        try:
            con.execute("INSERT INTO narrative_cache_tokens SELECT key, tokens FROM _nar_tok_new")
        finally:
            con.unregister("_nar_tok_new")
    # the two sets of texts back in the callers' order: each text's run of tokens, from one or the other
    counts[have] = cached_counts
    counts[missing] = fresh_counts
    source = np.concatenate([cached, fresh])
    source_start = np.empty(n, dtype=np.int64)
    source_start[have] = np.cumsum(cached_counts) - cached_counts
    source_start[missing] = len(cached) + np.cumsum(fresh_counts) - fresh_counts
    return gather_runs(source, source_start, counts).astype(np.uint16, copy=False), counts


def _pack(flat: np.ndarray, counts: np.ndarray) -> pa.Array:
    """One blob per text: its run of `flat` as uint16 bytes."""
    offsets = np.concatenate([[0], np.cumsum(counts) * 2]).astype(np.int64)
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(counts),
                                            [None, pa.py_buffer(offsets), pa.py_buffer(flat.astype(np.uint16).tobytes())])


def _unpack(blobs: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """`_pack`'s inverse: the blobs' uint16 tokens as one flat array, and each blob's count."""
    if not len(blobs):
        return np.zeros(0, dtype=np.uint16), np.zeros(0, dtype=np.int64)
    blobs = blobs.cast(pa.large_binary())
    offsets = np.frombuffer(blobs.buffers()[1], dtype=np.int64)[blobs.offset:blobs.offset + len(blobs) + 1]
    counts = (np.diff(offsets) // 2).astype(np.int64)
    if offsets[-1] == offsets[0]:  # every text without a kept token: no data buffer
        return np.zeros(0, dtype=np.uint16), counts
    data = np.frombuffer(blobs.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    return data.view(np.uint16).copy(), counts
