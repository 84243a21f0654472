"""Veil's ratchet layer: key agreement, the post-quantum Double Ratchet, security codes.

Typical use::

    secrets = InvitationSecrets.generate(rng)                 # inviter
    reply, joiner = join(secrets.public, rng)                 # joiner
    inviter = secrets.accept(reply)                           # inviter
    alice, bob = joiner.ratchet(rng), inviter.ratchet(rng)
    bob.decrypt(alice.encrypt(b"hi", joiner.associated_data), inviter.associated_data)
    code = joiner.security_code()                             # compare out of band

Sessions negotiate the ratchet version (1 or 2) and upgrade in place; see
:mod:`veil.ratchet.versions`. Agent-facing extras: :meth:`Ratchet.mark_restored`
(restore rule), :meth:`Ratchet.repair_key` / :meth:`Ratchet.repair_key_for`
(repair authentication that heals), ``InvitationSecrets.accept(reply,
require_pq=True)`` (refuse a reply that drops ML-KEM).

The package is pure: it never touches clocks, sockets or global randomness.
"""

from veil.ratchet.agreement import (
    SUPPORTED_VERSIONS,
    Agreement,
    InvitationKeys,
    InvitationSecrets,
    ReplyKeys,
    join,
)
from veil.ratchet.config import RatchetConfig, max_plaintext_overhead
from veil.ratchet.double_ratchet import Encapsulate, Ratchet
from veil.ratchet.errors import (
    CannotSendYet,
    CorruptRatchetState,
    DuplicateMessage,
    HeaderDecryptionFailed,
    InvalidPeerKey,
    MalformedHandshake,
    MalformedMessage,
    MessageAuthenticationFailed,
    PostQuantumDropped,
    RatchetError,
    RatchetProtocolError,
    RekeyRequired,
    TooManySkippedMessages,
    UnsupportedRatchetVersion,
)
from veil.ratchet.repair_keys import REPAIR_KEY_WINDOW, RepairKey
from veil.ratchet.security_code import SecurityCode, security_code
from veil.ratchet.skipped import SkipLimits
from veil.ratchet.versions import MAX_RATCHET_VERSION

__all__ = [
    "MAX_RATCHET_VERSION",
    "REPAIR_KEY_WINDOW",
    "SUPPORTED_VERSIONS",
    "Agreement",
    "CannotSendYet",
    "CorruptRatchetState",
    "DuplicateMessage",
    "Encapsulate",
    "HeaderDecryptionFailed",
    "InvalidPeerKey",
    "InvitationKeys",
    "InvitationSecrets",
    "MalformedHandshake",
    "MalformedMessage",
    "MessageAuthenticationFailed",
    "PostQuantumDropped",
    "Ratchet",
    "RatchetConfig",
    "RatchetError",
    "RatchetProtocolError",
    "RekeyRequired",
    "RepairKey",
    "ReplyKeys",
    "SecurityCode",
    "SkipLimits",
    "TooManySkippedMessages",
    "UnsupportedRatchetVersion",
    "join",
    "max_plaintext_overhead",
    "security_code",
]
