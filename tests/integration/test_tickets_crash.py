"""Tickets survive a killed process: a child creates tickets with known idempotency keys and
is SIGKILLed at random moments, then restarted with the same keys from the start.

Afterwards every key the child reported as committed exists exactly once, no key exists
twice, and every ticket has its "created" event.
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import func, select, text

from servicecenter import PROJECT_ROOT
from servicecenter.db import session_scope
from servicecenter.models import Ticket, TicketEvent
from servicecenter.training import upgrade_database

SEED = 20261202
ROUNDS = 12
KEYS = 300
# The child announces "ready" once imported, then prints each key after create_ticket returned.
CHILD = """
import sys
from servicecenter.handoff.tickets import create_ticket
url, count = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
for i in range(count):
    key = f"crash-conv:{i}"
    create_ticket(
        idempotency_key=key, conversation_id="crash-conv", reason="human",
        department_slug="zentrale", channel="chat", summary={"n": i}, url=url,
    )
    print(key, flush=True)
print("done", flush=True)
"""


def start_child(url):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(KEYS)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )


def run_round(url, kill_after, reported):
    """Run the child once; kill it ``kill_after`` seconds after it is ready (None: let it finish).
    Returns True when the child finished its whole key sequence."""
    child = start_child(url)
    ready = threading.Event()
    lines = []

    def reader():
        for line in child.stdout:
            lines.append(line.strip())
            ready.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        assert ready.wait(15), f"child did not start: {child.stderr.read() if child.poll() is not None else ''}"
        if kill_after is not None:
            time.sleep(kill_after)
            child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    thread.join(5)
    if kill_after is None or child.returncode == 0:
        assert child.returncode == 0, child.stderr.read()
    child.stderr.close()
    reported.update(line for line in lines if line.startswith("crash-conv:"))
    return "done" in lines


def test_killed_writers_leave_every_committed_ticket_once_with_its_event(tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    upgrade_database(url)
    rng = random.Random(SEED)
    reported = set()
    started = time.monotonic()
    kills = 0
    for _ in range(ROUNDS):
        if not run_round(url, rng.uniform(0.02, 0.5), reported):
            kills += 1
        assert time.monotonic() - started < 18, "crash test takes too long"
    assert kills > 0, "no round was interrupted; the test proves nothing"
    assert run_round(url, None, reported)

    with session_scope(url) as session:
        rows = session.execute(
            select(Ticket.idempotency_key, func.count()).group_by(Ticket.idempotency_key)
        ).all()
        without_event = session.execute(
            select(Ticket.id).where(
                ~select(TicketEvent.id)
                .where(TicketEvent.ticket_id == Ticket.id, TicketEvent.to_status == "new",
                       TicketEvent.from_status.is_(None))
                .exists()
            )
        ).scalars().all()
        created_events = session.execute(
            select(TicketEvent.ticket_id, func.count()).where(TicketEvent.from_status.is_(None))
            .group_by(TicketEvent.ticket_id)
        ).all()
        integrity = session.execute(text("PRAGMA integrity_check")).scalar()
    per_key = dict(rows)
    assert integrity == "ok"
    assert all(n == 1 for n in per_key.values()), {k: n for k, n in per_key.items() if n != 1}
    assert reported <= set(per_key), sorted(reported - set(per_key))[:5]
    assert set(per_key) == {f"crash-conv:{i}" for i in range(KEYS)}
    assert without_event == []
    assert all(n == 1 for _, n in created_events) and len(created_events) == KEYS
