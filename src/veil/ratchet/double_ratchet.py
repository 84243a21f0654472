"""The Double Ratchet (Signal's specification) with header encryption and a
post-quantum hybrid, as one core parametrised by :class:`RatchetConfig`.

Decryption is transactional: it plans every change on a clone of the state and a
list of skipped keys to add, and commits only after the body authenticated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from veil.crypto.errors import CryptoError, InvalidKey
from veil.crypto.primitives import (
    AEAD_NONCE_SIZE,
    MlKem768KeyPair,
    X25519KeyPair,
    mlkem768_encapsulate,
)
from veil.crypto.random import RandomSource
from veil.ratchet.ciphers import open_header, seal_header
from veil.ratchet.config import RatchetConfig
from veil.ratchet.errors import (
    CannotSendYet,
    CorruptRatchetState,
    DuplicateMessage,
    HeaderDecryptionFailed,
    InvalidPeerKey,
    TooManySkippedMessages,
    UnsupportedRatchetVersion,
)
from veil.ratchet.header import Envelope, Header, body_associated_data
from veil.ratchet.kdf import chain_step, initial_header_keys, root_step
from veil.ratchet.skipped import SkipLimits, SkippedKey, SkippedKeys
from veil.ratchet.state import (
    FLAG_HEADER_ENCRYPTION,
    FLAG_PQ,
    STATE_FORMAT_VERSION,
    RatchetState,
)
from veil.wire import Reader, WireError, Writer

__all__ = ["Encapsulate", "Ratchet"]

Encapsulate = Callable[[bytes], tuple[bytes, bytes]]
"""ML-KEM-768 encapsulation: public key -> ``(shared secret, ciphertext)``.

Injected like the random source, because ``cryptography`` draws encapsulation
randomness internally; known-answer tests replay recorded outputs through it.
"""


@dataclass(slots=True)
class _Plan:
    """What a successful decryption will commit."""

    message_key: bytes
    state: RatchetState | None = None
    added: list[SkippedKey] = field(default_factory=list)
    consumed: tuple[bytes, int] | None = None


class Ratchet:
    """One side of a Double Ratchet session.

    Build it with :meth:`initiate` (the side that sends first) or :meth:`respond`,
    or from an agreement (:meth:`veil.ratchet.agreement.Agreement.ratchet`).
    """

    __slots__ = ("_config", "_encapsulate", "_rng", "_skipped", "_state")

    def __init__(
        self,
        config: RatchetConfig,
        state: RatchetState,
        rng: RandomSource,
        encapsulate: Encapsulate = mlkem768_encapsulate,
        skipped: SkippedKeys | None = None,
    ) -> None:
        self._config = config
        self._state = state
        self._rng = rng
        self._encapsulate = encapsulate
        self._skipped = SkippedKeys() if skipped is None else skipped

    @classmethod
    def initiate(
        cls,
        config: RatchetConfig,
        shared_secret: bytes,
        remote_ratchet_key: bytes,
        rng: RandomSource,
        *,
        version: int = 1,
        remote_kem_public: bytes | None = None,
        encapsulate: Encapsulate = mlkem768_encapsulate,
    ) -> Ratchet:
        """The initiator (Signal's Alice): starts its sending chain at once."""
        if config.pq != (remote_kem_public is not None):
            raise ValueError("a remote KEM public key is required exactly when PQ is on")
        dh_self = X25519KeyPair.generate(rng)
        state = RatchetState(version, shared_secret, dh_self, dh_remote=remote_ratchet_key)
        state.kem_remote = remote_kem_public
        if config.header_encryption:
            state.next_header_send, state.next_header_recv = initial_header_keys(shared_secret)
        ratchet = cls(config, state, rng, encapsulate)
        ratchet._start_sending_chain(state, dh_self)
        return ratchet

    @classmethod
    def respond(
        cls,
        config: RatchetConfig,
        shared_secret: bytes,
        ratchet_key_pair: X25519KeyPair,
        rng: RandomSource,
        *,
        version: int = 1,
        kem_key_pair: MlKem768KeyPair | None = None,
        encapsulate: Encapsulate = mlkem768_encapsulate,
    ) -> Ratchet:
        """The responder (Signal's Bob): can send once the first message arrived."""
        if config.pq != (kem_key_pair is not None):
            raise ValueError("a KEM key pair is required exactly when PQ is on")
        state = RatchetState(version, shared_secret, ratchet_key_pair, kem_self=kem_key_pair)
        if config.header_encryption:
            state.next_header_recv, state.next_header_send = initial_header_keys(shared_secret)
        return cls(config, state, rng, encapsulate)

    @property
    def config(self) -> RatchetConfig:
        """The configuration this ratchet runs."""
        return self._config

    @property
    def version(self) -> int:
        """The ratchet protocol version this session agreed."""
        return self._state.version

    @property
    def can_send(self) -> bool:
        """False only for a responder that has not received the first message yet."""
        return self._state.send_chain is not None

    @property
    def skipped_key_count(self) -> int:
        """How many skipped message keys are stored."""
        return len(self._skipped)

    # -- sending ---------------------------------------------------------------

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        """Encrypt one message; :class:`CannotSendYet` before the responder's first receipt.

        The result is exactly ``config.message_size(len(plaintext))`` bytes.
        """
        state = self._state
        if state.send_chain is None:
            raise CannotSendYet("the responder sends only after the first message arrived")
        next_chain, message_key = chain_step(state.send_chain)
        header = Header(
            state.dh_self.public,
            state.previous_length,
            state.send_number,
            None if state.kem_self is None else state.kem_self.public,
            state.kem_ciphertext,
        ).encode()
        if state.header_send is not None:
            nonce = self._rng.random_bytes(AEAD_NONCE_SIZE)
            header = seal_header(state.header_send, nonce, header, bytes([state.version]))
        prefix = Envelope.build(state.version, header, b"")
        body_ad = body_associated_data(associated_data, prefix)
        body = self._config.cipher.seal(message_key, plaintext, body_ad)
        state.send_chain, state.send_number = next_chain, state.send_number + 1
        return prefix + body

    def _start_sending_chain(self, state: RatchetState, dh_self: X25519KeyPair) -> None:
        """Second half of a DH ratchet step: a new key pair and a new sending chain."""
        assert state.dh_remote is not None  # a sending chain always follows a remote key
        kem_secret = None
        if self._config.pq:
            assert state.kem_remote is not None  # PQ states always know the peer's KEM key
            state.kem_self = MlKem768KeyPair.generate(self._rng)
            kem_secret, state.kem_ciphertext = self._encapsulate_to(state.kem_remote)
        dh_output = _exchange(dh_self, state.dh_remote)
        state.root_key, state.send_chain, next_header = root_step(
            state.root_key, dh_output, kem_secret, header_key=self._config.header_encryption
        )
        state.dh_self = dh_self
        state.previous_length, state.send_number = state.send_number, 0
        state.header_send, state.next_header_send = state.next_header_send, next_header

    def _encapsulate_to(self, public_key: bytes) -> tuple[bytes, bytes]:
        try:
            return self._encapsulate(public_key)
        except InvalidKey as exc:
            raise InvalidPeerKey("peer's ML-KEM-768 public key is invalid") from exc

    # -- receiving -------------------------------------------------------------

    def decrypt(self, message: bytes, associated_data: bytes) -> bytes:
        """Decrypt and authenticate one message; commit state changes only on success.

        Raises a :class:`~veil.ratchet.errors.RatchetProtocolError` subclass for a
        malformed, forged, duplicate or over-limit message; the state is then
        exactly as before the call.
        """
        config = self._config
        envelope = Envelope.parse(message, expected_header_size=config.header_field_size)
        if envelope.version != self._state.version:
            raise UnsupportedRatchetVersion(
                f"message has ratchet version {envelope.version}, session uses "
                f"{self._state.version}"
            )
        if config.header_encryption:
            plan = self._plan_sealed(envelope.header)
        else:
            plan = self._plan_plain(Header.decode(envelope.header, pq=config.pq))
        body_ad = body_associated_data(associated_data, envelope.prefix)
        plaintext = config.cipher.open(plan.message_key, envelope.body, body_ad)
        if plan.state is not None:
            self._state = plan.state
        self._skipped.commit(plan.added, plan.consumed, config.limits)
        return plaintext

    def _plan_sealed(self, sealed: bytes) -> _Plan:
        """Header encryption: try HKr, then NHKr (a DH step), then skipped chains."""
        state, pq = self._state, self._config.pq
        header_ad = bytes([state.version])
        if state.header_recv is not None:
            opened = open_header(state.header_recv, sealed, header_ad)
            if opened is not None:
                return self._plan_current(Header.decode(opened, pq=pq), state.header_recv)
        if state.next_header_recv is not None:
            opened = open_header(state.next_header_recv, sealed, header_ad)
            if opened is not None:
                return self._plan_new_chain(Header.decode(opened, pq=pq))
        for chain_id in self._skipped.chain_ids():
            if chain_id == state.header_recv:
                continue  # already tried above
            opened = open_header(chain_id, sealed, header_ad)
            if opened is not None:
                return self._plan_skipped(chain_id, Header.decode(opened, pq=pq))
        raise HeaderDecryptionFailed("no header key opens this message")

    def _plan_plain(self, header: Header) -> _Plan:
        """No header encryption: the sender's ratchet key names the chain."""
        if header.ratchet_key == self._state.dh_remote:
            return self._plan_current(header, header.ratchet_key)
        if header.ratchet_key in self._skipped.chain_ids():
            return self._plan_skipped(header.ratchet_key, header)
        return self._plan_new_chain(header)

    def _plan_skipped(self, chain_id: bytes, header: Header) -> _Plan:
        message_key = self._skipped.lookup(chain_id, header.message_number)
        if message_key is None:
            raise DuplicateMessage("message of an old chain was already decrypted")
        return _Plan(message_key, consumed=(chain_id, header.message_number))

    def _plan_current(self, header: Header, chain_id: bytes) -> _Plan:
        """A message in the current receiving chain: stored, duplicate, or ahead."""
        number = header.message_number
        message_key = self._skipped.lookup(chain_id, number)
        if message_key is not None:
            return _Plan(message_key, consumed=(chain_id, number))
        if number < self._state.recv_number:
            raise DuplicateMessage(f"message {number} of this chain was already decrypted")
        plan = _Plan(b"", self._state.clone())
        plan.message_key = self._advance_receiving(plan, chain_id, number)
        return plan

    def _plan_new_chain(self, header: Header) -> _Plan:
        """The peer turned the DH ratchet: finish the old chain, step twice."""
        draft = self._state.clone()
        plan = _Plan(b"", draft)
        if draft.recv_chain is not None:
            old_chain_id = self._chain_id(draft)
            self._skip_to(plan, old_chain_id, header.previous_length)
        self._receive_step(draft, header)
        self._start_sending_chain(draft, X25519KeyPair.generate(self._rng))
        plan.message_key = self._advance_receiving(
            plan, self._chain_id(draft), header.message_number
        )
        return plan

    def _receive_step(self, draft: RatchetState, header: Header) -> None:
        """First half of a DH ratchet step: a new receiving chain from the peer's keys."""
        kem_secret = None
        if self._config.pq:
            assert draft.kem_self is not None and header.kem_ciphertext is not None
            try:
                kem_secret = draft.kem_self.decapsulate(header.kem_ciphertext)
            except CryptoError as exc:
                raise InvalidPeerKey("KEM ciphertext does not decapsulate") from exc
            draft.kem_remote = header.kem_public
        dh_output = _exchange(draft.dh_self, header.ratchet_key)
        draft.root_key, draft.recv_chain, next_header = root_step(
            draft.root_key, dh_output, kem_secret, header_key=self._config.header_encryption
        )
        draft.dh_remote, draft.recv_number = header.ratchet_key, 0
        draft.header_recv, draft.next_header_recv = draft.next_header_recv, next_header

    def _advance_receiving(self, plan: _Plan, chain_id: bytes, number: int) -> bytes:
        """Skip to message ``number`` of the draft's receiving chain; return its key."""
        self._skip_to(plan, chain_id, number)
        draft = plan.state
        assert draft is not None and draft.recv_chain is not None
        draft.recv_chain, message_key = chain_step(draft.recv_chain)
        draft.recv_number += 1
        return message_key

    def _skip_to(self, plan: _Plan, chain_id: bytes, until: int) -> None:
        """Derive and stage the keys of messages ``recv_number .. until - 1``."""
        draft = plan.state
        assert draft is not None and draft.recv_chain is not None
        limit = self._config.limits.max_skip
        if until - draft.recv_number > limit:
            raise TooManySkippedMessages(
                f"message would skip {until - draft.recv_number} keys (limit {limit})"
            )
        chain = draft.recv_chain
        for number in range(draft.recv_number, until):
            chain, message_key = chain_step(chain)
            plan.added.append((chain_id, number, message_key))
        draft.recv_chain, draft.recv_number = chain, max(draft.recv_number, until)

    def _chain_id(self, state: RatchetState) -> bytes:
        chain_id = state.header_recv if self._config.header_encryption else state.dh_remote
        assert chain_id is not None  # only asked while a receiving chain exists
        return chain_id

    # -- persistence -----------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Serialise the whole session (format v1, see :mod:`veil.ratchet.state`)."""
        config = self._config
        flags = (FLAG_HEADER_ENCRYPTION if config.header_encryption else 0) | (
            FLAG_PQ if config.pq else 0
        )
        writer = Writer().u8(STATE_FORMAT_VERSION).u16(self._state.version)
        writer.u8(flags).u8(config.cipher.cipher_id)
        self._state.encode(writer)
        self._skipped.encode(writer)
        return writer.build()

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        rng: RandomSource,
        *,
        limits: SkipLimits | None = None,
        encapsulate: Encapsulate = mlkem768_encapsulate,
    ) -> Ratchet:
        """Restore a session written by :meth:`to_bytes`; :class:`CorruptRatchetState`
        if the bytes are damaged. Skipped keys beyond ``limits`` are evicted."""
        limits = limits or SkipLimits()
        try:
            reader = Reader(data)
            if reader.u8() != STATE_FORMAT_VERSION:
                raise CorruptRatchetState("unknown ratchet state format")
            version, flags, cipher_id = reader.u16(), reader.u8(), reader.u8()
            if flags & ~(FLAG_HEADER_ENCRYPTION | FLAG_PQ):
                raise CorruptRatchetState(f"unknown state flags {flags:#x}")
            config = RatchetConfig.restore(
                bool(flags & FLAG_HEADER_ENCRYPTION), bool(flags & FLAG_PQ), cipher_id, limits
            )
            state = RatchetState.decode(reader, version)
            skipped = SkippedKeys.decode(reader, limits)
            reader.finish()
        except (WireError, CryptoError) as exc:
            raise CorruptRatchetState(f"ratchet state does not decode: {exc}") from exc
        return cls(config, state, rng, encapsulate, skipped)


def _exchange(key_pair: X25519KeyPair, peer_public: bytes) -> bytes:
    try:
        return key_pair.exchange(peer_public)
    except InvalidKey as exc:
        raise InvalidPeerKey("peer's X25519 ratchet key is invalid") from exc
