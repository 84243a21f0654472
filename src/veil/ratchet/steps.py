"""The two halves of a DH ratchet step (Signal's DHRatchet, plus the PQ hybrid
and ratchet v2's root KDF), and the version bookkeeping that rides on them.

A step's version is that of the sending chain it starts: the sender picks the
highest version both sides speak (:func:`veil.ratchet.versions.next_sending_version`),
the receiver reads it from the message that starts the chain.
"""

from __future__ import annotations

from collections.abc import Callable

from veil.crypto.errors import CryptoError, InvalidKey
from veil.crypto.primitives import MlKem768KeyPair, X25519KeyPair, mlkem768_encapsulate
from veil.crypto.random import RandomSource
from veil.ratchet.config import RatchetConfig
from veil.ratchet.errors import InvalidPeerKey
from veil.ratchet.header import Header
from veil.ratchet.kdf import root_step, root_step_v2, root_transcript
from veil.ratchet.repair_keys import push
from veil.ratchet.state import RatchetState
from veil.ratchet.versions import (
    MAX_RATCHET_VERSION,
    RATCHET_V1,
    RATCHET_V2,
    next_sending_version,
)

__all__ = ["DhRatchetSteps", "Encapsulate", "exchange", "note_peer_version", "start_versions"]

Encapsulate = Callable[[bytes], tuple[bytes, bytes]]
"""ML-KEM-768 encapsulation: public key -> ``(shared secret, ciphertext)``.

Injected like the random source, because ``cryptography`` draws encapsulation
randomness internally; known-answer tests replay recorded outputs through it.
"""


class DhRatchetSteps:
    """Runs DH ratchet steps on a state (the live one, or a decryption's draft)."""

    __slots__ = ("_config", "_encapsulate", "_rng")

    def __init__(
        self,
        config: RatchetConfig,
        rng: RandomSource,
        encapsulate: Encapsulate = mlkem768_encapsulate,
    ) -> None:
        self._config = config
        self._rng = rng
        self._encapsulate = encapsulate

    def start_sending_chain(self, state: RatchetState, dh_self: X25519KeyPair) -> None:
        """Second half of a DH ratchet step: a new key pair and a new sending chain,
        at the highest version both sides speak. It is also the re-key a restored
        state waits for."""
        assert state.dh_remote is not None  # a sending chain always follows a remote key
        version = next_sending_version(state.version, state.max_version, state.peer_max_version)
        with_header_key = self._config.header_encryption
        kem_secret = kem_public = None
        if self._config.pq:
            assert state.kem_remote is not None  # PQ states always know the peer's KEM key
            state.kem_self = MlKem768KeyPair.generate(self._rng)
            kem_public = state.kem_self.public
            kem_secret, state.kem_ciphertext = self._encapsulate_to(state.kem_remote)
        dh_output = exchange(dh_self, state.dh_remote)
        if version >= RATCHET_V2:
            transcript = root_transcript(
                dh_self.public, state.dh_remote, state.kem_ciphertext, state.kem_remote, kem_public
            )
            step = root_step_v2(
                state.root_key, dh_output, kem_secret, transcript, header_key=with_header_key
            )
        else:
            step = root_step(state.root_key, dh_output, kem_secret, header_key=with_header_key)
        state.root_key, state.send_chain, next_header = step
        state.version, state.restored = version, False
        state.repair_keys = push(state.repair_keys, state.root_key, shared=False)
        state.dh_self = dh_self
        state.previous_length, state.send_number = state.send_number, 0
        state.header_send, state.next_header_send = state.next_header_send, next_header

    def _encapsulate_to(self, public_key: bytes) -> tuple[bytes, bytes]:
        try:
            return self._encapsulate(public_key)
        except InvalidKey as exc:
            raise InvalidPeerKey("peer's ML-KEM-768 public key is invalid") from exc

    def receive_step(self, draft: RatchetState, header: Header, version: int) -> None:
        """First half of a DH ratchet step: a new receiving chain from the peer's keys,
        derived at the version of the message that starts it."""
        kem_secret = own_kem_public = None
        if self._config.pq:
            assert draft.kem_self is not None and header.kem_ciphertext is not None
            own_kem_public = draft.kem_self.public
            try:
                kem_secret = draft.kem_self.decapsulate(header.kem_ciphertext)
            except CryptoError as exc:
                raise InvalidPeerKey("KEM ciphertext does not decapsulate") from exc
            draft.kem_remote = header.kem_public
        dh_output = exchange(draft.dh_self, header.ratchet_key)
        with_header_key = self._config.header_encryption
        if version >= RATCHET_V2:
            transcript = root_transcript(
                header.ratchet_key,
                draft.dh_self.public,
                header.kem_ciphertext,
                own_kem_public,
                header.kem_public,
            )
            step = root_step_v2(
                draft.root_key, dh_output, kem_secret, transcript, header_key=with_header_key
            )
        else:
            step = root_step(draft.root_key, dh_output, kem_secret, header_key=with_header_key)
        draft.root_key, draft.recv_chain, next_header = step
        draft.repair_keys = push(draft.repair_keys, draft.root_key, shared=True)
        draft.dh_remote, draft.recv_number = header.ratchet_key, 0
        draft.header_recv, draft.next_header_recv = draft.next_header_recv, next_header


def start_versions(
    config: RatchetConfig, state: RatchetState, max_version: int | None, peer_max: int | None
) -> None:
    """Record the versions a new session starts with; ``ValueError`` if inconsistent."""
    state.max_version = state.version if max_version is None else max_version
    state.peer_max_version = state.version if peer_max is None else min(peer_max, 0xFF)
    if not RATCHET_V1 <= state.version <= state.max_version <= MAX_RATCHET_VERSION:
        raise ValueError(f"ratchet versions {state.version}..{state.max_version} not supported")
    if state.max_version >= RATCHET_V2 and not config.supports_v2:
        raise ValueError("ratchet v2 needs header encryption and AES-256-GCM")
    state.repair_keys = push((), state.root_key, shared=True)


def note_peer_version(state: RatchetState, peer_version: int) -> None:
    """Record that the peer speaks ``peer_version`` (what we know never goes down)."""
    state.peer_max_version = max(state.peer_max_version, peer_version)


def exchange(key_pair: X25519KeyPair, peer_public: bytes) -> bytes:
    """X25519; a low-order or malformed peer key is the peer's fault (InvalidPeerKey)."""
    try:
        return key_pair.exchange(peer_public)
    except InvalidKey as exc:
        raise InvalidPeerKey("peer's X25519 ratchet key is invalid") from exc
