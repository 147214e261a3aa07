"""The serving process's side of the render child: start it when first needed (one per
process, shared by its threads), send it a whole batch in one round trip, read the answers,
and kill and replace it when it overruns a deadline or dies.

Why a child process and not threads or signals: a thread cannot be stopped in Python, an alarm
signal is not delivered while a C function runs (and belongs to the main thread, which Celery
and gunicorn use themselves), and memory cannot be capped for part of a process. A child can
be given its own RLIMIT_AS and killed at any moment, and whatever it did, the caller's memory
and time are untouched (docs/recipes.md, "Limits").

The child is a fresh interpreter (subprocess), not a fork of this one: forking a process with
threads (gthread, the Celery threads pool, runserver) copies locks other threads hold. After
this process itself forks (a Celery prefork child, a gunicorn worker), the copy forgets the
parent's child and starts its own on first use.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import pickle
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automations.engine import render_limits
from automations.engine.render_limits import Deadline
from automations.engine.render_worker import FRAME_HEADER, PROGRESS, Batch, Job

log = logging.getLogger(__name__)

PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
# An answer holds at most a job's fields of 64 KiB each, JSON-escaped (up to 6 bytes a
# character): anything longer is not from our worker.
MAX_ANSWER_BYTES_PER_FIELD = 64 * 1024 * 6 + 1024
READ_CHUNK = 256 * 1024
# How often a wait for a slow answer looks at the child's progress again.
RECHECK_SECONDS = 0.05
# A child that keeps dying before it renders anything is broken: give up on the batch.
MAX_FRUITLESS_STARTS = 2


@dataclass(frozen=True)
class Limits:
    field_seconds: float = render_limits.FIELD_DEADLINE_SECONDS
    step_seconds: float = render_limits.STEP_DEADLINE_SECONDS


def _failed(job: Job, position: int, problem: str) -> dict[str, Any]:
    keys = list(job.templates) or [""]
    key = keys[min(position, len(keys) - 1)]
    return {"error": [key, job.labels.get(key, key), problem], "s": 0.0}


class ChildRenderer:
    """One render child and the pipes to it. Not thread-safe: callers hold `_lock`."""

    def __init__(self) -> None:
        self.owner_pid = os.getpid()
        self.process: subprocess.Popen | None = None
        self.progress: mmap.mmap | None = None
        self.buffer = bytearray()
        self.batch_number = 0

    # -- the process ---------------------------------------------------------------------

    def _start(self) -> None:
        with tempfile.TemporaryFile() as block:  # unlinked; the mapping and the child keep it
            os.ftruncate(block.fileno(), PROGRESS.size)
            self.progress = mmap.mmap(block.fileno(), PROGRESS.size)
            self.process = subprocess.Popen(
                [sys.executable, "-m", "automations.engine.render_worker", str(block.fileno())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=0,
                pass_fds=(block.fileno(),),
                cwd=PROJECT_ROOT,
                env=render_limits.child_environment(PROJECT_ROOT),
            )
        self.buffer.clear()

    def stop(self) -> None:
        """Kill the child (it may be inside a C call that nothing else interrupts)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process.stdin.close()
            self.process.stdout.close()
            self.process = None

    def abandon(self) -> None:
        """In a forked copy of the owner: let go of the owner's child without touching it."""
        if self.process is not None:
            for pipe in (self.process.stdin, self.process.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
            self.process.returncode = 0  # nothing here will wait for it
            self.process = None

    # -- one call ------------------------------------------------------------------------

    def render(self, jobs: list[Job], limits: Limits) -> list[dict[str, Any]]:
        """Every job's answer, in order: `{"ok": {...}, "s": seconds}` or `{"error": [...]}`."""
        answers: list[dict[str, Any] | None] = [None] * len(jobs)
        start, fruitless = 0, 0
        while start < len(jobs):
            if self.process is None:
                self._start()
            try:
                done = self._round_trip(jobs, start, limits, answers)
            except BaseException:
                # Interrupted mid-batch (a task's soft time limit, a signal): the child may
                # still be writing answers nobody will read. Start the next call afresh.
                self.stop()
                raise
            fruitless = 0 if done > start else fruitless + 1
            if fruitless > MAX_FRUITLESS_STARTS:
                for index in range(start, len(jobs)):
                    answers[index] = _failed(jobs[index], 0, render_limits.RENDERER_UNAVAILABLE)
                break
            start = done
        return answers  # type: ignore[return-value]

    def _round_trip(self, jobs: list[Job], start: int, limits: Limits, answers: list) -> int:
        """Send jobs[start:], collect answers; the index of the first job still to do."""
        self.batch_number += 1
        batch = Batch(
            self.batch_number,
            jobs[start:],
            start,
            limits.field_seconds,
            limits.step_seconds,
            self._cpu_budget(jobs[start:], limits),
        )
        payload = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        sent_at = time.monotonic()
        try:
            os.write(self.process.stdin.fileno(), FRAME_HEADER.pack(len(payload)))
            _write_all(self.process.stdin.fileno(), payload)
        except OSError:  # the child died since the last call (e.g. it retired)
            self.stop()
            return start
        index = start
        while index < len(jobs):
            answer = self._next_answer(jobs, index, limits, sent_at)
            if answer is None:
                return index  # resend the rest to a fresh child
            answers[index] = answer
            index += 1
            if self.process is None:
                break  # killed over that job: the rest go to a fresh child
        return index

    @staticmethod
    def _cpu_budget(jobs: list[Job], limits: Limits) -> float:
        outer = [job.outer.at - time.monotonic() for job in jobs if job.outer is not None]
        per_step = len(jobs) * limits.step_seconds
        return max(0.0, min([per_step, *outer])) + render_limits.KILL_GRACE_SECONDS

    # -- waiting for one answer ------------------------------------------------------------

    def _next_answer(
        self, jobs: list[Job], index: int, limits: Limits, sent_at: float
    ) -> dict[str, Any] | None:
        """The answer to jobs[index]; a failure answer if it overran or killed the child;
        None when the child stopped before starting it (nothing to blame on that job)."""
        job = jobs[index]
        limit = len(job.templates) * MAX_ANSWER_BYTES_PER_FIELD
        while True:
            frame = self._take_frame(limit)
            if frame is not None:
                answer = _checked(frame, job, index)
                if answer is None:  # not what our worker writes: do not trust it further
                    self.stop()
                    return _failed(job, 0, render_limits.RENDERER_STOPPED)
                return answer
            deadline = self._hard_deadline(job, index, limits, sent_at)
            if deadline.at > time.monotonic():
                # Wake up now and then: the child may move on to another field (a new
                # deadline) or begin this job (its deadlines start then).
                if self._wait_readable(min(deadline.at, time.monotonic() + RECHECK_SECONDS)):
                    if not self._fill():
                        return self._after_death(job, index)
                continue
            position = self._position_of(index)
            self.stop()
            return _failed(job, position or 0, deadline.overdue)

    def _progress(self) -> tuple[int, int, int, float, float]:
        return PROGRESS.unpack_from(self.progress, 0)

    def _position_of(self, index: int) -> int | None:
        number, job_index, field, _, _ = self._progress()
        return field if (number, job_index) == (self.batch_number, index) else None

    def _hard_deadline(self, job: Job, index: int, limits: Limits, sent_at: float) -> Deadline:
        """When to stop waiting for this job, and what to say then."""
        number, job_index, _, job_started, field_started = self._progress()
        grace = render_limits.KILL_GRACE_SECONDS
        # The child may be preempted halfway through writing the block: a new job number
        # beside the times of an earlier job. Times from before this batch was sent, or out
        # of order, are such a torn read, not an overrun: look again shortly.
        begun = (number, job_index) == (self.batch_number, index)
        if not begun or not sent_at <= job_started <= field_started:
            # Not begun yet: the child is starting, reading the batch, or answering the job
            # before. Starting a fresh interpreter is the slow part.
            candidates = [
                Deadline(
                    sent_at + render_limits.CHILD_START_SECONDS, render_limits.RENDERER_UNAVAILABLE
                )
            ]
        else:
            candidates = [
                Deadline(
                    field_started + limits.field_seconds + grace,
                    render_limits.field_overdue(limits.field_seconds),
                ),
                Deadline(
                    job_started + limits.step_seconds + grace,
                    render_limits.step_overdue(limits.step_seconds),
                ),
            ]
        if job.outer is not None:
            candidates.append(Deadline(job.outer.at + grace, job.outer.overdue))
        return min(candidates, key=lambda d: d.at)

    def _wait_readable(self, until: float) -> bool:
        poller = select.poll()
        poller.register(self.process.stdout.fileno(), select.POLLIN | select.POLLHUP)
        timeout_ms = max(0, int((until - time.monotonic()) * 1000) + 1)
        return bool(poller.poll(timeout_ms))

    def _fill(self) -> bool:
        """Read what the child wrote; False at end of file (the child is gone)."""
        data = os.read(self.process.stdout.fileno(), READ_CHUNK)
        self.buffer += data
        return bool(data)

    def _take_frame(self, limit: int) -> bytes | None:
        if len(self.buffer) < FRAME_HEADER.size:
            return None
        (size,) = FRAME_HEADER.unpack_from(self.buffer, 0)
        if size > limit:
            self.buffer.clear()
            return b""  # refused by _checked, and the child is replaced
        end = FRAME_HEADER.size + size
        if len(self.buffer) < end:
            return None
        frame = bytes(self.buffer[FRAME_HEADER.size : end])
        del self.buffer[:end]
        return frame

    def _after_death(self, job: Job, index: int) -> dict[str, Any] | None:
        position = self._position_of(index)
        code = self.process.wait()
        self.stop()
        if position is None:
            return None  # it stopped between jobs (it retires after a memory error)
        if code == -signal.SIGXCPU:
            log.warning("render child ran out of CPU time on job %s", index)
        return _failed(job, position, render_limits.RENDERER_STOPPED)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _checked(frame: bytes, job: Job, index: int) -> dict[str, Any] | None:
    """The child's answer if it has the shape ours have; None otherwise."""
    try:
        answer = json.loads(frame)
        ok, error = answer.get("ok"), answer.get("error")
        seconds = float(answer.get("s", 0.0))
        if (
            answer.get("i") == index
            and isinstance(ok, dict)
            and all(isinstance(v, str) for v in ok.values())
            and set(ok) <= set(job.templates)
        ):
            return {"ok": ok, "s": seconds}
        if (
            answer.get("i") == index
            and isinstance(error, list)
            and len(error) == 3
            and all(isinstance(part, str) for part in error)
        ):
            return {"error": error, "s": seconds}
    except (ValueError, AttributeError, TypeError):
        pass
    return None


# -- one renderer per process -------------------------------------------------------------

_lock = threading.Lock()
_renderer: ChildRenderer | None = None


def render_jobs(jobs: list[Job], limits: Limits) -> list[dict[str, Any]]:
    """Render in this process's child, starting (or replacing) it as needed."""
    global _renderer
    with _lock:
        if _renderer is not None and _renderer.owner_pid != os.getpid():
            _renderer.abandon()  # a forked copy: the child is our parent's
            _renderer = None
        if _renderer is None:
            _renderer = ChildRenderer()
        return _renderer.render(jobs, limits)


def child_pid() -> int | None:
    """The current child's process id (tests and the benchmark look at it)."""
    with _lock:
        process = _renderer.process if _renderer is not None else None
        return process.pid if process is not None else None


def _forget_after_fork() -> None:
    global _lock, _renderer
    _lock = threading.Lock()  # another thread may have held it at the fork
    if _renderer is not None:
        _renderer.abandon()
        _renderer = None


os.register_at_fork(after_in_child=_forget_after_fork)
