"""A classifier over the account signals: fit on labelled accounts, cross-validate, save as JSON, apply.

The model is deliberately simple and readable: missing values replaced by the training median,
each feature standardised, then an L2 logistic regression with balanced class weights. The file
is plain JSON (medians, means, scales, coefficients, intercept, the CV figures); nothing is
unpickled, so a model file from anyone is safe to load, and garbage is refused with a clear error.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from trollscope.errors import UserError
from trollscope.store.labels import NEGATIVE
from trollscope.enrich.signals.features import NAMES, ensure
from trollscope.store import Store

FORMAT = "trollscope-account-model/1"
# `posts` is a size, not a behaviour, and `handle_length` is near-constant per platform: both
# would let a model learn the dataset rather than the conduct.
MODEL_FEATURES = tuple(n for n in NAMES if n not in ("posts", "handle_length"))


def _matrix(store: Store) -> tuple[list[str], list[str], np.ndarray, list[dict]]:
    table = ensure(store)
    cols = ", ".join(MODEL_FEATURES)
    rows = store.con.execute(
        f"SELECT s.account_id, s.handle, {cols}, a.labels FROM {table} s "
        f"LEFT JOIN accounts a USING (account_id) ORDER BY s.account_id").fetchall()
    ids = [r[0] for r in rows]
    handles = [r[1] for r in rows]
    x = np.array([[np.nan if v is None else float(v) for v in r[2:2 + len(MODEL_FEATURES)]] for r in rows],
                 dtype=float).reshape(len(rows), len(MODEL_FEATURES))
    labels = [dict(r[-1]) if r[-1] else {} for r in rows]
    return ids, handles, x, labels


def labelled(store: Store, labels: dict[str, str] | None, label_key: str, positive: str | None):
    """(account ids, X, y, class names) of the accounts that carry a label.

    With a labels file only the accounts it names are used; with the data's own labels every
    account with posts is used, an empty label counting as honest (as `evaluate` does). With
    `positive`, y is label == positive (one category vs the rest), else label not honest.
    """
    ids, handles, x, store_labels = _matrix(store)
    keep, y = [], []
    for i, (aid, handle, sl) in enumerate(zip(ids, handles, store_labels)):
        if labels is not None:
            label = labels.get(aid.lower(), labels.get((handle or "").lower()))
            if label is None:
                continue
        else:
            label = sl.get(label_key) or ""
        label = label.strip()
        keep.append(i)
        y.append(label.lower() == positive.lower() if positive else label.lower() not in NEGATIVE)
    y_arr = np.array(y, dtype=int)
    return [ids[i] for i in keep], x[keep], y_arr


def _pipeline(seed: int):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                         LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed))


def train(store: Store, labels: dict[str, str] | None = None, label_key: str = "account_category",
          positive: str | None = None, folds: int = 5, seed: int = 42) -> dict:
    """Cross-validate and fit the model; return it as a JSON-ready dict (with `cv` figures)."""
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    _, x, y = labelled(store, labels, label_key, positive)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    what = f"label {positive!r}" if positive else "a coordinated label"
    if n_pos < 2 or n_neg < 2:
        raise UserError(f"need at least 2 accounts with {what} and 2 without; found {n_pos} and {n_neg} "
                        f"(label key {label_key!r})")
    k = int(max(2, min(folds, n_pos, n_neg)))
    split = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    per_fold, oof = [], np.zeros(len(y))
    for train_i, test_i in split.split(x, y):
        model = _pipeline(seed).fit(x[train_i], y[train_i])
        prob = model.predict_proba(x[test_i])[:, 1]
        oof[test_i] = prob
        pred = (prob >= 0.5).astype(int)
        per_fold.append({
            "precision": precision_score(y[test_i], pred, zero_division=0),
            "recall": recall_score(y[test_i], pred, zero_division=0),
            "f1": f1_score(y[test_i], pred, zero_division=0),
            "roc_auc": roc_auc_score(y[test_i], prob) if len(set(y[test_i])) == 2 else float("nan"),
        })
    cv = {"folds": k, "accounts": len(y), "positives": n_pos, "negatives": n_neg, "threshold": 0.5}
    for m in ("precision", "recall", "f1", "roc_auc"):
        vals = np.array([f[m] for f in per_fold], dtype=float)
        cv[m] = round(float(np.nanmean(vals)), 4)
        cv[f"{m}_sd"] = round(float(np.nanstd(vals)), 4)
    cv["base_rate"] = round(n_pos / len(y), 4)
    final = _pipeline(seed).fit(x, y)
    imputer, scaler, lr = final.steps[0][1], final.steps[1][1], final.steps[2][1]
    return {
        "format": FORMAT,
        "model": "logistic-regression",
        "label_key": None if labels is not None else label_key,
        "positive": positive,
        "seed": seed,
        "features": list(MODEL_FEATURES),
        "median": [_num(v) for v in imputer.statistics_],
        "mean": [_num(v) for v in scaler.mean_],
        "scale": [_num(v) for v in scaler.scale_],
        "coef": [_num(v) for v in lr.coef_[0]],
        "intercept": _num(lr.intercept_[0]),
        "cv": cv,
    }


def _num(v) -> float:
    return round(float(v), 10)


def save(model: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(model, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load(path: str | Path) -> dict:
    """Read and check a model file; anything but a well-formed trollscope model is a UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such model file")
    try:
        model = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a model file (not JSON: {exc})") from None
    if not isinstance(model, dict) or model.get("format") != FORMAT:
        raise UserError(f"{path}: not a trollscope model file (expected format {FORMAT!r})")
    feats = model.get("features")
    if not isinstance(feats, list) or not feats or not all(isinstance(f, str) for f in feats):
        raise UserError(f"{path}: the model lists no features")
    unknown = [f for f in feats if f not in NAMES]
    if unknown:
        raise UserError(f"{path}: the model uses features this version does not compute: {', '.join(unknown)}")
    for key in ("median", "mean", "scale", "coef"):
        vals = model.get(key)
        if (not isinstance(vals, list) or len(vals) != len(feats)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vals)):
            raise UserError(f"{path}: `{key}` must be {len(feats)} finite numbers")
    if any(v <= 0 for v in model["scale"]):
        raise UserError(f"{path}: `scale` must be positive")
    b = model.get("intercept")
    if not isinstance(b, (int, float)) or isinstance(b, bool) or not math.isfinite(b):
        raise UserError(f"{path}: `intercept` must be a finite number")
    return model


def apply(store: Store, model: dict, top_features: int = 3) -> list[dict]:
    """Probability per account (highest first) with the features that pushed it up most."""
    table = ensure(store)
    feats = model["features"]
    rows = store.con.execute(
        f"SELECT account_id, handle, {', '.join(feats)} FROM {table} ORDER BY account_id").fetchall()
    med, mean, scale, coef = (np.array(model[k], dtype=float) for k in ("median", "mean", "scale", "coef"))
    out = []
    for r in rows:
        x = np.array([np.nan if v is None else float(v) for v in r[2:]], dtype=float)
        x = np.where(np.isnan(x), med, x)
        contrib = coef * (x - mean) / scale
        logit = float(contrib.sum() + model["intercept"])
        prob = 1.0 / (1.0 + math.exp(-max(min(logit, 700.0), -700.0)))
        order = sorted(range(len(feats)), key=lambda i: (-contrib[i], feats[i]))[:top_features]
        out.append({"account_id": r[0], "handle": r[1], "probability": round(prob, 4),
                    "top_features": {feats[i]: round(float(contrib[i]), 3) for i in order}})
    out.sort(key=lambda d: (-d["probability"], d["account_id"]))
    return out
