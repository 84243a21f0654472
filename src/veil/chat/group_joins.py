"""Joining a group by link: ``veil://group#…`` opens a pairwise connection to an
admin through its contact address; the join request and the welcome bundle travel
over that connection (docs/protocol/groups.md, "Joining").

The link's payload (base64url, unpadded)::

    uint8 version = 1; uint16 address_length; address (the admin's contact address
    link, UTF-8); opaque ticket[16]

Join messages on the pairwise connection start with the 3 bytes ``VGJ`` (a chat
event starts with its version byte 1, so the two never mix), then
``uint8 kind`` (1 request, 2 bundle), ``opaque ticket[16]`` and the body (the
request or the bundle, formats in :mod:`veil.agent.groups.wire`).

The admin approves a joiner by accepting its contact request; the request that
then arrives with a ticket the admin gave out is admitted on the next sync.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from veil.agent.events import ChatEventReceived
from veil.agent.groups.events import GroupEvent, MemberAdmitted
from veil.agent.groups.policy import Role
from veil.agent.groups.wire import JoinRequest, WelcomeBundle
from veil.chat.app import Messenger
from veil.chat.contacts import connection_of
from veil.chat.conversation import Incoming
from veil.chat.group_errors import MalformedGroupLink, UnexpectedGroupEvent
from veil.chat.group_notices import GroupNotice, record_notices
from veil.chat.groups import GroupChat
from veil.chat.store import Contact, Transaction
from veil.chat.store.groups import GroupJoinRecord
from veil.crypto import RandomSource

__all__ = ["GROUP_LINK_PREFIX", "GroupJoins", "decode_group_link", "encode_group_link"]

GROUP_LINK_PREFIX = "veil://group#"
LINK_VERSION = 1
TICKET_SIZE = 16
MAGIC = b"VGJ"
KIND_REQUEST, KIND_BUNDLE = 1, 2
MAX_ADDRESS = 12_000


def encode_group_link(address: str, ticket: bytes) -> str:
    """The group link for an admin's contact address and an invitation ticket."""
    raw = address.encode()
    payload = bytes([LINK_VERSION]) + len(raw).to_bytes(2, "big") + raw + ticket
    return GROUP_LINK_PREFIX + base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_group_link(text: str) -> tuple[str, bytes]:
    """``(contact address link, ticket)`` of a group link (MalformedGroupLink if not one)."""
    text = text.strip()
    if not text.startswith(GROUP_LINK_PREFIX) or len(text) > 2 * MAX_ADDRESS:
        raise MalformedGroupLink(f"a group link starts with {GROUP_LINK_PREFIX}")
    data = text[len(GROUP_LINK_PREFIX) :]
    try:
        payload = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError) as error:
        raise MalformedGroupLink("the group link is not valid base64url") from error
    if len(payload) < 3 or payload[0] != LINK_VERSION:
        raise MalformedGroupLink("the group link's version is not supported")
    size = int.from_bytes(payload[1:3], "big")
    if len(payload) != 3 + size + TICKET_SIZE:
        raise MalformedGroupLink("the group link has the wrong length")
    try:
        address = payload[3 : 3 + size].decode()
    except UnicodeDecodeError as error:
        raise MalformedGroupLink("the group link's address is not UTF-8") from error
    return address, payload[3 + size :]


def _message(kind: int, ticket: bytes, body: bytes) -> bytes:
    return MAGIC + bytes([kind]) + ticket + body


def _parse(data: bytes) -> tuple[int, bytes, bytes]:
    head = len(MAGIC) + 1 + TICKET_SIZE
    if len(data) < head or data[3] not in (KIND_REQUEST, KIND_BUNDLE):
        raise UnexpectedGroupEvent("a group join message is malformed")
    return data[3], data[4:head], data[head:]


class GroupJoins:
    """Group links, join requests and welcome bundles over pairwise connections."""

    def __init__(
        self,
        messenger: Messenger,
        chat: GroupChat,
        rng: RandomSource,
        clock: Callable[[], float],
    ) -> None:
        self._messenger = messenger
        self._chat = chat
        self._rng = rng
        self._clock = clock
        messenger.group_hook = self.apply
        chat.on_events = self.send_bundles

    async def invite(self, alias: str, role: Role = Role.MEMBER) -> str:
        """A group link for ``alias`` (we must be an admin); creates our contact address
        if we have none."""
        group_id = self._chat.group_id(alias)
        if self._chat.engine.member(group_id).role < Role.ADMIN:
            raise MalformedGroupLink("only an admin or the owner invites to this group")
        address = self._messenger.address() or await self._messenger.create_address()
        ticket = self._rng.random_bytes(TICKET_SIZE)
        with self._messenger.store.transaction() as tx:
            tx.groups.add_invite(ticket, group_id, int(role), self._clock())
        return encode_group_link(address, ticket)

    async def join(self, link: str, alias: str) -> Contact:
        """Ask the link's admin to let us in; the group appears as ``alias`` once the
        admin accepted and the Welcome arrived (``sync``)."""
        address, ticket = decode_group_link(link)
        contact = await self._messenger.connect(address)
        request, secret = self._chat.engine.request_join(self._messenger.profile.display_name)
        join = GroupJoinRecord(contact.contact_id, ticket, alias, request, secret)
        with self._messenger.store.transaction() as tx:
            tx.groups.add_join(join, self._clock())
        return contact

    def apply(
        self, tx: Transaction, contact_id: int, alias: str, event: ChatEventReceived
    ) -> Incoming | None:
        """A join message on a pairwise connection (``None`` if it is a chat event); a
        bad one is reported and dropped, never the batch it came in."""
        if not event.event.startswith(MAGIC):
            return None
        try:
            return self._apply(tx, contact_id, alias, event.event)
        except UnexpectedGroupEvent as error:
            return Incoming("error", alias, f"a group join message was dropped: {error}")

    def _apply(self, tx: Transaction, contact_id: int, alias: str, data: bytes) -> Incoming:
        kind, ticket, body = _parse(data)
        if kind == KIND_REQUEST:
            if tx.groups.invite(ticket) is None:
                raise UnexpectedGroupEvent("a join request names no invitation of ours")
            tx.groups.add_admission(contact_id, ticket, body, self._clock())
            return Incoming("group-request", alias, "asks to join a group")
        if not tx.groups.set_join_bundle(contact_id, body):
            raise UnexpectedGroupEvent("a welcome bundle arrived where no join waits")
        return Incoming("group-welcome", alias, "let us into a group")

    async def process(self) -> list[str]:
        """Move every join along: send requests on connections now open, admit
        requests that arrived, send bundles, join from bundles. Returns the aliases of
        the groups we joined."""
        await self._send_requests()
        await self._admit()
        return await self._enter()

    async def _send_requests(self) -> None:
        with self._messenger.store.transaction() as tx:
            joins = [j for j in tx.groups.joins() if not j.sent]
            for join in joins:
                if tx.contacts.get(join.contact_id).status.value != "connected":
                    continue
                message = _message(KIND_REQUEST, join.ticket, join.request)
                self._messenger.agent.send(tx, connection_of(tx, join.contact_id), [message])
                tx.groups.mark_join_sent(join.contact_id)
        await self._messenger.agent.outbox.flush(force=True)

    async def _admit(self) -> None:
        with self._messenger.store.transaction() as tx:
            pending = tx.groups.admissions()
            invites = {ticket: tx.groups.invite(ticket) for _, ticket, _ in pending}
        groups = set()
        for contact_id, ticket, request in pending:
            invite = invites[ticket]
            if invite is None:
                continue
            group_id, role = invite
            key = contact_id.to_bytes(8, "big") + ticket
            await self._chat.engine.admit(group_id, request, key, Role(role), flush=False)
            handle = JoinRequest.from_bytes(request).key_package.leaf_node.credential.identity
            with self._messenger.store.transaction() as tx:
                tx.groups.remove_admission(contact_id, ticket)
                tx.groups.link_member(group_id, handle, contact_id)
            groups.add(group_id)
        for group_id in groups:
            await self._chat.engine.flush(group_id)

    def send_bundles(self, tx: Transaction, events: list[GroupEvent]) -> None:
        """Send each admitted joiner its welcome bundle over its connection."""
        for event in events:
            if isinstance(event, MemberAdmitted):
                contact_id, ticket = int.from_bytes(event.ticket[:8], "big"), event.ticket[8:]
                message = _message(KIND_BUNDLE, ticket, event.bundle)
                self._messenger.agent.send(tx, connection_of(tx, contact_id), [message])

    async def _enter(self) -> list[str]:
        with self._messenger.store.transaction() as tx:
            ready = [j for j in tx.groups.joins() if j.bundle is not None]
        joined = []
        for join in ready:
            assert join.bundle is not None
            group_id = await self._chat.engine.join(join.bundle, join.secret)
            inviter = WelcomeBundle.from_bytes(join.bundle).inviter
            with self._messenger.store.transaction() as tx:
                tx.groups.set_alias(group_id, join.alias)
                tx.groups.link_member(group_id, inviter, join.contact_id)
                tx.groups.finish_join(join.contact_id)
                record_notices(tx, [GroupNotice("group-joined", join.alias, "")], self._clock())
            joined.append(join.alias)
        return joined
