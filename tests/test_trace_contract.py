"""The contract every registered trace keeps: a planted pair acting together on its items is found,
an honest crowd acting on the same items at its own pace is not.

The test runs over `detect.traces.base.TRACES` itself. A new trace must say here how a post acts
on item k (`ACT`); the first test fails until it does, so no trace escapes the contract.
"""

from __future__ import annotations

import numpy as np
import pytest

from trollscope.detect import detect
from trollscope.detect.traces.base import BY_NAME, TRACES

from detect_helpers import make_store, pair_tests, post

WORDS = ("river", "council", "budget", "storm", "market", "school", "bridge", "train", "garden", "harbour",
         "winter", "festival", "library", "museum", "stadium", "hospital", "airport", "forest", "valley", "coast")


def _message(k: int) -> str:
    """A long text of its own for item k (copies of it are near-duplicates of each other)."""
    rng = np.random.default_rng(1000 + k)
    return f"statement {k}: " + " ".join(rng.choice(WORDS, size=18))


# How a post acts on item k: the fields of `detect_helpers.post` besides id, user and time.
# `n` numbers the post, so that what must differ between two posts on one item can.
ACT = {
    "co_repost": lambda k, n: {"text": f"RT @source{k}: story number {k} of the day", "kind": "repost",
                               "ref": f"orig{k}"},
    "co_link": lambda k, n: {"text": f"read this https://news{k}.example.org/story/{k}"},
    "co_domain": lambda k, n: {"text": f"see https://site{k}.example.net/page/{n}"},
    "co_hashtag": lambda k, n: {"text": f"my own words number {n} about #topic{k}"},
    "hashtag_sequence": lambda k, n: {"text": f"words {n} #first{k} #second{k}"},
    "near_duplicate": lambda k, n: {"text": _message(k)},
    "co_mention": lambda k, n: {"text": f"@person{k} what do you think of {n}"},
    "co_reply": lambda k, n: {"text": f"reply number {n}", "kind": "reply", "ref_user": f"person{k}"},
    "synchrony": lambda k, n: {"text": f"just my thoughts number {n}"},
    # the same picture, re-encoded by each poster: its 64-bit hash one bit off, a different bit each time
    "co_object": lambda k, n: {"text": f"look at this {n}", "obj": f"{_picture(k) ^ (1 << (n % 64)):016x}"},
}


def _picture(k: int) -> int:
    """The perceptual hash of picture k (pictures are far apart: about 32 bits)."""
    return int(np.random.default_rng(5000 + k).integers(0, 2**63 - 1))

DAY = 86400


def world(trace: str, seed: int = 3) -> list[dict]:
    """80 honest accounts acting on 40 items of the trace, popular ones far more often, each
    action soon after the item appeared (as organic sharing follows news: within hours for a post
    or a link, days for a topic-level trace, whose window is an hour); two planted accounts acting
    together, 5-20 s apart, on 10 of the same items while the crowd is at it."""
    rng = np.random.default_rng(seed)
    spread = 2 * DAY if BY_NAME[trace].slow else 3600
    act, rows, n = ACT[trace], [], 0

    def add(user: str, t: float, k: int) -> None:
        nonlocal n
        n += 1
        rows.append(post(f"p{n:06d}", user, float(t), **act(k, n)))

    popularity = 1.0 / np.arange(1, 41)
    popularity /= popularity.sum()
    released = rng.uniform(0, 9 * DAY, size=40)
    for i in range(80):
        for _ in range(int(rng.integers(10, 25))):
            k = int(rng.choice(40, p=popularity))
            add(f"honest{i:03d}", released[k] + rng.exponential(spread), k)
    for k in rng.choice(40, size=10, replace=False):
        t = released[k] + rng.uniform(0, 3 * spread)
        add("planted_a", t, int(k))
        add("planted_b", t + rng.uniform(5, 20), int(k))
    return rows


def test_every_registered_trace_is_under_contract():
    assert set(ACT) == {t.name for t in TRACES}


@pytest.mark.parametrize("trace", [t.name for t in TRACES])
def test_planted_pair_found_and_honest_crowd_not(tmp_path, trace):
    store = make_store(tmp_path, world(trace))
    try:
        detect(store, traces=trace, window=60)
        tests = pair_tests(store, trace)
        planted = tests.get(("planted_a", "planted_b"))
        assert planted is not None and planted["significant"], (trace, planted)
        assert planted["shared"] >= 6  # of 10 (a same-bin trace loses those split by a bin edge)
        flagged = sorted(pair for pair, t in tests.items() if t["significant"] and pair != ("planted_a", "planted_b"))
        assert flagged == [], (trace, flagged[:5])
        # and honest pairs were tested (they co-acted on two items by chance): the crowd is not empty
        assert sum(1 for pair in tests if "planted_a" not in pair and "planted_b" not in pair) >= 1
    finally:
        store.close()
