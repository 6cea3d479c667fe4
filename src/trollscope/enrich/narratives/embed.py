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

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_DIR = Path(__file__).resolve().parent / "model"
# Texts longer than this many tokens are cut: a post is short, and a pasted article should not cost
# a hundred times more than a tweet.
MAX_TOKENS = 256
_BATCH = 20_000


class StaticModel:
    """Token vectors plus the tokenizer that maps text to token ids."""

    def __init__(self, path: Path | str = MODEL_DIR):
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
        if self.vectors.shape[0] > 1 << 16:  # token ids are kept as uint16 (`tokens`)
            raise ValueError(f"{path}: a vocabulary of {self.vectors.shape[0]} tokens does not fit 16 bits")

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    def tokens(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The tokens each text's vector is made of, as one flat array (uint16) and each text's count:
        its first MAX_TOKENS tokens without the skipped ones. The tokenizer is most of the cost of
        embedding, so callers may keep these (enrich.narratives caches them per distinct text)."""
        flats, counts = [], []
        for start in range(0, len(texts), _BATCH):
            chunk = [t or "" for t in texts[start:start + _BATCH]]
            ids = [e.ids[:MAX_TOKENS] for e in self.tokenizer.encode_batch(chunk, add_special_tokens=False)]
            lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
            flat = np.fromiter((t for i in ids for t in i), dtype=np.int64, count=int(lengths.sum()))
            rows = np.repeat(np.arange(len(ids)), lengths)
            keep = ~np.isin(flat, self._skip)
            flats.append(flat[keep].astype(np.uint16))
            counts.append(np.bincount(rows[keep], minlength=len(ids)))
        if not flats:
            return np.zeros(0, dtype=np.uint16), np.zeros(0, dtype=np.int64)
        return np.concatenate(flats), np.concatenate(counts).astype(np.int64)

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


@lru_cache(maxsize=2)
def load(path: str | None = None) -> StaticModel:
    """The shipped model (cached: loading it takes a fraction of a second, but callers loop)."""
    return StaticModel(path or MODEL_DIR)


def encode(texts: list[str]) -> np.ndarray:
    """Embed texts with the shipped model."""
    return load().encode(texts)
