"""The rules every member enforces on every commit and post (docs/protocol/groups.md).

A commit that breaks one is invalid: every member skips it, in the same place in
the log, so all members still agree on one history. The checks run on the state
before the commit (who proposed what, with which role) and the policy after it.
"""

from __future__ import annotations

from veil.agent.groups.errors import GroupPolicyViolation
from veil.agent.groups.policy import GroupPolicy, Role, RosterEntry, policy_of
from veil.mls.framing import SENDER_NEW_MEMBER_COMMIT, Sender
from veil.mls.group_context import GroupContext
from veil.mls.group_state import GroupState
from veil.mls.processing import resolve_proposals
from veil.mls.proposals import Add, Commit, GroupContextExtensions, Remove, Update

__all__ = ["check_commit", "check_post", "handle_of"]


def handle_of(state: GroupState, leaf_index: int) -> bytes:
    """The per-group handle (basic credential identity) of the member at ``leaf_index``."""
    return state.tree.member_leaf(leaf_index).credential.identity


def _require(condition: bool, why: str) -> None:
    if not condition:
        raise GroupPolicyViolation(why)


def check_post(policy: GroupPolicy, sender: bytes) -> None:
    """An observer may not post application messages."""
    _require(policy.role_of(sender) > Role.OBSERVER, "an observer cannot post in this group")


def check_commit(
    old: GroupState, new_context: GroupContext, commit: Commit, sender: Sender
) -> None:
    """Raise GroupPolicyViolation unless ``commit`` (already valid MLS, taking ``old`` to
    ``new_context``) is allowed by the policy of ``old``."""
    before, after = policy_of(old.context), policy_of(new_context)
    if sender.sender_type == SENDER_NEW_MEMBER_COMMIT:
        _check_external(old, before, after, commit)
        return
    committer = handle_of(old, sender.index)
    added: set[bytes] = set()
    removed: set[bytes] = set()
    for proposal, proposer in resolve_proposals(old, commit, sender.index):
        role = before.role_of(handle_of(old, proposer))
        if isinstance(proposal, Remove):
            removed.add(_check_remove(old, before, proposal, proposer, role))
        elif isinstance(proposal, Add):
            _require(role >= Role.ADMIN, "only an admin or the owner adds members")
            added.add(proposal.key_package.leaf_node.credential.identity)
        elif not isinstance(proposal, Update | GroupContextExtensions):
            raise GroupPolicyViolation(f"{type(proposal).__name__} is not used in Veil groups")
    if after != before:
        _check_policy_change(before, after, committer, added, removed)


def _check_remove(
    old: GroupState, before: GroupPolicy, proposal: Remove, proposer: int, role: Role
) -> bytes:
    target = handle_of(old, proposal.removed)
    target_role = before.role_of(target)
    if proposer == proposal.removed:  # leaving: a member's Remove proposal for itself
        _require(target_role is not Role.OWNER, "the owner transfers ownership before leaving")
        return target
    _require(role >= Role.ADMIN, "a member cannot remove others: only admins and the owner")
    _require(
        target_role < role or role is Role.OWNER,
        "only the owner removes admins, and nobody removes the owner",
    )
    _require(target_role is not Role.OWNER, "nobody removes the owner")
    return target


def _check_policy_change(
    before: GroupPolicy,
    after: GroupPolicy,
    committer: bytes,
    added: set[bytes],
    removed: set[bytes],
) -> None:
    role = before.role_of(committer)
    if (after.public, after.default_role) != (before.public, before.default_role):
        _require(role is Role.OWNER, "only the owner changes public joining or the default role")
    profile = (after.name, after.description, after.receipts)
    if profile != (before.name, before.description, before.receipts):
        _require(role >= Role.ADMIN, "only an admin or the owner changes the group profile")
    handles = {row.handle for row in before.roster} | {row.handle for row in after.roster}
    for handle in sorted(handles - removed):
        old_row, new_row = before.entry(handle), after.entry(handle)
        if old_row != new_row:
            _check_row_change(old_row, new_row, role, handle == committer, handle in added)
    owner = after.owner()
    _require(owner is not None and owner not in removed, "the group must keep its owner")


def _check_row_change(
    old: RosterEntry, new: RosterEntry, role: Role, own_row: bool, added: bool
) -> None:
    if added:
        _require(new.role is not Role.OWNER, "a new member cannot be made owner")
        _require(new.role <= role, "a role above one's own cannot be given")
        return
    if own_row and (old.role, old.log_ref, old.sealed_admin) == (
        new.role,
        new.log_ref,
        new.sealed_admin,
    ):
        return  # changing one's own display name
    _require(role >= Role.ADMIN, "a member cannot change roles or other members' names")
    if Role.OWNER in (old.role, new.role) or max(old.role, new.role) >= Role.ADMIN:
        _require(role is Role.OWNER, "only the owner changes admins and transfers ownership")


def _check_external(
    old: GroupState, before: GroupPolicy, after: GroupPolicy, commit: Commit
) -> None:
    _require(before.public, "this group does not allow joining by external commit")
    _require(after == before, "an external commit cannot change the policy")
    joiner = commit.path.leaf_node.credential.identity if commit.path is not None else b""
    for entry in commit.proposals:
        proposal = entry.proposal
        if isinstance(proposal, Remove):
            _require(
                handle_of(old, proposal.removed) == joiner,
                "an external commit removes only the joiner's own old leaf",
            )
