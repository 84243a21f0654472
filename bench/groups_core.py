"""The members' side of ``bench/groups.py``: a real MLS group as the group engine builds
it, and one member's cost of handling the log's entries.

The owner is a :class:`~veil.agent.groups.member.GroupMember` made by a
:class:`~veil.agent.groups.engine.GroupEngine`; every other member's join request is
the engine's (``request_join``), and all of them are admitted in one commit through
the owner's intent, exactly as ``admit`` and ``flush`` do, minus the store and the log
(which would save the growing intent once per joiner). A few members actually join
from the Welcome; they are the ones whose processing is timed. Entries are the bytes
a member posts to the log, wrapped in the relay adapter's part header, so the relay
carries what it would carry for a real group.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from helpers.group_log import MemoryGroupLog, MemoryGroupStore
from veil.agent.groups.engine import GroupEngine
from veil.agent.groups.events import EpochChanged, Posted
from veil.agent.groups.intent import Admission, Intent
from veil.agent.groups.log_port import LogGrant
from veil.agent.groups.member import GroupMember
from veil.agent.groups.policy import Role
from veil.agent.groups.relay_log import PART_DATA, PART_HEADER, PART_VERSION
from veil.agent.groups.wire import JoinRequest, PendingJoin, welcome_of
from veil.crypto import SystemRandom
from veil.mls.codec import TlsWriter
from veil.mls.group_state import join_from_welcome

RNG = SystemRandom()


@dataclass
class Group:
    """A group of ``size`` members: its owner and the members who joined here."""

    size: int
    owner: GroupMember
    joined: list[GroupMember]
    seq: int
    """The log's last sequence number so far (the commit, then the Welcome)."""
    build_seconds: float

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


async def build(size: int, joined: int) -> Group:
    """A group of ``size`` members in one commit; ``joined`` of them join from the
    Welcome (every member's join costs the same: a full tree validation)."""
    started = time.perf_counter()
    engine = GroupEngine(MemoryGroupStore(), MemoryGroupLog(RNG), rng=RNG, clock=time.time)
    group_id = await engine.create("Bench group", "owner")
    owner = engine.member(group_id)
    requests = [engine.request_join(f"member {i}") for i in range(size - 1)]
    owner.intent = Intent(
        tuple(
            Admission(b"%d" % i, JoinRequest.from_bytes(request), LogGrant(b"", b""), Role.MEMBER)
            for i, (request, _) in enumerate(requests)
        )
    )
    (commit,) = owner.due(RNG)
    assert any(isinstance(e, EpochChanged) for e in owner.handle_entry(1, commit, RNG))
    welcome = welcome_of(owner.posts[-1].entry)
    members = []
    for _, secret in requests[-joined:]:
        pending = PendingJoin.from_bytes(secret)
        state = join_from_welcome(welcome, pending.key_package, pending.keys)
        members.append(GroupMember(state, 2, b"", b""))
    owner.posts.clear()
    return Group(size, owner, members, 2, time.perf_counter() - started)


def largest_plaintext(owner: GroupMember) -> int:
    """The largest application plaintext (in 256-byte padding steps) whose entry still
    fits in one relay post: a full-size frame."""
    size = PART_DATA
    while len(seal(owner, bytes(size))) > PART_DATA:
        size -= 256
    return size


def seal(owner: GroupMember, plaintext: bytes) -> bytes:
    """The log entry of one application message from ``owner`` (consumed: the owner does
    not wait for it to come back)."""
    owner.queue_post(plaintext, RNG)
    return owner.posts.pop().entry


def parts(entry: bytes) -> list[bytes]:
    """``entry`` as the relay adapter posts it: its parts, each one relay post."""
    entry_id = RNG.random_bytes(8)
    chunks = [entry[i : i + PART_DATA] for i in range(0, len(entry), PART_DATA)]
    return [
        TlsWriter().u8(PART_VERSION).raw(entry_id).u16(index).u16(len(chunks)).build() + chunk
        for index, chunk in enumerate(chunks)
    ]


def handle(member: GroupMember, seq: int, body: bytes) -> float:
    """Seconds ``member`` takes to process the relay post ``body`` (part header off, MLS
    decrypt, the policy checks), checking it yields the message."""
    started = time.perf_counter()
    events = member.handle_entry(seq, body[PART_HEADER:], RNG)
    elapsed = time.perf_counter() - started
    assert len(events) == 1 and isinstance(events[0], Posted), events
    return elapsed


def commit_update(group: Group) -> tuple[bytes, float]:
    """The owner's key update (a commit with a path) and the seconds making it took."""
    started = time.perf_counter()
    group.owner.intent = Intent(update=True)
    (commit,) = group.owner.due(RNG)
    elapsed = time.perf_counter() - started
    seq = group.next_seq()
    assert any(isinstance(e, EpochChanged) for e in group.owner.handle_entry(seq, commit, RNG))
    return commit, elapsed


def apply_commit(member: GroupMember, seq: int, commit: bytes) -> float:
    """Seconds ``member`` takes to apply the commit at ``seq``."""
    started = time.perf_counter()
    events = member.handle_entry(seq, commit, RNG)
    elapsed = time.perf_counter() - started
    assert any(isinstance(e, EpochChanged) for e in events), events
    return elapsed
