"""Narratives: what flagged campaigns post about, found by clustering their posts' texts.

Per language group (see languages.py): deduplicate texts (a retweet is its text once, with a count),
sample up to `narrative_sample` distinct texts per campaign, embed, reduce with PCA, cluster with
HDBSCAN, then let every other text of the group join its nearest narrative when it is as close to the
centroid as most of the narrative's own members (else it stays unassigned). Each narrative gets
c-TF-IDF keywords, its most central texts as examples, and its posts per campaign and day.

Tables written (all replaced on each run):
  narrative_runs      one row: when, settings, model, input sizes, seconds
  narratives          narrative_id, rank, lang, label, keywords, posts, texts, accounts, clustered, first/last seen
  narrative_posts     post_id -> narrative_id (with campaign, account and similarity to the centroid)
  campaign_narratives campaign_id, narrative_id, posts
  narrative_examples  narrative_id, rank, post_id, similarity, posts (how often the text was posted)
  narrative_groups    per language group and campaign: posts, distinct texts, texts sampled for clustering
"""

from __future__ import annotations

import json
import time
from typing import Callable

import numpy as np

from trollscope.enrich.narratives import cache
from trollscope.enrich.narratives import keywords as kw
from trollscope.enrich.narratives.languages import assign_groups, guess_sql, script_sql
from trollscope.store import Store, catalogue
from trollscope.store import run as runs
from trollscope.store.run import Run

Progress = Callable[[str, float], None]
# What the embedding sees and what identifies "the same text": no links, handles or RT marker, lower case,
# every run of whitespace (RE2's \s: [\t\n\f\r ]) one space. Only the runs that are not one space already
# are matched (two or more characters, or one tab or line break), as in detect's NORM_TEXT: matching
# every single space to put it back took 2.2 s of 1.18 M IRA texts, this 1.4 s, the same texts.
CLEAN_SQL = ("lower(trim(regexp_replace(regexp_replace(coalesce(p.text, ''), "
             r"'https?://\S+|www\.\S+|@\w+|&amp;|&gt;|&lt;|\bRT\b', ' ', 'g'), "
             r"'[\t\n\f\r ]{2,}|[\t\n\f\r]', ' ', 'g')))")
KEYWORD_DOCS = 3000      # texts per narrative fed to c-TF-IDF (the closest ones), and 5x that as background
MIN_CAPTURED = 0.15      # LSA: least share of a text's TF-IDF vector the reduced space must keep
EXAMPLES = 10            # most central texts kept per narrative


def _say(progress: Progress | None, message: str, fraction: float) -> None:
    if progress:
        progress(message, fraction)


def _prepare(store: Store, cfg: dict) -> dict:
    """Temp tables: one row per post of a flagged campaign, and one per distinct text and group.
    Posts cleaned before (`cache`) are read back; only the others are cleaned, and kept."""
    con = store.con
    from trollscope.enrich.narratives.embed import load

    cache.ensure(con, str(load().describe().get("version")))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _nar_fresh AS
        SELECT p.post_id, c.clean,
               -- three letters or more (a match that stops at the third, not a copy of every text's
               -- letters); a text with fewer is never clustered (key NULL)
               CASE WHEN regexp_matches(c.clean, '(?s)\\p{{L}}.*\\p{{L}}.*\\p{{L}}') THEN md5(c.clean) END AS key,
               coalesce(p.lang, {guess_sql('c.clean')}) AS lang, {script_sql('c.clean')} AS script
        FROM posts p SEMI JOIN campaign_members m ON m.account_id = p.account_id
        ANTI JOIN narrative_cache_posts k ON k.post_id = p.post_id,
             LATERAL (SELECT {CLEAN_SQL} AS clean) c""")
    cache.add_posts(con, "_nar_fresh")
    con.execute("DROP TABLE _nar_fresh")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _nar_posts AS
        SELECT p.post_id, p.account_id, m.campaign_id, p.created_at, t.clean, k.key, k.lang, k.script
        FROM posts p JOIN campaign_members m USING (account_id)
        JOIN narrative_cache_posts k ON k.post_id = p.post_id AND k.key IS NOT NULL
        JOIN narrative_cache_texts t ON t.key = k.key""")
    assign_groups(con, "_nar_posts", cfg["narrative_min_lang"])
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _nar_texts AS
        SELECT lang_group, key, any_value(clean) AS clean, count(*) AS posts
        FROM _nar_posts GROUP BY lang_group, key""")
    # Sampling: per campaign and group, distinct texts in a seeded hash order (uniform, reproducible).
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _nar_sample AS
        SELECT DISTINCT lang_group, key FROM (
            SELECT lang_group, campaign_id, key,
                   row_number() OVER (PARTITION BY lang_group, campaign_id
                                      ORDER BY md5(key || '{int(cfg["seed"])}'), key) AS rn
            FROM (SELECT DISTINCT lang_group, campaign_id, key FROM _nar_posts))
        WHERE rn <= {int(cfg["narrative_sample"])}""")
    con.execute("""
        CREATE OR REPLACE TABLE narrative_groups AS
        SELECT p.lang_group AS lang, p.campaign_id, count(*) AS posts, count(DISTINCT p.key) AS texts,
               count(DISTINCT s.key) AS sampled_texts, count(s.key) AS sampled_posts
        FROM _nar_posts p LEFT JOIN _nar_sample s USING (lang_group, key)
        GROUP BY ALL ORDER BY lang, campaign_id""")
    sizes = con.execute("SELECT count(*), count(DISTINCT key) FROM _nar_posts").fetchall()[0]
    return {"posts": sizes[0], "texts": sizes[1]}


def _vectors(lang: str, texts: list[str], sampled: np.ndarray, seed: int, keys: list[str] | None = None,
             con=None) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, str]:
    """Unit vectors for a group's texts, as a function of the texts' indices (ascending); which texts
    have one (the others get a zero vector and are never clustered or assigned); the method's name.

    English goes through the shipped static model (its tokens kept per text in the store's `cache`
    when `con` and `keys` are given); other languages through TF-IDF + LSA fitted on the group's own
    sample, because MiniLM's English wordpiece vocabulary reduces Cyrillic or Arabic text to a bag of
    letters (see docs/narratives.md). An English text's vector is the normalised sum of its tokens'
    vectors, made when asked for: every text's at once was the stage's largest array (ira-dev's
    569,550 English texts: 417 MiB) and took the process past its memory setting. It is nonzero when
    the text has a token (a sum of the model's token vectors is never exactly zero)."""
    if lang == "en":
        from trollscope.enrich.narratives.embed import gather_runs, load

        model = load()
        flat, counts = model.tokens(texts) if con is None or keys is None else cache.tokens(con, keys, texts, model)
        starts = np.cumsum(counts) - counts

        def embedded(idx: np.ndarray) -> np.ndarray:
            return model.embed(gather_runs(flat, starts[idx], counts[idx]), counts[idx])
        return embedded, counts > 0, "static-minilm"

    def nothing():  # no vector for any text
        return np.zeros((len(texts), 1), dtype=np.float32).__getitem__, np.zeros(len(texts), dtype=bool), "tfidf-lsa"

    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(token_pattern=kw.TOKEN, min_df=2, sublinear_tf=True, max_features=50_000)
    fit_on = [t for t, s in zip(texts, sampled) if s]
    try:
        fitted = tfidf.fit_transform(fit_on)  # the sample's own rows, made once
    except ValueError:
        return nothing()
    if fitted.shape[1] < 2:  # one word used twice: nothing to reduce, no narrative (SVD needs two)
        return nothing()
    # every text's row: the sample's from the fit, the others' analysed now (each text once)
    from scipy import sparse

    rest = np.nonzero(~sampled)[0]
    order = np.concatenate([np.nonzero(sampled)[0], rest])
    x = sparse.vstack([fitted, tfidf.transform([texts[i] for i in rest])]).tocsr()[np.argsort(order)] \
        if len(rest) else fitted
    dims = max(1, min(100, x.shape[1] - 1, len(fit_on) - 1))
    svd = TruncatedSVD(n_components=dims, random_state=seed).fit(fitted)
    v = svd.transform(x).astype(np.float32)  # at most 100 numbers a text: kept whole
    # TF-IDF rows have unit length, so the norm after SVD is the share of the text the LSA space
    # captures. Texts made only of rare words keep almost nothing; normalised, they would all pile up
    # in one spot and HDBSCAN would call that pile a narrative. They get a zero vector instead.
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    kept = norms >= MIN_CAPTURED
    return np.divide(v, norms, out=np.zeros_like(v), where=kept).__getitem__, kept[:, 0], "tfidf-lsa"


def _cluster(vectors: np.ndarray, cfg: dict) -> np.ndarray:
    """HDBSCAN labels (-1 = noise) for the sampled vectors, after PCA to `narrative_dims`."""
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import PCA

    n = len(vectors)
    if n < 2 * cfg["narrative_min_cluster"] or vectors.shape[1] < 2:
        return np.full(n, -1)
    dims = min(cfg["narrative_dims"], vectors.shape[1], n - 1)
    reduced = PCA(n_components=dims, random_state=cfg["seed"]).fit_transform(vectors)
    norms = np.linalg.norm(reduced, axis=1, keepdims=True)
    reduced = np.divide(reduced, norms, out=np.zeros_like(reduced), where=norms > 0)
    # 'leaf' picks the fine clusters at the bottom of the tree: on short posts 'eom' tends to return
    # one giant cluster of everything plus a few crumbs. n_jobs: the core distances (each text's
    # distance to its min_samples-th neighbour, a k-d tree query per text) on every core, in
    # threads; each query is the same alone, so the labels are too.
    return HDBSCAN(min_cluster_size=int(cfg["narrative_min_cluster"]), min_samples=int(cfg["narrative_min_samples"]),
                   cluster_selection_method="leaf", copy=True, n_jobs=-1).fit_predict(reduced)


def _group(store: Store, lang: str, cfg: dict) -> list[dict]:
    """Cluster one language group; returns its narratives and writes its text assignments."""
    con = store.con
    rows = con.execute("""
        SELECT t.key, t.clean, t.posts, s.key IS NOT NULL AS sampled
        FROM _nar_texts t LEFT JOIN _nar_sample s USING (lang_group, key)
        WHERE t.lang_group = ? ORDER BY t.key""", [lang]).fetchall()
    if not rows:
        return []
    keys = [r[0] for r in rows]
    texts = [r[1] for r in rows]
    posts = np.array([r[2] for r in rows], dtype=np.int64)
    sampled = np.array([r[3] for r in rows], dtype=bool)
    vectors, usable, method = _vectors(lang, texts, sampled, cfg["seed"], keys, con)
    sample_idx = np.nonzero(sampled & usable)[0]
    vs = vectors(sample_idx)
    labels = np.full(len(rows), -1)
    labels[sample_idx] = labels_s = _cluster(vs, cfg)
    k = int(labels.max()) + 1
    if k == 0:
        return []
    centroids = np.stack([vs[labels_s == c].mean(axis=0) for c in range(k)])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    member_sim = np.einsum("ij,ij->i", vs[labels_s >= 0], centroids[labels_s[labels_s >= 0]])
    # A narrative's own bar: as close to its centroid as the closest (1 - q) of its clustered texts.
    bar = np.array([np.quantile(member_sim[labels_s[labels_s >= 0] == c], cfg["narrative_assign_quantile"])
                    for c in range(k)])
    sim = np.zeros(len(rows), dtype=np.float32)
    sim[labels >= 0] = member_sim
    del vs
    rest = np.nonzero((labels < 0) & usable)[0]
    for start in range(0, len(rest), 50_000):  # (a product's last bits follow its blocks: keep them)
        idx = rest[start:start + 50_000]
        s = vectors(idx) @ centroids.T
        best = s.argmax(axis=1)
        best_sim = s[np.arange(len(idx)), best]
        ok = best_sim >= bar[best]
        labels[idx[ok]] = best[ok]
        sim[idx[ok]] = best_sim[ok]
    clustered_texts = np.bincount(labels[sampled & (labels >= 0)], minlength=k)

    # keywords: the narrative's most central texts against a background of the group's unassigned ones
    docs, classes, examples = [], [], {}
    for c in range(k):
        members = np.nonzero(labels == c)[0]
        order = members[np.lexsort((members, -sim[members]))]
        examples[c] = order[:EXAMPLES]
        docs += [texts[i] for i in order[:KEYWORD_DOCS]]
        classes += [c] * min(len(order), KEYWORD_DOCS)
    background = np.nonzero(labels < 0)[0][:5 * KEYWORD_DOCS]
    docs += [texts[i] for i in background]
    classes += [-1] * len(background)
    words = kw.ctfidf(docs, np.array(classes), lang, top=int(cfg["narrative_keywords"]))

    assigned = np.nonzero(labels >= 0)[0]
    con.execute("CREATE TEMP TABLE IF NOT EXISTS _nar_assign (lang_group VARCHAR, key VARCHAR, local INTEGER, "
                "similarity DOUBLE)")
    import pyarrow as pa

    batch = pa.table({"lang_group": pa.array([lang] * len(assigned)), "key": pa.array([keys[i] for i in assigned]),
                      "local": pa.array(labels[assigned].astype(np.int32)),
                      "similarity": pa.array(np.round(sim[assigned].astype(np.float64), 4))})
    con.register("_nar_batch", batch)
    con.execute("INSERT INTO _nar_assign SELECT * FROM _nar_batch")
    con.unregister("_nar_batch")
    out = []
    for c in range(k):
        out.append({"lang": lang, "local": c, "keywords": words.get(c, []), "method": method,
                    "clustered": int(clustered_texts[c]), "texts": int((labels == c).sum()),
                    "posts": int(posts[labels == c].sum()),
                    "examples": [(keys[i], round(float(sim[i]), 4), int(posts[i])) for i in examples[c]]})
    return out


def _label(keywords: list[str], used: set) -> str:
    """Three keywords, preferring ones no larger narrative of the language has in its label, so that
    three election narratives read "trump, president, hillary", "obama, donald, clinton", ... rather
    than the same three words each time. `used` is updated."""
    fresh = [k for k in keywords if k not in used]
    words = (fresh + [k for k in keywords if k in used])[:3]
    used.update(words)
    return ", ".join(words)


def find_narratives(store: Store, progress: Progress | None = None, run: Run | None = None, **overrides) -> dict:
    """Compute narratives of the flagged campaigns of `run` (the newest by default) and store them;
    returns a summary.

    `progress(message, fraction)` is called as stages finish; settings are the run's, with the
    narrative settings in `overrides` on top (settings.py).
    """
    started = time.perf_counter()
    run = run or runs.latest(store)
    cfg = run.config(**overrides)
    con = store.con
    _say(progress, "collecting the campaigns' posts", 0.02)
    sizes = _prepare(store, cfg)
    con.execute("DROP TABLE IF EXISTS _nar_assign")
    groups = [r[0] for r in con.execute(
        "SELECT lang_group FROM _nar_texts GROUP BY 1 ORDER BY count(*) DESC, 1").fetchall()]
    found: list[dict] = []
    total = max(1, sizes["texts"])
    done = 0
    for lang in groups:
        n = con.execute("SELECT count(*) FROM _nar_texts WHERE lang_group = ?", [lang]).fetchall()[0][0]
        _say(progress, f"language {lang}: {n:,} distinct texts", 0.05 + 0.85 * done / total)
        found += _group(store, lang, cfg)
        done += n
    _say(progress, "writing narratives", 0.92)
    _write(store, found, cfg, sizes, started, key(run, cfg))
    _say(progress, "done", 1.0)
    summary = json.loads(con.execute("SELECT summary FROM narrative_runs").fetchall()[0][0])
    return summary


def key(run: Run, cfg: dict) -> str:
    """What stored narratives were made for: the run and the narrative settings used."""
    return catalogue.DERIVED["narratives"].key(run, settings=cfg)


def _write(store: Store, found: list[dict], cfg: dict, sizes: dict, started: float, made_for: str) -> None:
    con = store.con
    con.execute("CREATE TEMP TABLE IF NOT EXISTS _nar_assign (lang_group VARCHAR, key VARCHAR, local INTEGER, "
                "similarity DOUBLE)")
    # Stable ids: rank by posts, then language and keywords, so a rerun on the same input gives N1 = N1.
    found.sort(key=lambda n: (-n["posts"], n["lang"], n["keywords"], n["local"]))
    used: dict[str, set] = {}
    for rank, n in enumerate(found, 1):
        n["narrative_id"] = f"N{rank}"
        n["rank"] = rank
        n["label"] = _label(n["keywords"], used.setdefault(n["lang"], set()))
    import pyarrow as pa

    ids = pa.table({"lang_group": [n["lang"] for n in found], "label": [n["label"] for n in found], "local": pa.array([n["local"] for n in found], pa.int32()),
                    "narrative_id": [n["narrative_id"] for n in found], "rank": [n["rank"] for n in found],
                    "keywords": pa.array([n["keywords"] for n in found], pa.list_(pa.string())),
                    "clustered": [n["clustered"] for n in found], "method": [n["method"] for n in found]})
    ex = pa.table({"narrative_id": [n["narrative_id"] for n in found for _ in n["examples"]],
                   "rank": [i + 1 for n in found for i in range(len(n["examples"]))],
                   "key": [e[0] for n in found for e in n["examples"]],
                   "lang_group": [n["lang"] for n in found for _ in n["examples"]],
                   "similarity": [e[1] for n in found for e in n["examples"]],
                   "posts": [e[2] for n in found for e in n["examples"]]})
    con.register("_nar_ids", ids)
    con.register("_nar_ex", ex)
    try:
        with store.transaction():
            con.execute("""
                CREATE OR REPLACE TABLE narrative_posts AS
                SELECT p.post_id, i.narrative_id, p.campaign_id, p.account_id, a.similarity
                FROM _nar_assign a JOIN _nar_ids i ON i.lang_group = a.lang_group AND i.local = a.local
                JOIN _nar_posts p ON p.lang_group = a.lang_group AND p.key = a.key
                ORDER BY i.rank, p.post_id""")
            con.execute("""
                CREATE OR REPLACE TABLE narratives AS
                SELECT i.narrative_id, i.rank, i.lang_group AS lang,
                       i.label, i.keywords,
                       count(*) AS posts, count(DISTINCT np.account_id) AS accounts, i.clustered AS clustered_texts,
                       i.method, min(p.created_at) AS first_seen, max(p.created_at) AS last_seen
                FROM _nar_ids i JOIN narrative_posts np USING (narrative_id) JOIN posts p USING (post_id)
                GROUP BY ALL ORDER BY i.rank""")
            con.execute("""
                CREATE OR REPLACE TABLE campaign_narratives AS
                SELECT campaign_id, narrative_id, count(*) AS posts FROM narrative_posts
                GROUP BY ALL ORDER BY campaign_id, posts DESC, narrative_id""")
            # an example is the earliest post of the text (the original rather than one of its retweets)
            con.execute("""
                CREATE OR REPLACE TABLE narrative_examples AS
                SELECT e.narrative_id, e.rank, arg_min(p.post_id, (p.created_at, p.post_id)) AS post_id,
                       e.similarity, e.posts
                FROM _nar_ex e JOIN _nar_posts p ON p.lang_group = e.lang_group AND p.key = e.key
                GROUP BY ALL ORDER BY e.narrative_id, e.rank""")
            assigned = con.execute("SELECT count(*) FROM narrative_posts").fetchall()[0][0]
            from trollscope.enrich.narratives.embed import load

            summary = {"narratives": len(found), "posts": sizes["posts"], "texts": sizes["texts"],
                       "assigned_posts": assigned, "languages": sorted({n["lang"] for n in found}),
                       "seconds": round(time.perf_counter() - started, 1)}
            settings = {k: v for k, v in cfg.items() if k.startswith("narrative_") or k == "seed"}
            con.execute("CREATE OR REPLACE TABLE narrative_runs (run_at TIMESTAMPTZ, made_for VARCHAR, "
                        "settings VARCHAR, model VARCHAR, summary VARCHAR)")
            con.execute("INSERT INTO narrative_runs VALUES (now(), ?, ?, ?, ?)",
                        [made_for, json.dumps(settings, sort_keys=True), json.dumps(load().describe()),
                         json.dumps(summary)])
    finally:
        con.unregister("_nar_ids")
        con.unregister("_nar_ex")
