"""Guarded worker processes: a task that crashes, hangs or eats memory costs its own item only.

`run(items, task, jobs=, timeout=, memory_mb=, done=)` calls `task(items[i])` for every item in
forked worker processes and gives each outcome to `done(i, outcome)` in this process, as it
arrives. A worker is forked from this process when there is an item for it (so it inherits
`items`, the rules and libcst already imported: nothing is pickled in), takes one item at a
time and sends its result back pickled. The outcome is the task's return value, or a `Failed`
saying why there is none:

- the worker died: a signal (libcst's native parser overflows its stack on long flat chains:
  SIGSEGV), or any exit;
- the item used more than `timeout` seconds of CPU time (RLIMIT_CPU: the kernel stops the
  worker with SIGXCPU), so a busy machine does not change the outcome; or, as a backstop for a
  worker that waits without computing, ten times as long in wall-clock time (it is killed);
- the worker hit its memory cap: `memory_mb` MB of data (RLIMIT_DATA) beyond what it inherited,
  seen as a `MemoryError` in Python code, or as an abort with Rust's "memory allocation ...
  failed" in the native parser;
- the task raised (a `RecursionError`, a Rust panic, anything): `Failed("error", ...)`, and the
  worker goes on with its next item.

A dead or killed worker is replaced, and the run goes on. Workers ignore SIGINT: on Ctrl-C this
process kills them. What a worker writes on stderr is passed on once its item is done (and read
for the memory message if it dies). `available()` is False where there is no fork (Windows):
callers then run their tasks in process.
"""

from __future__ import annotations

import gc
import os
import pickle
import selectors
import signal
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Sequence

_HEADER = 8  # bytes of a frame's length
WALL_FACTOR = 10  # the wall-clock backstop, in times the CPU time limit
_RUST_OOM = b"memory allocation of"  # Rust's alloc error handler, before it aborts


@dataclass(frozen=True)
class Failed:
    """Why an item has no result. `kind`: "signal", "exit", "timeout", "memory" or "error"."""

    kind: str
    detail: str = ""
    signal: int = 0


def available() -> bool:
    return hasattr(os, "fork")


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _Worker:
    def __init__(self, pid: int, tasks: int, results: int, errors: int) -> None:
        self.pid = pid
        self.tasks = tasks  # our end of its task pipe (we write item indexes)
        self.results = results  # our end of its result pipe (it writes frames)
        self.errors = errors  # our end of its stderr
        self.frame = bytearray()
        self.stderr = bytearray()
        self.item: int | None = None
        self.started = 0.0
        self.retiring = False  # it said it will exit after its last result

    def fds(self) -> tuple[int, int, int]:
        return self.tasks, self.results, self.errors


def _child(task: Callable, items: Sequence, tasks: int, results: int, memory_mb: int | None,
           timeout: float | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent kills its workers
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)  # over the CPU limit: the kernel ends the worker
    _no_core_files()  # a crash or SIGXCPU must not leave a core file in the user's folder
    if memory_mb:
        _limit_memory(memory_mb)
    while True:
        head = _read_exact(tasks, 4)
        if len(head) < 4:
            return  # the parent closed the pipe: no more items
        index = int.from_bytes(head, "little")
        if timeout is not None:
            _limit_cpu(timeout)
        keep = True
        try:
            outcome: tuple = (index, "ok", task(items[index]))
        except MemoryError:
            outcome, keep = (index, "memory", ""), False
        except RecursionError:
            outcome = (index, "error", "too deeply nested to analyze")
        except BaseException as exc:  # noqa: BLE001 - a Rust panic is a BaseException too
            outcome = (index, "error", f"{type(exc).__name__}: {exc}")
        try:
            blob = pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            blob, keep = pickle.dumps((index, "memory", "")), False
        except Exception as exc:  # noqa: BLE001 - an unpicklable result
            blob = pickle.dumps((index, "error", f"the result cannot be sent back: {type(exc).__name__}: {exc}"))
        _write_all(results, len(blob).to_bytes(_HEADER, "little") + blob)
        if not keep:
            return


def _no_core_files() -> None:
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    except (ValueError, OSError):
        pass


def _limit_cpu(seconds: float) -> None:
    """This item may use `seconds` more of CPU time (the limit counts whole seconds, from the
    worker's start: what its earlier items used is added)."""
    import math
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    limit = math.ceil(used.ru_utime + used.ru_stime + seconds)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))


def _redirect_output(fd: int) -> None:
    """The worker's stdout and stderr (file descriptors and Python streams) into `fd`: a stray
    print cannot corrupt the report on stdout, and a crash message reaches the parent."""
    import faulthandler
    import sys

    faulthandler.disable()  # the parent says how a worker died, in a KC000
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = sys.__stdout__ = open(1, "w", closefd=False, errors="backslashreplace")
    sys.stderr = sys.__stderr__ = open(2, "w", closefd=False, errors="backslashreplace")


def _limit_memory(memory_mb: int) -> None:
    """Cap the data segment at what this worker inherited plus `memory_mb` MB."""
    try:
        import resource
    except ImportError:  # pragma: no cover - no resource module: no cap
        return
    inherited = 0
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmData:"):
                    inherited = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    limit = inherited + memory_mb * 1024 * 1024
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    except (ValueError, OSError):
        return
    from kerascheck import parse

    parse.DATA_HEADROOM = limit - inherited  # this worker's own: what a file may allocate


def _read_exact(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Pool:
    def __init__(self, items: Sequence, task: Callable, timeout: float | None, memory_mb: int | None,
                 done: Callable[[int, Any], None], stderr) -> None:
        self.items = items
        self.task = task
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.done = done
        self.stderr = stderr
        self.workers: dict[int, _Worker] = {}  # pid -> worker
        self.selector = selectors.DefaultSelector()

    # ---------------------------------------------------------------- workers

    def spawn(self) -> _Worker:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        err_r, err_w = os.pipe()
        # The objects that exist now out of the worker's collections: a collection would touch
        # every one of them and copy the pages they are on (copy-on-write), file after file.
        gc.freeze()
        pid = os.fork()
        if pid != 0:
            gc.unfreeze()
        if pid == 0:  # the worker
            code = 0
            try:
                for worker in self.workers.values():  # only the parent may hold another worker's pipes
                    for fd in worker.fds():
                        os.close(fd)
                if hasattr(self.selector, "fileno"):  # epoll, kqueue: the parent's
                    os.close(self.selector.fileno())
                os.close(task_w)
                os.close(result_r)
                os.close(err_r)
                _redirect_output(err_w)
                _child(self.task, self.items, task_r, result_w, self.memory_mb, self.timeout)
            except BaseException:  # noqa: BLE001 - never return into the parent's code
                code = 70
            finally:
                os._exit(code)
        os.close(task_r)
        os.close(result_w)
        os.close(err_w)
        worker = _Worker(pid, task_w, result_r, err_r)
        for fd in (result_r, err_r):
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ, worker)
        self.workers[pid] = worker
        return worker

    def assign(self, worker: _Worker, index: int) -> None:
        worker.item = index
        worker.started = time.monotonic()
        worker.stderr.clear()
        try:
            os.write(worker.tasks, index.to_bytes(4, "little"))
        except OSError:  # it died between items: its end of file says how
            pass

    def forget(self, worker: _Worker, kill: bool = False) -> int:
        """Stop watching `worker`, reap it and return its wait status."""
        if kill:
            try:
                os.kill(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            os.close(worker.tasks)  # an idle worker reads the end of its task pipe and exits
            worker.tasks = -1
        try:
            _, status = os.waitpid(worker.pid, 0)
        except ChildProcessError:
            status = 0
        for fd in (worker.results, worker.errors):
            try:
                self.selector.unregister(fd)
            except (KeyError, ValueError):
                pass
        if not kill:
            self._drain(worker)  # it is gone: all it wrote on stderr is in the pipe
        for fd in worker.fds():
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.workers.pop(worker.pid, None)
        return status

    def _drain(self, worker: _Worker) -> None:
        while True:
            try:
                chunk = os.read(worker.errors, 65536)
            except BlockingIOError:
                return
            except OSError:
                return
            if not chunk:
                return
            self._keep_stderr(worker, chunk)

    @staticmethod
    def _keep_stderr(worker: _Worker, chunk: bytes) -> None:
        worker.stderr += chunk
        if len(worker.stderr) > 65536:  # keep the end: that is where a crash message is
            del worker.stderr[: len(worker.stderr) - 65536]

    def _pass_on_stderr(self, worker: _Worker) -> None:
        if worker.stderr and self.stderr is not None:
            try:
                self.stderr.write(worker.stderr.decode("utf-8", "replace"))
                self.stderr.flush()
            except (OSError, ValueError):
                pass
        worker.stderr.clear()

    # ---------------------------------------------------------------- events

    def died(self, worker: _Worker, status: int) -> None:
        """`worker` is gone; its item, if any, fails with the reason."""
        index = worker.item
        worker.item = None
        if index is None:
            return
        if _RUST_OOM in worker.stderr:
            outcome = Failed("memory")
        elif os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU and self.timeout is not None:
            outcome = Failed("timeout", f"{self.timeout:g}")
        elif os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            outcome = Failed("signal", signal_name(number), number)
        else:
            outcome = Failed("exit", f"exit status {os.WEXITSTATUS(status) if os.WIFEXITED(status) else status}")
        self.done(index, outcome)

    def readable(self, worker: _Worker, fd: int) -> None:
        if fd == worker.errors:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            if chunk:
                self._keep_stderr(worker, chunk)
            return
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            return
        if not chunk:  # end of file: the worker is gone
            self.died(worker, self.forget(worker))
            return
        worker.frame += chunk
        while len(worker.frame) >= _HEADER:
            size = int.from_bytes(worker.frame[:_HEADER], "little")
            if len(worker.frame) < _HEADER + size:
                break
            blob = bytes(worker.frame[_HEADER : _HEADER + size])
            del worker.frame[: _HEADER + size]
            index, kind, payload = pickle.loads(blob)
            worker.item = None
            self._pass_on_stderr(worker)
            if kind == "ok":
                outcome = payload
            else:
                outcome = Failed(kind, payload)
                worker.retiring = worker.retiring or kind == "memory"
            if worker.retiring:
                self.forget(worker)
            self.done(index, outcome)

    def timed_out(self, now: float) -> None:
        """The wall-clock backstop: a worker that waits (without using CPU) far past its limit."""
        if self.timeout is None:
            return
        for worker in list(self.workers.values()):
            if worker.item is not None and now - worker.started >= self.timeout * WALL_FACTOR:
                index = worker.item
                worker.item = None
                self.forget(worker, kill=True)
                self.done(index, Failed("timeout", f"{self.timeout:g}"))

    def wait(self) -> None:
        busy = [w for w in self.workers.values() if w.item is not None]
        if not busy:
            return
        wait = None
        if self.timeout is not None:
            wait = max(0.0, min(w.started for w in busy) + self.timeout * WALL_FACTOR - time.monotonic())
        for key, _ in self.selector.select(wait):
            worker = key.data
            if worker.pid in self.workers:
                self.readable(worker, key.fd)
        self.timed_out(time.monotonic())

    def close(self) -> None:
        for worker in list(self.workers.values()):
            self.forget(worker, kill=worker.item is not None)
        self.selector.close()


def run(items: Sequence, task: Callable[[Any], Any], *, jobs: int, timeout: float | None,
        memory_mb: int | None, done: Callable[[int, Any], None], order: Sequence[int] | None = None,
        stderr=None) -> None:
    """`done(i, task(items[i]) or Failed)` for every item, computed in at most `jobs` workers.

    `order`: the indexes in the order to hand them out (default: as given). `stderr`: where
    the workers' output is passed on (default: sys.stderr)."""
    if stderr is None:
        import sys

        stderr = sys.stderr
    queue = deque(range(len(items)) if order is None else order)
    pool = _Pool(items, task, timeout, memory_mb, done, stderr)
    try:
        while queue or any(w.item is not None for w in pool.workers.values()):
            for worker in list(pool.workers.values()):
                if not queue:
                    break
                if worker.item is None and not worker.retiring:
                    pool.assign(worker, queue.popleft())
            while queue and len(pool.workers) < jobs:
                pool.assign(pool.spawn(), queue.popleft())
            pool.wait()
    finally:
        pool.close()
