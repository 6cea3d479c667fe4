"""The shipped static text-embedding model: tokenize, look up token vectors, mean-pool, normalise.

The model (in `model/`) was distilled from all-MiniLM-L6-v2 by `tools/distill_model.py` (see
`model/PROVENANCE.md`): every token of MiniLM's vocabulary was embedded by the full model, reduced by
PCA and down-weighted by its estimated frequency, so a text's vector is the mean of its tokens'
vectors. It needs only numpy and `tokenizers` at run time, and embeds about a million posts a minute
on one core, which is what lets narratives run on whole campaigns instead of a thin sample.

This module deliberately imports nothing else from trollscope, so the distillation tool can load it
on its own to check the shipped model against the full one.
"""

from __future__ import annotations

import itertools
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_DIR = Path(__file__).resolve().parent / "model"
# Texts longer than this many tokens are cut: a post is short, and a pasted article should not cost
# a hundred times more than a tweet.
MAX_TOKENS = 256
_BATCH = 20_000
# texts cut into words at a time (`tokens`): bounds the memory of the occurrence arrays
_WORDS_BATCH = 100_000
# what the BERT pre-tokenizer isolates: ASCII punctuation and Unicode's punctuation categories
_PUNCTUATION = r"([[:punct:]]|\pP)"


class StaticModel:
    """Token vectors plus the tokenizer that maps text to token ids."""

    def __init__(self, path: Path | str = MODEL_DIR):
        import pyarrow as pa
        from tokenizers import Tokenizer

        path = Path(path)
        self.path = path
        self.config = json.loads((path / "config.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        # int8 token vectors with one scale per token (row): half the size of float16, token
        # vectors within cosine 0.9997 of the distilled ones.
        scales = np.load(path / "scales.npy").astype(np.float32)
        self.vectors = np.load(path / "embeddings.npy").astype(np.float32) * scales[:, None]
        skip = [self.tokenizer.token_to_id(t) for t in self.config.get("skip_tokens", ["[UNK]"])]
        self._skip = np.array([i for i in skip if i is not None], dtype=np.int64)
        self._skip_mask = np.zeros(self.vectors.shape[0], dtype=bool)
        self._skip_mask[self._skip] = True
        vocabulary = self.tokenizer.get_vocab()
        # the vocabulary as Arrow keys and their ids (`_vocabulary_ids`)
        self._entries = (pa.array(list(vocabulary)), np.array(list(vocabulary.values()), dtype=np.int64))
        if self.vectors.shape[0] > 1 << 16:  # token ids are kept as uint16 (`tokens`)
            raise ValueError(f"{path}: a vocabulary of {self.vectors.shape[0]} tokens does not fit 16 bits")

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    def tokens(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The tokens each text's vector is made of, as one flat array (uint16) and each text's count:
        its first MAX_TOKENS tokens without the skipped ones. Callers may keep these
        (enrich.narratives caches them per distinct text).

        The tokenizer is most of the cost of embedding, and most of its work is the same words
        again and again. So texts are cut into words here and each distinct word is tokenized once:
        at spaces, and around every punctuation character (ASCII or Unicode category P). The
        tokenizer's own pre-tokenizer splits at both (BertPreTokenizer), and WordPiece works on one
        of its words at a time, so the tokens are the ones the whole text would get; a word that
        is already a vocabulary entry (lower-case ASCII letters and digits, untouched by the
        normalizer) is looked up without the tokenizer. A text of more than MAX_TOKENS tokens, where
        the cut depends on the skipped tokens' positions, is tokenized whole. Texts are cut into
        words a batch at a time (`_WORDS_BATCH`), and a word the tokenizer met in an earlier batch
        is not tokenized again (ira-dev's texts: 795,160 words tokenized in 8 batches, 350,933 of
        them distinct)."""
        flats, counts = [], []
        memo: dict[str, list[int]] = {}  # word -> its tokens, for words the tokenizer was given
        for start in range(0, len(texts), _WORDS_BATCH):
            flat, count = self._tokens_by_word([t or "" for t in texts[start:start + _WORDS_BATCH]], memo)
            flats.append(flat)
            counts.append(count)
        if not flats:
            return np.zeros(0, dtype=np.uint16), np.zeros(0, dtype=np.int64)
        return np.concatenate(flats), np.concatenate(counts)

    def _tokens_by_word(self, texts: list[str], memo: dict[str, list[int]]) -> tuple[np.ndarray, np.ndarray]:
        import pyarrow as pa
        import pyarrow.compute as pc

        spaced = pc.replace_substring_regex(pa.array(texts, pa.string()), _PUNCTUATION, r" \1 ")
        parts = pc.split_pattern(spaced, " ")
        words = pc.dictionary_encode(parts.flatten())
        word_of = words.indices.to_numpy().astype(np.int64)            # each occurrence's distinct word
        text_of = np.repeat(np.arange(len(texts)), np.diff(parts.offsets.to_numpy()))
        # each distinct word's tokens: all (for the MAX_TOKENS cut) and those kept. A word that is
        # a vocabulary entry as it stands (lower-case ASCII letters and digits) is its own token; the
        # others go through the tokenizer. (Tested word by word in Python, the distinct words of
        # ira-dev's English texts took 1.5 s of the 7.7 s.)
        distinct = words.dictionary
        known = self._vocabulary_ids(distinct)
        rest = np.nonzero((known < 0) & (pc.binary_length(distinct).to_numpy(zero_copy_only=False) > 0))[0]
        rest_words = distinct.take(pa.array(rest)).to_pylist()
        new = [w for w in rest_words if w not in memo]
        # (`encode_batch_fast`: the same ids, without the character offsets, which are not used)
        memo.update(zip(new, (e.ids for e in self.tokenizer.encode_batch_fast(new, add_special_tokens=False))))
        encoded = [memo[w] for w in rest_words]
        lengths = (known >= 0).astype(np.int64)
        rest_lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        lengths[rest] = rest_lengths
        starts = np.cumsum(lengths) - lengths
        tokens = np.empty(int(lengths.sum()), dtype=np.int64)
        tokens[starts[known >= 0]] = known[known >= 0]
        tokens[gather_runs(np.arange(len(tokens)), starts[rest], rest_lengths)] = np.fromiter(
            itertools.chain.from_iterable(encoded), dtype=np.int64, count=int(rest_lengths.sum()))
        keep = ~self._skip_mask[tokens]
        word_rows = np.repeat(np.arange(len(lengths)), lengths)
        kept_tokens = tokens[keep]
        kept_lengths = np.bincount(word_rows[keep], minlength=len(lengths))
        kept_starts = np.cumsum(kept_lengths) - kept_lengths
        # the occurrences' kept tokens, in text order
        occ = kept_lengths[word_of]
        flat = gather_runs(kept_tokens, kept_starts[word_of], occ)
        counts = np.bincount(text_of, weights=occ, minlength=len(texts)).astype(np.int64)
        long = np.nonzero(np.bincount(text_of, weights=lengths[word_of], minlength=len(texts)) > MAX_TOKENS)[0]
        if len(long):
            flat, counts = self._splice(flat, counts, long, [texts[i] for i in long])
        return flat.astype(np.uint16), counts

    def _vocabulary_ids(self, words):
        """Per word of the Arrow string array `words`, its vocabulary id when it is an entry as it
        stands and made of lower-case ASCII letters and digits (what the normalizer leaves as it
        is), else -1."""
        import pyarrow.compute as pc

        keys, ids = self._entries
        plain = pc.and_(pc.and_(pc.string_is_ascii(words), pc.ascii_is_alnum(words)),
                        pc.invert(pc.match_substring_regex(words, "[A-Z]")))
        at = pc.fill_null(pc.index_in(words, value_set=keys), -1).to_numpy().astype(np.int64)
        found = plain.to_numpy(zero_copy_only=False) & (at >= 0)
        return np.where(found, ids[np.maximum(at, 0)], -1)

    def _splice(self, flat: np.ndarray, counts: np.ndarray, rows: np.ndarray, texts: list[str]):
        """`flat`/`counts` with the texts at `rows` tokenized whole (cut at MAX_TOKENS, then skipped)."""
        ends = np.cumsum(counts)
        pieces, at = [], 0
        counts = counts.copy()
        for row, e in zip(rows, self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = np.array(e.ids[:MAX_TOKENS], dtype=np.int64)
            ids = ids[~self._skip_mask[ids]]
            pieces += [flat[at:ends[row] - counts[row]], ids]
            at = int(ends[row])
            counts[row] = len(ids)
        pieces.append(flat[at:])
        return np.concatenate(pieces), counts

    def embed(self, flat: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Unit vectors (float32, one row per text) from `tokens`' output; a text with no known
        token gets a zero row."""
        from scipy import sparse

        n = len(counts)
        out = np.zeros((n, self.dims), dtype=np.float32)
        ends = np.cumsum(counts)
        for start in range(0, n, _BATCH):
            stop = min(start + _BATCH, n)
            lo, hi = (int(ends[start - 1]) if start else 0), int(ends[stop - 1])
            rows = np.repeat(np.arange(stop - start), counts[start:stop])
            # A bag of tokens times the vector table is the sum of token vectors, without ever
            # materialising one vector per token.
            bag = sparse.csr_matrix((np.ones(hi - lo, dtype=np.float32), (rows, flat[lo:hi].astype(np.int64))),
                                    shape=(stop - start, self.vectors.shape[0]))
            summed = np.asarray(bag @ self.vectors)
            norms = np.linalg.norm(summed, axis=1, keepdims=True)
            out[start:stop] = np.divide(summed, norms, out=np.zeros_like(summed), where=norms > 0)
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors (float32, one row per text); a text with no known token gets a zero row."""
        return self.embed(*self.tokens(texts))

    def describe(self) -> dict:
        """What the model is, for run records: source, dims, vocabulary size."""
        return {"source": self.config.get("source"), "dims": self.dims,
                "vocabulary": int(self.vectors.shape[0]), "version": self.config.get("version")}


def gather_runs(source: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The runs `source[starts[i]:starts[i] + counts[i]]`, one after another, without a loop."""
    total = int(counts.sum())
    return source[np.arange(total) + np.repeat(starts - (np.cumsum(counts) - counts), counts)]


@lru_cache(maxsize=2)
def load(path: str | None = None) -> StaticModel:
    """The shipped model (cached: loading it takes a fraction of a second, but callers loop)."""
    return StaticModel(path or MODEL_DIR)


def encode(texts: list[str]) -> np.ndarray:
    """Embed texts with the shipped model."""
    return load().encode(texts)
