"""The budgets a render lives within, and the process limits that make them hold.

Templates render in a child process (render_worker.py, driven by render_child.py) so that
whatever one does, the serving process (a web request, a Celery task) keeps its memory and its
time: the guards of render_guards.py stop ordinary abuse with a precise message; the kernel's
limits set here stop the rest (a value built inside a `{% set %}` block, one long C-level call)
by failing or killing the child, never the caller. See docs/recipes.md, "Limits".
"""

import os
import resource
from dataclasses import dataclass

MiB = 1024 * 1024

# One field must not hold a worker for long; a real template renders in microseconds.
FIELD_DEADLINE_SECONDS = 1.0
# All the fields of one step together (a step has a handful; six at most today).
STEP_DEADLINE_SECONDS = 3.0
# One builder preview request renders every field of a draft (up to 20 steps).
PREVIEW_DEADLINE_SECONDS = 5.0
# Every render of one run together, across its steps and attempts (callers pass what is left).
RUN_DEADLINE_SECONDS = 10.0
# Past a deadline, the child gets this long to answer with its own precise message before the
# parent kills it: its guards check the clock between operations, not inside a C call.
KILL_GRACE_SECONDS = 0.25
# Memory a render child may use beyond what it holds once started (Python, Jinja, the cache of
# compiled templates): a field's value is capped at 64 KiB, so this is room for the way there.
CHILD_MEMORY_BYTES = 256 * MiB
# A child that has not started rendering this long after it was started is broken, not slow:
# starting is one Python interpreter importing Jinja (a fraction of a second).
CHILD_START_SECONDS = 30.0
# CPU seconds the child may spend on one batch beyond its wall-clock budget: a backstop that
# kills it even if the parent that should have done so is stuck.
CPU_MARGIN_SECONDS = 2


@dataclass(frozen=True)
class Deadline:
    """A moment (time.monotonic(), the same clock in every process) and what missing it means."""

    at: float
    overdue: str


def field_overdue(seconds: float = FIELD_DEADLINE_SECONDS) -> str:
    return f"rendering took longer than {seconds:g} s"


def step_overdue(seconds: float = STEP_DEADLINE_SECONDS) -> str:
    return f"the step's fields together took longer than {seconds:g} s to render"


def batch_overdue(seconds: float) -> str:
    return f"rendering took longer than the {seconds:g} s allowed for all the fields together"


TOO_MUCH_MEMORY = "the template needs too much memory"
RENDERER_STOPPED = "the template stopped the renderer (it needs too much memory or time)"
RENDERER_UNAVAILABLE = "the template renderer could not start; please try again shortly"


def _address_space_in_use() -> int:
    """This process's virtual size (VmSize) in bytes, from /proc; 0 where there is none."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def limit_memory(extra_bytes: int = CHILD_MEMORY_BYTES) -> None:
    """Cap the child's address space at what it uses now plus `extra_bytes`: an allocation
    past it fails with MemoryError inside the render instead of growing the machine's use."""
    in_use = _address_space_in_use()
    if in_use:
        limit = in_use + extra_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def limit_cpu(seconds: float) -> None:
    """Let the child spend `seconds` more CPU time (plus a margin); past it the kernel sends
    SIGXCPU, whose default action ends the process. Raised again before each batch."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    spent = usage.ru_utime + usage.ru_stime
    soft = int(spent + seconds) + CPU_MARGIN_SECONDS
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def rss_bytes(pid: int | str = "self") -> int:
    """Resident memory (VmRSS) of a process, from /proc; for tests and the benchmark."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def child_environment(project_root: str) -> dict[str, str]:
    """What the child needs from the environment, and nothing secret (no SECRET_KEY, no
    database or broker URL): a template that escaped the sandbox would find nothing to use."""
    keep = {
        name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "TZ") if name in os.environ
    }
    return {**keep, "PYTHONPATH": project_root, "PYTHONDONTWRITEBYTECODE": "1"}
