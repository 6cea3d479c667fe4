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
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

from trollscope.store import Store

T = TypeVar("T")


def cores() -> int:
    return os.cpu_count() or 1


def on_connections(store: Store, workers: int, jobs: Sequence[Callable[[Store], T]],
                   needs: Sequence[Sequence[int]] = ()) -> list[T]:
    """Run `jobs` (each called with a view of `store` on its own connection) `workers` at a time, in
    the order given; job i starts its work once the jobs `needs[i]` (earlier ones) are done. With one
    worker, the jobs run in order on `store` itself. Results in the order of `jobs`. If one fails
    (or Ctrl-C), the others' statements are interrupted and its error is raised at once."""
    if any(j >= i for i in range(len(needs)) for j in needs[i]):
        raise ValueError("a job can need only jobs before it")
    workers = max(1, min(int(workers), len(jobs)))
    if workers == 1:
        return [job(store) for job in jobs]
    with contextlib.ExitStack() as stack:
        views = [stack.enter_context(store.worker()) for _ in range(workers)]  # made in this thread
        free: queue.Queue = queue.Queue()
        for view in views:
            free.put(view)
        futures: dict = {}

        def run(i: int):
            for j in (needs[i] if i < len(needs) else ()):
                futures[j].result()
            view = free.get()
            try:
                return jobs[i](view)
            finally:
                free.put(view)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trollscope") as pool:
            for i in range(len(jobs)):  # in order: a job needed is started before the jobs needing it
                futures[i] = pool.submit(run, i)
            try:
                # the first failure as soon as it happens, not once the jobs before it are done
                done, _ = wait(futures.values(), return_when=FIRST_EXCEPTION)
                for f in done:
                    if f.exception() is not None:
                        raise f.exception()
                return [futures[i].result() for i in range(len(jobs))]
            except BaseException:
                for f in futures.values():
                    f.cancel()
                for view in views:
                    with contextlib.suppress(Exception):
                        view.con.interrupt()
                raise
