"""Build connected ratchet pairs for the ratchet test suites."""

from __future__ import annotations

import json
from pathlib import Path

from veil.crypto import DeterministicRandom, X25519KeyPair
from veil.ratchet import InvitationSecrets, Ratchet, RatchetConfig, SkipLimits, join
from veil.ratchet.agreement import SUPPORTED_VERSIONS
from veil.ratchet.kdf import chain_step
from veil.wire import VersionRange

PINNED_V1_STATES = Path(__file__).parents[1] / "vectors" / "ratchet" / "state_v1.json"


def agreed_pair(
    seed: bytes,
    *,
    pq: bool,
    limits: SkipLimits | None = None,
    versions: VersionRange = SUPPORTED_VERSIONS,
    joiner_versions: VersionRange | None = None,
) -> tuple[Ratchet, Ratchet, bytes]:
    """Run the agreement and return ``(joiner ratchet, inviter ratchet, associated data)``.

    ``versions`` is the inviter's range, and the joiner's unless ``joiner_versions``
    gives another (two clients of different versions).
    """
    rng = DeterministicRandom(seed)
    secrets = InvitationSecrets.generate(rng, pq=pq, versions=versions)
    reply, joiner = join(secrets.public, rng, pq=pq, versions=joiner_versions or versions)
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


def rollback_bodies(
    sender: Ratchet, first: bytes, second: bytes, associated_data: bytes
) -> tuple[bytes, bytes, bytes]:
    """Snapshot ``sender``, encrypt ``first``, restore the snapshot (on a new machine:
    another random stream), encrypt ``second``. Return both messages and the message
    key both used (read from the snapshot, which is what a rollback repeats)."""
    snapshot = sender.to_bytes()
    first_message = sender.encrypt(first, associated_data)
    restored = Ratchet.from_bytes(snapshot, DeterministicRandom(b"restored machine"))
    send_chain = restored._state.send_chain  # the test inspects what a rollback reuses
    assert send_chain is not None
    second_message = restored.encrypt(second, associated_data)
    return first_message, second_message, chain_step(send_chain)[1]


def pinned_v1_sessions(pq: bool) -> tuple[Ratchet, Ratchet, bytes]:
    """Both sides of a connection persisted by Veil before ratchet v2, loaded by this
    implementation (format 1 migrated). The inviter reads the pinned message the
    joiner sent after its state was saved; the joiner then sends with that message's
    key again, as a state saved before a send would (a v1 rollback, harmless here:
    the plaintext is the same), so both states are in step."""
    case = next(v for v in json.loads(PINNED_V1_STATES.read_text()) if v["pq"] is pq)
    ad = bytes.fromhex(case["associated_data"])
    rng = DeterministicRandom(b"upgraded software")
    joiner, inviter = (
        Ratchet.from_bytes(bytes.fromhex(case["final_state"][name]), rng)
        for name in ("joiner", "inviter")
    )
    assert inviter.decrypt(bytes.fromhex(case["follow_up"]), ad) == b"after restore"
    joiner.encrypt(b"after restore", ad)
    return joiner, inviter, ad
