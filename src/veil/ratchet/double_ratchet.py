"""The Double Ratchet (Signal's specification) with header encryption and a
post-quantum hybrid, as one core parametrised by :class:`RatchetConfig`.

Decryption is transactional: it plans every change on a clone of the state and a
list of skipped keys to add, and commits only after the body authenticated.

Two protocol versions share the core (see :mod:`veil.ratchet.versions`): each
sending chain has one version, carried in every message of the chain and bound
as the header's associated data; version 2 salts the body cipher and binds the
step's public values into the root KDF.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from veil.crypto.primitives import (
    AEAD_NONCE_SIZE,
    MlKem768KeyPair,
    X25519KeyPair,
    mlkem768_encapsulate,
)
from veil.crypto.random import RandomSource
from veil.ratchet.ciphers import SaltedAesGcmCipher, open_header, seal_header
from veil.ratchet.config import RatchetConfig
from veil.ratchet.errors import (
    CannotSendYet,
    DuplicateMessage,
    HeaderDecryptionFailed,
    RekeyRequired,
    TooManySkippedMessages,
    UnsupportedRatchetVersion,
)
from veil.ratchet.header import Envelope, Header, body_associated_data, decode_received_header
from veil.ratchet.kdf import chain_step, initial_header_keys
from veil.ratchet.persist import decode_session, encode_session
from veil.ratchet.repair_keys import RepairKey, find, newest_shared
from veil.ratchet.skipped import SkipLimits, SkippedKey, SkippedKeys
from veil.ratchet.state import RatchetState
from veil.ratchet.steps import (
    DhRatchetSteps,
    Encapsulate,
    note_peer_version,
    start_versions,
)
from veil.ratchet.versions import (
    CAPABLE_VERSION,
    RATCHET_V1,
    RATCHET_V2,
    mark_capable,
)

__all__ = ["Encapsulate", "Ratchet"]


@dataclass(slots=True)
class _Plan:
    """What a successful decryption will commit."""

    message_key: bytes
    state: RatchetState | None = None
    added: list[SkippedKey] = field(default_factory=list)
    consumed: tuple[bytes, int] | None = None
    peer_version: int = RATCHET_V1
    """The highest version the message shows its sender speaks."""


_SALTED_CIPHER = SaltedAesGcmCipher()


class Ratchet:
    """One side of a Double Ratchet session.

    Build it with :meth:`initiate` (the side that sends first) or :meth:`respond`,
    or from an agreement (:meth:`veil.ratchet.agreement.Agreement.ratchet`).
    """

    __slots__ = ("_config", "_rng", "_skipped", "_state", "_steps")

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
        self._steps = DhRatchetSteps(config, rng, encapsulate)
        self._skipped = SkippedKeys() if skipped is None else skipped

    @classmethod
    def initiate(
        cls,
        config: RatchetConfig,
        shared_secret: bytes,
        remote_ratchet_key: bytes,
        rng: RandomSource,
        *,
        version: int = RATCHET_V1,
        max_version: int | None = None,
        peer_max_version: int | None = None,
        remote_kem_public: bytes | None = None,
        encapsulate: Encapsulate = mlkem768_encapsulate,
    ) -> Ratchet:
        """The initiator (Signal's Alice): starts its sending chain at once.

        ``version`` is the agreed version, ``max_version`` the highest this side
        may upgrade to and ``peer_max_version`` the highest the peer is known to
        speak (both default to ``version``: no upgrade).
        """
        if config.pq != (remote_kem_public is not None):
            raise ValueError("a remote KEM public key is required exactly when PQ is on")
        dh_self = X25519KeyPair.generate(rng)
        state = RatchetState(version, shared_secret, dh_self, dh_remote=remote_ratchet_key)
        start_versions(config, state, max_version, peer_max_version)
        state.kem_remote = remote_kem_public
        if config.header_encryption:
            state.next_header_send, state.next_header_recv = initial_header_keys(shared_secret)
        ratchet = cls(config, state, rng, encapsulate)
        ratchet._steps.start_sending_chain(state, dh_self)
        return ratchet

    @classmethod
    def respond(
        cls,
        config: RatchetConfig,
        shared_secret: bytes,
        ratchet_key_pair: X25519KeyPair,
        rng: RandomSource,
        *,
        version: int = RATCHET_V1,
        max_version: int | None = None,
        peer_max_version: int | None = None,
        kem_key_pair: MlKem768KeyPair | None = None,
        encapsulate: Encapsulate = mlkem768_encapsulate,
    ) -> Ratchet:
        """The responder (Signal's Bob): can send once the first message arrived.

        The version arguments mean what they mean for :meth:`initiate`.
        """
        if config.pq != (kem_key_pair is not None):
            raise ValueError("a KEM key pair is required exactly when PQ is on")
        state = RatchetState(version, shared_secret, ratchet_key_pair, kem_self=kem_key_pair)
        start_versions(config, state, max_version, peer_max_version)
        if config.header_encryption:
            state.next_header_recv, state.next_header_send = initial_header_keys(shared_secret)
        return cls(config, state, rng, encapsulate)

    @property
    def config(self) -> RatchetConfig:
        """The configuration this ratchet runs."""
        return self._config

    @property
    def version(self) -> int:
        """The ratchet version of the messages this side sends now."""
        return self._state.version

    @property
    def max_version(self) -> int:
        """The highest ratchet version this side may upgrade the session to."""
        return self._state.max_version

    @property
    def peer_max_version(self) -> int:
        """The highest ratchet version the peer is known to speak."""
        return self._state.peer_max_version

    @property
    def needs_rekey(self) -> bool:
        """True after :meth:`mark_restored` until this side's next DH turn."""
        return self._state.restored

    def mark_restored(self) -> None:
        """Mark this state as restored from a backup: it may have sent with its
        current sending chain after the backup was made, so :meth:`encrypt` raises
        :class:`RekeyRequired` until a message from the peer has made this side
        turn the DH ratchet (a new sending chain from fresh randomness)."""
        self._state.restored = True

    def repair_key(self) -> RepairKey | None:
        """The newest repair-authentication key the peer also holds, named by its id;
        ``None`` for a state migrated from format 1 before its next DH step."""
        return newest_shared(self._state.repair_keys)

    def repair_key_for(self, key_id: bytes) -> bytes | None:
        """The repair key named ``key_id`` if it is among this side's recent keys."""
        return find(self._state.repair_keys, key_id)

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
        """Encrypt one message; :class:`CannotSendYet` before the responder's first
        receipt, :class:`RekeyRequired` from a restored state not yet re-keyed.

        The result is exactly ``config.message_size(len(plaintext))`` bytes.
        """
        state = self._state
        if state.send_chain is None:
            raise CannotSendYet("the responder sends only after the first message arrived")
        if state.restored:
            raise RekeyRequired(
                "this ratchet state was restored from a backup: wait for the peer's next "
                "message (or repair the connection) before sending"
            )
        next_chain, message_key = chain_step(state.send_chain)
        ratchet_key = state.dh_self.public
        if state.max_version >= CAPABLE_VERSION:
            ratchet_key = mark_capable(ratchet_key)
        kem_public = None if state.kem_self is None else state.kem_self.public
        header = Header(
            ratchet_key, state.previous_length, state.send_number, kem_public, state.kem_ciphertext
        ).encode()
        salt = b""
        if state.header_send is not None:
            salt = self._rng.random_bytes(AEAD_NONCE_SIZE)
            header = seal_header(state.header_send, salt, header, bytes([state.version]))
        prefix = Envelope.build(state.version, header, b"")
        body_ad = body_associated_data(associated_data, prefix)
        if state.version >= RATCHET_V2:
            body = _SALTED_CIPHER.seal(message_key, salt, plaintext, body_ad)
        else:
            body = self._config.cipher.seal(message_key, plaintext, body_ad)
        state.send_chain, state.send_number = next_chain, state.send_number + 1
        return prefix + body

    # -- receiving -------------------------------------------------------------

    def decrypt(self, message: bytes, associated_data: bytes) -> bytes:
        """Decrypt and authenticate one message; commit state changes only on success.

        Raises a :class:`~veil.ratchet.errors.RatchetProtocolError` subclass for a
        malformed, forged, duplicate or over-limit message; the state is then
        exactly as before the call.
        """
        config = self._config
        envelope = Envelope.parse(message, expected_header_size=config.header_field_size)
        version = envelope.version
        if not RATCHET_V1 <= version <= self._state.max_version:
            raise UnsupportedRatchetVersion(
                f"message has ratchet version {version}, this side speaks "
                f"{RATCHET_V1}..{self._state.max_version}"
            )
        if config.header_encryption:
            plan = self._plan_sealed(envelope.header, version)
        else:
            plan = self._plan_plain(*decode_received_header(envelope.header, config.pq, version))
        body_ad = body_associated_data(associated_data, envelope.prefix)
        if version >= RATCHET_V2:
            salt = envelope.header[:AEAD_NONCE_SIZE]
            plaintext = _SALTED_CIPHER.open(plan.message_key, salt, envelope.body, body_ad)
        else:
            plaintext = config.cipher.open(plan.message_key, envelope.body, body_ad)
        if plan.state is not None:
            self._state = plan.state
        note_peer_version(self._state, plan.peer_version)
        self._skipped.commit(plan.added, plan.consumed, config.limits)
        return plaintext

    def _plan_sealed(self, sealed: bytes, version: int) -> _Plan:
        """Header encryption: try HKr, then NHKr (a DH step), then skipped chains.

        The header's associated data is the message's version byte, so a changed
        version fails here."""
        state, pq = self._state, self._config.pq
        header_ad = bytes([version])
        if state.header_recv is not None:
            opened = open_header(state.header_recv, sealed, header_ad)
            if opened is not None:
                header, peer_version = decode_received_header(opened, pq, version)
                return self._plan_current(header, state.header_recv, peer_version)
        if state.next_header_recv is not None:
            opened = open_header(state.next_header_recv, sealed, header_ad)
            if opened is not None:
                return self._plan_new_chain(*decode_received_header(opened, pq, version), version)
        for chain_id in self._skipped.chain_ids():
            if chain_id == state.header_recv:
                continue  # already tried above
            opened = open_header(chain_id, sealed, header_ad)
            if opened is not None:
                return self._plan_skipped(chain_id, *decode_received_header(opened, pq, version))
        raise HeaderDecryptionFailed("no header key opens this message")

    def _plan_plain(self, header: Header, peer_version: int) -> _Plan:
        """No header encryption: the sender's ratchet key names the chain."""
        if header.ratchet_key == self._state.dh_remote:
            return self._plan_current(header, header.ratchet_key, peer_version)
        if header.ratchet_key in self._skipped.chain_ids():
            return self._plan_skipped(header.ratchet_key, header, peer_version)
        return self._plan_new_chain(header, peer_version, RATCHET_V1)

    def _plan_skipped(self, chain_id: bytes, header: Header, peer_version: int) -> _Plan:
        message_key = self._skipped.lookup(chain_id, header.message_number)
        if message_key is None:
            raise DuplicateMessage("message of an old chain was already decrypted")
        consumed = (chain_id, header.message_number)
        return _Plan(message_key, consumed=consumed, peer_version=peer_version)

    def _plan_current(self, header: Header, chain_id: bytes, peer_version: int) -> _Plan:
        """A message in the current receiving chain: stored, duplicate, or ahead."""
        number = header.message_number
        message_key = self._skipped.lookup(chain_id, number)
        if message_key is not None:
            return _Plan(message_key, consumed=(chain_id, number), peer_version=peer_version)
        if number < self._state.recv_number:
            raise DuplicateMessage(f"message {number} of this chain was already decrypted")
        plan = _Plan(b"", self._state.clone(), peer_version=peer_version)
        plan.message_key = self._advance_receiving(plan, chain_id, number)
        return plan

    def _plan_new_chain(self, header: Header, peer_version: int, version: int) -> _Plan:
        """The peer turned the DH ratchet: finish the old chain, step twice (our new
        sending chain already uses what this message shows the peer speaks)."""
        draft = self._state.clone()
        plan = _Plan(b"", draft, peer_version=peer_version)
        if draft.recv_chain is not None:
            old_chain_id = self._chain_id(draft)
            self._skip_to(plan, old_chain_id, header.previous_length)
        self._steps.receive_step(draft, header, version)
        note_peer_version(draft, peer_version)
        self._steps.start_sending_chain(draft, X25519KeyPair.generate(self._rng))
        plan.message_key = self._advance_receiving(
            plan, self._chain_id(draft), header.message_number
        )
        return plan

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
        """Serialise the whole session (format 2, see :mod:`veil.ratchet.state`)."""
        return encode_session(self._config, self._state, self._skipped)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        rng: RandomSource,
        *,
        limits: SkipLimits | None = None,
        encapsulate: Encapsulate = mlkem768_encapsulate,
    ) -> Ratchet:
        """Restore a session written by :meth:`to_bytes` (format 2) or by Veil before
        ratchet v2 (format 1, migrated); :class:`CorruptRatchetState` if the bytes are
        damaged. Skipped keys beyond ``limits`` are evicted."""
        config, state, skipped = decode_session(data, limits or SkipLimits())
        return cls(config, state, rng, encapsulate, skipped)
