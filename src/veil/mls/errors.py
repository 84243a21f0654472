"""Errors of the MLS layer (codes 7xx): one hierarchy for all of ``veil.mls``.

:class:`MLSProtocolError` and its subclasses mean bytes from another member (or the
log that carried them) break RFC 9420: the message is rejected and the group state is
left exactly as it was, so the caller may drop it and go on. The other subclasses of
:class:`MLSError` are local faults: damaged persisted state, or a secret the caller was
asked for and does not hold. Misuse of the API (a wrong type, an impossible argument)
raises ``ValueError``/``TypeError`` early instead.
"""

from __future__ import annotations

from typing import ClassVar

from veil.errors import ProtocolError, VeilError

__all__ = [
    "CorruptGroupState",
    "DecryptionFailed",
    "InvalidCommit",
    "InvalidConfirmationTag",
    "InvalidGroupInfo",
    "InvalidKeyPackage",
    "InvalidLeafNode",
    "InvalidMembership",
    "InvalidMembershipTag",
    "InvalidMessagePadding",
    "InvalidProposal",
    "InvalidPublicKey",
    "InvalidSignature",
    "InvalidTree",
    "InvalidVarint",
    "InvalidWelcome",
    "LengthExceedsCap",
    "MLSDecodeError",
    "MLSError",
    "MLSProtocolError",
    "MLSTrailingBytes",
    "MissingProposal",
    "MissingPskSecret",
    "MustCommitFirst",
    "NoMatchingKeyPackage",
    "SecretAlreadyUsed",
    "SecretTooFarAhead",
    "UnsupportedCipherSuite",
    "UnsupportedProtocolVersion",
    "UnsupportedStateVersion",
    "WrongContentType",
    "WrongEpoch",
    "WrongGroup",
]


class MLSError(VeilError):
    """Base class of every error the MLS layer raises."""

    code: ClassVar[int] = 700


class MLSProtocolError(MLSError, ProtocolError):
    """A message or structure from the group breaks RFC 9420; our state did not change.
    Drop the message; if it was a commit, the group may need to be re-joined."""

    code: ClassVar[int] = 701


# --- encoding (RFC 9420 §2.1) -------------------------------------------------------


class MLSDecodeError(MLSProtocolError):
    """A structure is truncated or holds an impossible value (unknown enum, bad flag)."""

    code: ClassVar[int] = 702


class MLSTrailingBytes(MLSProtocolError):
    """A structure decoded but bytes were left over; strict parsers reject that."""

    code: ClassVar[int] = 703


class InvalidVarint(MLSProtocolError):
    """A variable-length integer is not minimally encoded or uses the reserved prefix."""

    code: ClassVar[int] = 704


class LengthExceedsCap(MLSProtocolError):
    """A vector announces more bytes than the cap this field allows."""

    code: ClassVar[int] = 705


class UnsupportedCipherSuite(MLSProtocolError):
    """A structure names a cipher suite Veil does not implement."""

    code: ClassVar[int] = 706


class UnsupportedProtocolVersion(MLSProtocolError):
    """A structure names a protocol version other than mls10."""

    code: ClassVar[int] = 707


# --- cryptographic checks -----------------------------------------------------------


class InvalidSignature(MLSProtocolError):
    """A signature does not verify under the signer's key (forged or corrupted)."""

    code: ClassVar[int] = 710


class InvalidMembershipTag(MLSProtocolError):
    """A PublicMessage's membership tag is wrong: it was not sent by a member."""

    code: ClassVar[int] = 711


class DecryptionFailed(MLSProtocolError):
    """An AEAD or HPKE ciphertext does not open with the key it should open with."""

    code: ClassVar[int] = 712


class InvalidConfirmationTag(MLSProtocolError):
    """A commit's or GroupInfo's confirmation tag disagrees with the new key schedule."""

    code: ClassVar[int] = 713


class InvalidPublicKey(MLSProtocolError):
    """An HPKE or signature public key from the group is malformed (length, encoding)."""

    code: ClassVar[int] = 715


class InvalidMessagePadding(MLSProtocolError):
    """A PrivateMessage's padding holds a byte other than zero."""

    code: ClassVar[int] = 714


# --- message context ----------------------------------------------------------------


class WrongGroup(MLSProtocolError):
    """A message names a group id other than this group's."""

    code: ClassVar[int] = 720


class WrongEpoch(MLSProtocolError):
    """A message belongs to an epoch this member cannot (or can no longer) process."""

    code: ClassVar[int] = 721


class WrongContentType(MLSProtocolError):
    """A message carries a content type its wire format or sender may not carry."""

    code: ClassVar[int] = 722


class InvalidMembership(MLSProtocolError):
    """The sender is not a member: a blank or out-of-range leaf, or a removed member."""

    code: ClassVar[int] = 723


class SecretAlreadyUsed(MLSProtocolError):
    """The key for this generation was used already or deleted (replay, or too late)."""

    code: ClassVar[int] = 724


class SecretTooFarAhead(MLSProtocolError):
    """A generation lies further ahead than the configured skip window allows."""

    code: ClassVar[int] = 725


# --- group operations (RFC 9420 §12) ------------------------------------------------


class InvalidProposal(MLSProtocolError):
    """A proposal is malformed or not allowed here (RFC 9420 §12.1, §12.2)."""

    code: ClassVar[int] = 730


class MissingProposal(MLSProtocolError):
    """A commit references a proposal this member never received."""

    code: ClassVar[int] = 731


class InvalidCommit(MLSProtocolError):
    """A commit breaks a rule of RFC 9420 §12.4.2 (path missing, own removal, ...)."""

    code: ClassVar[int] = 732


class InvalidTree(MLSProtocolError):
    """A ratchet tree fails validation: tree hash, parent hash or structure."""

    code: ClassVar[int] = 733


class InvalidLeafNode(MLSProtocolError):
    """A leaf node fails validation (RFC 9420 §7.3): source, capabilities, lifetime."""

    code: ClassVar[int] = 734


class InvalidKeyPackage(MLSProtocolError):
    """A key package fails validation (RFC 9420 §10.1)."""

    code: ClassVar[int] = 735


class InvalidWelcome(MLSProtocolError):
    """A Welcome does not decrypt to a consistent group (RFC 9420 §12.4.3.1)."""

    code: ClassVar[int] = 736


class NoMatchingKeyPackage(InvalidWelcome):
    """A Welcome has no secrets for any key package this member holds."""

    code: ClassVar[int] = 737


class InvalidGroupInfo(MLSProtocolError):
    """A GroupInfo is inconsistent with its tree or its signature."""

    code: ClassVar[int] = 738


# --- local faults -------------------------------------------------------------------


class CorruptGroupState(MLSError):
    """Persisted group state does not decode: storage is damaged. Restore a backup."""

    code: ClassVar[int] = 780


class UnsupportedStateVersion(MLSError):
    """Persisted group state has a version this build cannot read. Upgrade Veil."""

    code: ClassVar[int] = 781


class MustCommitFirst(MLSError):
    """This state was restored from storage: its sending keys may have been used before
    the backup was taken. Commit (an Update with a path, sent as a PublicMessage) first."""

    code: ClassVar[int] = 783


class MissingPskSecret(MLSError):
    """A pre-shared key the group needs is not in the caller's PSK store; supply it."""

    code: ClassVar[int] = 782
