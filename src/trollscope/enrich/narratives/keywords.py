"""Distinctive keywords per narrative: class-based TF-IDF (c-TF-IDF, as BERTopic defines it).

All texts of one class (a narrative, or the language group's unclustered rest as a background class)
are treated as one document: a word scores high when it is frequent in the narrative and rare across
the group's classes. The background class is what lets a group with one or two narratives still get
distinctive words rather than that language's most common ones. Works for any language whose words
are separated by spaces; English stop words are dropped, and a short list for Russian and German.
"""

from __future__ import annotations

import re

import numpy as np

URL_MENTION = re.compile(r"https?://\S+|www\.\S+|@\w+|&amp;|&gt;|&lt;|\bRT\b")
# Starts with a letter, at least two characters; a leading # keeps hashtags apart from the word.
TOKEN = r"(?u)#?\b[^\W\d_][\w']+"
EXTRA = {"rt", "amp", "via", "https", "http", "co", "don't", "it's", "i'm", "just", "like", "new", "get",
         "one", "us", "will", "can", "now", "today", "day", "say", "says", "said", "th"}
RUSSIAN = set("""и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было
вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж
вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего
раз тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы
нее сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через эти нас
про всего них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой
им более всегда конечно всю между это такие такое такая таких пока никто почему которые который которая
которых очень самый просто тоже вообще сегодня теперь время год года люди людей нам наш наши ещё свой своих rt""".split())
GERMAN = set("""der die das und in zu den von mit sich des auf für ist im dem nicht ein eine als auch es an
werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum war haben nur oder
aber vor zur bis mehr durch man sein wurde sei ich du wir ihr was wenn schon jetzt kann hier""".split())


def stop_words(lang: str) -> set[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = set(EXTRA) | set(ENGLISH_STOP_WORDS)  # English words turn up in every language's tweets
    if lang == "ru" or lang in ("uk", "bg", "mk", "sr"):
        words |= RUSSIAN
    if lang == "de":
        words |= GERMAN
    return words


def clean(text: str) -> str:
    return URL_MENTION.sub(" ", (text or "").replace("’", "'"))


def word_counts(docs: list[str], stops: set[str]):
    """The documents' word counts as a CSR matrix, one column per word found in two documents or
    more, the columns in the words' order, and those words; None when there is none. A document's
    words are TOKEN's in its `clean` text, lower case, less the stop words (and hashtags of one):
    the matrix CountVectorizer(min_df=2) makes with that analyzer, from one pass of the expressions
    over all documents joined by line breaks, which neither TOKEN nor `clean`'s patterns cross (a
    document's own line breaks become spaces, which they equal for both); stop words are tested once
    per distinct word. (Document by document through CountVectorizer: ira-dev's narratives 32.1 s,
    29.6 s this way with the top words of `ctfidf`.)"""
    import pyarrow as pa
    import pyarrow.compute as pc
    from scipy import sparse

    joined = "\n".join((d or "").replace("\n", " ") for d in docs)
    found = pa.array(re.findall(TOKEN + "|\n", clean(joined).lower()), pa.string())
    breaks = pc.equal(found, "\n").to_numpy(zero_copy_only=False)
    doc_of = np.cumsum(breaks)[~breaks]
    # the distinct words (hashed first), then put in order: UTF-8's byte order is the code points'
    encoded = pc.dictionary_encode(found.filter(pa.array(~breaks)))
    if not len(encoded.dictionary):
        return None
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    words = encoded.dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False)
    word_of = rank[encoded.indices.to_numpy(zero_copy_only=False)]
    usable = np.array([w not in stops and w.lstrip("#") not in stops for w in words], dtype=bool)
    kept = usable[word_of]
    x = sparse.csr_matrix((np.ones(int(kept.sum()), dtype=np.int64), (doc_of[kept], word_of[kept])),
                          shape=(len(docs), len(words)))
    x.sum_duplicates()  # one entry per document and word: its count
    frequent = np.bincount(x.indices, minlength=len(words)) >= 2  # words in two documents or more
    if not frequent.any():
        return None
    return x[:, np.nonzero(frequent)[0]], words[frequent]


def ctfidf(docs: list[str], classes: np.ndarray, lang: str, top: int = 10) -> dict[int, list[str]]:
    """Top `top` words for each class >= 0 (class -1 is the background; it scores words but gets
    none). `docs[i]` belongs to `classes[i]`."""
    labels = sorted(set(int(c) for c in classes))
    if not any(c >= 0 for c in labels):
        return {}
    counted = word_counts(docs, stop_words(lang))
    if counted is None:  # no word occurs in two documents
        return {c: [] for c in labels if c >= 0}
    x, vocab = counted
    index = {c: i for i, c in enumerate(labels)}
    rows = np.array([index[int(c)] for c in classes])
    from scipy import sparse

    member = sparse.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(len(labels), len(rows)))
    tf = np.asarray((member @ x).todense(), dtype=np.float64)
    tf_norm = tf / np.maximum(tf.sum(axis=1, keepdims=True), 1)
    avg_words = tf.sum() / len(labels)
    idf = np.log(1 + avg_words / np.maximum(tf.sum(axis=0), 1))
    score = tf_norm * idf
    out = {}
    for c in labels:
        if c < 0:
            continue
        row = score[index[c]]
        # ties broken by the word itself, so keywords are the same run after run; sorted among the
        # words that can reach the top once scores are rounded to 12 decimals (two scores 1e-12 or
        # more apart never round to one), not all of them (0.75 s on ira-dev's English group)
        nonzero = np.nonzero(row)[0]
        if len(nonzero) > top:
            bar = np.partition(row[nonzero], len(nonzero) - top)[len(nonzero) - top]
            nonzero = nonzero[row[nonzero] >= bar - 2e-12]
        order = sorted(nonzero, key=lambda j: (-round(float(row[j]), 12), vocab[j]))[:top]
        out[c] = [str(vocab[j]) for j in order]
    return out
