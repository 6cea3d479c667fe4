"""docs/schema.md, generated from the canonical schema, the run record and the catalogue of derived tables."""

from __future__ import annotations

from trollscope.store import schema
from trollscope.store.catalogue import DERIVED
from trollscope.store.run import RUNS


def markdown() -> str:
    """The schema as the Markdown page `docs/schema.md`."""
    out = [
        "# The canonical schema",
        "",
        "Generated from `src/trollscope/store/schema.py`, `run.py` and `catalogue.py` by `python -m trollscope.store.docs`; do not edit by hand.",
        "Every reader maps its format onto these tables; every later stage reads only these.",
        "",
    ]
    for name, cols in schema.TABLES.items():
        out += [f"## `{name}`", "", "| column | type | meaning |", "|---|---|---|"]
        out += [f"| `{c.name}` | `{c.sql_type}` | {c.doc} |" for c in cols]
        out.append("")
    out += ["## `runs`", "", "One row per detection run, kept (`src/trollscope/store/run.py`).", "",
            "| column | type | meaning |", "|---|---|---|"]
    out += [f"| `{c.name}` | `{c.sql_type}` | {c.doc} |" for c in RUNS]
    out += ["", "# Derived tables", "",
            "Declared in `src/trollscope/store/catalogue.py`. Each is made for one detection run (table `runs`) and "
            "read through it; a cached table is rebuilt when the run or a setting it depends on changes.", ""]
    for d in DERIVED.values():
        depends = ", ".join(f"`{s}`" for s in d.depends) or "the run only"
        out += [f"## `{d.name}`", "", f"{d.doc} Produced by `{d.producer}`; depends on {depends}.", ""]
        if d.columns:
            out += ["| column | type | meaning |", "|---|---|---|"]
            out += [f"| `{c.name}` | `{c.sql_type}` | {c.doc} |" for c in d.columns]
            out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(markdown())
