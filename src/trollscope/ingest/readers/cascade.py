"""Retweet cascade trees (Twitter15/16 layout): one file per source tweet, lines
`['parent_user', 'parent_tweet', 'delay_min']->['user', 'tweet', 'delay_min']`.

There is no text. Times come from the tweet ids (Twitter snowflakes); where a node repeats the
source tweet's id (the data set does this for many retweets) its time is the source's plus the
delay, and its post id is made from the source id and the user.
"""

from __future__ import annotations

import ast
import re
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

from trollscope.ingest.files import BoundedContent, bounded_lines
from trollscope.ingest.jsonlines import ENDS_EARLY
from trollscope.ingest.limits import Limits, size
from trollscope.ingest.readers.base import NoOptions, ReadContext, Reader, StageBuffer, StageResult

_LINE = re.compile(r"^\s*(\[[^\]]*\])\s*->\s*(\[[^\]]*\])\s*$")
TWITTER_EPOCH_MS = 1288834974657
FIRST_SNOWFLAKE = 1 << 42  # ids below this predate snowflakes (late 2010)


_ID = re.compile(r"^[0-9]{1,20}$")
MAX_DELAY_MIN = 10 * 365 * 24 * 60


def snowflake_time(tweet_id: int) -> datetime | None:
    if tweet_id < FIRST_SNOWFLAKE:
        return None
    try:
        return datetime.fromtimestamp(((tweet_id >> 22) + TWITTER_EPOCH_MS) / 1000, tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


_NODE = re.compile(r"^\[\s*'([^'\\]*)'\s*,\s*'([^'\\]*)'\s*,\s*'([^'\\]*)'\s*\]$")


def _node(text: str):
    simple = _NODE.match(text)  # the usual form, parsed without the cost of literal_eval
    node = list(simple.groups()) if simple else ast.literal_eval(text)
    if not (isinstance(node, list) and len(node) == 3 and all(isinstance(x, str) for x in node)):
        raise ValueError("a node must be ['user', 'tweet', 'delay']")
    delay = float(node[2])
    if not (abs(delay) <= MAX_DELAY_MIN):  # also false for nan
        raise ValueError(f"delay {node[2][:30]!r} is not a plausible number of minutes")
    return node[0].strip(), node[1].strip(), delay


def _lines(path: Path, limits: Limits):
    with BoundedContent(path, limits) as fh:
        yield from bounded_lines(fh, limits.max_record_bytes)


class CascadeReader(Reader):
    name = "cascade"
    platform = "twitter"
    description = "Retweet cascade trees, one file per source tweet (Twitter15/16 `tree/` layout)"
    extensions = (".txt",)

    def sniff(self, path: Path, head: bytes) -> bool:
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
        return bool(_LINE.match(first))

    def stage(self, con, path: Path, options: NoOptions, ctx: ReadContext) -> StageResult:
        buf = StageBuffer(con, ctx.source_file)
        rows = 0
        root_user = root_tweet = None
        root_time = None
        line_no = 0
        limits = ctx.limits
        try:
            lines = _lines(path, limits)
            for line_no, raw_bytes, oversize in lines:
                if not raw_bytes.strip():
                    continue
                rows += 1
                raw = raw_bytes.decode("utf-8", "replace").rstrip("\n")
                if oversize:
                    buf.quarantine(line_no, None, f"record of {size(oversize)} is over "
                                   f"{size(limits.max_record_bytes)} (setting max_record_bytes)", raw)
                    continue
                match = _LINE.match(raw)
                if not match:
                    buf.quarantine(line_no, None, "not a cascade edge `[...]->[...]`", raw)
                    continue
                try:
                    parent, child = _node(match.group(1)), _node(match.group(2))
                except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
                    buf.quarantine(line_no, None, f"bad cascade node: {exc}", raw)
                    continue
                user, tweet, delay = child
                if not _ID.match(tweet) or not user:
                    buf.quarantine(line_no, "tweet", f"tweet id {tweet[:40]!r} is not a number", raw)
                    continue
                if parent[0] == "ROOT":
                    root_user, root_tweet = user, tweet
                    root_time = snowflake_time(int(tweet))
                    when = root_time
                    row = {"post_id": tweet, "kind": "post"}
                else:
                    if root_tweet is None and _ID.match(path.name.split(".")[0]):
                        # Some files lack the ROOT line: the file is named after the source tweet.
                        root_tweet = path.name.split(".")[0]
                        root_time = snowflake_time(int(root_tweet))
                    if root_tweet is None:
                        buf.quarantine(line_no, None, "edge before the cascade's ROOT line", raw)
                        continue
                    if root_user is None and parent[1] == root_tweet:
                        root_user = parent[0]
                    own = snowflake_time(int(tweet)) if tweet != root_tweet else None
                    when = own or (root_time + timedelta(minutes=delay) if root_time else None)
                    post_id = tweet if tweet != root_tweet else f"{root_tweet}-rt-{user}"
                    row = {"post_id": post_id, "kind": "repost", "ref_post_id": root_tweet, "ref_account": root_user}
                row.update(
                    source_line=line_no, account_id=user,
                    created_raw=when.isoformat() if when else None, raw=raw[:2000],
                    urls=[], hashtags=[], mentions=[],
                )
                buf.add(row)
        except (EOFError, OSError, zlib.error) as exc:
            rows += 1
            buf.quarantine(line_no + 1, None, f"{ENDS_EARLY} after line {line_no}: {exc}", "")
        buf.flush()
        return StageResult(rows, time_field="tweet", account_field="user", incomplete=buf.incomplete)


CASCADE = CascadeReader()
