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

Connections agreed at agent version 2 authenticate with keys that heal instead
(F2): the ratchet exports one per root key and keeps the last 16
(:meth:`~veil.ratchet.double_ratchet.Ratchet.repair_key`), and the frame names the
key it used::

    body = key id (8) || u64 counter || 12 nonce || AES-256-GCM(frame_key, nonce, payload, ad)
    frame_key = HKDF-SHA256(ikm = ratchet repair key, salt = "",
                            info = REPAIR_FRAME_KEY_INFO_V2 || u8 role, L = 32)
    ad = REPAIR_FRAME_AD_V2 || u8 frame kind || u8 sender role || key id || u64 counter

A stolen key (or an old backup) stops working once the ratchet has moved 16 root
steps past it. A restored side jumps its counter by :data:`RESTORE_COUNTER_JUMP`
so its frames are not taken for replays of what it sent after the backup.
"""

from __future__ import annotations

from collections.abc import Callable
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
from veil.ratchet.repair_keys import REPAIR_KEY_ID_SIZE, RepairKey
from veil.wire import Reader, WireError, Writer

__all__ = [
    "REPAIR_FRAME_AD",
    "REPAIR_FRAME_AD_V2",
    "REPAIR_FRAME_KEY_INFO",
    "REPAIR_FRAME_KEY_INFO_V2",
    "REPAIR_KEY_INFO",
    "RESTORE_COUNTER_JUMP",
    "RepairAuth",
    "RepairKeys",
]

REPAIR_KEY_INFO = b"veil/agent/v1/repair-key"
REPAIR_FRAME_KEY_INFO = b"veil/agent/v1/repair-frame-key"
REPAIR_FRAME_AD = b"veil/agent/v1/repair-frame"
REPAIR_FRAME_KEY_INFO_V2 = b"veil/agent/v2/repair-frame-key"
REPAIR_FRAME_AD_V2 = b"veil/agent/v2/repair-frame"
RESTORE_COUNTER_JUMP = 2**32
"""Added to the send counter of a restored state: more than any side sends between a
backup and its restore, and 2^32 restores fit in the u64 counter."""
_KEY_SIZE = 32
_NONCE_SIZE = 12
_COUNTER_SIZE = 8
_MAX_COUNTER = 2**64 - 1
_INVITER, _JOINER = 0, 1

RepairKeys = Callable[[bytes], bytes | None]
"""Looks up a ratchet repair key by its id (``Ratchet.repair_key_for``)."""


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

    def seal(
        self, kind: int, payload: bytes, rng: RandomSource, key: RepairKey | None = None
    ) -> tuple[RepairAuth, bytes]:
        """Encrypt a repair frame body of ``kind``; return the advanced state and it.

        With ``key`` (a ratchet repair key, agent version 2) the frame names it;
        without, it uses the agreement's repair key (agent version 1).
        """
        counter = self.sent + 1
        role = _JOINER if self.is_joiner else _INVITER
        nonce = rng.random_bytes(_NONCE_SIZE)
        key_id = b"" if key is None else key.key_id
        frame_key = self._frame_key(role) if key is None else _frame_key_v2(key.key, role)
        filled = fill(payload, len(key_id) + _COUNTER_SIZE + _NONCE_SIZE + AEAD_TAG_SIZE)
        associated = _associated(kind, role, counter, key_id, v2=key is not None)
        sealed = aead_encrypt(frame_key, nonce, filled, associated)
        header = Writer().raw(key_id).u64(counter).raw(nonce).build()
        return replace(self, sent=counter), header + sealed

    def open(
        self, kind: int, body: bytes, keys: RepairKeys | None = None
    ) -> tuple[RepairAuth, bytes, bytes]:
        """Authenticate and decrypt a peer's repair frame body of ``kind``.

        ``keys`` looks up a ratchet repair key by id (agent version 2; ``None``: the
        agreement's key). Returns the state with the counter accepted, the payload
        and the key id used (empty for version 1); a frame that does not
        authenticate, names a key no longer kept, or replays a counter is
        :class:`RepairRejected`.
        """
        reader = Reader(body)
        try:
            key_id = b"" if keys is None else reader.raw(REPAIR_KEY_ID_SIZE)
            counter, nonce, sealed = reader.u64(), reader.raw(_NONCE_SIZE), reader.rest()
        except WireError as exc:
            raise RepairRejected(f"repair frame is too short: {exc}") from exc
        role = _INVITER if self.is_joiner else _JOINER
        frame_key = self._frame_key(role)
        if keys is not None:
            ratchet_key = keys(key_id)
            if ratchet_key is None:
                raise RepairRejected(
                    "repair frame names a key this side no longer keeps (older than the "
                    "repair window): connect again with a new invitation"
                )
            frame_key = _frame_key_v2(ratchet_key, role)
        try:
            associated = _associated(kind, role, counter, key_id, v2=keys is not None)
            filled = aead_decrypt(frame_key, nonce, sealed, associated)
        except AuthenticationFailed as exc:
            raise RepairRejected("repair frame did not authenticate") from exc
        payload = unfill(filled)
        if counter <= self.received:
            raise RepairRejected(f"repair frame counter {counter} was already used")
        return replace(self, received=counter), payload, key_id

    def restored(self) -> RepairAuth:
        """This state after a restore from a backup: the send counter jumps ahead of
        anything the lost device may have sent since the backup."""
        return replace(self, sent=min(self.sent + RESTORE_COUNTER_JUMP, _MAX_COUNTER - 1))

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


def _frame_key_v2(key: bytes, role: int) -> bytes:
    info = REPAIR_FRAME_KEY_INFO_V2 + bytes((role,))
    return hkdf_sha256(key, salt=b"", info=info, length=_KEY_SIZE)


def _associated(kind: int, role: int, counter: int, key_id: bytes, *, v2: bool) -> bytes:
    if not 0 < counter <= _MAX_COUNTER:
        raise RepairRejected(f"repair frame counter {counter} is out of range")
    label = REPAIR_FRAME_AD_V2 if v2 else REPAIR_FRAME_AD
    return Writer().raw(label).u8(kind).u8(role).raw(key_id).u64(counter).build()
