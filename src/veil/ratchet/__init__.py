"""Veil's ratchet layer: key agreement, the post-quantum Double Ratchet, security codes.

Typical use::

    secrets = InvitationSecrets.generate(rng)                 # inviter
    reply, joiner = join(secrets.public, rng)                 # joiner
    inviter = secrets.accept(reply)                           # inviter
    alice, bob = joiner.ratchet(rng), inviter.ratchet(rng)
    bob.decrypt(alice.encrypt(b"hi", joiner.associated_data), inviter.associated_data)

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
    RatchetError,
    RatchetProtocolError,
    TooManySkippedMessages,
    UnsupportedRatchetVersion,
)
from veil.ratchet.security_code import SecurityCode, security_code
from veil.ratchet.skipped import SkipLimits

__all__ = [
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
    "Ratchet",
    "RatchetConfig",
    "RatchetError",
    "RatchetProtocolError",
    "ReplyKeys",
    "SecurityCode",
    "SkipLimits",
    "TooManySkippedMessages",
    "UnsupportedRatchetVersion",
    "join",
    "max_plaintext_overhead",
    "security_code",
]
