"""Every tunable setting in one table: name, default, help. The CLI's help and docs/settings.md
are made from it, and a test checks that every setting is documented."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("window", None,
            "Pin one coordination window Δ in seconds: two actions on the same item count as a co-action "
            "when at most Δ apart, and topic traces use `slow_window` (when longer). Default: none, every "
            "trace is tested at each of `scales` (docs/detection.md)."),
    Setting("scales", "1,10,60,600,3600",
            "Time scales in seconds at which co-action is tested when no `window` is given, each dividing the "
            "next. Scales below the data's time resolution (60 s when a source gives whole minutes) and above "
            "`slow_window` are dropped; the false discovery rate holds across scales and pairs."),
    Setting("slow_window", 3600,
            "Window in seconds for topic-level traces (co-hashtag, hashtag sequence, co-domain, "
            "co-mention, co-reply), which coordinate over hours rather than seconds."),
    Setting("traces", "all",
            "Comma-separated traces to compute (see `trollscope traces`); `all` for every one."),
    Setting("stratum", 2592000,
            "Length in seconds (30 days) of the null model's time strata: expected co-actions are summed "
            "stratum by stratum, so a burst raises the bar only for accounts active at the time; 0 for one stratum. "
            "Synchrony uses at most one day (its items are the clock's own bins; docs/detection.md)."),
    Setting("alpha", 0.01,
            "False discovery rate across account pairs (Benjamini-Hochberg), per trace."),
    Setting("min_shared", 2,
            "A pair needs at least this many distinct co-action items in a trace to be tested: one "
            "shared item is never evidence."),
    Setting("max_bucket", 300,
            "An item with more actions than this in one window bucket (a viral item) is not paired "
            "action by action; it still counts in the null model, so it can only make pairs less significant."),
    Setting("pair_budget", 5,
            "Work budget of the window join, in action pairs per action of a trace over all its time scales: on "
            "dense data the most crowded item-buckets are cut into the next finer scale's, and left out (they "
            "still count in the null model) where no scale fits, until the pairs enumerated fit, so the work "
            "grows linearly with the data (one bucket cap for every scale; docs/detection.md)."),
    Setting("groups", True,
            "Test groups as well as pairs: sets of accounts chosen on one half of the data and tested on the "
            "other, that co-act far beyond the null although each pair is weak (docs/detection.md, Groups)."),
    Setting("group_window", 60,
            "Window in seconds of the group test for fast traces (Δ when Δ is longer; slow traces use "
            "`slow_window`): a group co-acts when its members act on one item within it."),
    Setting("min_campaign", 3, "Campaigns smaller than this many accounts are not reported."),
    Setting("resolution", 0.25, "Leiden resolution (modularity with configuration null); higher gives smaller campaigns."),
    Setting("identity_overlap", 0.5,
            "A campaign keeps its id from the previous run when they share at least this share of the smaller "
            "one's members (one-to-one, largest overlap first; docs/detection.md)."),
    Setting("content_layer", True,
            "Group flagged accounts also by the hashtags and link domains they share more than chance "
            "(a second Leiden layer; see docs/detection.md). Never flags an account by itself."),
    Setting("seed", 42, "Random seed for MinHash and Leiden: the same input and seed give the same result."),
    Setting("ndup_threshold", 0.7, "Jaccard similarity of word shingles above which two texts are near-duplicates."),
    Setting("phash_distance", 6,
            "co_object: 64-bit perceptual image hashes (objects `phash:` or `image:` with 16 hex digits) "
            "at most this many bits apart are one picture (docs/schema.md, detect/traces/objects.py); 0 for "
            "exact matches only."),
    Setting("evidence_per_pair", 50, "Shared items kept as evidence for each significant pair and trace."),
    Setting("evidence_scope", "significant",
            "Which pairs keep their evidence rows: `significant` (what a flag rests on; scales to any size) or "
            "`tested` (every tested pair, for auditing why a pair was not flagged on a small data set)."),
    Setting("operator_timezone", "Europe/Moscow",
            "Time zone of the candidate operator for the account signal `operator_hours_share` "
            "(the IRA worked Moscow office hours); any IANA name."),
    Setting("operator_hours", "09-18",
            "The operator's working hours, Monday to Friday, in `operator_timezone`: START-END in whole "
            "hours (09-18 counts posts from 09:00 to 17:59)."),
    Setting("disarm_min_accounts", 3,
            "A DISARM rule fires on a campaign only when the trace behind it links at least this many of "
            "its accounts by significant pairs."),
    Setting("narrative_sample", 3000,
            "Narratives: distinct texts per campaign and language group that are clustered; the other texts "
            "join the narratives found (shown as `clustered k of n`)."),
    Setting("narrative_min_cluster", 20, "Narratives: HDBSCAN's minimum cluster size, in distinct texts of the sample."),
    Setting("narrative_min_samples", 3, "Narratives: HDBSCAN's `min_samples` (higher calls more texts noise)."),
    Setting("narrative_dims", 10, "Narratives: PCA dimensions the embeddings are reduced to before HDBSCAN."),
    Setting("narrative_assign_quantile", 0.1,
            "Narratives: a text outside the sample joins its nearest narrative only when at least as close to "
            "the centroid as this quantile of the narrative's clustered texts; else it stays unassigned."),
    Setting("narrative_min_lang", 500,
            "Narratives: a language with fewer distinct texts joins the largest language group of its script "
            "(source language codes are noisy on short posts)."),
    Setting("narrative_keywords", 10, "Narratives: c-TF-IDF keywords kept per narrative."),
    # Ingest limits (docs/ingest.md): above one, the record is quarantined or the file refused, never lost.
    Setting("max_record_bytes", 64 * 1024 * 1024,
            "Ingest: a record (a CSV record or a JSON line) longer than this many bytes is quarantined with its "
            "line, size and reason, and the reading goes on. Also the largest JSON document read whole."),
    Setting("max_field_bytes", 16 * 1024 * 1024,
            "Ingest: a record with a field (a CSV cell or a JSON string) longer than this is quarantined."),
    Setting("max_nesting", 64,
            "Ingest: a JSON record nested deeper than this many arrays and objects is quarantined "
            "(tweets nest about 6 deep)."),
    Setting("max_columns", 4096,
            "Ingest: a CSV with more columns than this is read through the columns its reader uses only."),
    Setting("max_file_bytes", 32 * 1024 ** 3,
            "Ingest: a file that unpacks to more than this many bytes is refused (nothing of it stored)."),
    Setting("max_ratio", 100,
            "Ingest: a compressed file that unpacks to more than this many times its size (checked once "
            "16 MiB are unpacked) is refused as a decompression bomb (nothing of it stored)."),
    Setting("max_spill", "8GiB",
            "DuckDB's spill limit (`max_temp_directory_size`) for every command, ingest included; spill goes to "
            "`STORE.tmp/`, removed on exit, on a signal and at the next start. Environment: TROLLSCOPE_MAX_SPILL. "
            "The memory limit is TROLLSCOPE_MEMORY_LIMIT (default 2000MB), for the whole process: "
            "DuckDB's own limit is it less 300 MB and a fifth of it (2000MB: 1.3 GB), what the rest of the process holds."),
)

DEFAULTS = {s.name: s.default for s in SETTINGS}


def resolve(**overrides) -> dict:
    """The defaults with the given (non-None) overrides; unknown names are an error."""
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise KeyError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    out = dict(DEFAULTS)
    out.update({k: v for k, v in overrides.items() if v is not None})
    return out


def parse_assignments(pairs: list[str]) -> dict:
    """`NAME=VALUE` strings (the CLI's `--set`) as overrides, each VALUE read as the type of the
    setting's default; a clear error for an unknown name or a value of the wrong type."""
    from trollscope.errors import UserError

    out: dict = {}
    for pair in pairs:
        name, eq, raw = pair.partition("=")
        name, raw = name.strip(), raw.strip()
        if not eq or not name:
            raise UserError(f"--set {pair!r}: expected NAME=VALUE, e.g. --set pair_budget=50")
        if name not in DEFAULTS:
            raise UserError(f"--set {pair!r}: unknown setting {name!r}; settings are: {', '.join(DEFAULTS)}")
        default = DEFAULTS[name]
        try:
            if isinstance(default, bool):
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(raw)
                value = raw.lower() in ("true", "1", "yes")
            elif isinstance(default, int) or default is None:  # window: whole seconds
                value = int(raw)
            elif isinstance(default, float):
                value = float(raw)
            else:
                value = raw
        except ValueError:
            kind = "true or false" if isinstance(default, bool) else (
                "a number" if isinstance(default, float) else "a whole number")
            raise UserError(f"--set {pair!r}: {name} must be {kind}") from None
        out[name] = value
    return out


def markdown() -> str:
    lines = ["# Settings", "", "Generated from `src/trollscope/settings.py`.", "",
             "| setting | default | meaning |", "|---|---|---|"]
    lines += [f"| `{s.name}` | `{s.default}` | {s.help} |" for s in SETTINGS]
    return "\n".join(lines) + "\n"
