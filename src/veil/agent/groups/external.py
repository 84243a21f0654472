"""Joining a public group by external commit (RFC 9420 §12.4.3.2), and rejoining one
after falling past the log's retention (docs/protocol/groups.md, "Public groups").

A member of a public group hands a joiner an **offer**: the group's GroupInfo (with
the ratchet tree and the external public key) and the log position where its epoch
began. The joiner commits itself in and reads the log from that position: its own
commit coming back puts it in the group; another commit for the same epoch first
means it lost (:class:`~veil.agent.groups.events.JoinLost`) and asks again.

    uint8 version = 1; opaque group_info<V>;  // MLSMessage(GroupInfo)
    uint64 cursor;                              // the last entry of the previous epoch
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.agent.groups.errors import MalformedGroupData, NotAllowed
from veil.agent.groups.intent import Intent, PreparedCommit
from veil.agent.groups.member import GroupMember
from veil.agent.groups.policy import POLICY_EXTENSION
from veil.agent.groups.wire import ENTRY_VERSION
from veil.crypto import RandomSource
from veil.mls.codec import TlsReader, TlsWriter, decode
from veil.mls.errors import MLSProtocolError
from veil.mls.external_join import group_info_for_joiners, join_by_external_commit
from veil.mls.framing import MLSMessage
from veil.mls.leaf_node import Lifetime
from veil.mls.welcome import GroupInfo

__all__ = ["ExternalOffer", "join_by_offer", "offer_of"]

MAX_GROUP_INFO = 1 << 27


@dataclass(frozen=True, slots=True)
class ExternalOffer:
    """What a member of a public group hands a joiner."""

    group_info: GroupInfo
    cursor: int

    def to_bytes(self) -> bytes:
        """The offer's bytes (layout in the module docstring)."""
        writer = TlsWriter().u8(ENTRY_VERSION).opaque(MLSMessage(self.group_info).to_bytes())
        return writer.u64(self.cursor).build()

    @classmethod
    def from_bytes(cls, data: bytes) -> ExternalOffer:
        """Decode an offer (MalformedGroupData if it does not)."""

        def read(reader: TlsReader) -> ExternalOffer:
            if reader.u8() != ENTRY_VERSION:
                raise MalformedGroupData("the offer's version is not supported")
            message = decode(reader.opaque(MAX_GROUP_INFO), MLSMessage.decode)
            if not isinstance(message.body, GroupInfo):
                raise MalformedGroupData("the offer carries no GroupInfo")
            return cls(message.body, reader.u64())

        try:
            return decode(data, read)
        except MLSProtocolError as error:
            raise MalformedGroupData(f"the offer does not decode: {error}") from error


def offer_of(member: GroupMember) -> bytes:
    """An offer for our public group (NotAllowed if the group is not public)."""
    if not member.policy.public:
        raise NotAllowed("this group does not allow joining by external commit")
    info = group_info_for_joiners(member.mls).body
    assert isinstance(info, GroupInfo)
    return ExternalOffer(info, member.cursor).to_bytes()


def join_by_offer(
    offer: bytes, access: bytes, log_ref: bytes, rng: RandomSource, lifetime: Lifetime
) -> GroupMember:
    """A member whose external commit waits to be posted; in once it comes back."""
    decoded = ExternalOffer.from_bytes(offer)
    try:
        message, state = join_by_external_commit(
            decoded.group_info, rng, lifetime, supported_extensions=(POLICY_EXTENSION,)
        )
    except MLSProtocolError as error:
        raise MalformedGroupData(f"the GroupInfo is rejected: {error}") from error
    epoch = decoded.group_info.group_context.epoch
    pending = PreparedCommit(message, None, state, state.context.epoch, Intent(), ())
    return GroupMember(state, decoded.cursor, access, log_ref, pending=pending, joining=epoch)
