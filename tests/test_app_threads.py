"""AppThreads: the worker's hand-off from gevent greenlets to real threads (cds_hooks.gunicorn_worker).

Run in a child process: gevent's hub must not be created in the pytest process, whose other tests
use real threads and sockets."""
from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import threading, time
    import gevent
    from cds_hooks.gunicorn_worker import AppThreads

    threads = AppThreads(3)
    loop_thread = threading.get_ident()

    # the function runs in a real thread, not in the event loop's, and its value comes back
    assert threads.apply(threading.get_ident) != loop_thread

    # an exception is raised in the waiting greenlet, with its type and message
    def fail():
        raise ValueError("no such chart")
    try:
        threads.apply(fail)
    except ValueError as err:
        assert str(err) == "no such chart"
    else:
        raise AssertionError("no exception")

    # a blocking call holds one thread, never the event loop: greenlets keep running meanwhile
    ticks = []
    def ticker():
        for _ in range(5):
            ticks.append(time.monotonic())
            gevent.sleep(0.02)
    ticking = gevent.spawn(ticker)
    threads.apply(time.sleep, 0.3)
    answered = time.monotonic()
    ticking.join()
    assert len([t for t in ticks if t < answered]) == 5, (ticks, answered)

    # many greenlets at once: every answer reaches its own caller, at most 3 run at a time
    running, most = [0], [0]
    lock = threading.Lock()
    def work(n):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1
        return n * n
    calls = [gevent.spawn(threads.apply, work, n) for n in range(200)]
    gevent.joinall(calls, timeout=30, raise_error=True)
    assert [c.value for c in calls] == [n * n for n in range(200)]
    assert most[0] == 3, most
    print("ok")
""")


def test_app_threads_run_calls_in_real_threads_and_answer_each_greenlet():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
