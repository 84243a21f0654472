"""Authenticated, encrypted repair frames (REPAIR_OFFER and REPAIR_ACCEPT).

Repair exists because the ratchet can no longer authenticate, so repair frames
need a secret of their own that does not move with the ratchet. At every agreement
(the first one and each repair) both sides derive a *repair key* from the
agreement's shared secret and keep it in the queue state::

    repair_key = HKDF-SHA256(ikm = shared secret, salt = IK_joiner || IK_inviter,
                             info = REPAIR_KEY_INFO, L = 32)

Each direction encrypts with its own key, named by the sender's role::

    frame_key(role) = HKDF-SHA256(ikm = repair_key, salt = "",
                                  info = REPAIR_FRAME_KEY_INFO || u8 role, L = 32)

and a repair frame body is::

    u64 counter || 12 nonce || AES-256-GCM(frame_key(sender role), nonce, payload, ad)
    ad = REPAIR_FRAME_AD || u8 frame kind || u8 sender role || u64 counter

The counter starts at 1 for every repair key and the receiver accepts only a counter
above the last one it accepted, so a relay cannot replay an old frame. The nonce is
random rather than the counter because a side that restores a backup rewinds its
counter, and a counter nonce would then repeat under the same key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from veil.agent.errors import ConnectionStateCorrupt, RepairRejected
from veil.agent.frames import fill, unfill
from veil.crypto import (
    AuthenticationFailed,
    RandomSource,
    aead_decrypt,
    aead_encrypt,
    hkdf_sha256,
)
from veil.crypto.primitives import AEAD_TAG_SIZE
from veil.ratchet.agreement import Agreement
from veil.wire import Reader, WireError, Writer

__all__ = [
    "REPAIR_FRAME_AD",
    "REPAIR_FRAME_KEY_INFO",
    "REPAIR_KEY_INFO",
    "RepairAuth",
]

REPAIR_KEY_INFO = b"veil/agent/v1/repair-key"
REPAIR_FRAME_KEY_INFO = b"veil/agent/v1/repair-frame-key"
REPAIR_FRAME_AD = b"veil/agent/v1/repair-frame"
_KEY_SIZE = 32
_NONCE_SIZE = 12
_COUNTER_SIZE = 8
_MAX_COUNTER = 2**64 - 1
_INVITER, _JOINER = 0, 1


@dataclass(frozen=True, slots=True)
class RepairAuth:
    """The repair key of the current agreement and its replay counters.

    ``pq`` records whether that agreement used ML-KEM, so a repair cannot drop it.
    Persisted as ``32 key || u8 role || u8 pq || u64 sent || u64 received``.
    """

    key: bytes
    is_joiner: bool
    pq: bool
    sent: int = 0
    received: int = 0

    @classmethod
    def from_agreement(cls, agreement: Agreement) -> RepairAuth:
        """Derive the repair key of a fresh agreement (the joiner is its initiator)."""
        key = hkdf_sha256(
            agreement.shared_secret,
            salt=agreement.associated_data,
            info=REPAIR_KEY_INFO,
            length=_KEY_SIZE,
        )
        return cls(key, agreement.is_initiator, agreement.pq)

    def seal(self, kind: int, payload: bytes, rng: RandomSource) -> tuple[RepairAuth, bytes]:
        """Encrypt a repair frame body of ``kind``; return the advanced state and it."""
        counter = self.sent + 1
        role = _JOINER if self.is_joiner else _INVITER
        nonce = rng.random_bytes(_NONCE_SIZE)
        filled = fill(payload, _COUNTER_SIZE + _NONCE_SIZE + AEAD_TAG_SIZE)
        sealed = aead_encrypt(
            self._frame_key(role), nonce, filled, _associated(kind, role, counter)
        )
        header = Writer().u64(counter).raw(nonce).build()
        return replace(self, sent=counter), header + sealed

    def open(self, kind: int, body: bytes) -> tuple[RepairAuth, bytes]:
        """Authenticate and decrypt a peer's repair frame body of ``kind``.

        Returns the state with the counter accepted, and the payload; a frame that
        does not authenticate, or replays a counter, is :class:`RepairRejected`.
        """
        reader = Reader(body)
        try:
            counter, nonce, sealed = reader.u64(), reader.raw(_NONCE_SIZE), reader.rest()
        except WireError as exc:
            raise RepairRejected(f"repair frame is too short: {exc}") from exc
        role = _INVITER if self.is_joiner else _JOINER
        try:
            associated = _associated(kind, role, counter)
            filled = aead_decrypt(self._frame_key(role), nonce, sealed, associated)
        except AuthenticationFailed as exc:
            raise RepairRejected("repair frame did not authenticate") from exc
        payload = unfill(filled)
        if counter <= self.received:
            raise RepairRejected(f"repair frame counter {counter} was already used")
        return replace(self, received=counter), payload

    def _frame_key(self, role: int) -> bytes:
        info = REPAIR_FRAME_KEY_INFO + bytes((role,))
        return hkdf_sha256(self.key, salt=b"", info=info, length=_KEY_SIZE)

    def encode(self, writer: Writer) -> None:
        """Append the persisted form."""
        writer.raw(self.key).u8(int(self.is_joiner)).u8(int(self.pq))
        writer.u64(self.sent).u64(self.received)

    @classmethod
    def decode(cls, reader: Reader) -> RepairAuth:
        """Read the fields written by :meth:`encode`."""
        key, role, pq = reader.raw(_KEY_SIZE), reader.u8(), reader.u8()
        if role > 1 or pq > 1:
            raise ConnectionStateCorrupt(f"bad repair role {role} or pq flag {pq}")
        return cls(key, bool(role), bool(pq), reader.u64(), reader.u64())


def _associated(kind: int, role: int, counter: int) -> bytes:
    if not 0 < counter <= _MAX_COUNTER:
        raise RepairRejected(f"repair frame counter {counter} is out of range")
    return Writer().raw(REPAIR_FRAME_AD).u8(kind).u8(role).u64(counter).build()
