"""One member's side of one group, sans-I/O: log entries in, events and entries to
post out (docs/protocol/groups.md, "Ordering" and "Processing").

Entries are processed in log order. Our own posts and commits are recognised by
their bytes when they come back (we cannot decrypt what we encrypted). The first
valid commit of an epoch wins; a later one for the same epoch is stale for
everyone. A rejected entry changes nothing but the cursor.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from veil.agent.groups.errors import (
    GroupProtocolError,
    MalformedGroupData,
    StaleGroupEntry,
)
from veil.agent.groups.events import (
    EntryRejected,
    EpochChanged,
    GroupEvent,
    JoinLost,
    MemberAdmitted,
    Posted,
    WeLeft,
)
from veil.agent.groups.intent import (
    Intent,
    PreparedCommit,
    leaving_members,
    open_admin,
    prepare_commit,
)
from veil.agent.groups.policy import GroupPolicy, Role, policy_of
from veil.agent.groups.rules import check_commit, check_post, handle_of
from veil.agent.groups.wire import AdmittedBatch, decode_entry, encode_entry
from veil.crypto import RandomSource
from veil.mls.errors import MLSProtocolError, SecretAlreadyUsed, WrongEpoch
from veil.mls.framing import COMMIT, SENDER_MEMBER, MLSMessage, PrivateMessage, PublicMessage
from veil.mls.group_state import GroupState
from veil.mls.operations import encrypt_application, propose
from veil.mls.processing import process_message
from veil.mls.proposals import Commit, Remove
from veil.mls.protection import Padding
from veil.mls.welcome import Welcome

__all__ = ["GroupMember", "PendingPost", "PostKind", "Status"]

PADDING = Padding(256)
"""Application messages are padded to a multiple of 256 bytes inside MLS."""


class Status(enum.IntEnum):
    """Where we stand in the group."""

    ACTIVE = 0
    LEFT = 1
    REMOVED = 2
    PAST_RETENTION = 3


class PostKind(enum.IntEnum):
    """What an entry we posted carries."""

    APPLICATION = 0
    LEAVE = 1
    """Our Remove proposal for ourselves."""
    WELCOME = 2
    """The Welcome of our winning commit; ``plaintext`` is the AdmittedBatch."""


@dataclass(frozen=True, slots=True)
class PendingPost:
    """An entry of ours not yet seen back in the log. ``entry`` is empty while it still
    waits to be encrypted (a restored state must commit first)."""

    kind: PostKind
    epoch: int
    entry: bytes
    plaintext: bytes
    posted: bool = False


@dataclass(slots=True)
class GroupMember:
    """Our MLS state in one group, where we are in its log, and what we wait for."""

    mls: GroupState
    cursor: int
    access: bytes
    log_ref: bytes
    admin: bytes | None = None
    status: Status = Status.ACTIVE
    leaving: bool = False
    intent: Intent = field(default_factory=Intent)
    pending: PreparedCommit | None = None
    pending_commit_posted: bool = False
    posts: list[PendingPost] = field(default_factory=list)
    revocations: list[bytes] = field(default_factory=list)
    """Log references to revoke on the relay (members our winning commits removed)."""
    joining: int | None = None
    """The epoch our external commit is for, until it comes back (or another wins)."""

    @property
    def handle(self) -> bytes:
        """Our per-group handle."""
        return handle_of(self.mls, self.mls.leaf_index)

    @property
    def policy(self) -> GroupPolicy:
        """The group's policy in the current epoch."""
        return policy_of(self.mls.context)

    @property
    def role(self) -> Role:
        """Our role in the current epoch."""
        return self.policy.role_of(self.handle)

    # -- what we send ---------------------------------------------------------------

    def queue_post(self, plaintext: bytes, rng: RandomSource) -> None:
        """Encrypt an application message for the current epoch (or hold it until the
        restored state has committed) and queue it for posting."""
        self.posts.append(PendingPost(PostKind.APPLICATION, -1, b"", plaintext))
        self._seal_held(rng)

    def queue_leave(self, rng: RandomSource) -> None:
        """Propose our own removal; it is proposed again each epoch until committed."""
        self.leaving = True
        self._propose_leave(rng)

    def due(self, rng: RandomSource) -> list[bytes]:
        """Entries to post now: a commit for our intent (at most one per epoch) and our
        messages. The caller persists the member, posts, then calls :meth:`posted`."""
        if self.status is not Status.ACTIVE:
            return []
        entries: list[bytes] = []
        if self.pending is None and (not self.intent.empty() or self._commit_needed()):
            prepared = prepare_commit(
                self.mls,
                self.intent,
                rng,
                commit_leavers=self.role >= Role.ADMIN,
                admin=self.admin,
            )
            if prepared is not None:
                self.pending, self.pending_commit_posted = prepared, False
            else:
                self.intent = Intent()
        if self.pending is not None and not self.pending_commit_posted:
            entries.append(encode_entry(self.pending.message))
        entries += [p.entry for p in self.posts if p.entry and not p.posted]
        return entries

    def posted(self, entry: bytes) -> None:
        """The log stored ``entry``."""
        if self.pending is not None and entry == encode_entry(self.pending.message):
            self.pending_commit_posted = True
        self.posts = [replace(p, posted=True) if p.entry == entry else p for p in self.posts]

    def _commit_needed(self) -> bool:
        held = any(not p.entry for p in self.posts)
        leavers = self.role >= Role.ADMIN and bool(leaving_members(self.mls))
        return (self.mls.restored and held) or leavers

    def _seal_held(self, rng: RandomSource) -> None:
        if self.mls.restored:
            return
        epoch = self.mls.context.epoch
        posts = []
        for post in self.posts:
            sealed = post
            if not post.entry and post.kind is PostKind.APPLICATION:
                message, self.mls = encrypt_application(self.mls, post.plaintext, rng, PADDING)
                sealed = PendingPost(post.kind, epoch, encode_entry(message), post.plaintext)
            posts.append(sealed)
        self.posts = posts

    def _propose_leave(self, rng: RandomSource) -> None:
        if self.mls.restored:
            self.intent = replace(self.intent, update=True)
            return
        message, self.mls, _ = propose(self.mls, Remove(self.mls.leaf_index), rng, private=True)
        epoch = self.mls.context.epoch
        self.posts.append(PendingPost(PostKind.LEAVE, epoch, encode_entry(message), b""))

    # -- what the log delivers ------------------------------------------------------

    def handle_entry(self, seq: int, data: bytes, rng: RandomSource) -> list[GroupEvent]:
        """Process the log's entry ``seq``; a rejected one yields EntryRejected."""
        self.cursor = max(self.cursor, seq)
        if self.status is not Status.ACTIVE:
            return []
        own = next((p for p in self.posts if p.entry == data), None)
        if own is not None:
            return self._own_post_back(seq, own, rng)
        if self.pending is not None and data == encode_entry(self.pending.message):
            return self._adopt(seq, rng)
        if self.joining is not None:
            return self._while_joining(seq, data)
        return self._others(seq, data, rng)

    def _others(self, seq: int, data: bytes, rng: RandomSource) -> list[GroupEvent]:
        """Another member's entry."""
        try:
            message = decode_entry(data)
            if isinstance(message.body, Welcome):
                return []  # for joiners: they read it by its sequence number
            return self._process(seq, message, rng)
        except GroupProtocolError as error:
            return [EntryRejected(seq, error)]

    def _while_joining(self, seq: int, data: bytes) -> list[GroupEvent]:
        """Before our external commit is in: a commit for its epoch means we lost."""
        try:
            body = decode_entry(data).body
        except GroupProtocolError:
            return []
        commit_epoch = None
        if isinstance(body, PublicMessage) and body.content.content_type == COMMIT:
            commit_epoch = body.content.epoch
        elif isinstance(body, PrivateMessage) and body.content_type == COMMIT:
            commit_epoch = body.epoch
        if commit_epoch != self.joining:
            return []  # an entry of the epoch before ours: not ours to read
        self.status, self.pending, self.joining = Status.PAST_RETENTION, None, None
        return [JoinLost(seq)]

    def _own_post_back(self, seq: int, own: PendingPost, rng: RandomSource) -> list[GroupEvent]:
        self.posts.remove(own)
        if own.kind is PostKind.WELCOME:  # the joiners can now read it: send the bundles
            bundles = AdmittedBatch.from_bytes(own.plaintext).bundles(seq, self.handle, self.admin)
            return [MemberAdmitted(ticket, bundle) for ticket, bundle in bundles]
        if own.epoch == self.mls.context.epoch:
            if own.kind is PostKind.APPLICATION:
                return [Posted(seq, self.handle, own.plaintext, own=True, role=self.role)]
            return []
        if own.kind is PostKind.APPLICATION:  # a commit ended its epoch first: send again
            self.posts.append(PendingPost(PostKind.APPLICATION, -1, b"", own.plaintext))
            self._seal_held(rng)
        return []

    def _process(self, seq: int, message: MLSMessage, rng: RandomSource) -> list[GroupEvent]:
        try:
            processed = process_message(self.mls, message)
        except WrongEpoch as error:
            raise StaleGroupEntry(f"entry {seq} is for another epoch: {error}") from error
        except SecretAlreadyUsed as error:
            raise StaleGroupEntry(f"entry {seq} replays an earlier message") from error
        except MLSProtocolError as error:
            raise MalformedGroupData(f"entry {seq} is rejected: {error}") from error
        sender_handle = None
        if processed.sender.sender_type == SENDER_MEMBER:  # not an external committer
            sender_handle = handle_of(self.mls, processed.sender.index)
        if isinstance(processed.content, bytes):
            assert sender_handle is not None
            check_post(self.policy, sender_handle)
            self.mls = processed.state
            role = self.policy.role_of(sender_handle)
            return [Posted(seq, sender_handle, processed.content, own=False, role=role)]
        if not isinstance(processed.content, Commit):
            self.mls = processed.state  # a proposal: kept for a commit of this epoch
            return []
        check_commit(self.mls, processed.state.context, processed.content, processed.sender)
        if processed.removed:
            self.status = Status.LEFT if self.leaving else Status.REMOVED
            self.pending, self.posts = None, []
            return [WeLeft(seq, removed=not self.leaving, by=sender_handle)]
        return self._new_epoch(seq, processed.state, sender_handle, rng)

    def _new_epoch(
        self, seq: int, state: GroupState, committer: bytes | None, rng: RandomSource
    ) -> list[GroupEvent]:
        old, self.mls = self.mls, state
        before = {handle_of(old, i) for i in old.tree.members()}
        leavers = {handle_of(old, leaf) for _, leaf in leaving_members(old)}
        after = {handle_of(self.mls, i) for i in self.mls.tree.members()}
        self.pending = None  # a commit of ours for the old epoch lost: the intent stays
        if self.admin is None and self.role >= Role.ADMIN:
            self.admin = open_admin(self.mls, self.policy, self.handle)
        self._seal_held(rng)
        if self.leaving:
            self._propose_leave(rng)
        epoch = self.mls.context.epoch
        added, removed = tuple(sorted(after - before)), tuple(sorted(before - after))
        left = tuple(handle for handle in removed if handle in leavers)
        previous = policy_of(old.context)
        return [EpochChanged(seq, epoch, committer, added, removed, self.policy, previous, left)]

    def _adopt(self, seq: int, rng: RandomSource) -> list[GroupEvent]:
        pending = self.pending
        assert pending is not None
        if pending.epoch != self.mls.context.epoch:
            self.pending = None
            return [EntryRejected(seq, StaleGroupEntry(f"our commit {seq} lost its epoch"))]
        self.intent = self.intent.without(pending.intent)
        self.joining = None
        self.revocations += pending.revoke
        events = self._new_epoch(seq, pending.state, self.handle, rng)
        if pending.welcome is not None and pending.intent.admissions:
            joiners = tuple(
                (a.ticket, a.grant.access, a.grant.ref, a.role) for a in pending.intent.admissions
            )
            batch = AdmittedBatch(seq, joiners).to_bytes()
            entry = encode_entry(pending.welcome)
            self.posts.append(PendingPost(PostKind.WELCOME, self.mls.context.epoch, entry, batch))
        return events
