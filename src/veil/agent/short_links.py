"""Short invitation links: the bulky invitation waits on a relay, encrypted with a key
that only the link holds, so the link (and its QR code) stays small.

A one-time invitation link carries a ratchet invitation with an ML-KEM-768 key: some
2,500 characters, a QR code too wide for a terminal. A short link carries only where
the invitation waits and the keys to fetch and open it::

    short link = veil://s#<base64url(payload || checksum)>   (or https://veil.link/s#...)
    payload    = u8 format (1) || bytes8 relay address || 24 recipient id
                 || 32 recipient auth key (X25519 private) || 32 delivery key
    checksum   = SHA-256(payload)[:4]

The inviter makes a queue of its own for the invitation (``NEW``), secures it with a
fresh sender key (``SKEY``) and sends one blob to it::

    blob     = 12 nonce (random) || AES-256-GCM(blob key, nonce, pad(content, 15332), BLOB_AD)
    content  = u64 expires_at (Unix seconds) || the invitation link text
    blob key = HKDF-SHA256(recipient auth key, salt = recipient id, info = BLOB_KEY_INFO)

The link gives the joiner the recipient's rights over that queue: it takes the blob
(``GET``), deletes the queue (``DEL``), so the link works once, and opens the blob.
The relay holds only the auth key's public half, so it cannot derive the blob key;
the blob is the size of every frame. A blob past ``expires_at`` is refused, and an
untaken one goes with the relay's retention of undelivered messages.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from veil.agent.errors import MalformedLink, ShortLinkCorrupt, ShortLinkGone
from veil.agent.frames import INNER_FRAME_SIZE
from veil.agent.links import (
    HTTPS_LINK_PREFIX,
    VEIL_LINK_PREFIX,
    decode_base64url,
    link_checksum,
    strip_checksum,
)
from veil.agent.queues import ReceiveQueue, SendQueue
from veil.agent.relays import RelayPort
from veil.crypto import (
    AuthenticationFailed,
    InvalidPadding,
    RandomSource,
    aead_decrypt,
    aead_encrypt,
    hkdf_sha256,
    pad,
    unpad,
)
from veil.relay.protocol.address import RelayAddress
from veil.wire import Reader, WireError, Writer

__all__ = [
    "BLOB_AD",
    "BLOB_KEY_INFO",
    "SHORT_LINK_LIFETIME",
    "ShortLink",
    "is_short_link",
    "open_blob",
    "publish_short_link",
    "resolve_short_link",
    "seal_blob",
]

SHORT_LINK_FORMAT = 1
SHORT_LINK_PATH = "s"
#: How long a short link's invitation can be fetched (the relay may drop it earlier).
SHORT_LINK_LIFETIME = 7 * 24 * 3600
BLOB_KEY_INFO = b"veil/agent/short-link/blob-key"
BLOB_AD = b"veil/agent/short-link/blob"
_KEY_SIZE = 32
_RECIPIENT_ID_SIZE = 24
_NONCE_SIZE = 12
_MAX_SHORT_LINK = 512


@dataclass(frozen=True, slots=True)
class ShortLink:
    """Where a short link's invitation waits and the keys that take and open it."""

    relay: str
    recipient_id: bytes
    auth_key: bytes
    delivery_key: bytes

    def __post_init__(self) -> None:
        if str(RelayAddress.parse(self.relay)) != self.relay:
            raise ValueError(f"relay address is not canonical: {self.relay!r}")
        if len(self.recipient_id) != _RECIPIENT_ID_SIZE:
            raise ValueError(f"a recipient id is {_RECIPIENT_ID_SIZE} bytes")
        if len(self.auth_key) != _KEY_SIZE or len(self.delivery_key) != _KEY_SIZE:
            raise ValueError(f"short link keys are {_KEY_SIZE} bytes")

    @property
    def queue(self) -> ReceiveQueue:
        """The invitation's queue as its recipient sees it. ``GET`` and ``DEL`` use only
        the auth and delivery keys: the sender id and DH key are placeholders."""
        return ReceiveQueue(
            self.relay,
            self.recipient_id,
            bytes(_RECIPIENT_ID_SIZE),
            self.auth_key,
            self.auth_key,
            self.delivery_key,
        )

    @property
    def blob_key(self) -> bytes:
        """The key the invitation blob is sealed with."""
        return hkdf_sha256(self.auth_key, salt=self.recipient_id, info=BLOB_KEY_INFO, length=32)

    def encode(self, *, https: bool = False) -> str:
        """The text form, ``veil://s#...`` (or after ``https://veil.link/``)."""
        writer = Writer().u8(SHORT_LINK_FORMAT).bytes8(self.relay.encode("ascii"))
        payload = writer.raw(self.recipient_id).raw(self.auth_key).raw(self.delivery_key).build()
        data = _base64url(payload + link_checksum(payload))
        prefix = HTTPS_LINK_PREFIX if https else VEIL_LINK_PREFIX
        return f"{prefix}{SHORT_LINK_PATH}#{data}"

    @classmethod
    def decode(cls, text: str) -> ShortLink:
        """Parse :meth:`encode` output strictly; :class:`MalformedLink` on any fault."""
        text = text.strip()
        if not is_short_link(text) or len(text) > _MAX_SHORT_LINK:
            raise MalformedLink("this is not a short Veil link (veil://s#...)")
        reader = Reader(strip_checksum(decode_base64url(text.partition("#")[2])))
        try:
            if reader.u8() != SHORT_LINK_FORMAT:
                raise MalformedLink("the short link uses a format this Veil does not know")
            relay = reader.bytes8().decode("ascii")
            fields = reader.raw(_RECIPIENT_ID_SIZE), reader.raw(_KEY_SIZE), reader.raw(_KEY_SIZE)
            reader.finish()
            return cls(relay, *fields)
        except (WireError, UnicodeDecodeError, ValueError) as exc:
            raise MalformedLink(f"the short link is damaged ({exc}): copy it again") from exc


def is_short_link(text: str) -> bool:
    """Whether ``text`` has the form of a short link (not whether it is valid)."""
    text = text.strip()
    return any(
        text.startswith(f"{p}{SHORT_LINK_PATH}#") for p in (VEIL_LINK_PREFIX, HTTPS_LINK_PREFIX)
    )


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def seal_blob(link: ShortLink, invitation: str, expires_at: int, rng: RandomSource) -> bytes:
    """The invitation blob for ``link``: the invitation link text, valid until
    ``expires_at``, padded and sealed to exactly one frame's size."""
    content = Writer().u64(expires_at).raw(invitation.encode("ascii")).build()
    nonce = rng.random_bytes(_NONCE_SIZE)
    return nonce + aead_encrypt(link.blob_key, nonce, pad(content, INNER_FRAME_SIZE), BLOB_AD)


def open_blob(link: ShortLink, blob: bytes, now: float) -> str:
    """The invitation link text in ``blob``; :class:`ShortLinkCorrupt` if it does not
    open, :class:`ShortLinkGone` if it expired."""
    try:
        padded = aead_decrypt(link.blob_key, blob[:_NONCE_SIZE], blob[_NONCE_SIZE:], BLOB_AD)
        reader = Reader(unpad(padded))
        expires_at, text = reader.u64(), reader.rest().decode("ascii")
    except (AuthenticationFailed, InvalidPadding, WireError, UnicodeDecodeError) as exc:
        raise ShortLinkCorrupt("the invitation behind this short link does not open") from exc
    if now > expires_at:
        raise ShortLinkGone("this short link expired: ask your contact for a new invitation")
    return text


async def publish_short_link(
    relays: RelayPort, relay: str, invitation: str, rng: RandomSource, now: float
) -> ShortLink:
    """Put ``invitation`` (a link's text) on ``relay`` behind a new short link."""
    queue = await relays.create_queue(relay)
    link = ShortLink(relay, queue.recipient_id, queue.recipient_auth_key, queue.delivery_key)
    sender = SendQueue(queue.address, rng.random_bytes(_KEY_SIZE))
    await relays.secure_peer_queue(sender)
    await relays.send(sender, seal_blob(link, invitation, int(now) + SHORT_LINK_LIFETIME, rng))
    return link


async def resolve_short_link(relays: RelayPort, text: str, now: float) -> str:
    """Take the invitation behind a short link (once: the relay deletes it) and return
    the invitation link text; :class:`ShortLinkGone` if it was used or expired."""
    link = ShortLink.decode(text)
    blob = await relays.take_once(link.queue)
    if blob is None:
        raise ShortLinkGone(
            "this short link was used already or expired: ask your contact for a new invitation"
        )
    return open_blob(link, blob, now)
