"""Which language group a post is clustered in.

A post's group is `posts.lang` when the source gives one; otherwise a cheap guess from its script
(Cyrillic -> `ru`, Arabic -> `ar`, ...; Latin text with common English function words -> `en`, other
Latin text -> `und`). Source language codes are noisy on short posts (the IRA file calls many short
English tweets `ro` or `tl`, and much Russian `bg` or `uk`), so a language with fewer distinct texts
than `narrative_min_lang` (and any text written in another script than its language's usual one)
joins the language with the most texts in that script, and only then are
groups clustered separately: an English narrative and a Russian one are never one cluster.
"""

from __future__ import annotations

# Checked in this order; the first script with a letter in the text wins (so a Russian post with an
# English hashtag is Cyrillic). RE2 script classes, as DuckDB's regexp functions understand them.
SCRIPTS: tuple[tuple[str, str, str], ...] = (
    ("cyrillic", r"\p{Cyrillic}", "ru"),
    ("arabic", r"\p{Arabic}", "ar"),
    ("hebrew", r"\p{Hebrew}", "he"),
    ("greek", r"\p{Greek}", "el"),
    ("hangul", r"\p{Hangul}", "ko"),
    ("kana", r"[\p{Hiragana}\p{Katakana}]", "ja"),
    ("han", r"\p{Han}", "zh"),
    ("thai", r"\p{Thai}", "th"),
    ("devanagari", r"\p{Devanagari}", "hi"),
    ("georgian", r"\p{Georgian}", "ka"),
    ("armenian", r"\p{Armenian}", "hy"),
)
ENGLISH_HINT = r"(?i)\b(the|and|you|is|are|to|of|for|this|that|with|in|on|it|my|we)\b"


# A letter of any script above: most posts have none, and one test of this class spares them the
# test of each script in turn (eleven regular expressions per post, twice, on the IRA file).
ANY_SCRIPT = "[" + "".join(pat.strip("[]") for _, pat, _ in SCRIPTS) + "]"


def script_sql(col: str = "text") -> str:
    """SQL expression naming the script of `col` (`latin` when no other script is found)."""
    cases = " ".join(f"WHEN regexp_matches({col}, '{pat}') THEN '{name}'" for name, pat, _ in SCRIPTS)
    return f"CASE WHEN NOT regexp_matches({col}, '{ANY_SCRIPT}') THEN 'latin' {cases} ELSE 'latin' END"


def guess_sql(col: str = "text") -> str:
    """SQL expression guessing a language code from the script alone (for posts without `lang`)."""
    cases = " ".join(f"WHEN regexp_matches({col}, '{pat}') THEN '{code}'" for _, pat, code in SCRIPTS)
    return (f"CASE WHEN regexp_matches({col}, '{ANY_SCRIPT}') THEN CASE {cases} END "
            f"WHEN regexp_matches({col}, '{ENGLISH_HINT}') THEN 'en' ELSE 'und' END")


def assign_groups(con, table: str, min_texts: int) -> None:
    """Add `lang_group` to `table` (which has columns lang, script, key): small languages merge into
    the largest language of their script."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _nar_langsize AS
        SELECT lang, script, count(DISTINCT key) AS texts FROM {table} GROUP BY lang, script""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _nar_langmap AS
        WITH size AS (SELECT lang, sum(texts) AS texts, first(script ORDER BY texts DESC, script) AS script
                      FROM _nar_langsize GROUP BY lang),
             big AS (SELECT lang, script, texts FROM size WHERE texts >= {int(min_texts)}),
             home AS (SELECT script, first(lang ORDER BY texts DESC, lang) AS lang FROM _nar_langsize GROUP BY script)
        SELECT s.lang, s.script,
               CASE WHEN b.lang IS NOT NULL AND b.script = s.script THEN b.lang
                    ELSE h.lang END AS lang_group
        FROM _nar_langsize s
        LEFT JOIN big b ON b.lang = s.lang
        LEFT JOIN home h ON h.script = s.script""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT t.*, m.lang_group FROM {table} t JOIN _nar_langmap m USING (lang, script)""")
