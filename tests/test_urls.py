"""One page is one URL across platforms: link wrappers unwrapped, a platform's other names for a page
folded into one, tracking parameters dropped."""

from __future__ import annotations

import duckdb
import pytest

from trollscope.ingest import stage

CASES = [
    ("https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.org%2Fmemo&h=AT0x", "https://example.org/memo"),
    ("https://lm.facebook.com/l.php?u=https%3A%2F%2Fexample.org%2Fmemo", "https://example.org/memo"),
    ("https://l.instagram.com/?u=https%3A%2F%2Fexample.org%2Fmemo&e=AT0", "https://example.org/memo"),
    ("https://l.threads.net/?u=https%3A%2F%2Fexample.org%2Fmemo%3Futm_source%3Dthreads&e=AT0abc", "https://example.org/memo"),
    ("https://out.reddit.com/t3_1c0001?url=https%3A%2F%2Fexample.org%2Fmemo%3Futm_source%3Dreddit&token=abc",
     "https://example.org/memo"),
    ("https://www.youtube.com/redirect?event=video_description&q=https%3A%2F%2Fexample.org%2Fmemo&v=abc",
     "https://example.org/memo"),
    ("https://www.google.com/url?q=https://example.org/memo&sa=D", "https://example.org/memo"),
    ("https://vk.com/away.php?to=https%3A%2F%2Fexample.org%2Fmemo&cc_key=", "https://example.org/memo"),
    ("https://youtu.be/Sv2nk21aVb8?t=12", "https://youtube.com/watch?v=Sv2nk21aVb8"),
    ("https://m.youtube.com/watch?feature=share&v=Sv2nk21aVb8&t=3", "https://youtube.com/watch?v=Sv2nk21aVb8"),
    ("https://www.youtube.com/shorts/Sv2nk21aVb8", "https://youtube.com/watch?v=Sv2nk21aVb8"),
    ("https://x.com/NikoTheAwakened/status/1653313085069836295?t=mi1&s=19",
     "https://twitter.com/NikoTheAwakened/status/1653313085069836295"),
    ("https://mobile.twitter.com/a/status/1", "https://twitter.com/a/status/1"),
    ("https://m.facebook.com/story.php?id=1", "https://facebook.com/story.php?id=1"),
    # not wrappers: left as they are
    ("https://t.co/AbCdEf", "https://t.co/AbCdEf"),
    ("https://example.org/l.php?u=https%3A%2F%2Fevil.com", "https://example.org/l.php?u=https%3A%2F%2Fevil.com"),
    ("https://l.facebook.com/l.php?h=AT0x", "https://l.facebook.com/l.php?h=AT0x"),
]


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    stage.install_macros(c)
    return c


@pytest.mark.parametrize("raw,want", CASES)
def test_one_page_is_one_url(con, raw, want):
    assert con.execute("SELECT ts_norm_urls([?])[1]", [raw]).fetchall()[0][0] == want
