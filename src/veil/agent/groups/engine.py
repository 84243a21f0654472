"""The group engine: one client's groups, run over a :class:`GroupLog` and persisted
in the caller's store (docs/protocol/groups.md).

Every change is made on the member held in memory, written to the store in one
transaction (with whatever rows the caller adds through ``apply``), and only then
sent to the log; if anything fails, the in-memory member is dropped and reloaded
from the store, so the store is always the truth. Posting is at-least-once: an
entry posted twice is a replay that every member skips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from veil.agent.groups.codec import decode_member, encode_member
from veil.agent.groups.errors import (
    AccessRevoked,
    MalformedGroupData,
    NotAllowed,
    NotAMember,
    PastRetention,
    UnknownGroup,
)
from veil.agent.groups.events import GroupEvent, RetentionLost, WeLeft
from veil.agent.groups.external import join_by_offer, offer_of
from veil.agent.groups.intent import Admission, Edit, EditKind, Intent
from veil.agent.groups.log_port import GroupLog
from veil.agent.groups.member import GroupMember, Status
from veil.agent.groups.policy import POLICY_EXTENSION, GroupPolicy, Role, RosterEntry
from veil.agent.groups.store import GroupStore, GroupTransaction
from veil.agent.groups.wire import JoinRequest, PendingJoin, WelcomeBundle, welcome_of
from veil.crypto import RandomSource
from veil.mls.errors import MLSProtocolError
from veil.mls.group_state import JoinKeys, join_from_welcome
from veil.mls.leaf_node import KeyPackage, Lifetime
from veil.mls.operations import create_group, new_key_package
from veil.mls.suites import CipherSuite, suite_by_id

__all__ = ["DEFAULT_SUITE", "Apply", "GroupEngine"]

DEFAULT_SUITE = 0xF00D
"""MLS_256_XWING_AES256GCM_SHA512_Ed25519: post-quantum hybrid for the whole group."""
READ_LIMIT = 256
KEY_PACKAGE_LIFETIME = 30 * 86400
GROUP_ID_SIZE = 16

Tx = TypeVar("Tx", bound=GroupTransaction)
Apply = Callable[[Tx, bytes, list[GroupEvent]], None]
"""The caller's part of a transaction: its own rows for a group's events."""


class GroupEngine(Generic[Tx]):
    """One client's groups."""

    def __init__(
        self,
        store: GroupStore[Tx],
        log: GroupLog,
        *,
        rng: RandomSource,
        clock: Callable[[], float],
        suite: CipherSuite | None = None,
    ) -> None:
        self._store = store
        self._log = log
        self._rng = rng
        self._clock = clock
        self._suite = suite or suite_by_id(DEFAULT_SUITE)
        self._members: dict[bytes, GroupMember] = {}
        self._locks: dict[bytes, asyncio.Lock] = {}

    # -- the member in memory and on disk ---------------------------------------------

    def member(self, group_id: bytes) -> GroupMember:
        """Our state in the group (loaded from the store the first time)."""
        member = self._members.get(group_id)
        if member is None:
            with self._store.transaction() as tx:
                data = tx.groups.load(group_id)
            if data is None:
                raise UnknownGroup(f"this client is in no group {group_id.hex()}")
            member = self._members[group_id] = decode_member(data)
        return member

    def group_ids(self) -> list[bytes]:
        """Every group this client keeps."""
        with self._store.transaction() as tx:
            return tx.groups.ids()

    def _save(self, tx: Tx, group_id: bytes, member: GroupMember) -> None:
        tx.groups.save(group_id, encode_member(member), self._clock())
        self._members[group_id] = member

    @contextmanager
    def _editing(self, group_id: bytes) -> Iterator[GroupMember]:
        """The member to change; on failure the in-memory copy is dropped."""
        member = self.member(group_id)
        try:
            yield member
        except BaseException:
            self._members.pop(group_id, None)
            raise

    def _lock(self, group_id: bytes) -> asyncio.Lock:
        return self._locks.setdefault(group_id, asyncio.Lock())

    # -- creating and joining ---------------------------------------------------------

    async def create(self, name: str, display_name: str, *, public: bool = False) -> bytes:
        """Create a group owned by us; return its id."""
        admin, grant = await self._log.create()
        group_id = self._rng.random_bytes(GROUP_ID_SIZE)
        package, keys = self._key_package()
        owner = RosterEntry(
            package.leaf_node.credential.identity, Role.OWNER, display_name, grant.ref
        )
        policy = GroupPolicy(name, public=public).with_entry(owner)
        state = create_group(
            self._suite,
            group_id,
            self._rng,
            self._lifetime(),
            extensions=(policy.to_extension(),),
            creator=(package, keys),
        )
        member = GroupMember(state, 0, grant.access, grant.ref, admin)
        with self._store.transaction() as tx:
            self._save(tx, group_id, member)
        return group_id

    def _key_package(self) -> tuple[KeyPackage, JoinKeys]:
        return new_key_package(self._suite, self._rng, self._lifetime(), (POLICY_EXTENSION,))

    def _lifetime(self) -> Lifetime:
        now = int(self._clock())
        return Lifetime(now - 3600, now + KEY_PACKAGE_LIFETIME)

    def request_join(self, display_name: str) -> tuple[bytes, bytes]:
        """A join request to send an admin, and its secret half to keep until the
        Welcome comes back."""
        package, keys = self._key_package()
        request = JoinRequest(package, display_name)
        return request.to_bytes(), PendingJoin(package, keys).to_bytes()

    async def join(self, bundle: bytes, pending: bytes) -> bytes:
        """Join from an admin's welcome bundle (the Welcome is read from the log);
        return the group id."""
        welcome, secret = WelcomeBundle.from_bytes(bundle), PendingJoin.from_bytes(pending)
        batch = await self._log.read(welcome.access, welcome.welcome_seq - 1, 1)
        if not batch.entries or batch.entries[0].seq != welcome.welcome_seq:
            raise MalformedGroupData("the log no longer holds our Welcome: ask for a new link")
        try:
            message = welcome_of(batch.entries[0].data)
            state = join_from_welcome(message, secret.key_package, secret.keys)
        except MLSProtocolError as error:
            raise MalformedGroupData(f"the Welcome is rejected: {error}") from error
        group_id = state.context.group_id
        member = GroupMember(state, welcome.cursor, welcome.access, welcome.log_ref, welcome.admin)
        with self._store.transaction() as tx:
            self._save(tx, group_id, member)
        return group_id

    def offer(self, group_id: bytes) -> bytes:
        """An external-commit offer for our public group (hand it over a pairwise
        connection, with log credentials from :meth:`GroupLog.grant`)."""
        return offer_of(self._active(group_id))

    async def join_external(self, offer: bytes, access: bytes, log_ref: bytes) -> bytes:
        """Join a public group (or rejoin ours) by an external commit; we are in once
        it comes back in the log (``sync``); :class:`JoinLost` if another commit won."""
        member = join_by_offer(offer, access, log_ref, self._rng, self._lifetime())
        group_id = member.mls.context.group_id
        with self._store.transaction() as tx:
            self._save(tx, group_id, member)
        await self.flush(group_id)
        return group_id

    async def rejoin(self, group_id: bytes, offer: bytes) -> None:
        """After falling past the log's retention: rejoin a public group with our own log
        credentials (the old leaf stays until an admin removes it)."""
        old = self.member(group_id)
        await self.join_external(offer, old.access, old.log_ref)

    # -- what we ask of the group -----------------------------------------------------

    async def admit(
        self,
        group_id: bytes,
        request: bytes,
        ticket: bytes,
        role: Role = Role.MEMBER,
        *,
        flush: bool = True,
    ) -> None:
        """Admit a joiner (admins): the Add is batched with any other pending ones into
        our next commit (``flush=False`` waits for more before committing); once it
        wins, :class:`MemberAdmitted` carries the joiner's welcome bundle."""
        joiner = JoinRequest.from_bytes(request)
        try:
            joiner.key_package.verify(self._suite)
        except MLSProtocolError as error:
            raise MalformedGroupData(f"the join request is rejected: {error}") from error
        async with self._lock(group_id):
            member = self._active(group_id)
            self._require(member, Role.ADMIN, "admit members")
            if role > member.role or role is Role.OWNER:
                raise NotAllowed("a joiner gets at most our own role, and never owner")
            if member.admin is None:
                raise NotAllowed("we hold no log admin credential: ask the owner to admit")
            grant = await self._log.grant(member.admin)
            with self._editing(group_id) as member, self._store.transaction() as tx:
                admission = Admission(ticket, joiner, grant, role)
                member.intent = _with(member.intent, admissions=(admission,))
                self._save(tx, group_id, member)
        if flush:
            await self.flush(group_id)

    async def post(self, group_id: bytes, plaintext: bytes) -> None:
        """Post an application message; it is ours in the history once it comes back."""
        async with self._lock(group_id):
            member = self._active(group_id)
            self._require(member, Role.MEMBER, "post in this group")
            with self._editing(group_id) as member, self._store.transaction() as tx:
                member.queue_post(plaintext, self._rng)
                self._save(tx, group_id, member)
        await self.flush(group_id)

    async def remove(self, group_id: bytes, handle: bytes) -> None:
        """Remove a member (admins; only the owner removes admins)."""
        member = self._active(group_id)
        self._require(member, Role.ADMIN, "remove members")
        target = member.policy.role_of(handle)
        if target is Role.OWNER or (target >= Role.ADMIN and member.role is not Role.OWNER):
            raise NotAllowed("only the owner removes admins, and nobody removes the owner")
        await self._edit(group_id, Edit(EditKind.REMOVE, handle))

    async def set_role(self, group_id: bytes, handle: bytes, role: Role) -> None:
        """Change a member's role (admins for members and observers, the owner for admins);
        making someone owner transfers ownership."""
        member = self._active(group_id)
        if role is Role.OWNER:
            self._require(member, Role.OWNER, "transfer ownership")
            await self._edit(group_id, Edit(EditKind.TRANSFER, handle))
            return
        current = member.policy.role_of(handle)
        needed = Role.OWNER if max(role, current) >= Role.ADMIN else Role.ADMIN
        self._require(member, needed, "change this role")
        await self._edit(group_id, Edit(EditKind.ROLE, handle, bytes([role])))

    async def rename_self(self, group_id: bytes, display_name: str) -> None:
        """Change our display name in the group."""
        member = self._active(group_id)
        edit = Edit(EditKind.DISPLAY_NAME, member.handle, display_name.encode())
        await self._edit(group_id, edit)

    async def set_profile(self, group_id: bytes, name: str, description: str) -> None:
        """Change the group's name and description (admins)."""
        self._require(self._active(group_id), Role.ADMIN, "change the group profile")
        await self._edit(
            group_id,
            Edit(EditKind.GROUP_NAME, value=name.encode()),
            Edit(EditKind.DESCRIPTION, value=description.encode()),
        )

    async def set_public(self, group_id: bytes, public: bool) -> None:
        """Let anyone holding an offer join by external commit, or stop it (the owner)."""
        self._require(self._active(group_id), Role.OWNER, "change public joining")
        await self._edit(group_id, Edit(EditKind.PUBLIC, value=bytes([public])))

    async def update_keys(self, group_id: bytes) -> None:
        """Commit fresh keys for our leaf (forward secrecy and break-in recovery)."""
        async with self._lock(group_id):
            with self._editing(group_id) as member, self._store.transaction() as tx:
                member.intent = _with(member.intent, update=True)
                self._save(tx, group_id, member)
        await self.flush(group_id)

    async def leave(self, group_id: bytes) -> None:
        """Leave the group: our Remove proposal is committed by an admin."""
        member = self._active(group_id)
        if member.role is Role.OWNER and len(member.mls.tree.members()) > 1:
            raise NotAllowed("the owner transfers ownership before leaving")
        async with self._lock(group_id):
            with self._editing(group_id) as member, self._store.transaction() as tx:
                member.queue_leave(self._rng)
                self._save(tx, group_id, member)
        await self.flush(group_id)

    async def _edit(self, group_id: bytes, *edits: Edit) -> None:
        async with self._lock(group_id):
            with self._editing(group_id) as member, self._store.transaction() as tx:
                member.intent = _with(member.intent, edits=edits)
                self._save(tx, group_id, member)
        await self.flush(group_id)

    def _active(self, group_id: bytes) -> GroupMember:
        member = self.member(group_id)
        if member.status is Status.PAST_RETENTION:
            raise PastRetention("we were offline past the log's retention: rejoin the group")
        if member.status is not Status.ACTIVE:
            raise NotAMember("we are no longer in this group: ask an admin for a new invitation")
        return member

    @staticmethod
    def _require(member: GroupMember, role: Role, what: str) -> None:
        if member.role < role:
            raise NotAllowed(f"our role ({member.role.name.lower()}) may not {what}")

    # -- the log ----------------------------------------------------------------------

    async def flush(self, group_id: bytes) -> None:
        """Post what is due (a commit for our intent, our messages) and revoke the log
        access of members our commits removed."""
        async with self._lock(group_id):
            with self._editing(group_id) as member:
                with self._store.transaction() as tx:
                    entries = member.due(self._rng)
                    self._save(tx, group_id, member)
                for entry in entries:
                    await self._log.post(member.access, entry)
                    with self._store.transaction() as tx:
                        member.posted(entry)
                        self._save(tx, group_id, member)
                while member.revocations and member.admin is not None:
                    await self._log.revoke(member.admin, member.revocations[0])
                    with self._store.transaction() as tx:
                        member.revocations.pop(0)
                        self._save(tx, group_id, member)

    async def sync(self, group_id: bytes, apply: Apply[Tx] | None = None) -> list[GroupEvent]:
        """Read the log from our cursor to its end, process every entry, and post what
        became due. Each batch commits with ``apply``'s rows; the relay is acked after."""
        events: list[GroupEvent] = []
        while True:
            batch_events, more = await self._sync_batch(group_id, apply)
            events += batch_events
            if not more:
                break
        await self.flush(group_id)
        return events

    async def _sync_batch(
        self, group_id: bytes, apply: Apply[Tx] | None
    ) -> tuple[list[GroupEvent], bool]:
        async with self._lock(group_id):
            member = self.member(group_id)
            if member.status is not Status.ACTIVE:
                return [], False
            try:
                batch = await self._log.read(member.access, member.cursor, READ_LIMIT)
            except AccessRevoked:
                return self._revoked(group_id, apply), False
            with self._editing(group_id) as member, self._store.transaction() as tx:
                events: list[GroupEvent] = []
                if batch.past_retention:
                    member.status = Status.PAST_RETENTION
                    events.append(RetentionLost(member.cursor, member.policy.public))
                else:
                    for entry in batch.entries:
                        events += member.handle_entry(entry.seq, entry.data, self._rng)
                self._save(tx, group_id, member)
                if apply is not None and events:
                    apply(tx, group_id, events)
            if batch.entries:
                await self._log.ack(member.access, member.cursor)
            return events, bool(batch.entries) and not batch.past_retention

    def _revoked(self, group_id: bytes, apply: Apply[Tx] | None) -> list[GroupEvent]:
        """Our reader is gone before we read the commit that removed us."""
        with self._editing(group_id) as member, self._store.transaction() as tx:
            removed = not member.leaving
            member.status = Status.REMOVED if removed else Status.LEFT
            events: list[GroupEvent] = [WeLeft(member.cursor, removed=removed, by=None)]
            self._save(tx, group_id, member)
            if apply is not None:
                apply(tx, group_id, events)
        return events


def _with(
    intent: Intent,
    *,
    admissions: tuple[Admission, ...] = (),
    edits: tuple[Edit, ...] = (),
    update: bool = False,
) -> Intent:
    """``intent`` with more admissions, more edits, or the update flag set."""
    return Intent(intent.admissions + admissions, intent.edits + edits, intent.update or update)
