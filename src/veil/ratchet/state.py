"""The Double Ratchet's state variables and their persisted byte format.

Layout of format 2 (all integers big-endian); format 1 is the same without the
trailer, and migrates (see :mod:`veil.ratchet.persist`)::

    format        u8   STATE_FORMAT_VERSION (2)
    version       u16  ratchet version of this side's current sending chain
    flags         u8   bit 0: header encryption, bit 1: PQ; other bits zero
    cipher        u8   message cipher id (1 AES-256-GCM, 2 Signal CBC+HMAC)
    root_key      32
    dh_private    32   own current X25519 ratchet private key
    send_number   u32  Ns
    prev_length   u32  PN
    recv_number   u32  Nr
    then each optional field as ``u8 present (0|1) || value``:
    dh_remote 32, send_chain 32, recv_chain 32, header_send 32,
    next_header_send 32, header_recv 32, next_header_recv 32,
    kem_seed 64, kem_remote 1184, kem_ciphertext 1088
    skipped       u32 count || count x (chain id 32 || u32 number || key 32)
    trailer (format 2 only):
    max_version   u8   highest version this side may use
    peer_max      u8   highest version the peer is known to speak
    restored      u8   1 while a restored state has not yet re-keyed
    repair keys   u8 count || count x (key id 8 || key 32 || u8 shared)
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto.primitives import (
    MLKEM768_CIPHERTEXT_SIZE,
    MLKEM768_PUBLIC_KEY_SIZE,
    MLKEM768_SEED_SIZE,
    MlKem768KeyPair,
    X25519KeyPair,
)
from veil.ratchet.kdf import KEY_SIZE
from veil.ratchet.repair_keys import RepairKeyWindow, decode_window, encode_window
from veil.ratchet.versions import MAX_RATCHET_VERSION, RATCHET_V1
from veil.wire import DecodeError, Reader, Writer

__all__ = ["STATE_FORMAT_V1", "STATE_FORMAT_VERSION", "RatchetState"]

STATE_FORMAT_V1 = 1
STATE_FORMAT_VERSION = 2
FLAG_HEADER_ENCRYPTION = 0x01
FLAG_PQ = 0x02

# Optional 32-byte fields, in their persisted order.
_OPTIONAL_KEYS = (
    "dh_remote",
    "send_chain",
    "recv_chain",
    "header_send",
    "next_header_send",
    "header_recv",
    "next_header_recv",
)


@dataclass(slots=True)
class RatchetState:
    """Signal's state variables (DHs, DHr, RK, CKs, CKr, Ns, Nr, PN, HKs, HKr,
    NHKs, NHKr) plus the PQ hybrid's: our KEM key pair, the peer's KEM public key
    and the KEM ciphertext our current sending chain's headers carry; and, since
    format 2, the versions this side and its peer speak, the restored mark and the
    window of repair keys."""

    version: int
    root_key: bytes
    dh_self: X25519KeyPair
    dh_remote: bytes | None = None
    send_chain: bytes | None = None
    recv_chain: bytes | None = None
    header_send: bytes | None = None
    next_header_send: bytes | None = None
    header_recv: bytes | None = None
    next_header_recv: bytes | None = None
    send_number: int = 0
    previous_length: int = 0
    recv_number: int = 0
    kem_self: MlKem768KeyPair | None = None
    kem_remote: bytes | None = None
    kem_ciphertext: bytes | None = None
    max_version: int = RATCHET_V1
    peer_max_version: int = RATCHET_V1
    restored: bool = False
    repair_keys: RepairKeyWindow = ()

    def clone(self) -> RatchetState:
        """A shallow copy: every field is immutable, so this is a full snapshot.
        (Spelled out: ``dataclasses.replace`` costs more than a whole chain step.)"""
        return RatchetState(
            self.version,
            self.root_key,
            self.dh_self,
            self.dh_remote,
            self.send_chain,
            self.recv_chain,
            self.header_send,
            self.next_header_send,
            self.header_recv,
            self.next_header_recv,
            self.send_number,
            self.previous_length,
            self.recv_number,
            self.kem_self,
            self.kem_remote,
            self.kem_ciphertext,
            self.max_version,
            self.peer_max_version,
            self.restored,
            self.repair_keys,
        )

    def encode(self, writer: Writer) -> None:
        """Append everything after the format/flags/cipher prefix."""
        writer.raw(self.root_key).raw(self.dh_self.private)
        writer.u32(self.send_number).u32(self.previous_length).u32(self.recv_number)
        for name in _OPTIONAL_KEYS:
            _write_optional(writer, getattr(self, name))
        _write_optional(writer, None if self.kem_self is None else self.kem_self.seed)
        _write_optional(writer, self.kem_remote)
        _write_optional(writer, self.kem_ciphertext)

    @classmethod
    def decode(cls, reader: Reader, version: int) -> RatchetState:
        """Read what :meth:`encode` wrote; wire/crypto errors propagate to the caller."""
        state = cls(version, reader.raw(KEY_SIZE), X25519KeyPair(reader.raw(KEY_SIZE)))
        state.send_number, state.previous_length = reader.u32(), reader.u32()
        state.recv_number = reader.u32()
        for name in _OPTIONAL_KEYS:
            setattr(state, name, _read_optional(reader, KEY_SIZE))
        kem_seed = _read_optional(reader, MLKEM768_SEED_SIZE)
        state.kem_self = None if kem_seed is None else MlKem768KeyPair(kem_seed)
        state.kem_remote = _read_optional(reader, MLKEM768_PUBLIC_KEY_SIZE)
        state.kem_ciphertext = _read_optional(reader, MLKEM768_CIPHERTEXT_SIZE)
        return state

    def encode_trailer(self, writer: Writer) -> None:
        """Append the fields format 2 added (after the skipped keys)."""
        writer.u8(self.max_version).u8(self.peer_max_version).u8(int(self.restored))
        encode_window(writer, self.repair_keys)

    def decode_trailer(self, reader: Reader) -> None:
        """Read what :meth:`encode_trailer` wrote into this state; ``DecodeError`` if a
        version is out of range or the flag is not a boolean."""
        self.max_version, self.peer_max_version = reader.u8(), reader.u8()
        restored = reader.u8()
        if not RATCHET_V1 <= self.version <= self.max_version <= MAX_RATCHET_VERSION:
            raise DecodeError(
                f"versions {self.version}/{self.max_version}: state of a newer Veil or damaged"
            )
        if self.peer_max_version < RATCHET_V1 or restored > 1:
            raise DecodeError("peer version or restored flag out of range")
        self.restored = bool(restored)
        self.repair_keys = decode_window(reader)


def _write_optional(writer: Writer, value: bytes | None) -> None:
    if value is None:
        writer.u8(0)
    else:
        writer.u8(1).raw(value)


def _read_optional(reader: Reader, size: int) -> bytes | None:
    present = reader.u8()
    if present > 1:
        raise DecodeError(f"presence flag must be 0 or 1, got {present}")
    return reader.raw(size) if present else None
