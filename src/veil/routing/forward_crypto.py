"""The cryptography of the proxy hop: two nested envelopes, all sans I/O.

**Client layer** (client <-> destination, the proxy cannot read it). For every
command the client draws a fresh X25519 key ``E`` and agrees a secret with the
destination's session key ``S`` (signed by the destination's identity, checked
in :meth:`ProxiedDestination.verify`)::

    ikm  = X25519(E, S) || E.public || S.public
    salt = destination session id
    command key, nonce  = HKDF-SHA256(ikm, salt, COMMAND_KEY_INFO)[0:32], [32:44]
    response key, nonce = HKDF-SHA256(ikm, salt, RESPONSE_KEY_INFO)[0:32], [32:44]

The command is the ordinary relay transmission the client would send directly,
padded to :data:`~veil.routing.codec.FORWARDED_COMMAND_SIZE` and sealed with
AES-256-GCM (associated data: the ``u16`` routing version). Each key seals one
message, so a nonce never repeats under a key.

**Forward layer** (proxy <-> destination). The proxy holds one X25519 key ``F``
per session to a destination and re-encrypts ``E.public || sealed command`` for
every forward under a fresh 32-byte random ``seed``::

    ikm  = X25519(F, S) || F.public || S.public
    salt = destination session id || seed
    keys as above with FORWARD_COMMAND_INFO / FORWARD_RESPONSE_INFO

So the bytes the proxy receives and the bytes it sends share nothing, and the
destination sees a fresh ``E`` per command and no client identifier at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto import (
    AuthenticationFailed,
    InvalidKey,
    InvalidPadding,
    RandomSource,
    X25519KeyPair,
    aead_decrypt,
    aead_encrypt,
    constant_time_equal,
    hkdf_sha256,
    pad,
    sha256,
    unpad,
)
from veil.crypto.primitives import AEAD_KEY_SIZE, AEAD_NONCE_SIZE, X25519_KEY_SIZE
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import HandshakeFailed
from veil.relay.protocol.handshake import RELAY_VERSIONS, ServerHello
from veil.routing.codec import (
    FORWARD_SEED_SIZE,
    FORWARDED_COMMAND_SIZE,
    FORWARDED_RESPONSE_SIZE,
    ROUTING_VERSIONS,
    ProxyForward,
    ProxyKey,
    ProxyResponse,
    RelayForward,
    RelayResponse,
)
from veil.routing.errors import (
    DestinationKeySubstituted,
    DestinationNotVerified,
    DestinationSessionKeyForged,
    ForwardRejected,
    UnsupportedRoutingVersion,
)
from veil.wire import VersionRange

__all__ = [
    "COMMAND_KEY_INFO",
    "FORWARD_COMMAND_INFO",
    "FORWARD_RESPONSE_INFO",
    "MAX_FORWARDS_PER_SESSION",
    "RESPONSE_KEY_INFO",
    "ForwardReceiver",
    "OpenedForward",
    "PendingCommand",
    "PendingForward",
    "ProxiedDestination",
    "ProxyForwarder",
]

COMMAND_KEY_INFO = b"veil routing v1 command client->destination"
RESPONSE_KEY_INFO = b"veil routing v1 response destination->client"
FORWARD_COMMAND_INFO = b"veil routing v1 forward proxy->destination"
FORWARD_RESPONSE_INFO = b"veil routing v1 forward destination->proxy"

MAX_FORWARDS_PER_SESSION = 4096
"""Forwards one destination session opens. It remembers every ephemeral key it opened,
so no replay ever gets through (a window of recent keys could be flushed by the
proxy with forwards of its own); a proxy opens a new session before reaching this."""
_FORWARD_SECRETS_KEPT = 4


@dataclass(frozen=True, slots=True)
class _OneTimeKey:
    """An AES-256-GCM key with the one nonce it is ever used with."""

    key: bytes
    nonce: bytes

    @classmethod
    def derive(cls, ikm: bytes, salt: bytes, info: bytes) -> _OneTimeKey:
        okm = hkdf_sha256(ikm, salt=salt, info=info, length=AEAD_KEY_SIZE + AEAD_NONCE_SIZE)
        return cls(okm[:AEAD_KEY_SIZE], okm[AEAD_KEY_SIZE:])

    def seal(self, plaintext: bytes, version: int) -> bytes:
        return aead_encrypt(self.key, self.nonce, plaintext, _version_aad(version))

    def open(self, ciphertext: bytes, version: int, what: str) -> bytes:
        try:
            return aead_decrypt(self.key, self.nonce, ciphertext, _version_aad(version))
        except AuthenticationFailed as exc:
            raise ForwardRejected(f"{what} does not authenticate") from exc


def _version_aad(version: int) -> bytes:
    return version.to_bytes(2, "big")


def _unpad(padded: bytes, what: str) -> bytes:
    try:
        return unpad(padded)
    except InvalidPadding as exc:
        raise ForwardRejected(f"{what} is not padded correctly") from exc


def _check_version(version: int) -> None:
    if version not in ROUTING_VERSIONS:
        raise UnsupportedRoutingVersion(f"routing version {version} is not in {ROUTING_VERSIONS}")


# -- client ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingCommand:
    """What the client keeps of one forwarded command to read its response."""

    version: int
    response_key: _OneTimeKey

    def open_response(self, response: ProxyResponse) -> bytes:
        """Return the destination's response transmission; :class:`ForwardRejected` if forged."""
        padded = self.response_key.open(response.sealed, self.version, "response")
        return _unpad(padded, "response")


@dataclass(frozen=True, slots=True)
class ProxiedDestination:
    """A destination relay as seen through a proxy, after its proof was checked.

    Build it with :meth:`verify`. Its ``session_id``, ``session_key`` and
    ``relay_version`` are what the client's relay session code needs to build
    authenticated transmissions bound to the proxy's session at the destination.
    """

    address: RelayAddress
    proxy_session_id: bytes
    identity_key: bytes
    session_id: bytes
    session_key: bytes
    relay_version: int
    routing_version: int

    @classmethod
    def verify(
        cls,
        address: RelayAddress,
        key: ProxyKey,
        *,
        relay_versions: VersionRange = RELAY_VERSIONS,
        routing_versions: VersionRange = ROUTING_VERSIONS,
    ) -> ProxiedDestination:
        """Check a proxy's ``PKEY`` against the pinned ``address``.

        Raises :class:`DestinationKeySubstituted` if the identity key does not match
        the address's fingerprint, :class:`DestinationSessionKeyForged` if that
        identity did not sign the session key, :class:`DestinationNotVerified` if the
        proxy claims a relay version the destination did not offer, and
        :class:`UnsupportedRoutingVersion` for a routing version we do not speak.
        """
        if not constant_time_equal(sha256(key.identity_key), address.fingerprint_digest):
            raise DestinationKeySubstituted(
                f"proxy returned an identity key that is not {address.fingerprint}"
            )
        hello = ServerHello(key.hello_versions, key.session_id, key.session_key, key.signature)
        try:
            hello.verify(key.identity_key)
        except HandshakeFailed as exc:
            raise DestinationSessionKeyForged(
                "destination session key is not signed by its identity"
            ) from exc
        if key.relay_version not in key.hello_versions or key.relay_version not in relay_versions:
            raise DestinationNotVerified(f"proxy claims relay version {key.relay_version}")
        if key.routing_version not in routing_versions:
            raise UnsupportedRoutingVersion(f"proxy offers routing version {key.routing_version}")
        return cls(
            address,
            key.proxy_session_id,
            key.identity_key,
            key.session_id,
            key.session_key,
            key.relay_version,
            key.routing_version,
        )

    def seal_command(
        self, transmission: bytes, rng: RandomSource
    ) -> tuple[ProxyForward, PendingCommand]:
        """Seal one destination transmission under a fresh ephemeral key.

        ``ValueError`` if the transmission exceeds the forwarded capacity.
        """
        ephemeral = X25519KeyPair.generate(rng)
        try:
            shared = ephemeral.exchange(self.session_key)
        except InvalidKey as exc:
            raise DestinationNotVerified("destination session key is not usable") from exc
        ikm = shared + ephemeral.public + self.session_key
        command_key = _OneTimeKey.derive(ikm, self.session_id, COMMAND_KEY_INFO)
        response_key = _OneTimeKey.derive(ikm, self.session_id, RESPONSE_KEY_INFO)
        sealed = command_key.seal(pad(transmission, FORWARDED_COMMAND_SIZE), self.routing_version)
        forward = ProxyForward(self.routing_version, ephemeral.public, sealed)
        return forward, PendingCommand(self.routing_version, response_key)


# -- proxy -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingForward:
    """What the proxy keeps of one forward to re-wrap the destination's answer."""

    version: int
    response_key: _OneTimeKey

    def unwrap(self, response: RelayResponse) -> ProxyResponse:
        """Strip the forward layer; :class:`ForwardRejected` if it does not authenticate."""
        sealed = self.response_key.open(response.wrapped, self.version, "relay response")
        return ProxyResponse(sealed)


class ProxyForwarder:
    """The proxy's end of one session to a destination relay; shared by all its clients.

    ``session_id`` and ``session_key`` come from the destination's verified hello.
    After ``max_forwards`` wraps it is :attr:`exhausted`: the destination would
    refuse more on this session, so the proxy moves to a new one.
    """

    __slots__ = ("_forwards_left", "_ikm", "_rng", "_session_id", "forwarding_key")

    def __init__(
        self,
        session_id: bytes,
        session_key: bytes,
        rng: RandomSource,
        *,
        max_forwards: int = MAX_FORWARDS_PER_SESSION,
    ) -> None:
        key = X25519KeyPair.generate(rng)
        try:
            shared = key.exchange(session_key)
        except InvalidKey as exc:
            raise ForwardRejected("destination session key is not usable") from exc
        self.forwarding_key = key.public
        self._ikm = shared + key.public + session_key
        self._session_id = session_id
        self._rng = rng
        self._forwards_left = max_forwards

    @property
    def exhausted(self) -> bool:
        """True once this session has carried as many forwards as a destination opens."""
        return self._forwards_left <= 0

    def wrap(self, forward: ProxyForward) -> tuple[RelayForward, PendingForward]:
        """Re-encrypt a client's ``PFWD`` as an ``RFWD`` under a fresh seed.

        :class:`ForwardRejected` once :attr:`exhausted`.
        """
        _check_version(forward.version)
        if self.exhausted:
            raise ForwardRejected("this destination session has carried its last forward")
        self._forwards_left -= 1
        seed = self._rng.random_bytes(FORWARD_SEED_SIZE)
        salt = self._session_id + seed
        command_key = _OneTimeKey.derive(self._ikm, salt, FORWARD_COMMAND_INFO)
        response_key = _OneTimeKey.derive(self._ikm, salt, FORWARD_RESPONSE_INFO)
        wrapped = command_key.seal(forward.ephemeral_key + forward.sealed, forward.version)
        relay_forward = RelayForward(forward.version, self.forwarding_key, seed, wrapped)
        return relay_forward, PendingForward(forward.version, response_key)


# -- destination -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenedForward:
    """A forwarded command the destination opened, with the keys to answer it."""

    transmission: bytes
    version: int
    response_key: _OneTimeKey
    forward_response_key: _OneTimeKey

    def seal_response(self, response_transmission: bytes) -> RelayResponse:
        """Seal the destination's answer to the client, then wrap it for the proxy.

        ``ValueError`` if the response exceeds the forwarded response capacity.
        """
        padded = pad(response_transmission, FORWARDED_RESPONSE_SIZE)
        sealed = self.response_key.seal(padded, self.version)
        return RelayResponse(self.forward_response_key.seal(sealed, self.version))


class ForwardReceiver:
    """The destination's end of one relay session for forwarded commands.

    It refuses an ephemeral key it has already opened in this session (the
    proxy could otherwise replay a ``SEND``). It remembers every key it opened and
    so opens at most ``max_forwards`` (:data:`MAX_FORWARDS_PER_SESSION`) forwards.
    """

    __slots__ = ("_forward_secrets", "_max_forwards", "_seen", "_session_id", "_session_key")

    def __init__(
        self,
        session_id: bytes,
        session_key: X25519KeyPair,
        *,
        max_forwards: int = MAX_FORWARDS_PER_SESSION,
    ) -> None:
        if max_forwards < 1:
            raise ValueError("a session must open at least one forward")
        self._session_id = session_id
        self._session_key = session_key
        self._forward_secrets: dict[bytes, bytes] = {}
        self._seen: set[bytes] = set()
        self._max_forwards = max_forwards

    def open(self, forward: RelayForward) -> OpenedForward:
        """Open both layers of an ``RFWD``; the result holds the client's transmission.

        Raises :class:`UnsupportedRoutingVersion` or :class:`ForwardRejected`; in
        either case nothing was remembered.
        """
        _check_version(forward.version)
        if len(self._seen) >= self._max_forwards:
            raise ForwardRejected("this session has carried its maximum of forwards")
        forward_ikm = self._forward_ikm(forward.forwarding_key)
        salt = self._session_id + forward.seed
        command_key = _OneTimeKey.derive(forward_ikm, salt, FORWARD_COMMAND_INFO)
        inner = command_key.open(forward.wrapped, forward.version, "forward")
        ephemeral_key, sealed = inner[:X25519_KEY_SIZE], inner[X25519_KEY_SIZE:]
        if ephemeral_key in self._seen:
            raise ForwardRejected("forwarded command was replayed")
        client_ikm = self._exchange(ephemeral_key) + ephemeral_key + self._session_key.public
        client_key = _OneTimeKey.derive(client_ikm, self._session_id, COMMAND_KEY_INFO)
        transmission = _unpad(client_key.open(sealed, forward.version, "command"), "command")
        self._seen.add(ephemeral_key)
        return OpenedForward(
            transmission,
            forward.version,
            _OneTimeKey.derive(client_ikm, self._session_id, RESPONSE_KEY_INFO),
            _OneTimeKey.derive(forward_ikm, salt, FORWARD_RESPONSE_INFO),
        )

    def _forward_ikm(self, forwarding_key: bytes) -> bytes:
        # A proxy uses one forwarding key per session, so this cache spares a DH per command.
        ikm = self._forward_secrets.get(forwarding_key)
        if ikm is None:
            ikm = self._exchange(forwarding_key) + forwarding_key + self._session_key.public
            if len(self._forward_secrets) >= _FORWARD_SECRETS_KEPT:
                self._forward_secrets.pop(next(iter(self._forward_secrets)))
            self._forward_secrets[forwarding_key] = ikm
        return ikm

    def _exchange(self, peer_key: bytes) -> bytes:
        try:
            return self._session_key.exchange(peer_key)
        except InvalidKey as exc:
            raise ForwardRejected("forwarded key is not a usable X25519 key") from exc
