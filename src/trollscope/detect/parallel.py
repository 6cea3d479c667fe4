"""Work of one run on several connections of the store at once (traces, groups: detect.stage).

A DuckDB connection serves one thread at a time, and a temporary table belongs to the connection
that made it: each job runs on a connection of its own (`Store.worker`) and leaves what the run
reads afterwards in the store or in the run's database (detect.rundb). Results come back in the
order of the jobs, whatever order they ran in.
"""

from __future__ import annotations

import contextlib
import os
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from trollscope.store import Store

T = TypeVar("T")


def cores() -> int:
    return os.cpu_count() or 1


def on_connections(store: Store, workers: int, jobs: Sequence[Callable[[Store], T]],
                   needs: Sequence[Sequence[int]] = ()) -> list[T]:
    """Run `jobs` (each called with a view of `store` on its own connection) `workers` at a time;
    job i starts its work once the jobs `needs[i]` (earlier ones) are done. With one worker, the
    jobs run in order on `store` itself. If one fails (or Ctrl-C), the others' statements are
    interrupted and the error is raised."""
    workers = max(1, min(int(workers), len(jobs)))
    if workers == 1:
        return [job(store) for job in jobs]
    with contextlib.ExitStack() as stack:
        views = [stack.enter_context(store.worker()) for _ in range(workers)]  # made in this thread
        free: queue.Queue = queue.Queue()
        for view in views:
            free.put(view)
        futures: list = []

        def run(i: int):
            for j in (needs[i] if i < len(needs) else ()):
                futures[j].result()  # submitted before job i, so it started first: no job waits behind it
            view = free.get()
            try:
                return jobs[i](view)
            finally:
                free.put(view)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trollscope") as pool:
            for i in range(len(jobs)):
                futures.append(pool.submit(run, i))
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                for view in views:
                    with contextlib.suppress(Exception):
                        view.con.interrupt()
                raise
