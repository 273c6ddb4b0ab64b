"""Server processes sharing a store: only the invocations of a process that is gone are
failed and refunded; a live one's work is never touched."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from skillmarket.db import utcnow
from skillmarket.invocations import runners
from skillmarket.invocations.models import InvokeRequest
from skillmarket.invocations.tables import invocation_runners, invocations
from tests.integration.test_invocations import llm, market, script  # noqa: F401  (fixture)
from tests.support.openai_server import Reply


def add_runner(database, runner_id, *, host, mark, heartbeat_age=timedelta(0)):
    now = utcnow()
    with database.write() as conn:
        conn.execute(
            invocation_runners.insert().values(
                id=runner_id,
                host=host,
                pid=os.getpid(),
                process_mark=mark,
                started_at=now - heartbeat_age,
                heartbeat_at=now - heartbeat_age,
            )
        )


def test_process_mark_names_a_live_process_and_not_a_gone_one():
    mark = runners.process_mark(os.getpid())
    assert mark and mark == runners.process_mark(os.getpid())
    assert runners.process_mark(2**22 + 12345) is None  # above any pid this kernel hands out


def test_only_the_invocations_of_gone_runners_are_failed(market):  # noqa: F811
    services = market.services
    db = services.db
    here = runners.this_host()
    alive_here = runners.register(db)
    add_runner(db, "run_dead_here", host=here, mark="another-process")
    add_runner(db, "run_stale_far", host="elsewhere", mark="x", heartbeat_age=timedelta(hours=1))
    add_runner(db, "run_fresh_far", host="elsewhere", mark="x")
    skill = market.publish(execution_steps=[script()], price_cents=1)
    before = market.wallet().available_micros

    def start(runner_id):
        request = InvokeRequest(input={"items": []}, passport_id=market.passport)
        view = services.invocations.invoke(
            market.bob.id, skill["id"], request, runner_id=runner_id
        ).view
        assert view.status == "running"  # nobody runs it: it stays running
        return view.invocation_id

    started = {
        r: start(r)
        for r in (alive_here, "run_dead_here", "run_stale_far", "run_fresh_far", "run_unknown")
    }
    unassigned = start(None)

    # The app's sweeper may get there first; either way the gone runners' work ends below.
    services.invocations.recover_interrupted(unassigned=False)

    def status(invocation_id):
        return market.poll(invocation_id).json()

    for gone in ("run_dead_here", "run_stale_far", "run_unknown"):
        body = status(started[gone])
        assert (body["status"], body["error"]["code"]) == ("failed", "INVOCATION_INTERRUPTED")
    for alive in (alive_here, "run_fresh_far"):
        assert status(started[alive])["status"] == "running"
    assert status(unassigned)["status"] == "running"  # only a starting server takes those
    with db.read() as conn:
        left = set(conn.execute(sa.select(invocation_runners.c.id)).scalars())
    assert {"run_dead_here", "run_stale_far"}.isdisjoint(left)
    assert {alive_here, "run_fresh_far"} <= left

    services.invocations.recover_interrupted(unassigned=True)
    assert status(unassigned)["status"] == "failed"
    assert status(started[alive_here])["status"] == "running"
    # Only the two live runners' holds are still open; the failed ones were refunded exactly.
    wallet = market.wallet()
    assert wallet.available_micros + wallet.held_micros == before


def test_an_invoke_over_http_records_the_servers_runner(market):  # noqa: F811
    skill = market.publish(execution_steps=[script()])
    body = market.invoke(skill["id"]).json()
    runner_id = market.client.app.state.engine.runner_id
    with market.services.db.read() as conn:
        recorded = conn.execute(
            sa.select(invocations.c.runner_id).where(invocations.c.id == body["invocation_id"])
        ).scalar_one()
        registered = conn.execute(
            sa.select(invocation_runners.c.pid).where(invocation_runners.c.id == runner_id)
        ).scalar_one()
    assert recorded == runner_id and registered == os.getpid()


@pytest.mark.parametrize("unassigned", [True, False])
def test_recovery_with_nothing_to_do_does_nothing(market, unassigned):  # noqa: F811
    assert market.services.invocations.recover_interrupted(unassigned=unassigned) == 0


def test_a_runner_taken_for_gone_registers_again_at_its_heartbeat(database):
    runner_id = runners.register(database)
    runners.unregister(database, runner_id)  # another server took it for gone
    runners.heartbeat(database, runner_id)
    with database.read() as conn:
        row = conn.execute(
            sa.select(invocation_runners).where(invocation_runners.c.id == runner_id)
        ).one()
        assert runners.gone(conn) == []
    assert (row.host, row.pid) == (runners.this_host(), os.getpid())


def backdate(database, invocation_id, by=timedelta(minutes=5)):
    """Make a running invocation look as if it started ``by`` ago."""
    with database.write() as conn:
        conn.execute(
            invocations.update()
            .where(invocations.c.id == invocation_id)
            .values(started_at=utcnow() - by)
        )


def wait_for_status(market, invocation_id, status, seconds=10):  # noqa: F811
    deadline = time.monotonic() + seconds
    while (body := market.poll(invocation_id).json())["status"] != status:
        assert time.monotonic() < deadline, body
        time.sleep(0.05)
    return body


def test_a_running_invocation_of_this_server_that_no_task_runs_is_failed_and_refunded(
    market,  # noqa: F811
):
    services = market.services
    engine = market.client.app.state.engine
    skill = market.publish(execution_steps=[script()], price_cents=1)
    before = market.wallet()

    def start():
        # Committed as this server's, but never handed to its queue: what a request cancelled
        # between the invoke's commit and the submit, or a run whose task died, leaves.
        request = InvokeRequest(input={"items": []}, passport_id=market.passport)
        view = services.invocations.invoke(
            market.bob.id, skill["id"], request, runner_id=engine.runner_id
        ).view
        return view.invocation_id

    lost, recent = start(), start()
    backdate(services.db, lost)
    body = wait_for_status(market, lost, "failed")  # the sweeper runs every 0.2 s here
    assert body["error"]["code"] == "INVOCATION_INTERRUPTED"
    assert "lost track" in body["error"]["message"]
    assert market.client.portal.call(engine.fail_orphans) == 0  # nothing left to take
    assert market.poll(recent).json()["status"] == "running"  # too young to be taken for lost
    after = market.wallet()
    # Nothing was charged; only the recent invocation's hold is still held.
    assert after.available_micros + after.held_micros == (
        before.available_micros + before.held_micros
    )
    assert after.held_micros > before.held_micros
    assert market.events(lost) == ["skill.invoke", "skill.fail"]


def test_a_long_run_that_its_task_still_runs_is_left_alone(market, openai_server):  # noqa: F811
    market.services.settings.__dict__["sync_wait_seconds"] = 0.1
    openai_server.script(Reply.echo().delayed(1.5))
    skill = market.publish(
        execution_mode="sealed", execution_steps=[llm()], input_schema={}, output_schema={}
    )
    response = market.invoke(skill["id"], payload="slow")
    assert response.status_code == 202
    invocation_id = response.json()["invocation_id"]
    backdate(market.services.db, invocation_id)  # old enough, but its task is running
    time.sleep(0.6)  # three sweeps
    assert market.poll(invocation_id).json()["status"] == "running"
    body = wait_for_status(market, invocation_id, "completed")
    assert body["output"] == {"echo": '"slow"'}


def test_a_run_handed_no_context_reads_it_and_rechecks_the_passport(market):  # noqa: F811
    # What an idempotent replay of a running invocation, or a queue that crosses processes,
    # hands the runner: the id alone. The runner then reads the context itself, and that
    # read re-verifies the passport before the first step.
    services = market.services
    engine = market.client.app.state.engine
    skill = market.publish(execution_steps=[script()], price_cents=1)

    def start(payload):
        request = InvokeRequest(input=payload, passport_id=market.passport)
        invoked = services.invocations.invoke(
            market.bob.id, skill["id"], request, runner_id=engine.runner_id
        )
        assert invoked.created and invoked.context.input_text == '{"items":[{"price":3}]}'
        return invoked.view.invocation_id

    payload = {"items": [{"price": 3}]}
    plain, revoked = start(payload), start(payload)
    done = market.client.portal.call(engine.runner.run, plain)
    assert (done.status, done.output) == ("completed", {"total": 3, "count": 1, "currency": "USD"})

    services.passports.revoke(market.passport, actor=None, reason="stolen")
    ended = market.client.portal.call(engine.runner.run, revoked)
    assert (ended.status, ended.error.code) == ("terminated", "PASSPORT_REVOKED")
    events = market.events(revoked)
    assert "skill.step" not in events and events[-1] == "skill.terminate"
