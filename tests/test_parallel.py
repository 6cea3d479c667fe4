"""Jobs on connections of their own (detect.parallel): order, dependencies, failures."""

import threading
import time

import duckdb
import pytest

import trollscope
from trollscope.detect import parallel


@pytest.fixture
def store(tmp_path):
    s = trollscope.open(tmp_path / "s.duckdb")
    yield s
    s.close()


def test_jobs_start_in_order_wait_for_what_they_need_and_return_in_job_order(store):
    log, lock = [], threading.Lock()

    def job(name, seconds):
        def run(on):
            with lock:
                log.append(("start", name))
            # each job's temporary table is its connection's own
            on.con.execute(f"CREATE OR REPLACE TEMP TABLE mine AS SELECT '{name}' AS who")
            time.sleep(seconds)
            who = on.con.execute("SELECT who FROM mine").fetchall()[0][0]
            with lock:
                log.append(("end", name))
            return who
        return run

    jobs = [job("a", 0.3), job("b", 0.05), job("c", 0.05), job("d", 0.0)]
    got = parallel.on_connections(store, 2, jobs, needs=[(), (), (0,), ()])
    assert got == ["a", "b", "c", "d"]
    assert log.index(("end", "a")) < log.index(("start", "c"))  # c waited for a
    assert log.index(("start", "b")) < log.index(("end", "a"))  # two at a time
    with pytest.raises(ValueError, match="only jobs before it"):
        parallel.on_connections(store, 2, jobs, needs=[(2,), (), (), ()])


def test_one_failing_job_stops_the_others_and_raises_its_error(store):
    def slow(on):
        on.con.execute("SELECT sum(hash(range)) FROM range(20000000000)").fetchall()  # minutes, unless interrupted
        return "finished"

    def failing(on):
        time.sleep(0.2)
        raise RuntimeError("killed")

    started = time.perf_counter()
    with pytest.raises((RuntimeError, duckdb.InterruptException), match="killed|INTERRUPT|nterrupt"):
        parallel.on_connections(store, 2, [slow, failing])
    assert time.perf_counter() - started < 20


def test_one_worker_runs_the_jobs_in_order_on_the_store_itself(store):
    seen = []
    got = parallel.on_connections(store, 1, [lambda on: seen.append(on) or 1, lambda on: seen.append(on) or 2])
    assert got == [1, 2] and seen == [store, store]
