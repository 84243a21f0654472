"""Persisted group state: a versioned binary format that restores a member exactly.

Layout (version 1), in the RFC 9420 presentation language::

    opaque magic[4] = "VMLS"; uint16 version = 1; uint16 cipher_suite;
    GroupContext context; optional<Node> ratchet_tree<V>;
    uint32 leaf_index; { uint32 node; opaque private<V>; opaque public<V>; } keys<V>;
    opaque epoch_secrets[12]<V>;        // in EpochSecrets field order
    SecretTree secret_tree;             // see SecretTree.encode
    opaque interim_transcript_hash<V>; opaque signature_key<V>;
    uint32 resumption_epochs;
    { opaque reference<V>; Proposal proposal; Sender sender; } proposals<V>;
    { uint64 epoch; opaque psk<V>; } resumption_psks<V>;
    { opaque public<V>; opaque private<V>; } pending_leaf_keys<V>;  // our proposed Updates

Only the current epoch's secrets are stored: a restored member cannot read past epochs
either. A restored state is marked ``restored``: it may receive, but sends no
PrivateMessage until it has moved to a new epoch (see ``MustCommitFirst``). Damaged
bytes raise CorruptGroupState, an unknown version UnsupportedStateVersion (both local
errors: the store, not a peer, is at fault).
"""

from __future__ import annotations

from dataclasses import fields

from veil.mls.codec import TlsReader, TlsWriter, decode
from veil.mls.errors import CorruptGroupState, MLSProtocolError, UnsupportedStateVersion
from veil.mls.framing import Sender
from veil.mls.group_context import GroupContext
from veil.mls.group_state import GroupConfig, GroupState
from veil.mls.key_schedule import EpochSecrets
from veil.mls.nodes import decode_ratchet_tree
from veil.mls.proposals import Proposal, decode_proposal, encode_proposal
from veil.mls.ratchet_tree import RatchetTree
from veil.mls.secret_tree import SecretTree
from veil.mls.suites import suite_by_id
from veil.mls.treekem import TreePrivateKeys

__all__ = ["STATE_VERSION", "decode_state", "encode_state"]

MAGIC = b"VMLS"
STATE_VERSION = 1
_SECRET_FIELDS = [f.name for f in fields(EpochSecrets)]


def encode_state(state: GroupState) -> bytes:
    """Serialise a member's group state."""
    writer = TlsWriter().raw(MAGIC).u16(STATE_VERSION).u16(state.suite.suite_id)
    state.context.encode(writer)
    state.tree.encode(writer)
    writer.u32(state.leaf_index)
    writer.vector(
        sorted(state.private.keys.items()),
        lambda w, e: w.u32(e[0]).opaque(e[1][0]).opaque(e[1][1]),
    )
    for name in _SECRET_FIELDS:
        writer.opaque(getattr(state.secrets, name))
    state.secret_tree.encode(writer)
    writer.opaque(state.interim_transcript_hash).opaque(state.signature_key)
    writer.u32(state.config.resumption_epochs)
    writer.vector(
        sorted(state.proposals.items(), key=lambda e: e[0]),
        lambda w, e: _encode_proposal_entry(w, e[0], e[1]),
    )
    writer.vector(sorted(state.resumption_psks.items()), lambda w, e: w.u64(e[0]).opaque(e[1]))
    writer.vector(sorted(state.pending_leaf_keys.items()), lambda w, e: w.opaque(e[0]).opaque(e[1]))
    return writer.build()


def _encode_proposal_entry(
    writer: TlsWriter, reference: bytes, entry: tuple[Proposal, Sender]
) -> None:
    proposal, sender = entry
    writer.opaque(reference)
    encode_proposal(writer, proposal)
    sender.encode(writer)


def _decode_state(reader: TlsReader) -> GroupState:
    if reader.raw(4) != MAGIC:
        raise CorruptGroupState("not a Veil MLS group state")
    version = reader.u16()
    if version != STATE_VERSION:
        raise UnsupportedStateVersion(f"group state version {version} is not supported")
    suite = suite_by_id(reader.u16())
    context = GroupContext.decode(reader)
    tree = RatchetTree(suite, decode_ratchet_tree(reader))
    private = TreePrivateKeys(reader.u32())
    for node, private_key, public_key in reader.vector(
        lambda r: (r.u32(), r.opaque(64), r.opaque(4096))
    ):
        private.keys[node] = (private_key, public_key)
    secrets = EpochSecrets(*(reader.opaque(64) for _ in _SECRET_FIELDS))
    secret_tree = SecretTree.decode(suite, reader)
    interim, signature_key = reader.opaque(64), reader.opaque(64)
    config = GroupConfig(secret_tree.config, reader.u32())
    proposals = {
        reference: (proposal, sender)
        for reference, proposal, sender in reader.vector(
            lambda r: (r.opaque(64), decode_proposal(r), Sender.decode(r))
        )
    }
    resumption = dict(reader.vector(lambda r: (r.u64(), r.opaque(64))))
    pending_leaf_keys = dict(reader.vector(lambda r: (r.opaque(4096), r.opaque(64))))
    return GroupState(
        suite,
        context,
        tree,
        private,
        secrets,
        secret_tree,
        interim,
        signature_key,
        config,
        proposals,
        resumption,
        pending_leaf_keys,
        restored=True,
    )


def decode_state(data: bytes) -> GroupState:
    """Restore a member's group state; damage raises CorruptGroupState."""
    try:
        return decode(data, _decode_state)
    except MLSProtocolError as error:
        raise CorruptGroupState(f"group state does not decode: {error}") from error
