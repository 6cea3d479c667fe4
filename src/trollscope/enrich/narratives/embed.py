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

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors (float32, one row per text); a text with no known token gets a zero row."""
        from scipy import sparse

        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for start in range(0, len(texts), _BATCH):
            chunk = [t or "" for t in texts[start:start + _BATCH]]
            ids = [e.ids[:MAX_TOKENS] for e in self.tokenizer.encode_batch(chunk, add_special_tokens=False)]
            lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
            flat = np.fromiter((t for i in ids for t in i), dtype=np.int64, count=int(lengths.sum()))
            rows = np.repeat(np.arange(len(ids)), lengths)
            keep = ~np.isin(flat, self._skip)
            # A bag of tokens times the vector table is the sum of token vectors, without ever
            # materialising one vector per token.
            bag = sparse.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], flat[keep])),
                                    shape=(len(ids), self.vectors.shape[0]))
            summed = np.asarray(bag @ self.vectors)
            norms = np.linalg.norm(summed, axis=1, keepdims=True)
            out[start:start + len(chunk)] = np.divide(summed, norms, out=np.zeros_like(summed), where=norms > 0)
        return out

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
