"""The group-log core's steps, sans I/O: readers, writers, admin, and bad input."""

from __future__ import annotations

import pytest

from helpers.log_core import Log, LogCore, Reader
from veil.crypto import X25519KeyPair
from veil.relay.protocol import log_commands as lc
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import (
    AuthFailed,
    BadCommand,
    EntryNotPosted,
    LogFull,
    NoSuchMember,
    TooManyMembers,
)
from veil.relay.server.log_state import LogSettings
from veil.relay.server.log_store import MemoryLogStore
from veil.relay.server.session import SessionState


def err(code: int) -> rsp.ErrorResponse:
    return rsp.ErrorResponse(code)


async def setup(core: LogCore) -> tuple[SessionState, Log, bytes, X25519KeyPair]:
    admin_session = core.session()
    log = await core.new_log(admin_session)
    writer_id, writer_auth = await core.new_writer(admin_session, log)
    return admin_session, log, writer_id, writer_auth


async def subscribe(core: LogCore, reader: Reader, window: int = 8) -> SessionState:
    session = core.session()
    position = await core.run(session, lc.SubscribeLog(window), reader.reader_id, reader.auth)
    assert isinstance(position, lc.SubscriptionPosition)
    return session


async def test_post_is_delivered_to_each_reader_sealed_differently() -> None:
    core = LogCore()
    admin_session, log, writer_id, writer_auth = await setup(core)
    readers = [await core.new_reader(admin_session, log) for _ in range(2)]
    sessions = [await subscribe(core, reader) for reader in readers]
    posted = await core.run(core.session(), lc.PostEntry(b"hello"), writer_id, writer_auth)
    assert posted == lc.EntryPosted(0)
    raw = [core.pushes(session) for session in sessions]
    assert raw[0][0].body != raw[1][0].body
    for session, reader, pushes in zip(sessions, readers, raw, strict=True):
        core._outbox[session] = pushes  # put back for entries()
        (entry,) = core.entries(session, reader)
        assert (entry.seq, entry.body) == (0, b"hello")


async def test_forged_reader_id_wrong_kind_and_wrong_key_are_auth_failures() -> None:
    core = LogCore()
    admin_session, log, writer_id, writer_auth = await setup(core)
    reader = await core.new_reader(admin_session, log)
    session = core.session()
    forged = core.rng.random_bytes(24)
    auth = AuthFailed.code
    assert await core.run(session, lc.SubscribeLog(1), forged, reader.auth) == err(auth)
    assert await core.run(session, lc.SubscribeLog(1), writer_id, writer_auth) == err(auth)
    other = X25519KeyPair.generate(core.rng)
    assert await core.run(session, lc.SubscribeLog(1), reader.reader_id, other) == err(auth)
    assert await core.run(session, lc.PostEntry(b"x"), reader.reader_id, reader.auth) == err(auth)
    assert await core.run(session, lc.DeleteLog(), log.log_id, writer_auth) == err(auth)
    assert await core.run(session, lc.PostEntry(b"x"), b"", writer_auth) == err(BadCommand.code)


async def test_removed_writer_cannot_post_and_removed_reader_is_told() -> None:
    core = LogCore()
    admin_session, log, writer_id, writer_auth = await setup(core)
    reader = await core.new_reader(admin_session, log)
    reader_session = await subscribe(core, reader)
    assert await core.run(admin_session, lc.RemoveWriter(writer_id), log.log_id, log.admin) == (
        rsp.Ok()
    )
    post = lc.PostEntry(b"late")
    assert await core.run(core.session(), post, writer_id, writer_auth) == err(AuthFailed.code)
    removal = lc.RemoveReader(reader.reader_id)
    assert await core.run(admin_session, removal, log.log_id, log.admin) == rsp.Ok()
    (ended,) = core.pushes(reader_session)
    assert ended.response == lc.LogSubscriptionEnded(lc.EndReason.REMOVED)
    again = lc.SubscribeLog(1)
    assert await core.run(reader_session, again, reader.reader_id, reader.auth) == err(
        AuthFailed.code
    )
    assert await core.run(admin_session, removal, log.log_id, log.admin) == err(NoSuchMember.code)


async def test_a_log_admin_cannot_remove_another_logs_members() -> None:
    core = LogCore()
    admin_session, log, _, _ = await setup(core)
    other = await core.new_log(admin_session)
    reader = await core.new_reader(admin_session, other)
    removal = lc.RemoveReader(reader.reader_id)
    assert await core.run(admin_session, removal, log.log_id, log.admin) == err(NoSuchMember.code)


async def test_replayed_post_on_another_connection_is_refused() -> None:
    core = LogCore()
    _, _, writer_id, writer_auth = await setup(core)
    first = core.session()
    recorded = core.transmission(first, lc.PostEntry(b"once"), writer_id, writer_auth)
    await core.commit(core.handle(first, recorded))
    replay = core.handle(core.session(), recorded)
    assert not replay.changes  # an ERR AUTH answer, nothing stored
    assert len([e for stored in core.store.logs.values() for e in stored.entries]) == 1


async def test_quota_refuses_posts_until_readers_acknowledge() -> None:
    core = LogCore(log_settings=LogSettings(log_quota=2))
    admin_session, log, writer_id, writer_auth = await setup(core)
    reader = await core.new_reader(admin_session, log)
    reader_session = await subscribe(core, reader)
    writer_session = core.session()
    for n in range(2):
        posted = await core.run(writer_session, lc.PostEntry(b"%d" % n), writer_id, writer_auth)
        assert posted == lc.EntryPosted(n)
    full = await core.run(writer_session, lc.PostEntry(b"2"), writer_id, writer_auth)
    assert full == err(LogFull.code)
    assert [e.seq for e in core.entries(reader_session, reader)] == [0, 1]
    ack = lc.AcknowledgeEntries(1)
    assert await core.run(reader_session, ack, reader.reader_id, reader.auth) == rsp.Ok()
    assert core.store.logs[log.log_id].entries == []  # every reader acknowledged: deleted
    again = await core.run(writer_session, lc.PostEntry(b"2"), writer_id, writer_auth)
    assert again == lc.EntryPosted(2)


async def test_acknowledgements_repeat_and_future_ones_fail() -> None:
    core = LogCore()
    admin_session, log, writer_id, writer_auth = await setup(core)
    reader = await core.new_reader(admin_session, log)
    session = await subscribe(core, reader, window=1)
    for n in range(3):
        await core.run(core.session(), lc.PostEntry(b"%d" % n), writer_id, writer_auth)
    assert [e.seq for e in core.entries(session, reader)] == [0]
    ack = lc.AcknowledgeEntries(0)
    assert await core.run(session, ack, reader.reader_id, reader.auth) == rsp.Ok()
    assert [e.seq for e in core.entries(session, reader)] == [1]  # the window moved
    assert await core.run(session, ack, reader.reader_id, reader.auth) == rsp.Ok()  # a repeat
    assert core.entries(session, reader) == []
    future = lc.AcknowledgeEntries(3)
    assert await core.run(session, future, reader.reader_id, reader.auth) == err(
        EntryNotPosted.code
    )


async def test_readers_keep_their_own_cursors_and_resubscribing_redelivers() -> None:
    core = LogCore()
    admin_session, log, writer_id, writer_auth = await setup(core)
    early = await core.new_reader(admin_session, log)
    await core.run(core.session(), lc.PostEntry(b"before"), writer_id, writer_auth)
    late = await core.new_reader(admin_session, log)
    await core.run(core.session(), lc.PostEntry(b"after"), writer_id, writer_auth)
    early_session, late_session = await subscribe(core, early), await subscribe(core, late)
    assert [e.body for e in core.entries(early_session, early)] == [b"before", b"after"]
    assert [e.body for e in core.entries(late_session, late)] == [b"after"]
    ack = lc.AcknowledgeEntries(0)
    await core.run(early_session, ack, early.reader_id, early.auth)
    replaced_session = await subscribe(core, early)
    (ended,) = core.pushes(early_session)
    assert ended.response == lc.LogSubscriptionEnded(lc.EndReason.REPLACED)
    assert [e.seq for e in core.entries(replaced_session, early)] == [1]


async def test_retention_expires_unacknowledged_entries() -> None:
    core = LogCore()
    admin_session, log, writer_id, writer_auth = await setup(core)
    reader = await core.new_reader(admin_session, log)
    await core.run(core.session(), lc.PostEntry(b"old"), writer_id, writer_auth)
    core.now += core.settings.retention_seconds + 7200
    await core.run(core.session(), lc.PostEntry(b"new"), writer_id, writer_auth)
    sweep = core.logs.handle_timer(core.now)
    assert sweep is not None
    await core.commit(sweep)
    assert [e.seq for e in core.store.logs[log.log_id].entries] == [1]
    session = core.session()
    position = await core.run(session, lc.SubscribeLog(4), reader.reader_id, reader.auth)
    assert position == lc.SubscriptionPosition(cursor=0, oldest=1)
    assert [e.body for e in core.entries(session, reader)] == [b"new"]


async def test_failed_commits_are_undone() -> None:
    core = LogCore()
    admin_session, log, writer_id, writer_auth = await setup(core)
    reader = await core.new_reader(admin_session, log)
    session = await subscribe(core, reader)
    failed = core.handle(
        core.session(), core.transmission(session, lc.PostEntry(b"lost"), writer_id, writer_auth)
    )
    core.logs.undo(failed)
    posted = await core.run(core.session(), lc.PostEntry(b"kept"), writer_id, writer_auth)
    assert posted == lc.EntryPosted(0)  # the failed post left no gap
    assert [e.body for e in core.entries(session, reader)] == [b"kept"]
    ack = core.handle(
        session, core.transmission(session, lc.AcknowledgeEntries(0), reader.reader_id, reader.auth)
    )
    core.logs.undo(ack)
    fresh = await subscribe(core, reader)
    assert [e.body for e in core.entries(fresh, reader)] == [b"kept"]  # still unacknowledged


async def test_deleting_a_log_ends_subscriptions_and_forgets_it() -> None:
    core = LogCore()
    admin_session, log, writer_id, writer_auth = await setup(core)
    reader = await core.new_reader(admin_session, log)
    session = await subscribe(core, reader)
    assert await core.run(admin_session, lc.DeleteLog(), log.log_id, log.admin) == rsp.Ok()
    (ended,) = core.pushes(session)
    assert ended.response == lc.LogSubscriptionEnded(lc.EndReason.DELETED)
    assert core.store.logs == {}
    post = lc.PostEntry(b"x")
    assert await core.run(core.session(), post, writer_id, writer_auth) == err(AuthFailed.code)


async def test_member_limit() -> None:
    core = LogCore(log_settings=LogSettings(max_log_members=2))
    admin_session, log, _, _ = await setup(core)
    await core.new_reader(admin_session, log)
    key = X25519KeyPair.generate(core.rng).public
    full = await core.run(admin_session, lc.AddWriter(key), log.log_id, log.admin)
    assert full == err(TooManyMembers.code)


async def test_a_restart_restores_logs_members_entries_and_cursors() -> None:
    store = MemoryLogStore()
    core = LogCore(store=store)
    admin_session, log, writer_id, writer_auth = await setup(core)
    reader = await core.new_reader(admin_session, log)
    for n in range(3):
        await core.run(core.session(), lc.PostEntry(b"%d" % n), writer_id, writer_auth)
    session = await subscribe(core, reader)
    await core.run(session, lc.AcknowledgeEntries(0), reader.reader_id, reader.auth)
    restarted = LogCore(store=store)
    await restarted.load()
    fresh = await subscribe(restarted, reader)
    assert [e.body for e in restarted.entries(fresh, reader)] == [b"1", b"2"]
    posted = await restarted.run(restarted.session(), lc.PostEntry(b"3"), writer_id, writer_auth)
    assert posted == lc.EntryPosted(3)


@pytest.mark.parametrize("window", [0, 256])
def test_subscribe_window_is_bounded(window: int) -> None:
    with pytest.raises(ValueError, match="delivery window"):
        lc.SubscribeLog(window)
