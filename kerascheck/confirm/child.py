"""The confirm child: imports TensorFlow once, then runs one recipe per job.

Protocol (one JSON object per line): the parent writes jobs to our stdin; we answer on our stdout,
first `{"ready": true, "seconds": S, "tensorflow": V}` (or `{"error": ...}`), then one
`{"verdict", "evidence", "seconds"}` per job, in order. The user's code must not see the
protocol: fd 0 is replaced by /dev/null and fd 1 by our stderr (a log file) before anything runs.

Each job runs with a SIGALRM time limit (Python-level loops); the parent kills us if that does
not fire. `sys.exit` and `os._exit` in the user's code raise instead of leaving; RLIMIT_DATA caps
memory (RLIMIT_AS would break TensorFlow's address-space reservations).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import signal
import sys
import time


class _TimeLimit(BaseException):  # BaseException: `except Exception` in user code does not swallow it
    pass


class _Exited(BaseException):
    def __init__(self, code) -> None:
        super().__init__(code)
        self.code = code


def _private_streams():
    """Protocol streams on private fds; the user's code gets /dev/null in and the log out."""
    proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115
    return proto_in, proto_out


def _send(out, obj) -> None:
    out.write(json.dumps(obj) + "\n")
    out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kerascheck.confirm.child")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--keras", choices=("2", "3"), default="3")
    args = parser.parse_args(argv)
    proto_in, proto_out = _private_streams()
    # The parent pins it; set here too so that `python -m kerascheck.confirm.child` alone agrees.
    os.environ["TF_USE_LEGACY_KERAS"] = "1" if args.keras == "2" else "0"
    if args.memory_mb > 0:
        cap = args.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    workdir = os.getcwd()
    started = time.perf_counter()
    try:
        import numpy as np
        import tensorflow as tf

        if args.keras == "2":
            import tf_keras as keras
        else:
            import keras
    except BaseException as exc:  # noqa: BLE001 - a broken install is reported, not raised
        _send(proto_out, {"error": f"{type(exc).__name__}: {exc}"})
        return 2
    from kerascheck.confirm.probe import Probe

    # TensorFlow's objects never die: leave them out of every later collection (gc.collect()
    # and keras' clear_session() after each job took ~0.7 s with them, ~0.1 s without).
    gc.collect()
    gc.freeze()
    probe = Probe(tf, keras, np, workdir, args.keras)
    _send(proto_out, {"ready": True, "seconds": round(time.perf_counter() - started, 2),
                      "tensorflow": tf.__version__, "keras": keras.__version__})
    for line in proto_in:
        if not line.strip():
            continue
        job = json.loads(line)
        began, cpu = time.perf_counter(), time.process_time()
        verdict, evidence = _run(job, probe, args.timeout, args.memory_mb, workdir)
        _send(proto_out, {"verdict": verdict, "evidence": evidence,
                          "seconds": round(time.perf_counter() - began, 3),
                          "cpu": round(time.process_time() - cpu, 3)})
    return 0


def _run(job, probe, timeout: float, memory_mb: int, workdir: str) -> tuple[str, str]:
    from kerascheck.confirm import COULD_NOT_BUILD, CouldNotBuild
    from kerascheck.confirm.jobs import recipe as recipe_of
    from kerascheck.confirm.probe import describe, one_line

    module = recipe_of(job.get("rule") or "")
    recipe = getattr(module, "confirm", None)
    if recipe is None:
        return COULD_NOT_BUILD, f"{job.get('rule')} has no confirm recipe"
    path = job.get("path", "<slice>")
    probe.job = job

    def alarm(signum, frame):
        raise _TimeLimit

    def fake_exit(code=0):
        raise _Exited(code)

    real_exit = os._exit
    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        os._exit = fake_exit
        result = recipe(job, probe)
        return result.verdict, _noted(result.verdict, result.evidence, job, probe)
    except _TimeLimit:
        return COULD_NOT_BUILD, f"time limit: no verdict after {timeout:g} s (--confirm-timeout)"
    except CouldNotBuild as exc:
        return COULD_NOT_BUILD, one_line(str(exc))
    except (SystemExit, _Exited) as exc:
        how = "os._exit" if isinstance(exc, _Exited) else "sys.exit"
        return COULD_NOT_BUILD, f"the code called {how}({exc.code!r}){_where(exc, path)}"
    except MemoryError as exc:
        return COULD_NOT_BUILD, _memory(exc, memory_mb, path)
    except RecursionError as exc:
        return COULD_NOT_BUILD, describe(exc, path)
    except BaseException as exc:  # noqa: BLE001 - any failure of the user's code is a verdict
        if type(exc).__name__ == "ResourceExhaustedError":  # TensorFlow's allocator hit the cap
            return COULD_NOT_BUILD, _memory(exc, memory_mb, path)
        return COULD_NOT_BUILD, describe(exc, path)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        os._exit = real_exit
        try:
            os.chdir(workdir)
            probe.keras.backend.clear_session()
        except BaseException:  # noqa: BLE001
            pass
        gc.collect()


def _memory(exc: BaseException, memory_mb: int, path: str) -> str:
    from kerascheck.confirm.probe import one_line

    detail = one_line(str(exc), 120)
    return (f"memory limit: the code needs more than the memory cap ({memory_mb} MB, --confirm-memory)"
            f"{': ' + detail if detail else ''}{_where(exc, path)}")


def _noted(verdict: str, evidence: str, job: dict, probe) -> str:
    """The evidence, plus the values the job synthesised and the Keras it ran on when not 3."""
    from kerascheck.confirm import CONFIRMED
    from kerascheck.confirm.probe import one_line

    notes = []
    synthesised = job.get("synthesised") or []
    if synthesised:
        values = ", ".join(f"{v} (synthesised)" for v in synthesised)
        notes.append(f"the verdict depends on synthesised values: {values}" if verdict == CONFIRMED
                     else f"synthesised: {values}")
    if job.get("synthesised_shape"):
        notes.append("input shape built with synthesised values: " + ", ".join(job["synthesised_shape"]))
    if job.get("given"):
        notes.append("values from call sites: " + ", ".join(job["given"]))
    if probe.version == "2":
        why = job.get("keras_why")
        notes.append(f"built with Keras 2 (tf_keras {probe.keras.__version__}, TF_USE_LEGACY_KERAS=1)"
                     + (f": {why}" if why else ""))
    return one_line("; ".join([evidence, *notes]), 600) if notes else evidence


def _where(exc: BaseException, path: str) -> str:
    from kerascheck.confirm.probe import where

    return where(exc, path)


if __name__ == "__main__":
    sys.exit(main())
