"""The client half of the relay protocol, sans I/O.

A :class:`ClientSession` is made from the relay's hello block (checked against
the pinned identity), gives the client hello block to send back, builds
authenticated command transmissions bound to the session, queues them for
:meth:`ClientSession.data_to_send` (many commands share one block), and parses
the relay's blocks into :class:`Reply` values.

Typical use::

    session = ClientSession.accept_hello(hello_block, identity_public, rng)
    send(session.client_hello)
    keys = QueueKeys.generate(rng)
    correlation_id, transmission = session.create_queue(keys)
    session.queue(transmission)
    for block in session.data_to_send(): send(block)
    ...
    for reply in session.parse_block(block): ...
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto import InvalidKey, RandomSource, X25519KeyPair
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import HandshakeFailed, UnexpectedResponse
from veil.relay.protocol.handshake import (
    RELAY_VERSIONS,
    ClientHello,
    ServerHello,
    decode_server_hello,
)
from veil.relay.protocol.log_commands import LOG_RESPONSE_TAGS
from veil.relay.protocol.queue_crypto import (
    OpenedMessage,
    authenticate,
    delivery_key,
    derive_auth_key,
    open_message,
)
from veil.relay.protocol.transmission import (
    CORRELATION_ID_SIZE,
    PUSH_CORRELATION_ID,
    attach_authenticator,
    authorized_part,
    decode_transmission,
)
from veil.wire import VersionRange
from veil.wire.blocks import BlockBatcher, decode_block

__all__ = [
    "ClientSession",
    "QueueKeys",
    "RawResponse",
    "Reply",
    "open_delivery",
    "recipient_delivery_key",
]

ROUTING_RESPONSE_TAGS = range(0x90, 0xA0)
"""Response tags of private routing (``veil.routing.codec``); this layer passes them on raw."""


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """A recipient's fresh keys for one queue: ``auth`` signs commands, ``dh`` decrypts."""

    auth: X25519KeyPair
    dh: X25519KeyPair

    @classmethod
    def generate(cls, rng: RandomSource) -> QueueKeys:
        """Make fresh keys; never reuse them for another queue."""
        return cls(X25519KeyPair.generate(rng), X25519KeyPair.generate(rng))


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A private-routing response, left encoded for :mod:`veil.routing` to read."""

    body: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """One transmission from the relay: an answer (by correlation id) or a push."""

    correlation_id: bytes
    entity_id: bytes
    response: rsp.Response | RawResponse

    @property
    def body(self) -> bytes:
        """The response as it travelled (an ``ERR`` is re-encoded, byte for byte)."""
        if isinstance(self.response, RawResponse):
            return self.response.body
        return rsp.encode_response(self.response)

    @property
    def is_push(self) -> bool:
        """True for relay-initiated ``MSG`` and ``END`` (no command asked for them)."""
        return self.correlation_id == PUSH_CORRELATION_ID


def recipient_delivery_key(keys: QueueKeys, relay_dh_key: bytes) -> bytes:
    """The queue's re-encryption key, from the recipient's DH key and ``IDS``'s relay key."""
    try:
        return delivery_key(keys.dh, relay_dh_key)
    except InvalidKey as exc:
        raise UnexpectedResponse("relay DH key is not usable") from exc


def open_delivery(key: bytes, message: rsp.Message) -> OpenedMessage:
    """Decrypt a delivered ``MSG``; raises as :func:`~.queue_crypto.open_message` does."""
    return open_message(key, message.message_id, message.sealed)


class ClientSession:
    """One connection to a relay, after its hello was verified."""

    __slots__ = (
        "_auth_keys",
        "_outbox",
        "_rng",
        "client_hello",
        "hello",
        "relay_session_key",
        "session_id",
        "version",
    )

    def __init__(
        self,
        session_id: bytes,
        relay_session_key: bytes,
        version: int,
        rng: RandomSource,
        versions: VersionRange = RELAY_VERSIONS,
        *,
        hello: ServerHello | None = None,
    ) -> None:
        self.session_id = session_id
        self.hello = hello
        """The relay's signed hello, when the session was made from it (a proxy passes it on)."""
        self.relay_session_key = relay_session_key
        self.version = version
        self.client_hello = ClientHello(versions).encode()
        """The block to send back right after the relay's hello."""
        self._rng = rng
        self._auth_keys: dict[bytes, bytes] = {}
        self._outbox = BlockBatcher()

    @classmethod
    def accept_hello(
        cls,
        block: bytes,
        identity_public: bytes,
        rng: RandomSource,
        *,
        versions: VersionRange = RELAY_VERSIONS,
    ) -> ClientSession:
        """Verify the relay's hello against the pinned identity and agree on a version.

        Raises :class:`HandshakeFailed` (bad hello or signature) or
        :class:`veil.wire.NoCommonVersion`; either way, close the connection.
        """
        hello = decode_server_hello(block)
        hello.verify(identity_public)
        version = versions.agree(hello.versions)
        return cls(hello.session_id, hello.session_key, version, rng, versions, hello=hello)

    def command(
        self, command: cmd.Command, *, entity_id: bytes = b"", auth: X25519KeyPair | None = None
    ) -> tuple[bytes, bytes]:
        """Build one transmission; return ``(correlation_id, transmission)``.

        ``auth`` is the queue key that authorises the command (``None`` for ``PING``).
        """
        correlation_id = self._new_correlation_id()
        authorized = authorized_part(correlation_id, entity_id, cmd.encode_command(command))
        authenticator = b""
        if auth is not None:
            authenticator = authenticate(self._auth_key(auth), self.session_id, authorized)
        return correlation_id, attach_authenticator(authenticator, authorized)

    def _new_correlation_id(self) -> bytes:
        while True:
            correlation_id = self._rng.random_bytes(CORRELATION_ID_SIZE)
            if correlation_id != PUSH_CORRELATION_ID:
                return correlation_id

    def _auth_key(self, auth: X25519KeyPair) -> bytes:
        key = self._auth_keys.get(auth.public)
        if key is None:
            try:
                key = derive_auth_key(auth, self.relay_session_key)
            except InvalidKey as exc:
                raise HandshakeFailed("relay session key is not usable") from exc
            self._auth_keys[auth.public] = key
        return key

    def create_queue(self, keys: QueueKeys, password: bytes = b"") -> tuple[bytes, bytes]:
        """``NEW``: ask for a queue; the answer is ``IDS``."""
        command = cmd.CreateQueue(keys.auth.public, keys.dh.public, password)
        return self.command(command, auth=keys.auth)

    def secure(
        self, recipient_id: bytes, keys: QueueKeys, sender_auth_key: bytes
    ) -> tuple[bytes, bytes]:
        """``KEY``: the recipient lets ``sender_auth_key`` send to the queue."""
        command = cmd.SecureQueue(sender_auth_key)
        return self.command(command, entity_id=recipient_id, auth=keys.auth)

    def sender_secure(self, sender_id: bytes, sender_auth: X25519KeyPair) -> tuple[bytes, bytes]:
        """``SKEY``: the sender secures an unsecured queue with its own key."""
        command = cmd.SenderSecureQueue(sender_auth.public)
        return self.command(command, entity_id=sender_id, auth=sender_auth)

    def send(
        self, sender_id: bytes, sender_auth: X25519KeyPair, body: bytes, flags: int = 0
    ) -> tuple[bytes, bytes]:
        """``SEND``: put ``body`` (at most ``MAX_MESSAGE_BODY`` bytes) in the queue."""
        if len(body) > cmd.MAX_MESSAGE_BODY:
            raise ValueError(f"message body exceeds {cmd.MAX_MESSAGE_BODY} bytes")
        command = cmd.SendMessage(flags, body)
        return self.command(command, entity_id=sender_id, auth=sender_auth)

    def recipient_command(
        self, command: cmd.Command, recipient_id: bytes, keys: QueueKeys
    ) -> tuple[bytes, bytes]:
        """A recipient command (``SUB``, ``ACK``, ``GET``, ``OFF``, ``DEL``) on one queue."""
        return self.command(command, entity_id=recipient_id, auth=keys.auth)

    def ping(self) -> tuple[bytes, bytes]:
        """``PING``: keep the connection alive."""
        return self.command(cmd.Ping())

    def queue(self, transmission: bytes) -> None:
        """Queue a built transmission to go out in the next :meth:`data_to_send`."""
        self._outbox.add(transmission)

    def data_to_send(self) -> list[bytes]:
        """Take every queued transmission, packed into as few blocks as they fit."""
        return self._outbox.drain()

    def parse_block(self, block: bytes) -> list[Reply]:
        """Decode a block from the relay; :class:`UnexpectedResponse` (or 3xx) if malformed."""
        replies = []
        for data in decode_block(block):
            transmission = decode_transmission(data)
            if transmission.authenticator:
                raise UnexpectedResponse("relay responses carry no authenticator")
            body = transmission.body
            response: rsp.Response | RawResponse
            if body[0] in ROUTING_RESPONSE_TAGS or body[0] in LOG_RESPONSE_TAGS:
                response = RawResponse(body)
            else:
                response = rsp.decode_response(body)
            replies.append(Reply(transmission.correlation_id, transmission.entity_id, response))
        return replies
