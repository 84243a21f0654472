"""Key agreement for link-based connections: X3DH's three DH outputs plus an
ML-KEM-768 secret, PQXDH-style, with no signatures (deniable).

The inviter publishes :class:`InvitationKeys` (in a link or QR code): an identity
key ``IK_B``, a second key ``SPK_B`` that is also its first ratchet key, and
optionally an ML-KEM-768 encapsulation key. The joiner answers with
:class:`ReplyKeys`: ``IK_A``, an ephemeral ``EK_A`` and, for PQ, a KEM ciphertext.
Both compute::

    DH1 = DH(IK_A, SPK_B)   DH2 = DH(EK_A, IK_B)   DH3 = DH(EK_A, SPK_B)
    SK  = HKDF-SHA256(salt = 0^32,
                      ikm  = 0xFF^32 || DH1 || DH2 || DH3 [|| KEM secret],
                      info = AGREEMENT_INFO || SHA-256(invitation || reply), L = 32)

The ``0xFF`` prefix is X3DH's domain separator; hashing both encoded messages into
``info`` binds every public key and both version ranges to the secret; the same
hash (the *transcript hash*) goes into the security code of a v2 connection. The
joiner then starts the ratchet as its initiator, at the agreed version, knowing the
highest version each side speaks so the session can upgrade in place later.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto.errors import CryptoError, InvalidKey
from veil.crypto.primitives import (
    MLKEM768_CIPHERTEXT_SIZE,
    MLKEM768_PUBLIC_KEY_SIZE,
    MLKEM768_SEED_SIZE,
    X25519_KEY_SIZE,
    MlKem768KeyPair,
    X25519KeyPair,
    hkdf_sha256,
    mlkem768_encapsulate,
    sha256,
)
from veil.crypto.random import RandomSource
from veil.ratchet.config import RatchetConfig
from veil.ratchet.double_ratchet import Encapsulate, Ratchet
from veil.ratchet.errors import (
    CorruptRatchetState,
    InvalidPeerKey,
    MalformedHandshake,
    PostQuantumDropped,
    UnsupportedRatchetVersion,
)
from veil.ratchet.security_code import SecurityCode, security_code
from veil.ratchet.skipped import SkipLimits
from veil.ratchet.versions import MAX_RATCHET_VERSION, RATCHET_V2
from veil.wire import NoCommonVersion, Reader, VersionRange, WireError, Writer

__all__ = [
    "AGREEMENT_INFO",
    "DOMAIN_SEPARATOR",
    "SUPPORTED_VERSIONS",
    "Agreement",
    "InvitationKeys",
    "InvitationSecrets",
    "ReplyKeys",
    "agreement_info",
    "join",
    "transcript_hash",
]

SUPPORTED_VERSIONS = VersionRange(1, MAX_RATCHET_VERSION)
AGREEMENT_INFO = b"Veil PQXDH v1 X25519 SHA-256 ML-KEM-768"
DOMAIN_SEPARATOR = b"\xff" * X25519_KEY_SIZE
INVITATION_SECRETS_FORMAT = 1
_MAX_MESSAGE_VERSION = 0xFF  # ratchet envelopes carry the version in one byte


def _write_optional(writer: Writer, value: bytes | None) -> Writer:
    return writer.u8(0) if value is None else writer.u8(1).raw(value)


def _read_optional(reader: Reader, size: int) -> bytes | None:
    flag = reader.u8()
    if flag > 1:
        raise MalformedHandshake(f"presence flag must be 0 or 1, got {flag}")
    return reader.raw(size) if flag else None


@dataclass(frozen=True, slots=True)
class InvitationKeys:
    """The inviter's public keys: ``versions || IK (32) || SPK (32) || u8 pq || [EK_KEM]``."""

    versions: VersionRange
    identity_key: bytes
    ratchet_key: bytes
    kem_public: bytes | None

    def encode(self) -> bytes:
        """Encode for a link."""
        writer = Writer()
        self.versions.encode(writer)
        writer.raw(self.identity_key).raw(self.ratchet_key)
        return _write_optional(writer, self.kem_public).build()

    @classmethod
    def decode(cls, data: bytes) -> InvitationKeys:
        """Decode strictly; :class:`MalformedHandshake` on any fault."""
        try:
            reader = Reader(data)
            versions = VersionRange.decode(reader)
            identity_key, ratchet_key = reader.raw(X25519_KEY_SIZE), reader.raw(X25519_KEY_SIZE)
            kem_public = _read_optional(reader, MLKEM768_PUBLIC_KEY_SIZE)
            reader.finish()
        except WireError as exc:
            raise MalformedHandshake(f"bad invitation keys: {exc}") from exc
        return cls(versions, identity_key, ratchet_key, kem_public)


@dataclass(frozen=True, slots=True)
class ReplyKeys:
    """The joiner's answer: ``versions || IK (32) || EK (32) || u8 pq || [KEM ct]``."""

    versions: VersionRange
    identity_key: bytes
    ephemeral_key: bytes
    kem_ciphertext: bytes | None

    def encode(self) -> bytes:
        """Encode for the confirmation message."""
        writer = Writer()
        self.versions.encode(writer)
        writer.raw(self.identity_key).raw(self.ephemeral_key)
        return _write_optional(writer, self.kem_ciphertext).build()

    @classmethod
    def decode(cls, data: bytes) -> ReplyKeys:
        """Decode strictly; :class:`MalformedHandshake` on any fault."""
        try:
            reader = Reader(data)
            versions = VersionRange.decode(reader)
            identity_key, ephemeral_key = reader.raw(X25519_KEY_SIZE), reader.raw(X25519_KEY_SIZE)
            kem_ciphertext = _read_optional(reader, MLKEM768_CIPHERTEXT_SIZE)
            reader.finish()
        except WireError as exc:
            raise MalformedHandshake(f"bad reply keys: {exc}") from exc
        return cls(versions, identity_key, ephemeral_key, kem_ciphertext)


@dataclass(frozen=True, slots=True)
class Agreement:
    """What both sides hold after the agreement; :meth:`ratchet` starts the session.

    ``associated_data`` is ``IK_joiner || IK_inviter`` (as in X3DH); the agent
    passes it (with anything else it binds) to every encrypt and decrypt.
    ``max_version`` and ``peer_max_version`` are the tops of the two version
    ranges; ``transcript_hash`` is ``SHA-256(invitation || reply)``.
    """

    version: int
    shared_secret: bytes
    pq: bool
    local_identity_key: bytes
    remote_identity_key: bytes
    associated_data: bytes
    is_initiator: bool
    remote_ratchet_key: bytes | None = None
    remote_kem_public: bytes | None = None
    ratchet_key_pair: X25519KeyPair | None = None
    kem_key_pair: MlKem768KeyPair | None = None
    max_version: int = 1
    peer_max_version: int = 1
    transcript_hash: bytes = b""

    def security_code(self) -> SecurityCode:
        """The code to compare: a v2 connection's covers the whole agreement
        transcript (so the ML-KEM key and ciphertext too), a v1 connection's only
        the identity keys, as before."""
        transcript = self.transcript_hash if self.version >= RATCHET_V2 else None
        return security_code(
            self.local_identity_key, self.remote_identity_key, transcript_hash=transcript
        )

    def ratchet(
        self,
        rng: RandomSource,
        *,
        limits: SkipLimits | None = None,
        encapsulate: Encapsulate = mlkem768_encapsulate,
    ) -> Ratchet:
        """Start this side's Double Ratchet (Veil configuration, PQ as agreed)."""
        config = RatchetConfig.veil(pq=self.pq, limits=limits)
        max_version = min(self.max_version, MAX_RATCHET_VERSION)
        if self.is_initiator:
            assert self.remote_ratchet_key is not None
            return Ratchet.initiate(
                config,
                self.shared_secret,
                self.remote_ratchet_key,
                rng,
                version=self.version,
                max_version=max_version,
                peer_max_version=self.peer_max_version,
                remote_kem_public=self.remote_kem_public if self.pq else None,
                encapsulate=encapsulate,
            )
        assert self.ratchet_key_pair is not None
        return Ratchet.respond(
            config,
            self.shared_secret,
            self.ratchet_key_pair,
            rng,
            version=self.version,
            max_version=max_version,
            peer_max_version=self.peer_max_version,
            kem_key_pair=self.kem_key_pair if self.pq else None,
            encapsulate=encapsulate,
        )


def _agree_version(ours: VersionRange, theirs: VersionRange) -> int:
    try:
        version = ours.agree(theirs)
    except NoCommonVersion as exc:
        raise UnsupportedRatchetVersion(str(exc)) from exc
    if version > _MAX_MESSAGE_VERSION:
        raise ValueError(f"ratchet versions above {_MAX_MESSAGE_VERSION} cannot be sent")
    return version


def transcript_hash(invitation: InvitationKeys, reply: ReplyKeys) -> bytes:
    """``SHA-256(encoded invitation || encoded reply)``: every public key, the KEM
    ciphertext and both version ranges of the agreement."""
    return sha256(invitation.encode() + reply.encode())


def agreement_info(invitation: InvitationKeys, reply: ReplyKeys) -> bytes:
    """The HKDF info of the agreement: ``AGREEMENT_INFO || SHA-256(invitation || reply)``."""
    return AGREEMENT_INFO + transcript_hash(invitation, reply)


def _derive_secret(
    dh_outputs: tuple[bytes, bytes, bytes],
    kem_secret: bytes | None,
    invitation: InvitationKeys,
    reply: ReplyKeys,
) -> bytes:
    ikm = DOMAIN_SEPARATOR + b"".join(dh_outputs) + (kem_secret or b"")
    info = agreement_info(invitation, reply)
    return hkdf_sha256(ikm, salt=bytes(X25519_KEY_SIZE), info=info, length=32)


def _dh(key_pair: X25519KeyPair, peer_public: bytes) -> bytes:
    try:
        return key_pair.exchange(peer_public)
    except InvalidKey as exc:
        raise InvalidPeerKey("peer's X25519 agreement key is invalid") from exc


def _encapsulate_to(kem_public: bytes, encapsulate: Encapsulate) -> tuple[bytes, bytes]:
    try:
        return encapsulate(kem_public)
    except InvalidKey as exc:
        raise InvalidPeerKey("invitation's ML-KEM-768 key is invalid") from exc


def join(
    invitation: InvitationKeys,
    rng: RandomSource,
    *,
    pq: bool = True,
    versions: VersionRange = SUPPORTED_VERSIONS,
    encapsulate: Encapsulate = mlkem768_encapsulate,
) -> tuple[ReplyKeys, Agreement]:
    """The joiner's side: answer ``invitation`` and derive the shared secret.

    PQ is used when the invitation offers a KEM key and ``pq`` is true.
    """
    version = _agree_version(versions, invitation.versions)
    identity, ephemeral = X25519KeyPair.generate(rng), X25519KeyPair.generate(rng)
    kem_secret = kem_ciphertext = None
    if pq and invitation.kem_public is not None:
        kem_secret, kem_ciphertext = _encapsulate_to(invitation.kem_public, encapsulate)
    reply = ReplyKeys(versions, identity.public, ephemeral.public, kem_ciphertext)
    dh_outputs = (
        _dh(identity, invitation.ratchet_key),
        _dh(ephemeral, invitation.identity_key),
        _dh(ephemeral, invitation.ratchet_key),
    )
    agreement = Agreement(
        version=version,
        shared_secret=_derive_secret(dh_outputs, kem_secret, invitation, reply),
        pq=kem_secret is not None,
        local_identity_key=identity.public,
        remote_identity_key=invitation.identity_key,
        associated_data=identity.public + invitation.identity_key,
        is_initiator=True,
        remote_ratchet_key=invitation.ratchet_key,
        remote_kem_public=invitation.kem_public,
        max_version=versions.maximum,
        peer_max_version=invitation.versions.maximum,
        transcript_hash=transcript_hash(invitation, reply),
    )
    return reply, agreement


@dataclass(frozen=True, slots=True)
class InvitationSecrets:
    """The inviter's private half of an invitation, kept until the reply arrives."""

    versions: VersionRange
    identity: X25519KeyPair
    ratchet_key: X25519KeyPair
    kem: MlKem768KeyPair | None

    @classmethod
    def generate(
        cls, rng: RandomSource, *, pq: bool = True, versions: VersionRange = SUPPORTED_VERSIONS
    ) -> InvitationSecrets:
        """Make fresh keys for one invitation."""
        identity, ratchet_key = X25519KeyPair.generate(rng), X25519KeyPair.generate(rng)
        return cls(versions, identity, ratchet_key, MlKem768KeyPair.generate(rng) if pq else None)

    @property
    def public(self) -> InvitationKeys:
        """The keys to put in the link."""
        kem_public = None if self.kem is None else self.kem.public
        return InvitationKeys(
            self.versions, self.identity.public, self.ratchet_key.public, kem_public
        )

    def accept(self, reply: ReplyKeys, *, require_pq: bool = False) -> Agreement:
        """The inviter's side: derive the shared secret from the joiner's reply.

        With ``require_pq``, a reply without a KEM ciphertext to an invitation that
        offered ML-KEM-768 is :class:`PostQuantumDropped` (the agent passes it so a
        first handshake cannot silently fall back to a classical session).
        """
        version = _agree_version(self.versions, reply.versions)
        if require_pq and self.kem is not None and reply.kem_ciphertext is None:
            raise PostQuantumDropped("the invitation offered ML-KEM-768 but the reply has no KEM")
        kem_secret = None
        if reply.kem_ciphertext is not None:
            if self.kem is None:
                raise MalformedHandshake("reply carries a KEM ciphertext but no KEM was offered")
            try:
                kem_secret = self.kem.decapsulate(reply.kem_ciphertext)
            except CryptoError as exc:
                raise InvalidPeerKey("reply's KEM ciphertext does not decapsulate") from exc
        dh_outputs = (
            _dh(self.ratchet_key, reply.identity_key),
            _dh(self.identity, reply.ephemeral_key),
            _dh(self.ratchet_key, reply.ephemeral_key),
        )
        return Agreement(
            version=version,
            shared_secret=_derive_secret(dh_outputs, kem_secret, self.public, reply),
            pq=kem_secret is not None,
            local_identity_key=self.identity.public,
            remote_identity_key=reply.identity_key,
            associated_data=reply.identity_key + self.identity.public,
            is_initiator=False,
            ratchet_key_pair=self.ratchet_key,
            kem_key_pair=self.kem,
            max_version=self.versions.maximum,
            peer_max_version=reply.versions.maximum,
            transcript_hash=transcript_hash(self.public, reply),
        )

    def to_bytes(self) -> bytes:
        """Persist: ``u8 format (1) || versions || IK priv || SPK priv || u8 pq || [seed]``."""
        writer = Writer().u8(INVITATION_SECRETS_FORMAT)
        self.versions.encode(writer)
        writer.raw(self.identity.private).raw(self.ratchet_key.private)
        return _write_optional(writer, None if self.kem is None else self.kem.seed).build()

    @classmethod
    def from_bytes(cls, data: bytes) -> InvitationSecrets:
        """Restore what :meth:`to_bytes` wrote; :class:`CorruptRatchetState` if damaged."""
        try:
            reader = Reader(data)
            if reader.u8() != INVITATION_SECRETS_FORMAT:
                raise CorruptRatchetState("unknown invitation secrets format")
            versions = VersionRange.decode(reader)
            identity = X25519KeyPair(reader.raw(X25519_KEY_SIZE))
            ratchet_key = X25519KeyPair(reader.raw(X25519_KEY_SIZE))
            seed = _read_optional(reader, MLKEM768_SEED_SIZE)
            reader.finish()
        except (WireError, CryptoError, MalformedHandshake) as exc:
            raise CorruptRatchetState(f"invitation secrets do not decode: {exc}") from exc
        return cls(versions, identity, ratchet_key, None if seed is None else MlKem768KeyPair(seed))
