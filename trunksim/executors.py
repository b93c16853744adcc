"""Where replications run: in this process, in local worker processes, or on a Dask cluster.

Every executor runs the same pure task — ``(scenario, seed, replication) → row`` — so
the results are bit-identical whichever ran them; only wall time differs. Nothing is
started at import time: a pool exists only inside :func:`executor_for`.

What can go wrong where the replications run (not in what they compute) ends in one
:class:`ExecutorError` with a one-line message:

* local worker processes never outlive the process that started them: they ignore
  Ctrl-C (the parent handles it), die on SIGTERM, and a watchdog thread in each worker
  ends it within a quarter of a second when its parent is gone (even after ``kill -9``);
  when a batch stops, its workers are terminated at once instead of finishing their
  running replications; a worker that dies is :class:`WorkerLost`;
* a Dask scheduler address is checked before anything runs (:func:`connect_scheduler`):
  nothing listening, something that is not a Dask scheduler, no workers, Dask not
  installed; during the run, a lost scheduler or a cluster left without workers for
  the scheduler timeout is an :class:`ExecutorError` too.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import struct
import threading
import time
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator, Optional, Sequence

DEFAULT_SCHEDULER_TIMEOUT = 10.0
"""Seconds to wait for a Dask scheduler to answer, and for its first worker (``--scheduler-timeout``)."""

PARENT_CHECK_SECONDS = 0.25
"""How often a local worker process checks that its parent is still alive."""

HEALTH_CHECK_SECONDS = 2.0
"""While waiting for results, how often an executor that can be checked (Dask) is asked whether it is still alive."""

_DASK_LOST = {"KilledWorker", "CommClosedError", "FutureCancelledError", "StreamClosedError"}
"""Names of Dask's exceptions that mean the cluster lost the work, not that the work failed."""


class ExecutorError(RuntimeError):
    """Where the replications run failed (a lost worker, an unreachable or lost Dask scheduler); one line."""


class WorkerLost(ExecutorError):
    """A local worker process died while running replications (killed, or out of memory)."""


# -- local worker processes ---------------------------------------------------------------------

_POOLS: "set[ProcessPoolExecutor]" = set()


def _start_worker() -> None:
    """Initializer of a local worker: leave Ctrl-C to the parent, die on SIGTERM, die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker inherits the parent's handler
    parent = os.getppid()
    if parent == 1:  # the parent died before this worker started
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="trunksim-parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    """End this worker process as soon as its parent is gone (its parent process id changes)."""
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


def _worker_processes(pool: ProcessPoolExecutor) -> list:
    processes = getattr(pool, "_processes", None) or {}
    return list(processes.values())


_STOPPED_POOL_THREADS: "set[threading.Thread]" = set()
"""Management threads of pools this process stopped on purpose (their teardown errors are expected)."""

_DEFAULT_THREAD_HOOK = threading.excepthook


def _quiet_teardown_hook(args: threading.ExceptHookArgs) -> None:
    """``threading.excepthook``: stay silent for a stopped pool's management thread, else report as usual.

    When a batch stops (Ctrl-C, SIGTERM, a worker that died) its workers are killed while
    ``ProcessPoolExecutor``'s management thread may still be reading from them; that
    thread can then fail in the standard library (a closed pipe, a broken pool) and
    print a traceback under the one-line message the user is meant to read. Such an
    error says nothing the message does not; any other thread's error is reported.
    """
    if args.thread in _STOPPED_POOL_THREADS:
        return
    for pool in list(_POOLS):  # a pool broken by a dead worker is being torn down too
        if getattr(pool, "_executor_manager_thread", None) is args.thread and getattr(pool, "_broken", False):
            return
    _DEFAULT_THREAD_HOOK(args)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: cancel what has not started and kill the workers (running replications are lost).

    SIGKILL, not SIGTERM: a worker forked a moment ago may still hold the parent's Python
    handler (its initializer has not run yet), and SIGTERM would then raise in it and print
    a traceback into the terminal the user reads; a killed process prints nothing.
    """
    manager = getattr(pool, "_executor_manager_thread", None)
    if isinstance(manager, threading.Thread):
        _STOPPED_POOL_THREADS.add(manager)
        threading.excepthook = _quiet_teardown_hook
    processes = _worker_processes(pool)
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + 2.0
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1.0)


def kill_workers() -> None:
    """Kill every local worker process of this process's pools at once (for an emergency exit)."""
    for pool in list(_POOLS):
        for process in _worker_processes(pool):
            with contextlib.suppress(Exception):
                if process.pid is not None:
                    os.kill(process.pid, signal.SIGKILL)


# -- Dask -------------------------------------------------------------------------------------


def _split_address(address: str) -> tuple[str, str, Optional[int]]:
    """``(scheme, host, port)`` of a scheduler address; ``tcp://host:8786``, ``host:8786`` and ``host`` (port 8786)."""
    scheme, _, rest = address.rpartition("://")
    scheme = scheme or "tcp"
    known = _dask_schemes()
    if scheme not in known:
        raise ExecutorError(f"Dask scheduler {address!r}: unknown address scheme {scheme!r} (allowed: {', '.join(known)})")
    if scheme not in ("tcp", "tls"):
        return scheme, rest, None
    if rest.startswith("["):  # [IPv6]:port
        host, _, tail = rest[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
    else:
        host, port_text = rest, ""
    if not host:
        raise ExecutorError(f"Dask scheduler {address!r}: no host in the address (expected tcp://HOST:PORT)")
    if not port_text:
        return scheme, host, 8786
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ExecutorError(f"Dask scheduler {address!r}: {port_text!r} is not a port number (expected tcp://HOST:PORT)")
    return scheme, host, int(port_text)


def _dask_schemes() -> list[str]:
    """The address schemes Dask knows (``tcp``, ``tls``, ``inproc``, ``ucx``, ``ws``, ``wss``)."""
    try:
        from distributed.comm.registry import backends

        return sorted(backends)
    except Exception:  # pragma: no cover - a Dask without the registry
        return ["inproc", "tcp", "tls", "ucx", "ws", "wss"]


def _probe_scheduler(address: str, host: str, port: int, timeout: float, handshake: bool) -> None:
    """Connect to ``host:port`` and, for plain TCP, wait for the opening of a Dask handshake.

    A Dask scheduler speaks first on a new connection: a frame whose first 8 bytes are
    the length of its handshake message. Anything else (silence, an HTTP server waiting
    for a request, a banner) is not a scheduler, and is said so within ``timeout``.
    """
    where = f"Dask scheduler {address}"
    try:
        connection = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as error:
        raise ExecutorError(f"{where}: cannot resolve host {host!r} ({error.strerror})") from None
    except ConnectionRefusedError:
        raise ExecutorError(f"{where}: nothing is listening there (connection refused)") from None
    except (socket.timeout, TimeoutError):
        raise ExecutorError(f"{where}: no answer within {timeout:g} s (--scheduler-timeout); is the address right and reachable?") from None
    except OSError as error:
        raise ExecutorError(f"{where}: cannot connect ({error.strerror or error})") from None
    with connection:
        if not handshake:
            return
        received = b""
        deadline = time.monotonic() + timeout
        try:
            while len(received) < 8:
                connection.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = connection.recv(8 - len(received))
                if not chunk:
                    break
                received += chunk
        except (socket.timeout, TimeoutError):
            raise ExecutorError(
                f"{where}: something is listening there but it is not a Dask scheduler "
                f"(no Dask handshake within {timeout:g} s, --scheduler-timeout)"
            ) from None
        except OSError as error:
            raise ExecutorError(f"{where}: the connection failed during the handshake ({error.strerror or error})") from None
        if len(received) < 8:
            raise ExecutorError(f"{where}: something is listening there but it closed the connection without a Dask handshake")
        (length,) = struct.unpack("Q", received)
        if not 0 < length < 1 << 24:
            raise ExecutorError(f"{where}: something is listening there but it is not a Dask scheduler (it does not speak Dask's protocol)")


def connect_scheduler(address: str, timeout: float = DEFAULT_SCHEDULER_TIMEOUT) -> Any:
    """A Dask client of the scheduler at ``address``, checked: reachable, a scheduler, with a worker.

    Parameters
    ----------
    address : str
        ``tcp://host:port`` (``host:port`` and ``tls://`` work too).
    timeout : float
        Seconds to wait for the scheduler to answer, and then for its first worker.

    Raises
    ------
    ExecutorError
        Dask is not installed; the address is malformed or its host unknown; nothing
        listens there; what listens is not a Dask scheduler; it has no worker after
        ``timeout`` seconds. The message is one line naming the address.
    """
    if not timeout > 0:
        raise ExecutorError(f"the scheduler timeout must be a positive number of seconds, not {timeout!r}")
    try:
        from dask.distributed import Client
    except ImportError:
        raise ExecutorError(
            "--scheduler needs Dask, which is not installed: pip install 'trunksim[dask]' (dask[distributed])"
        ) from None
    text = str(address).strip()
    if not text:
        raise ExecutorError("Dask scheduler '': the address is empty (expected tcp://HOST:PORT)")
    scheme, host, port = _split_address(text)
    if port is not None:
        _probe_scheduler(text, host, port, timeout, handshake=scheme == "tcp")
    try:
        client = Client(text, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ExecutorError(f"Dask scheduler {text}: cannot connect ({_first_line(error)})") from None
    except Exception as error:  # an address Dask cannot parse, a handshake it refuses
        raise ExecutorError(f"Dask scheduler {text}: {_first_line(error)}") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except BaseException as error:
        _close_client(client)
        if isinstance(error, (TimeoutError, OSError)) or type(error).__name__ in _DASK_LOST:
            raise ExecutorError(f"Dask scheduler {text}: it has no workers (none joined within {timeout:g} s, --scheduler-timeout)") from None
        raise
    return client


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _close_client(client: Any) -> None:
    with contextlib.suppress(BaseException):
        client.close(timeout=2)


def silence_dask_logs() -> None:
    """Keep Dask's own log lines (reconnection attempts, tracebacks of a lost scheduler) off standard error.

    For the command line, which says what went wrong in one line itself. Tornado's
    loggers too: Dask's event loop runs on Tornado, which logs a connection reset by a
    dying scheduler as ``tornado.application - ERROR - Exception in callback ...``.
    """
    import logging

    with contextlib.suppress(ImportError):
        import distributed  # noqa: F401  (configures its loggers on import)
    for name in ["distributed", "tornado", *logging.root.manager.loggerDict]:
        if name.split(".")[0] in ("distributed", "tornado"):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def close_scheduler(client: Any) -> None:
    """Close a client made by :func:`connect_scheduler`, without waiting long for a scheduler that is gone."""
    _close_client(client)


class DaskExecutor(Executor):
    """A Dask client's executor that can tell when the cluster is gone or has no workers left.

    ``check()`` (called by :func:`completed` while it waits) raises :class:`ExecutorError`
    when the client lost its scheduler, or when the cluster has had no worker for
    ``timeout`` seconds.
    """

    def __init__(self, client: Any, timeout: float = DEFAULT_SCHEDULER_TIMEOUT) -> None:
        self.client = client
        self.inner = client.get_executor()
        self.timeout = timeout
        self._empty_since: Optional[float] = None

    @property
    def address(self) -> str:
        return str(getattr(self.client.scheduler, "address", None) or "?")

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return self.inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:  # the client is not ours
        pass

    def lost(self, error: Optional[BaseException] = None) -> ExecutorError:
        detail = f" ({_first_line(error)})" if error is not None and str(error).strip() else ""
        return ExecutorError(f"lost the Dask scheduler at {self.address}{detail}")

    def check(self) -> None:
        status = str(getattr(self.client, "status", "running"))
        if status not in ("running", "newly-created", "connecting"):
            raise self.lost()
        try:
            workers = self.client.nthreads(callback_timeout=self.timeout)
        except Exception as error:
            raise self.lost(error) from None
        if workers:
            self._empty_since = None
        elif self._empty_since is None:
            self._empty_since = time.monotonic()
        elif time.monotonic() - self._empty_since > self.timeout:
            raise ExecutorError(f"the Dask cluster at {self.address} has had no workers for {self.timeout:g} s (--scheduler-timeout)")


# -- the executor of a batch ------------------------------------------------------------------


@contextlib.contextmanager
def executor_for(
    jobs: int = 1, scheduler: Optional[str] = None, executor: Any = None, scheduler_timeout: float = DEFAULT_SCHEDULER_TIMEOUT
) -> Iterator[Optional[Executor]]:
    """An executor for a batch, closed afterwards.

    Parameters
    ----------
    jobs : int
        Local worker processes; 1 runs in this process (returns ``None``).
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``); replications run on its
        workers. Checked before anything runs (:func:`connect_scheduler`).
    executor : Executor or dask.distributed.Client, optional
        Use this one (not closed afterwards). A Dask ``Client`` is turned into its
        ``concurrent.futures`` executor.
    scheduler_timeout : float
        Seconds to wait for the scheduler and its first worker.

    A local pool is stopped at once when the block raises (Ctrl-C, SIGTERM, an error):
    running replications are abandoned and the workers terminated.
    """
    if executor is not None:
        if hasattr(executor, "get_executor"):
            yield DaskExecutor(executor, scheduler_timeout)
        else:
            yield executor
        return
    if scheduler is not None:
        client = connect_scheduler(scheduler, scheduler_timeout)
        try:
            yield DaskExecutor(client, scheduler_timeout)
        finally:
            _close_client(client)
        return
    if jobs <= 1:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker)
    _POOLS.add(pool)
    threading.excepthook = _quiet_teardown_hook
    try:
        yield pool
    except BaseException:
        _stop_pool(pool)
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        _POOLS.discard(pool)


def _is_lost_work(error: BaseException) -> bool:
    """Whether a task's exception means the executor lost the task (not that the task failed)."""
    return isinstance(error, (BrokenProcessPool, CancelledError)) or type(error).__name__ in _DASK_LOST


def _lost(executor: Executor, error: BaseException) -> ExecutorError:
    if isinstance(error, BrokenProcessPool):
        return WorkerLost("a worker process died while running replications (killed, or out of memory)")
    if isinstance(executor, DaskExecutor):
        if type(error).__name__ == "KilledWorker":
            return ExecutorError(f"Dask workers died running a replication ({_first_line(error)})")
        return executor.lost(error if not isinstance(error, CancelledError) else None)
    return ExecutorError(f"the executor lost replications ({_first_line(error)})")


def completed(fn: Callable[[Any], Any], tasks: Sequence[Any], executor: Optional[Executor]) -> Iterator[tuple[int, Any]]:
    """Run ``fn`` on every task; yield ``(index, result)`` as each finishes.

    Serially (``executor is None``) results come in order. On an interrupt, tasks not
    yet started are cancelled. An exception of a task is raised as it is. When the
    executor loses tasks (a worker process dies, the Dask scheduler goes away), every
    result that did finish is still yielded, then :class:`ExecutorError` is raised. An
    executor with a ``check()`` method (:class:`DaskExecutor`) is checked whenever no
    result has come for :data:`HEALTH_CHECK_SECONDS`, also after a task was lost (a
    future of a dead scheduler may never finish); an executor without one stops waiting
    then once a task was lost.
    """
    if executor is None:
        for index, task in enumerate(tasks):
            yield index, fn(task)
        return
    finished: "queue.SimpleQueue[Future]" = queue.SimpleQueue()  # filled by the futures as they finish
    futures: dict[Future, int] = {}
    try:
        for index, task in enumerate(tasks):
            future = executor.submit(fn, task)
            futures[future] = index
            future.add_done_callback(finished.put)
        check = getattr(executor, "check", None)
        lost: Optional[BaseException] = None
        remaining = len(futures)
        while remaining:
            try:
                future = finished.get(timeout=HEALTH_CHECK_SECONDS)
            except queue.Empty:
                if check is not None:
                    # Also after lost work: a future whose scheduler is gone may never
                    # finish (Dask does not always cancel it); the check notices the
                    # scheduler is gone, while a cluster that lost one worker goes on.
                    check()
                elif lost is not None:
                    raise _lost(executor, lost) from None
                continue
            remaining -= 1
            try:
                result = future.result()
            except BaseException as error:
                if not _is_lost_work(error):
                    raise
                lost = lost or error
                continue
            yield futures[future], result
        if lost is not None:
            raise _lost(executor, lost) from None
    finally:
        for future in futures:
            future.cancel()
