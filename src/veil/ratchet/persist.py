"""A whole ratchet session as bytes: configuration, state, skipped keys.

Format 2 is written; format 1 (Veil before ratchet v2) is still read and migrated:
its fields are a prefix of format 2's, and the fields format 2 added take the
values an upgraded implementation starts from. The session may now use the
highest version this implementation speaks (if its configuration allows v2), the
peer is assumed to speak only v1 until one of its headers says otherwise, and no
repair key is known until the next DH ratchet step (the agent keeps using the
agreement's repair key until then).
"""

from __future__ import annotations

from veil.crypto.errors import CryptoError
from veil.ratchet.config import RatchetConfig
from veil.ratchet.errors import CorruptRatchetState
from veil.ratchet.skipped import SkipLimits, SkippedKeys
from veil.ratchet.state import (
    FLAG_HEADER_ENCRYPTION,
    FLAG_PQ,
    STATE_FORMAT_V1,
    STATE_FORMAT_VERSION,
    RatchetState,
)
from veil.ratchet.versions import MAX_RATCHET_VERSION, RATCHET_V1
from veil.wire import Reader, WireError, Writer

__all__ = ["decode_session", "encode_session"]


def encode_session(config: RatchetConfig, state: RatchetState, skipped: SkippedKeys) -> bytes:
    """Serialise a session in the current format (see :mod:`veil.ratchet.state`)."""
    flags = (FLAG_HEADER_ENCRYPTION if config.header_encryption else 0) | (
        FLAG_PQ if config.pq else 0
    )
    writer = Writer().u8(STATE_FORMAT_VERSION).u16(state.version)
    writer.u8(flags).u8(config.cipher.cipher_id)
    state.encode(writer)
    skipped.encode(writer)
    state.encode_trailer(writer)
    return writer.build()


def decode_session(
    data: bytes, limits: SkipLimits
) -> tuple[RatchetConfig, RatchetState, SkippedKeys]:
    """Read a session of format 1 or 2; :class:`CorruptRatchetState` if damaged."""
    try:
        reader = Reader(data)
        state_format = reader.u8()
        if state_format not in (STATE_FORMAT_V1, STATE_FORMAT_VERSION):
            raise CorruptRatchetState(f"unknown ratchet state format {state_format}")
        version, flags, cipher_id = reader.u16(), reader.u8(), reader.u8()
        if flags & ~(FLAG_HEADER_ENCRYPTION | FLAG_PQ):
            raise CorruptRatchetState(f"unknown state flags {flags:#x}")
        config = RatchetConfig.restore(
            bool(flags & FLAG_HEADER_ENCRYPTION), bool(flags & FLAG_PQ), cipher_id, limits
        )
        state = RatchetState.decode(reader, version)
        skipped = SkippedKeys.decode(reader, limits)
        if state_format == STATE_FORMAT_V1:
            _migrate_from_v1(config, state)
        else:
            state.decode_trailer(reader)
        reader.finish()
    except (WireError, CryptoError) as exc:
        raise CorruptRatchetState(f"ratchet state does not decode: {exc}") from exc
    if state.max_version > RATCHET_V1 and not config.supports_v2:
        raise CorruptRatchetState("ratchet v2 state without header encryption and AES-GCM")
    return config, state, skipped


def _migrate_from_v1(config: RatchetConfig, state: RatchetState) -> None:
    if state.version != RATCHET_V1:
        raise CorruptRatchetState(f"format 1 state names ratchet version {state.version}")
    state.max_version = MAX_RATCHET_VERSION if config.supports_v2 else RATCHET_V1
