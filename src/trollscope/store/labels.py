"""Account labels given by the user or carried by the source: which label means "honest".

Accounts whose label is empty or one of NEGATIVE are the honest ones; every other label marks a
known coordinated account, and the label is its category.
"""

from __future__ import annotations

import csv
from pathlib import Path

from trollscope.errors import UserError

NEGATIVE = {"", "organic", "honest", "none", "benign", "0", "false", "negative"}


def read_labels(path: str | Path) -> dict[str, str]:
    """`account,label` CSV (columns named account/account_id/handle/author and label/category/
    account_category, or the first two columns)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such labels file")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or len(reader.fieldnames) < 2:
            raise UserError(f"{path}: a labels file needs an account column and a label column")
        names = [n.strip().lower() for n in reader.fieldnames]
        acc = next((reader.fieldnames[i] for i, n in enumerate(names)
                    if n in ("account", "account_id", "handle", "author", "user")), reader.fieldnames[0])
        lab = next((reader.fieldnames[i] for i, n in enumerate(names)
                    if n in ("label", "category", "account_category", "class")), reader.fieldnames[1])
        return {row[acc].strip().lower(): (row[lab] or "").strip() for row in reader if row.get(acc)}
