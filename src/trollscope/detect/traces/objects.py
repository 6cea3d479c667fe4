"""Perceptual-hash clusters for the `co_object` trace: images that are the same picture.

Two posts carry the same object when their `TYPE:VALUE` strings are equal. A 64-bit perceptual
image hash (an object of type `phash` or `image` whose value is 16 hex digits, as imagehash,
pHash or CooRnet write them) also matches hashes at most `phash_distance` bits away: the same
picture re-encoded, resized or watermarked moves a hash by a few bits, while two unrelated
pictures differ in about 32 of 64. The default, 6 bits, is where random 64-bit hashes almost
never meet (P(d <= 6) = 4e-12 per pair: a few chance matches among a million distinct hashes).

Candidates come from multi-index hashing: the 64 bits are cut into `distance + 1` bands, and two
hashes within `distance` bits agree on at least one band (pigeonhole); candidates sharing a band
are kept when the popcount of their XOR is at most `distance`. Clusters are the connected
components of the kept links (a chain of near copies is one picture), named by their smallest
hash. Result: `object_clusters(object, cluster)` for hashes whose cluster holds two or more
distinct hashes; the trace uses the cluster as the item.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from trollscope.store import Store
from trollscope.detect.traces.linked import smallest_linked

# An object that is a 64-bit perceptual hash; its item is `phash:` + the 16 hex digits, lower-cased,
# whatever the type was called, so `image:` and `phash:` hashes of one picture meet.
PHASH_RE = "^(phash|image|image_hash):(0x)?[0-9a-fA-F]{16}$"


def phash_item(column: str) -> str:
    """SQL: the object in `column` as the trace's item (hex hashes in one canonical form)."""
    return (f"CASE WHEN regexp_matches({column}, '{PHASH_RE}') "
            f"THEN 'phash:' || lower(right({column}, 16)) ELSE {column} END")


def bands(distance: int) -> list[tuple[int, int]]:
    """(shift, width) of the `distance + 1` bands the 64 bits are cut into, widest first."""
    n = max(int(distance), 0) + 1
    widths = [64 // n + (1 if i < 64 % n else 0) for i in range(n)]
    out, shift = [], 0
    for w in widths:
        out.append((shift, w))
        shift += w
    return out


def build_object_clusters(store: Store, distance: int = 6) -> dict:
    """Write `object_clusters`; return counts (distinct hashes, links, clusters, clustered hashes)."""
    con = store.con
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ph AS
        SELECT row_number() OVER (ORDER BY item) - 1 AS i, item,
               CAST('0x' || right(item, 16) AS UBIGINT) AS h
        FROM (SELECT DISTINCT {phash_item('o')} AS item FROM (
                SELECT unnest(objects) AS o FROM posts WHERE kind <> 'repost' AND len(objects) > 0)
              WHERE regexp_matches(o, '{PHASH_RE}'))
        """
    )
    n = con.execute("SELECT count(*) FROM _ph").fetchall()[0][0]
    links = np.zeros((0, 2), dtype=np.int64)
    if n > 1 and distance > 0:
        unions = " UNION ".join(
            f"""SELECT x.i AS a, y.i AS b FROM _ph x JOIN _ph y
                ON (x.h >> {shift}) & {(1 << width) - 1} = (y.h >> {shift}) & {(1 << width) - 1} AND x.i < y.i
                WHERE bit_count(xor(x.h, y.h)) <= {int(distance)}"""
            for shift, width in bands(distance))
        found = con.execute(f"SELECT a, b FROM ({unions}) ORDER BY a, b").fetchnumpy()
        links = np.column_stack([found["a"], found["b"]]).astype(np.int64) if len(found["a"]) else links
    clusters: list[tuple[str, str]] = []
    if len(links):
        smallest = smallest_linked(n, links[:, 0], links[:, 1])
        items = [r[0] for r in con.execute("SELECT item FROM _ph ORDER BY i").fetchall()]
        sizes = np.bincount(smallest, minlength=n)  # items are sorted: a cluster's smallest names it
        clusters = [(items[i], items[c]) for i, c in enumerate(smallest) if sizes[c] > 1]
    table = pa.table({"object": pa.array([c[0] for c in clusters], pa.string()),
                      "cluster": pa.array([c[1] for c in clusters], pa.string())})
    con.register("_oc_in", table)
    con.execute("CREATE OR REPLACE TABLE object_clusters AS SELECT * FROM _oc_in ORDER BY object")
    con.unregister("_oc_in")
    con.execute("DROP TABLE IF EXISTS _ph")
    return {"hashes": int(n), "links": int(len(links)), "clusters": len({c[1] for c in clusters}),
            "clustered": len(clusters)}
