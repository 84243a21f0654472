"""Every MLS decoder that reads untrusted bytes, as ``(name, parser)`` pairs.

The fuzz harness (``fuzz/parsers.py``) and the hypothesis fuzz tests run these; each
must reject bad input only with :class:`veil.mls.errors.MLSError` subclasses (protocol
errors, or ``CorruptGroupState`` for the persisted state).
"""

from __future__ import annotations

from collections.abc import Callable

from veil.mls.codec import TlsReader, decode
from veil.mls.framing import AuthenticatedContent, MLSMessage
from veil.mls.group_context import GroupContext
from veil.mls.key_schedule import PreSharedKeyID
from veil.mls.leaf_node import KeyPackage, LeafNode
from veil.mls.nodes import decode_ratchet_tree
from veil.mls.proposals import Commit, decode_proposal
from veil.mls.state_codec import decode_state
from veil.mls.welcome import GroupInfo, GroupSecrets

__all__ = ["MLS_DECODERS"]


def _whole(decoder: Callable[[TlsReader], object]) -> Callable[[bytes], object]:
    return lambda data: decode(data, decoder)


MLS_DECODERS: tuple[tuple[str, Callable[[bytes], object]], ...] = (
    ("mls message", _whole(MLSMessage.decode)),
    ("mls group context", _whole(GroupContext.decode)),
    ("mls ratchet tree", _whole(decode_ratchet_tree)),
    ("mls group secrets", _whole(GroupSecrets.decode)),
    ("mls group info", _whole(GroupInfo.decode)),
    ("mls key package", _whole(KeyPackage.decode)),
    ("mls leaf node", _whole(LeafNode.decode)),
    ("mls proposal", _whole(decode_proposal)),
    ("mls commit", _whole(Commit.decode)),
    ("mls authenticated content", _whole(AuthenticatedContent.decode)),
    ("mls psk id", _whole(PreSharedKeyID.decode)),
    ("mls group state", decode_state),
)
