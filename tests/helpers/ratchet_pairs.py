"""Build connected ratchet pairs for the ratchet test suites."""

from __future__ import annotations

from veil.crypto import DeterministicRandom, X25519KeyPair
from veil.ratchet import InvitationSecrets, Ratchet, RatchetConfig, SkipLimits, join


def agreed_pair(
    seed: bytes, *, pq: bool, limits: SkipLimits | None = None
) -> tuple[Ratchet, Ratchet, bytes]:
    """Run the agreement and return ``(joiner ratchet, inviter ratchet, associated data)``."""
    rng = DeterministicRandom(seed)
    secrets = InvitationSecrets.generate(rng, pq=pq)
    reply, joiner = join(secrets.public, rng, pq=pq)
    inviter = secrets.accept(reply)
    assert joiner.associated_data == inviter.associated_data
    return (
        joiner.ratchet(rng, limits=limits),
        inviter.ratchet(rng, limits=limits),
        joiner.associated_data,
    )


def plain_pair(seed: bytes, limits: SkipLimits | None = None) -> tuple[Ratchet, Ratchet]:
    """A Signal-plain pair (no header encryption, no PQ) from a random shared secret."""
    rng = DeterministicRandom(seed)
    config = RatchetConfig.signal_plain(limits=limits)
    shared_secret, responder_key = rng.random_bytes(32), X25519KeyPair.generate(rng)
    initiator = Ratchet.initiate(config, shared_secret, responder_key.public, rng)
    return initiator, Ratchet.respond(config, shared_secret, responder_key, rng)
