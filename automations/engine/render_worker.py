"""The render child: a separate Python process that renders batches of field templates for
the process that started it (render_child.py), under kernel limits (render_limits.py).

It imports Jinja and our guards, never Django: it holds no secret and no database
connection. The wire between the two is a pair of pipes carrying length-prefixed frames:
- in: a pickled `Batch` (sent by our own parent, so pickle is safe in this direction);
- out: one JSON frame per job as soon as it is done (JSON: a child that a template took over
  could not make the parent run anything), so the parent keeps what finished if the child
  has to be killed.
While it renders, the child writes where it is (batch, job, field, start times) into a small
shared memory block: the parent reads it to name the field that overran and to know when
each deadline started.

Run as `python -m automations.engine.render_worker <progress fd>`.
"""

from __future__ import annotations

import json
import mmap
import os
import pickle
import signal
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any, BinaryIO

from automations.engine import render_limits
from automations.engine.render_explain import Unusable, checked_template, explain
from automations.engine.render_guards import Budget, produce

# The length in front of every frame: 4 bytes, big-endian.
FRAME_HEADER = struct.Struct(">I")
# Progress block: batch number, job index, field index, job start, field start.
PROGRESS = struct.Struct("<qqqdd")


@dataclass(frozen=True)
class Job:
    """One step's fields: templates by key, the context they see, labels for messages."""

    templates: dict[str, Any]
    context: dict[str, Any]
    labels: dict[str, str]
    outer: render_limits.Deadline | None = None  # the batch's or the run's, if tighter


@dataclass(frozen=True)
class Batch:
    number: int
    jobs: list[Job]
    first_index: int  # the index of jobs[0] in the caller's list (a resent rest starts later)
    field_seconds: float
    step_seconds: float
    cpu_seconds: float


def write_frame(fd: int, body: bytes) -> None:
    data = memoryview(FRAME_HEADER.pack(len(body)) + body)
    while data:
        data = data[os.write(fd, data) :]


def read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _deadlines(job: Job, batch: Batch, job_started: float, field_started: float) -> Budget:
    """The field's budget: the tightest of its own, its step's and the caller's deadline."""
    candidates = [
        (field_started + batch.field_seconds, render_limits.field_overdue(batch.field_seconds)),
        (job_started + batch.step_seconds, render_limits.step_overdue(batch.step_seconds)),
    ]
    if job.outer is not None:
        candidates.append((job.outer.at, job.outer.overdue))
    at, overdue = min(candidates)
    return Budget(deadline=at, overdue=overdue)


def render_job(job: Job, batch: Batch, index: int, progress: mmap.mmap) -> dict[str, Any]:
    """Render the fields in order; the first failure ends the job, naming the field."""
    job_started = time.monotonic()
    out: dict[str, str] = {}
    for position, (key, source) in enumerate(job.templates.items()):
        label = job.labels.get(key, key)
        field_started = time.monotonic()
        # One copy of packed bytes (pack_into would zero the block first, then fill it in).
        progress[: PROGRESS.size] = PROGRESS.pack(
            batch.number, index, position, job_started, field_started
        )
        try:
            if not isinstance(source, str):
                raise Unusable(None, "must be text")
            template = checked_template(source)
            budget = _deadlines(job, batch, job_started, field_started)
            out[key] = produce(template, job.context, budget)
        except Unusable as exc:
            return {"error": [key, label, exc.message]}
        except MemoryError:
            return {"error": [key, label, render_limits.TOO_MUCH_MEMORY], "retire": True}
        except Exception as exc:  # a merchant's template can fail in any way; all become one
            return {"error": [key, label, explain(exc, job.context)]}
    return {"ok": out}


def serve(requests: BinaryIO, answers: int, progress: mmap.mmap) -> None:
    """Answer batches until the parent closes the pipe (or a job exhausted memory)."""
    while True:
        header = read_exactly(requests, FRAME_HEADER.size)
        if header is None:
            return  # the parent is gone or done with us
        body = read_exactly(requests, FRAME_HEADER.unpack(header)[0])
        if body is None:
            return
        batch: Batch = pickle.loads(body)
        render_limits.limit_cpu(batch.cpu_seconds)
        for offset, job in enumerate(batch.jobs):
            started = time.monotonic()
            answer = render_job(job, batch, batch.first_index + offset, progress)
            answer["i"] = batch.first_index + offset
            answer["s"] = time.monotonic() - started
            write_frame(answers, json.dumps(answer, ensure_ascii=False).encode())
            if answer.get("retire"):
                return  # memory may be fragmented: a fresh child takes the rest


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in `make run` is for the parent
    progress = mmap.mmap(int(argv[1]), PROGRESS.size)
    render_limits.limit_memory()
    serve(sys.stdin.buffer, sys.stdout.fileno(), progress)


if __name__ == "__main__":
    main(sys.argv)
