"""Narratives: planted campaigns with known topics (three English, one Russian) are detected and their
topics come back as separate narratives with the topic words as keywords; the shipped embedding model
puts paraphrases closer than unrelated texts; the same input gives the same narratives."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import trollscope

from detect_helpers import make_store, post
from trollscope.cli import app
from trollscope.pipeline import detect
from trollscope.enrich.narratives import find_narratives
from trollscope.views import narratives as nq

# Each topic: subjects x claims, so every campaign has dozens of distinct texts on one theme.
TOPICS = {
    "guns": (["The second amendment", "Our gun rights", "Every gun owner", "The NRA", "Concealed carry",
              "Gun control", "A rifle at home", "Self defense with a gun"],
             ["is under attack by liberals", "keeps families safe", "must be defended now",
              "will never be taken away", "protects us from criminals", "is a constitutional right",
              "scares the gun grabbers"]),
    "vaccines": (["The flu vaccine", "Vaccinating children", "Big pharma vaccines", "The measles shot",
                  "Mandatory vaccination", "The new vaccine", "Vaccine injuries", "The CDC vaccine schedule"],
                 ["causes autism in kids", "is poisoning our children", "is a pharma scam",
                  "was never tested properly", "hides dangerous side effects", "should be refused by parents",
                  "makes doctors rich"]),
    "football": (["The Patriots", "Tom Brady", "The Super Bowl", "Our quarterback", "The NFL draft",
                  "The Cowboys defense", "Sunday night football", "The touchdown pass"],
                 ["won the game in overtime", "was amazing last night", "scored three touchdowns",
                  "beat the Giants again", "crushed the playoff rivals", "made the fans go crazy",
                  "broke a season record"]),
    "donbass": (["Украинская армия", "Киевская хунта", "Каратели в Донбассе", "Обстрелы Донецка",
                 "Нацгвардия Украины", "Порошенко", "Военные ВСУ", "Батальон Азов"],
                ["снова обстреляли Донецк", "убивают мирных жителей", "нарушили перемирие",
                 "бомбят школы и больницы", "готовят новое наступление", "разрушили дома в Горловке",
                 "стреляют по детям"]),
}
CHATTER = ["lunch was great", "monday again", "new phone who dis", "coffee time", "watching a movie tonight",
           "my cat is asleep", "traffic is terrible", "happy birthday to my sister", "rainy weekend",
           "just finished a run", "pizza or tacos", "reading a good book"]


def _corpus() -> list[dict]:
    """Four campaigns of six accounts: the first account posts a topic text, the other five repost it
    within a minute. An honest crowd chats at random times and never coordinates."""
    rng = random.Random(7)
    rows, n = [], 0
    for c, (topic, (subjects, claims)) in enumerate(TOPICS.items()):
        users = [f"{topic}_{i}" for i in range(6)]
        texts = [f"{s} {v}" for s in subjects for v in claims]
        rng.shuffle(texts)
        for k, text in enumerate(texts[:48]):
            t = 86400 * 2 + c * 3600 + k * 5400 + rng.randint(0, 600)
            author = users[k % 6]
            n += 1
            origin = f"p{n}"
            rows.append(post(origin, author, t, text + (" #maga" if topic == "guns" else "")))
            for j, u in enumerate(x for x in users if x != author):
                n += 1
                rows.append(post(f"p{n}", u, t + 5 + 7 * j, text, kind="repost", ref=origin, ref_user=author))
    for i in range(40):
        for k in range(12):
            n += 1
            rows.append(post(f"p{n}", f"crowd_{i}", rng.randint(0, 86400 * 40),
                             f"{rng.choice(CHATTER)} {rng.choice(CHATTER)}"))
    return rows


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    store = make_store(tmp_path_factory.mktemp("narr"), _corpus())
    detect(store)
    summary = find_narratives(store, narrative_min_cluster=8)
    yield store, summary
    store.close()


def _topic_of(narrative: dict) -> str | None:
    """The planted topic whose words fill the narrative's keywords."""
    words = {t: {w.lower() for s, v in [TOPICS[t]] for x in s + v for w in x.split()} for t in TOPICS}
    hits = {t: sum(k in words[t] for k in narrative["keywords"]) for t in TOPICS}
    best = max(hits, key=hits.get)
    return best if hits[best] >= 3 else None


def test_each_planted_topic_is_a_narrative_pushed_by_its_campaign(planted):
    store, summary = planted
    found = nq.narratives(store, examples=3)
    assert summary["narratives"] == len(found) >= 4
    by_topic: dict[str, list[dict]] = {}
    for n in found:
        by_topic.setdefault(_topic_of(n), []).append(n)
    assert set(TOPICS) <= set(by_topic), {n["narrative_id"]: n["keywords"] for n in found}
    members = dict(store.con.execute("SELECT account_id, campaign_id FROM campaign_members").fetchall())
    for topic in TOPICS:
        campaign = members[f"{topic}_0"]
        assert all(members[f"{topic}_{i}"] == campaign for i in range(6))
        for n in by_topic[topic]:
            # the campaign that planted the topic is the one pushing it, alone
            assert [c["campaign_id"] for c in n["campaigns"]] == [campaign]
            assert n["accounts"] == 6
            assert all(topic + "_" in e["handle"] for e in n["examples"])
            assert len(n["examples"]) == 3 and n["timeline"] and sum(d["posts"] for d in n["timeline"]) == n["posts"]
    # most of each topic's posts end up in its narratives
    for topic in TOPICS:
        assert sum(n["posts"] for n in by_topic[topic]) >= 0.4 * 48 * 6


def test_russian_campaign_is_its_own_language_group(planted):
    store, _ = planted
    found = nq.narratives(store)
    russian = [n for n in found if _topic_of(n) == "donbass"]
    assert russian and all(n["lang"] == "ru" for n in russian)  # no lang in the data: guessed from the script
    assert all(n["lang"] == "en" for n in found if n not in russian)
    mixed = store.con.execute(
        """SELECT count(*) FROM narrative_posts np JOIN narratives n USING (narrative_id)
           JOIN posts p USING (post_id)
           WHERE (n.lang = 'ru') <> regexp_matches(p.text, '\\p{Cyrillic}')""").fetchall()[0][0]
    assert mixed == 0
    assert any("донецк" in k for n in russian for k in n["keywords"])


def test_honest_crowd_is_in_no_narrative_and_account_view(planted):
    store, _ = planted
    crowd = store.con.execute(
        "SELECT count(*) FROM narrative_posts WHERE account_id LIKE 'crowd_%'").fetchall()[0][0]
    assert crowd == 0
    mine = nq.account_narratives(store, "vaccines_3")
    assert mine and sum(m["posts"] for m in mine) >= 20
    assert all(set(m) == {"narrative_id", "label", "posts"} for m in mine)
    assert nq.account_narratives(store, "crowd_1") == []


def test_campaign_filter_and_coverage(planted):
    store, _ = planted
    cid = store.con.execute("SELECT campaign_id FROM campaign_members WHERE account_id = 'football_0'").fetchall()[0][0]
    mine = nq.narratives(store, campaign_id=cid)
    assert mine and all(_topic_of(n) == "football" for n in mine)
    cov = [c for c in nq.coverage(store) if c["campaign_id"] == cid]
    assert cov == [{"campaign_id": cid, "lang": "en", "posts": 288, "texts": 48, "sampled_texts": 48,
                    "sampled_posts": 288, "in_narratives": cov[0]["in_narratives"]}]
    assert cov[0]["in_narratives"] == sum(n["posts"] for n in mine)


def _copy(store, tmp_path):
    """The planted store, detected once, as a separate file (detection is the slow part)."""
    store.con.execute("CHECKPOINT")
    shutil.copy(store.path, tmp_path / "copy.duckdb")
    return trollscope.open(tmp_path / "copy.duckdb")


def test_sampling_is_shown_and_still_finds_topics(planted, tmp_path):
    store = _copy(planted[0], tmp_path)
    find_narratives(store, narrative_sample=36, narrative_min_cluster=6)
    cov = nq.coverage(store)
    assert cov and all(c["sampled_texts"] == min(36, c["texts"]) for c in cov)
    assert any(c["sampled_texts"] < c["texts"] for c in cov)
    topics = {_topic_of(n) for n in nq.narratives(store)}
    assert set(TOPICS) <= topics
    store.close()


def test_same_input_same_narratives(planted, tmp_path):
    store, _ = planted
    other = _copy(store, tmp_path)
    find_narratives(other, narrative_min_cluster=8)

    def strip(rows):
        return json.dumps(rows, default=str, sort_keys=True)

    assert strip(nq.narratives(store, examples=10)) == strip(nq.narratives(other, examples=10))
    assert (store.con.execute("SELECT * FROM narrative_posts ORDER BY post_id").fetchall()
            == other.con.execute("SELECT * FROM narrative_posts ORDER BY post_id").fetchall())
    other.close()


def test_a_second_computation_reads_cleaned_texts_and_tokens_back(planted, tmp_path, monkeypatch):
    """What depends on the post alone (its cleaned text, the model's tokens) is kept in the store:
    computed again, narratives clean and tokenize nothing, and equal those computed from scratch."""
    from trollscope.enrich.narratives import cache
    from trollscope.enrich.narratives.embed import StaticModel

    store, _ = planted
    tokenized, real = [], StaticModel.tokens
    monkeypatch.setattr(StaticModel, "tokens", lambda self, texts: tokenized.append(len(texts)) or real(self, texts))
    kept = _copy(store, tmp_path)  # holds the cache of the fixture's computation
    cached_posts = kept.con.execute("SELECT count(*) FROM narrative_cache_posts").fetchall()[0][0]
    assert cached_posts > 0 and kept.con.execute("SELECT count(*) FROM narrative_cache_tokens").fetchall()[0][0] > 0
    find_narratives(kept, narrative_min_cluster=8)
    assert tokenized == []
    assert kept.con.execute("SELECT count(*) FROM narrative_cache_posts").fetchall()[0][0] == cached_posts
    fresh_path = tmp_path / "fresh"
    fresh_path.mkdir()
    fresh = _copy(store, fresh_path)
    for table in cache.TABLES + ("narrative_cache_meta",):
        fresh.con.execute(f"DROP TABLE {table}")
    find_narratives(fresh, narrative_min_cluster=8)
    assert sum(tokenized) > 0
    for table in ("narrative_posts", "narratives", "narrative_examples", "campaign_narratives", "narrative_groups"):
        assert (kept.con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
                == fresh.con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()), table
    cache.ensure(fresh.con, "another model")  # another version: the cache starts empty
    assert fresh.con.execute("SELECT count(*) FROM narrative_cache_posts").fetchall() == [(0,)]
    kept.close()
    fresh.close()


def test_model_puts_paraphrases_closer_than_unrelated_texts():
    from trollscope.enrich.narratives.embed import encode, load

    triplets = [
        ("Hillary Clinton should be in prison", "Lock her up, Clinton belongs in jail", "Great recipe for banana bread"),
        ("Police shot another unarmed black man", "Cops killed an unarmed black man again", "The stock market closed higher"),
        ("Build the wall and stop illegal immigration", "We need a border wall against illegals", "I love football on Sunday"),
        ("Vaccines cause autism in children", "Kids get autism from vaccinations", "The train was late this morning"),
    ]
    for a, p, u in triplets:
        e = encode([a, p, u])
        assert e[0] @ e[1] > e[0] @ e[2] + 0.2, (a, float(e[0] @ e[1]), float(e[0] @ e[2]))
    e = encode(["", "!!!", "hello world"])
    assert np.allclose(e[0], 0) and np.isclose(np.linalg.norm(e[2]), 1, atol=1e-5)
    assert load().dims == 192 and e.dtype == np.float32


def _whole_text_tokens(model, texts):
    """The reference: the tokenizer on each whole text, cut at MAX_TOKENS, skipped tokens dropped."""
    from trollscope.enrich.narratives.embed import MAX_TOKENS

    flat, counts = [], []
    for e in model.tokenizer.encode_batch(texts, add_special_tokens=False):
        ids = [t for t in e.ids[:MAX_TOKENS] if t not in set(model._skip.tolist())]
        flat += ids
        counts.append(len(ids))
    return np.array(flat, dtype=np.uint16), np.array(counts, dtype=np.int64)


@pytest.mark.parametrize("batch", [None, 97])
def test_tokens_word_by_word_are_the_whole_texts_tokens(batch, monkeypatch):
    """Each distinct word is tokenized once; the tokens must be those of the whole text, on real
    tweets (the shipped IRA sample, cleaned as narratives clean them) and on hostile ones: accents
    and combining marks, CJK, full-width letters, emoji, control and zero-width characters,
    punctuation inside words, words past WordPiece's 100 characters, texts past MAX_TOKENS with
    skipped tokens before the cut. With `batch`, texts are cut into words 97 at a time, so most
    words the tokenizer is given come back from an earlier batch's (`StaticModel.tokens`)."""
    import duckdb

    from trollscope.enrich.narratives import embed
    from trollscope.enrich.narratives.embed import load

    if batch:
        monkeypatch.setattr(embed, "_WORDS_BATCH", batch)
    from trollscope.enrich.narratives.pipeline import CLEAN_SQL

    sample = Path(__file__).resolve().parents[1] / "data" / "sample" / "ira_sample.csv.gz"
    real = [r[0] for r in duckdb.sql(f"""
        SELECT DISTINCT {CLEAN_SQL} FROM (SELECT content AS text FROM read_csv('{sample}', all_varchar = true)) p ORDER BY 1""").fetchall()]
    hostile = ["", " ", "  two  spaces ", "x" * 300, "word " * 300, "[UNK] " * 10 + "hi " * 260,
               "Ça va? 東京タワー!!! \u0301é\tb\nc", "a\u1fefb", "a,\u0301b", "İstanbul DON'T", "ＡＢＣ ｄｅｆ",
               "😀 #MAGA @x http://t.co/abc", "\x00\x01ab\u200bcd\ufffd", "don't won’t", "a" * 101 + ",b",
               "«Путин» — «Россия»…", "$100+ <b>=</b> ^_^ `~|", "١٢٣ مرحبا", "e\u0301te\u0301 naïve café"]
    texts = real + hostile
    assert len(real) > 1000
    model = load()
    flat, counts = model.tokens(texts)
    want_flat, want_counts = _whole_text_tokens(model, texts)
    assert counts.tolist() == want_counts.tolist()
    assert flat.tolist() == want_flat.tolist()
    assert flat.dtype == np.uint16 and counts.sum() == len(flat)


def test_cached_tokens_come_back_in_the_callers_order(tmp_path):
    """Tokens read from the cache and tokens made now are put together in the order asked for."""
    from trollscope.enrich.narratives import cache
    from trollscope.enrich.narratives.embed import load

    store = make_store(tmp_path, _corpus()[:5])
    model = load()
    cache.ensure(store.con, "test")
    texts = ["the wall", "", "lock her up", "!!!", "hello world again", "x"]
    keys = [f"k{i}" for i in range(len(texts))]
    first = cache.tokens(store.con, keys[::2], texts[::2], model)      # three kept
    both = cache.tokens(store.con, keys, texts, model)                 # three read back, three made
    again = cache.tokens(store.con, keys[::-1], texts[::-1], model)   # all read back, reversed
    want = model.tokens(texts)
    assert [a.tolist() for a in both] == [a.tolist() for a in want]
    assert [a.tolist() for a in first] == [a.tolist() for a in model.tokens(texts[::2])]
    assert [a.tolist() for a in again] == [a.tolist() for a in model.tokens(texts[::-1])]
    assert store.con.execute("SELECT count(*) FROM narrative_cache_tokens").fetchall() == [(6,)]


def test_nothing_computed_gives_empty_lists(tmp_path):
    store = make_store(tmp_path, _corpus()[:20])
    assert nq.narratives(store) == [] and nq.account_narratives(store, "guns_0") == []
    store.close()


def test_cli_computes_once_then_reads(planted, tmp_path):
    store, _ = planted
    path = store.path
    store.con.execute("CHECKPOINT")
    runner = CliRunner()
    res = runner.invoke(app, ["narratives", "--db", path, "--top", "2", "--format", "json"])
    # the module fixture computed with narrative_min_cluster=8; the CLI's defaults differ, so it recomputes
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)
    assert first["run"]["settings"]["narrative_min_cluster"] == 20 and len(first["narratives"]) <= 2
    run_at = first["run"]["run_at"]
    res = runner.invoke(app, ["narratives", "--db", path, "--top", "2", "--format", "json"])
    assert json.loads(res.stdout)["run"]["run_at"] == run_at  # reused, not recomputed
    res = runner.invoke(app, ["narratives", "--db", path, "--min-cluster", "8", "--examples", "2"])
    assert res.exit_code == 0 and "keywords:" in res.stdout and "campaigns: C" in res.stdout
    res = runner.invoke(app, ["narratives", "--db", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 2 and "detect" in res.output


def test_narrative_settings_are_documented():
    from pathlib import Path

    from trollscope import settings as st

    root = Path(__file__).resolve().parents[1]
    generated, guide = (root / "docs" / "settings.md").read_text(), (root / "docs" / "narratives.md").read_text()
    names = [s.name for s in st.SETTINGS if s.name.startswith("narrative_")]
    assert len(names) >= 6
    for s in st.SETTINGS:
        if s.name.startswith("narrative_"):
            assert f"| `{s.name}` | `{s.default}` | {s.help} |" in generated
            assert f"`{s.name}`" in guide


def test_a_language_group_with_one_repeated_word_gives_no_vectors_and_no_error():
    """TF-IDF keeps only words used twice: a small group whose sample repeats one word has one feature,
    which LSA cannot reduce (the shipped IRA sample has such a group): no vector, so no narrative."""
    from trollscope.enrich.narratives.pipeline import _vectors

    texts = ["Привет мир", "Привет всем", "Привет друзья", "Привет люди"]
    vectors, usable, method = _vectors("ru", texts, np.array([True] * 4), seed=1)
    got = vectors(np.arange(4))
    assert method == "tfidf-lsa" and got.shape[0] == 4 and not got.any() and not usable.any()


def test_english_vectors_made_on_demand_are_the_rows_of_every_texts_at_once():
    """English vectors are made a slice at a time (every text's at once outgrew the memory setting on
    ira-dev): any slice equals the same rows embedded together, and a text has a vector exactly when
    the whole embedding gives it a nonzero one (a text of emoji or of skipped tokens has none)."""
    from trollscope.enrich.narratives.embed import load
    from trollscope.enrich.narratives.pipeline import _vectors

    texts = ["crooked hillary lies again about the emails", "🙂🙂🙂", "make america great again rally tonight",
             "", "the media will not tell you this about the border", "[CLS] [SEP]", "vote early vote often"]
    vectors, usable, method = _vectors("en", texts, np.array([True, False] * 3 + [True]), seed=1)
    whole = load().encode(texts)
    assert method == "static-minilm"
    assert usable.tolist() == (np.linalg.norm(whole, axis=1) > 0).tolist()
    assert usable.sum() >= 4 and not usable.all()
    for idx in ([0, 2, 4], [6], [1, 3, 5], list(range(len(texts)))):
        assert np.array_equal(vectors(np.array(idx)), whole[idx])


def _sample_texts() -> list[str]:
    """The shipped IRA sample's texts, cleaned as narratives clean them."""
    import duckdb

    from trollscope.enrich.narratives.pipeline import CLEAN_SQL

    sample = Path(__file__).resolve().parents[1] / "data" / "sample" / "ira_sample.csv.gz"
    return [r[0] for r in duckdb.sql(f"""
        SELECT {CLEAN_SQL} FROM (SELECT content AS text FROM read_csv('{sample}', all_varchar = true)) p
        ORDER BY 1""").fetchall()]


KEYWORD_HOSTILE = [None, "", "\n", "a\nb\ncd ef", "line one\r\nline two two", "see http://t.co/x\nnext RT @a: hi",
                   "ΟΔΟΣ ΟΔΟΣ", "Σ", "ΣΑΣ σας", "www.example.com/a\nwww", "don’t stop don't", "#maga #MAGA maga",
                   "&amp; &gt;\n&lt;", "İstanbul istanbul", "x" * 5000, "word\u2028word \u0085next", "trump rt RT"]


def _analyze(doc: str, stops: set[str]) -> list[str]:
    """The reference: c-TF-IDF's words of one document, as its analyzer found them one at a time."""
    import re

    from trollscope.enrich.narratives import keywords as kw

    return [w for w in re.findall(kw.TOKEN, kw.clean(doc).lower()) if w not in stops and w.lstrip("#") not in stops]


def test_word_counts_are_countvectorizers():
    """c-TF-IDF's counts, made in one pass over all documents (keywords.word_counts), are the matrix
    and vocabulary CountVectorizer(analyzer=_analyze, min_df=2) makes document by document: on the
    shipped sample's texts and on documents with line breaks (the separator of the one pass), links
    and handles at a line's end, Greek final sigma, entities and empty documents."""
    from sklearn.feature_extraction.text import CountVectorizer

    from trollscope.enrich.narratives import keywords as kw

    for lang in ("en", "ru"):
        stops = kw.stop_words(lang)
        docs = _sample_texts() + KEYWORD_HOSTILE * 2
        x, words = kw.word_counts(docs, stops)
        ref = CountVectorizer(analyzer=lambda d: _analyze(d, stops), min_df=2)
        want = ref.fit_transform(docs)
        assert list(words) == list(ref.get_feature_names_out())
        assert x.shape == want.shape and (x != want).nnz == 0
    assert kw.word_counts(["only once", "nothing shared"], set()) is None
    assert kw.word_counts([None, ""], set()) is None


def test_keywords_are_those_of_sorting_every_word():
    """The top words of each class are those of sorting every word of the class by its score rounded
    to 12 decimals, then by the word (what ctfidf did before it sorted only the words that can reach
    the top), on the sample's texts in random classes and on documents whose words tie."""
    from trollscope.enrich.narratives import keywords as kw

    rng = np.random.default_rng(7)
    texts = _sample_texts()[::5]
    tied = [f"w{i % 40} w{(i * 7) % 40} common" for i in range(400)]  # many words with equal scores
    for docs in (texts, tied, texts[:300] + tied):
        classes = rng.integers(-1, 6, len(docs))
        for top in (1, 3, 10):
            got = kw.ctfidf(docs, classes, "en", top=top)
            x, vocab = kw.word_counts(docs, kw.stop_words("en"))
            labels = sorted(set(int(c) for c in classes))
            member = np.zeros((len(labels), len(docs)))
            member[[labels.index(int(c)) for c in classes], np.arange(len(docs))] = 1
            tf = member @ x.toarray()
            score = tf / np.maximum(tf.sum(axis=1, keepdims=True), 1) * np.log(
                1 + (tf.sum() / len(labels)) / np.maximum(tf.sum(axis=0), 1))
            for c in labels:
                if c < 0:
                    continue
                row = score[labels.index(c)]
                want = sorted(np.nonzero(row)[0], key=lambda j: (-round(float(row[j]), 12), vocab[j]))[:top]
                assert got[c] == [str(vocab[j]) for j in want], (c, top)
