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


def ctfidf(docs: list[str], classes: np.ndarray, lang: str, top: int = 10) -> dict[int, list[str]]:
    """Top `top` words for each class >= 0 (class -1 is the background; it scores words but gets
    none). `docs[i]` belongs to `classes[i]`."""
    from sklearn.feature_extraction.text import CountVectorizer

    labels = sorted(set(int(c) for c in classes))
    if not any(c >= 0 for c in labels):
        return {}
    stops = stop_words(lang)

    def analyzer(doc: str) -> list[str]:
        return [w for w in re.findall(TOKEN, clean(doc).lower()) if w not in stops and w.lstrip("#") not in stops]

    counts = CountVectorizer(analyzer=analyzer, min_df=2)
    try:
        # one pass of the analyzer over the documents (fit, then transform, ran it twice: half of
        # this function's time, which was a fifth of the narratives' on ira-dev)
        x = counts.fit_transform(docs)
    except ValueError:  # no word occurs twice
        return {c: [] for c in labels if c >= 0}
    vocab = np.array(counts.get_feature_names_out())
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
        # ties broken by the word itself, so keywords are the same run after run
        order = sorted(np.nonzero(row)[0], key=lambda j: (-round(float(row[j]), 12), vocab[j]))[:top]
        out[c] = [str(vocab[j]) for j in order]
    return out
