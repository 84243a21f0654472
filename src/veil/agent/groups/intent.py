"""What a member wants committed, and turning it into one commit for the current epoch.

A member's wishes (admit joiners, remove members, change roles, names or the
profile, refresh its keys) accumulate in an :class:`Intent`. The engine makes one
commit of all of it for the current epoch; if another commit wins that epoch, the
intent is still there and becomes a commit for the next one (docs/protocol/groups.md,
"Ordering"). Anything no longer applicable (a member already gone) is dropped.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from veil.agent.groups.log_port import LogGrant
from veil.agent.groups.policy import POLICY_EXTENSION, GroupPolicy, Role, RosterEntry, policy_of
from veil.agent.groups.rules import handle_of
from veil.agent.groups.wire import JoinRequest
from veil.crypto import RandomSource
from veil.mls import tree_math
from veil.mls.codec import TlsWriter, decode
from veil.mls.errors import MLSProtocolError
from veil.mls.framing import SENDER_MEMBER, MLSMessage
from veil.mls.group_state import GroupState
from veil.mls.operations import create_commit
from veil.mls.proposals import Add, GroupContextExtensions, Proposal, Remove

__all__ = [
    "Admission",
    "Edit",
    "EditKind",
    "Intent",
    "PreparedCommit",
    "leaving_members",
    "open_admin",
    "prepare_commit",
]


@dataclass(frozen=True, slots=True)
class Admission:
    """A joiner an admin admits: its request, the log grant made for it, its role, and
    the ticket the layer above uses to find the channel the Welcome goes back over."""

    ticket: bytes
    request: JoinRequest
    grant: LogGrant
    role: Role


class EditKind(enum.IntEnum):
    """The kinds of policy change a member can ask for."""

    REMOVE = 1
    ROLE = 2
    DISPLAY_NAME = 3
    GROUP_NAME = 4
    DESCRIPTION = 5
    PUBLIC = 6
    RECEIPTS = 7
    TRANSFER = 8


@dataclass(frozen=True, slots=True)
class Edit:
    """One change: ``handle`` names the member it is about (if any), ``value`` the new
    value (a role byte, UTF-8 text or a flag byte)."""

    kind: EditKind
    handle: bytes = b""
    value: bytes = b""


@dataclass(frozen=True, slots=True)
class Intent:
    """Everything a member still wants committed."""

    admissions: tuple[Admission, ...] = ()
    edits: tuple[Edit, ...] = ()
    update: bool = False

    def empty(self) -> bool:
        """Whether there is nothing to commit."""
        return not (self.admissions or self.edits or self.update)

    def without(self, done: Intent) -> Intent:
        """What is left once ``done`` is committed."""
        return Intent(
            tuple(a for a in self.admissions if a not in done.admissions),
            tuple(e for e in self.edits if e not in done.edits),
            self.update and not done.update,
        )


@dataclass(frozen=True, slots=True)
class PreparedCommit:
    """A commit for one epoch, with the state to adopt if it wins, what it carries out
    and the log references to revoke once it has won."""

    message: MLSMessage
    welcome: MLSMessage | None
    state: GroupState
    epoch: int
    intent: Intent
    revoke: tuple[bytes, ...]


def _leaf_of(state: GroupState, handle: bytes) -> int | None:
    return next((i for i in state.tree.members() if handle_of(state, i) == handle), None)


def _apply_edit(policy: GroupPolicy, edit: Edit, me: bytes) -> GroupPolicy:
    entry = policy.entry(edit.handle)
    flag = edit.value == b"\x01"
    changes = {
        EditKind.ROLE: lambda: policy.with_entry(replace(entry, role=Role(edit.value[0]))),
        EditKind.DISPLAY_NAME: lambda: policy.with_entry(
            replace(entry, display_name=edit.value.decode())
        ),
        EditKind.TRANSFER: lambda: policy.with_entry(
            replace(policy.entry(me), role=Role.ADMIN)
        ).with_entry(replace(entry, role=Role.OWNER)),
        EditKind.GROUP_NAME: lambda: replace(policy, name=edit.value.decode()),
        EditKind.DESCRIPTION: lambda: replace(policy, description=edit.value.decode()),
        EditKind.PUBLIC: lambda: replace(policy, public=flag),
        EditKind.RECEIPTS: lambda: replace(policy, receipts=flag),
    }
    return changes[edit.kind]()


def leaving_members(state: GroupState) -> list[tuple[bytes, int]]:
    """Received Remove proposals in which another member removes itself (it is leaving):
    ``(proposal reference, leaf)``."""
    return [
        (reference, proposal.removed)
        for reference, (proposal, sender) in sorted(state.proposals.items())
        if isinstance(proposal, Remove)
        and sender.sender_type == SENDER_MEMBER
        and sender.index == proposal.removed != state.leaf_index
    ]


ADMIN_LABEL = b"veil group admin"


def _seal_admin(state: GroupState, policy: GroupPolicy, handle: bytes, admin: bytes) -> GroupPolicy:
    """Hand the log's admin credential to a new admin: sealed to its current leaf key."""
    entry = policy.entry(handle)
    if entry.sealed_admin:
        return policy
    leaf = state.tree.member_leaf(_leaf_of(state, handle) or 0)
    kem_output, sealed = state.suite.encrypt_with_label(
        leaf.encryption_key, ADMIN_LABEL, state.context.group_id, admin
    )
    blob = TlsWriter().opaque(kem_output).opaque(sealed).build()
    return policy.with_entry(replace(entry, sealed_admin=blob))


def open_admin(state: GroupState, policy: GroupPolicy, handle: bytes) -> bytes | None:
    """Our admin credential from our roster row, if one is sealed to our leaf."""
    blob = policy.entry(handle).sealed_admin
    if not blob:
        return None
    private, _ = state.private.keys[tree_math.node_of_leaf(state.leaf_index)]
    try:
        kem_output, sealed = decode(blob, lambda r: (r.opaque(4096), r.opaque(4096)))
        return state.suite.decrypt_with_label(
            private, ADMIN_LABEL, state.context.group_id, kem_output, sealed
        )
    except MLSProtocolError:
        return None  # sealed to a leaf key we replaced since: ask the owner again


def prepare_commit(
    state: GroupState,
    intent: Intent,
    rng: RandomSource,
    *,
    commit_leavers: bool,
    admin: bytes | None = None,
) -> PreparedCommit | None:
    """One commit carrying out ``intent`` (and, for admins, the pending leaves) in the
    current epoch; ``None`` if nothing applies any more. A restored state first makes
    an empty commit in the clear (no policy in it) to leave the restored epoch."""
    if state.restored:
        result = create_commit(state, rng)
        return PreparedCommit(
            result.message, result.welcome, result.state, state.context.epoch, Intent(), ()
        )
    me = handle_of(state, state.leaf_index)
    before = policy_of(state.context)
    policy, proposals, revoke = before, list[Proposal](), list[bytes]()
    by_reference: list[bytes] = []
    leaving = leaving_members(state) if commit_leavers else []
    for reference, leaf in leaving:
        handle = handle_of(state, leaf)
        by_reference.append(reference)
        revoke.append(policy.entry(handle).log_ref)
        policy = policy.without({handle})
    for admission in intent.admissions:
        package = admission.request.key_package
        handle = package.leaf_node.credential.identity
        if _leaf_of(state, handle) is None:
            proposals.append(Add(package))
            row = RosterEntry(handle, admission.role, admission.request.display_name)
            policy = policy.with_entry(replace(row, log_ref=admission.grant.ref))
    skip = {leaf for _, leaf in leaving}
    for edit in intent.edits:
        target = _leaf_of(state, edit.handle) if edit.handle else None
        if edit.handle and (target is None or target in skip):
            continue  # the member is gone, or already leaving
        if edit.kind is EditKind.REMOVE and target is not None:
            proposals.append(Remove(target))
            revoke.append(policy.entry(edit.handle).log_ref)
            policy = policy.without({edit.handle})
            continue
        policy = _apply_edit(policy, edit, me)
        if admin is not None and edit.handle and policy.role_of(edit.handle) >= Role.ADMIN:
            policy = _seal_admin(state, policy, edit.handle, admin)
    if policy != before:
        others = tuple(e for e in state.context.extensions if e.extension_type != POLICY_EXTENSION)
        proposals.append(GroupContextExtensions((*others, policy.to_extension())))
    if not proposals and not by_reference and not intent.update:
        return None
    result = create_commit(
        state, rng, by_value=tuple(proposals), by_reference=tuple(by_reference), private=True
    )
    revoke = [r for r in revoke if r]
    epoch = state.context.epoch
    return PreparedCommit(
        result.message, result.welcome, result.state, epoch, intent, tuple(revoke)
    )
