"""A benchmark child's own peak RSS and CPU time, through /usr/bin/time: once a child is reaped by
communicate() or run(), its rusage is only in RUSAGE_CHILDREN, summed over every child so far."""

from __future__ import annotations

MARK = "@@maxrss "


def timed(cmd: list[str]) -> list[str]:
    """`cmd` run under /usr/bin/time, which prints the mark line last on stderr."""
    return ["/usr/bin/time", "-f", MARK + "%M %U %S", *cmd]


def usage(output: str) -> tuple[float | None, float | None]:
    """(peak RSS in MB, user + system CPU seconds) from a timed child's output; (None, None) without."""
    for line in output.splitlines()[::-1]:
        if line.startswith(MARK):
            _, rss, user, system = line.split()
            return round(int(rss) / 1024, 1), round(float(user) + float(system), 1)
    return None, None
