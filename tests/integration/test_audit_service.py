"""The audit log on a real store: events in their transactions, checkpoints, proofs, tampering."""

from __future__ import annotations

import base64
import threading

import pytest
import sqlalchemy as sa

from skillmarket.audit import log
from skillmarket.audit.checkpoints import verify_checkpoint
from skillmarket.audit.errors import AuditLogTampered
from skillmarket.audit.events import EventType
from skillmarket.audit.merkle import event_leaf_hash, verify_consistency, verify_inclusion
from skillmarket.audit.services import AuditEventNotFound
from skillmarket.audit.tables import audit_checkpoints, audit_events, audit_head
from skillmarket.catalog.manifest import SkillManifest
from skillmarket.services import open_services


@pytest.fixture
def busy_log(services, operator_factory, manifest_factory):
    """A log with operators, keys, skills and passports in it, and a signed checkpoint."""
    alice, alice_key = operator_factory("alice")
    bob, bob_key = operator_factory("bob")
    for i in range(5):
        services.catalog.publish(
            alice.id, SkillManifest.model_validate(manifest_factory(name=f"skill-{i}"))
        )
    services.passports.issue(bob.id, {"verified_human": "high"})
    services.audit.sign_checkpoint()
    return alice, bob, (alice_key, bob_key)


def b64(values):
    return [base64.b64decode(v) for v in values]


def tamper(database, statement, **params):
    """Change the stored log behind the application's back (as an attacker with file access)."""
    with database.engine.connect() as conn:
        conn.execute(sa.text(statement), params)
        conn.commit()


class TestCheckpointsAndProofs:
    def test_every_change_is_an_event_and_the_checkpoint_covers_them(self, services, busy_log):
        alice, bob, _keys = busy_log
        types = [e["type"] for e in services.audit.events(None, limit=1000)]
        assert types.count("skill.publish") == 5
        assert types.count("operator.create") == 2 and "passport.issue" in types
        signed = services.audit.latest_checkpoint(sign=False)
        assert signed.checkpoint.size == len(types)
        opened = verify_checkpoint(signed.note, [services.audit.verifier_key])
        assert opened.root_hash == signed.checkpoint.root_hash

    def test_inclusion_proof_of_every_event_verifies(self, services, busy_log):
        for event in services.audit.events(None, limit=1000):
            found = services.audit.inclusion(event["seq"], None)
            checkpoint = found["checkpoint"]
            verify_inclusion(
                event["seq"],
                checkpoint["size"],
                event_leaf_hash(found["event"]),
                b64(found["proof"]),
                base64.b64decode(checkpoint["root_hash"]),
            )

    def test_consistency_proof_links_old_and_new_checkpoints(
        self, services, busy_log, operator_factory
    ):
        first = services.audit.latest_checkpoint(sign=False).checkpoint
        operator_factory("carol")
        second = services.audit.sign_checkpoint().checkpoint
        proof = services.audit.consistency(first.size, second.size)
        verify_consistency(
            first.size, second.size, first.root_hash, second.root_hash, b64(proof["proof"])
        )

    def test_parties_see_only_their_events(self, services, busy_log):
        alice, bob, _keys = busy_log
        mine = services.audit.events(alice.id, limit=1000)
        assert mine and all(e["actor"] == alice.id for e in mine)
        assert all(e["type"] != "passport.issue" for e in mine)
        theirs = [e for e in services.audit.events(None, limit=1000) if e["actor"] == bob.id]
        with pytest.raises(AuditEventNotFound):
            services.audit.event(theirs[0]["seq"], alice.id)

    def test_events_carry_no_secrets(self, services, busy_log):
        tokens = [p.id for p in services.passports.list()]
        with services.db.read() as conn:
            stored = str(conn.execute(sa.select(audit_events.c.data)).scalars().all())
            passport_tokens = conn.execute(sa.text("SELECT token FROM passports")).scalars().all()
        assert tokens and all(token not in stored for token in passport_tokens)
        assert all(key not in stored for key in busy_log[2])  # only the shown prefix is
        assert "return input" not in stored


class TestVerify:
    def test_untouched_log_verifies(self, services, busy_log, operator_factory):
        operator_factory("late")  # an event newer than the last checkpoint
        report = services.audit.verify()
        assert report.events == report.signed_size + 2  # operator.create + api_key.create
        assert report.unsigned_tail == 2

    @pytest.mark.parametrize(
        ("statement", "reason"),
        [
            ("UPDATE audit_events SET subject = 'skl_forged' WHERE seq = 3", "leaf_mismatch"),
            ("UPDATE audit_events SET type = 'skill.deprecate' WHERE seq = 0", "leaf_mismatch"),
            (
                "DELETE FROM audit_visibility WHERE seq = 4; "
                "DELETE FROM audit_events WHERE seq = 4",
                "sequence_gap",
            ),
            ("UPDATE audit_events SET seq = seq + 1000 WHERE seq = 2", "sequence_gap"),
        ],
    )
    def test_verify_fails_tampered_rows(self, services, database, busy_log, statement, reason):
        for part in statement.split("; "):
            tamper(database, part)
        with pytest.raises(AuditLogTampered) as info:
            services.audit.verify()
        assert info.value.details["reason"] == reason

    def test_verify_fails_edit_with_recomputed_leaf_hash(self, services, database, busy_log):
        event = services.audit.event(1, None)
        forged = {**event, "actor": "op_someoneelse"}
        tamper(
            database,
            "UPDATE audit_events SET actor = :a, leaf_hash = :h WHERE seq = 1",
            a=forged["actor"],
            h=event_leaf_hash(forged),
        )
        with pytest.raises(AuditLogTampered) as info:
            services.audit.verify()
        assert info.value.details["reason"] == "root_mismatch"

    def test_verify_fails_reordered_events(self, services, database, busy_log):
        # Swap the contents of two rows, each with its own (correct) leaf hash recomputed.
        one, two = services.audit.event(2, None), services.audit.event(3, None)
        with database.engine.connect() as conn:
            for target, source in ((2, two), (3, one)):
                moved = {**source, "seq": target}
                conn.execute(
                    audit_events.update()
                    .where(audit_events.c.seq == target)
                    .values(**moved, leaf_hash=event_leaf_hash(moved))
                )
            conn.commit()
        with pytest.raises(AuditLogTampered) as info:
            services.audit.verify()
        assert info.value.details["reason"] == "root_mismatch"

    def test_verify_fails_truncated_tail(self, services, database, busy_log):
        size = services.audit.latest_checkpoint(sign=False).checkpoint.size
        tamper(database, "DELETE FROM audit_visibility WHERE seq >= :n", n=size - 2)
        tamper(database, "DELETE FROM audit_events WHERE seq >= :n", n=size - 2)
        with pytest.raises(AuditLogTampered) as info:
            services.audit.verify()
        assert info.value.details["reason"] == "events_missing"

    def test_verify_fails_inserted_event(self, services, database, busy_log):
        size = services.audit.latest_checkpoint(sign=False).checkpoint.size
        forged = {
            "seq": size,
            "ts": "2026-01-01T00:00:00.000000Z",
            "type": "skill.publish",
            "actor": None,
            "subject": "skl_forged",
            "data": {},
        }
        with database.engine.connect() as conn:
            conn.execute(audit_events.insert().values(**forged, leaf_hash=event_leaf_hash(forged)))
            conn.commit()
        with pytest.raises(AuditLogTampered) as info:
            services.audit.verify()
        assert info.value.details["reason"] == "head_mismatch"

    def test_verify_fails_forged_checkpoint_root(self, services, database, busy_log):
        with database.read() as conn:
            size = conn.execute(sa.select(audit_head.c.size)).scalar_one()
        tamper(
            database,
            "UPDATE audit_checkpoints SET note = replace(note, 'a', 'b') WHERE size = :n",
            n=size,
        )
        with pytest.raises(Exception) as info:
            services.audit.verify()
        assert getattr(info.value, "code", "") in {
            "CHECKPOINT_SIGNATURE_INVALID",
            "CHECKPOINT_MALFORMED",
        }
        with database.read() as conn:
            assert (
                conn.execute(sa.select(sa.func.count()).select_from(audit_checkpoints)).scalar_one()
                == 1
            )


class TestAppendsInTransactions:
    """Events are sequenced when appended and written when their transaction commits."""

    def stored(self, database):
        with database.read() as conn:
            rows = conn.execute(sa.select(audit_events).order_by(audit_events.c.seq)).all()
            size = conn.execute(sa.select(audit_head.c.size)).scalar_one()
        return {r.subject: r.seq for r in rows}, size

    def test_a_rolled_back_savepoint_drops_only_its_events(self, services, database):
        before, size = self.stored(database)
        with database.write() as conn:
            first = log.record(conn, EventType.SKILL_PUBLISH, actor=None, subject="kept-1")
            with pytest.raises(RuntimeError), conn.begin_nested():
                log.record(conn, EventType.SKILL_PUBLISH, actor=None, subject="dropped")
                raise RuntimeError("undo the savepoint")
            with conn.begin_nested():
                second = log.record(conn, EventType.SKILL_PUBLISH, actor=None, subject="kept-2")
        after, new_size = self.stored(database)
        assert (first, second) == (size, size + 1)
        assert after["kept-1"] == size and after["kept-2"] == size + 1
        assert "dropped" not in after and new_size == size + 2 == len(after)
        assert services.audit.verify().events == new_size  # raises if the log is broken

    def test_a_savepoint_that_took_the_lock_rolls_it_back_too(self, services, database):
        _before, size = self.stored(database)
        with database.write() as conn:
            with pytest.raises(RuntimeError), conn.begin_nested():
                log.lock(conn)
                log.record(conn, EventType.SKILL_PUBLISH, actor=None, subject="dropped")
                raise RuntimeError("undo the savepoint")
            seq = log.record(conn, EventType.SKILL_PUBLISH, actor=None, subject="kept")
        after, new_size = self.stored(database)
        assert seq == size == after["kept"] and new_size == size + 1
        assert services.audit.verify().events == new_size  # raises if the log is broken

    def test_a_failed_transaction_writes_nothing_and_numbering_goes_on(
        self, services, database, operator_factory
    ):
        _before, size = self.stored(database)
        with pytest.raises(RuntimeError), database.write() as conn:
            log.record(conn, EventType.SKILL_PUBLISH, actor=None, subject="lost-1")
            log.record(conn, EventType.SKILL_PUBLISH, actor=None, subject="lost-2")
            raise RuntimeError("roll back")
        operator, _key = operator_factory("after-the-failure")
        after, new_size = self.stored(database)
        assert "lost-1" not in after and "lost-2" not in after
        assert after[operator.id] == size and new_size > size  # numbering goes on, no gap
        assert services.audit.verify().events == new_size  # raises if the log is broken

    def test_readers_of_batched_events_are_written(self, services, database, operator_factory):
        alice, _ = operator_factory("alice")
        bob, _ = operator_factory("bob")
        with database.write() as conn:
            log.record(conn, EventType.SKILL_PUBLISH, actor=alice.id, subject="for-alice")
            log.record(
                conn,
                EventType.SKILL_PUBLISH,
                actor=None,
                subject="for-both",
                parties=[alice.id, bob.id],
            )
        seen = {
            op: {e["subject"] for e in services.audit.events(op, limit=100)}
            for op in (alice.id, bob.id)
        }
        assert {"for-alice", "for-both"} <= seen[alice.id]
        assert "for-both" in seen[bob.id] and "for-alice" not in seen[bob.id]


def test_servers_signing_at_once_share_one_checkpoint(settings, services, operator_factory):
    """Two processes' audit services on one store (two servers) sign the same head."""
    operator_factory("someone")
    other = open_services(settings, migrate=False)
    try:
        barrier = threading.Barrier(2)
        signed, failures = [], []

        def sign(audit):
            barrier.wait()
            try:
                signed.append(audit.sign_checkpoint().note)
            except Exception as exc:  # noqa: BLE001  (the test reports it)
                failures.append(exc)

        threads = [threading.Thread(target=sign, args=(a,)) for a in (services.audit, other.audit)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        other.close()
    assert failures == [] and len(signed) == 2 and signed[0] == signed[1]
    with services.db.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(audit_checkpoints)).scalar()
    assert count == 1
