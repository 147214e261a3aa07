"""The render child per process: shared by threads, started afresh after a fork (a Celery
prefork child, a gunicorn worker), replaced when it is killed."""

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import billiard
import pytest

from automations.engine import render, render_child

CONTEXT = render.build_context({"id": "ord_1"}, {}, {}, datetime(2025, 1, 1, tzinfo=UTC))
THREADS = 8


def rendered_with_child(number: int) -> tuple[str, int | None, int]:
    text = render.render_field("{{ trigger.id }}-" + str(number), CONTEXT, label="Note")
    return text, render_child.child_pid(), os.getpid()


def test_threads_share_one_child_and_get_their_own_results():
    rendered_with_child(0)
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(rendered_with_child, range(1, 65)))
    assert [text for text, _, _ in results] == [f"ord_1-{n}" for n in range(1, 65)]
    assert {child for _, child, _ in results} == {render_child.child_pid()}


def test_a_prefork_pool_process_starts_its_own_child():
    _, parents_child, _ = rendered_with_child(0)  # the copy a fork inherits has one already
    # billiard is what Celery's prefork pool forks its (daemonic) workers with.
    with billiard.Pool(1) as pool:
        text, child, pid = pool.apply(rendered_with_child, (7,))
    assert text == "ord_1-7"
    assert pid != os.getpid() and child not in (None, parents_child)
    assert rendered_with_child(8)[1] == parents_child  # the parent's child is untouched


def test_a_killed_child_is_replaced_on_the_next_call():
    _, first, _ = rendered_with_child(0)
    os.kill(first, 9)
    text, second, _ = rendered_with_child(1)
    assert text == "ord_1-1" and second not in (None, first)


class Interrupted(Exception):
    pass


def test_a_call_interrupted_mid_batch_leaves_no_stale_answer_behind():
    # Celery's soft time limit raises inside the task wherever it is, as this alarm does.
    slow = "{{ ('a' * 65000)|wordwrap(2, wrapstring='aaaaaaaa')|wordwrap(1)|length }}"

    def interrupt(signum, frame):
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(Interrupted):
            render.render_many([({"n": slow}, CONTEXT, {}), ({"n": "stale"}, CONTEXT, {})])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert rendered_with_child(5)[0] == "ord_1-5"
