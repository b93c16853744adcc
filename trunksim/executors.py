"""Where replications run: in this process, in local worker processes, or on a Dask cluster.

Every executor runs the same pure task — ``(scenario, seed, replication) → row`` — so
the results are bit-identical whichever ran them; only wall time differs. Nothing is
started at import time: a pool exists only inside :func:`executor_for`.
"""

from __future__ import annotations

import contextlib
import signal
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any, Callable, Iterator, Optional, Sequence


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which shuts the pool down and keeps finished work."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def executor_for(jobs: int = 1, scheduler: Optional[str] = None, executor: Any = None) -> Iterator[Optional[Executor]]:
    """An executor for a batch, closed afterwards.

    Parameters
    ----------
    jobs : int
        Local worker processes; 1 runs in this process (returns ``None``).
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``); replications run on its workers.
    executor : Executor or dask.distributed.Client, optional
        Use this one (not closed afterwards). A Dask ``Client`` is turned into its
        ``concurrent.futures`` executor.
    """
    if executor is not None:
        yield executor.get_executor() if hasattr(executor, "get_executor") else executor
        return
    if scheduler is not None:
        from dask.distributed import Client

        client = Client(scheduler)
        try:
            yield client.get_executor()
        finally:
            client.close()
        return
    if jobs <= 1:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_ignore_sigint)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown(wait=True)


def completed(fn: Callable[[Any], Any], tasks: Sequence[Any], executor: Optional[Executor]) -> Iterator[tuple[int, Any]]:
    """Run ``fn`` on every task; yield ``(index, result)`` as each finishes.

    Serially (``executor is None``) results come in order. On an interrupt, tasks not
    yet started are cancelled.
    """
    if executor is None:
        for index, task in enumerate(tasks):
            yield index, fn(task)
        return
    from concurrent.futures import as_completed

    futures: dict[Future, int] = {executor.submit(fn, task): index for index, task in enumerate(tasks)}
    try:
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        for future in futures:
            future.cancel()
