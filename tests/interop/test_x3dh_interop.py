"""Veil's agreement, in its plain three-DH form, matches PyPI ``x3dh`` both ways.

What is compared, precisely: the 32-byte shared secret (and X3DH's associated
data ``IK_joiner || IK_inviter``) when the invitation offers no KEM key. Roles map
as inviter = X3DH's Bob (identity key ``IK_B``, signed prekey ``SPK_B`` = Veil's
invitation ratchet key) and joiner = Alice (``IK_A``, ephemeral ``EK_A``); no
one-time prekey. Both compute ``HKDF-SHA256(salt=0^32, ikm=0xFF^32 || DH1 || DH2 ||
DH3, info)``; x3dh takes ``info`` as a parameter, and we give it Veil's
transcript-bound info (label || SHA-256 of both encoded messages).

Not compared: the ML-KEM secret (x3dh has none), X3DH's prekey signature (Veil's
invitation is unsigned, for deniability; x3dh checks its own signature on Bob's
prekey), and one-time prekeys.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import x3dh.base_state
from x3dh import BaseState, HashFunction, Header, IdentityKeyFormat
from x3dh.identity_key_pair import IdentityKeyPair, IdentityKeyPairPriv

from veil.crypto import DeterministicRandom, X25519KeyPair
from veil.ratchet import SUPPORTED_VERSIONS, InvitationKeys, InvitationSecrets, ReplyKeys, join
from veil.ratchet.agreement import agreement_info

FORMAT = IdentityKeyFormat.CURVE_25519


class X3dh(BaseState):
    @staticmethod
    def _encode_public_key(key_format: IdentityKeyFormat, pub: bytes) -> bytes:
        return pub


def reference_bob() -> tuple[X3dh, InvitationSecrets]:
    """An x3dh passive party, and Veil invitation secrets holding the same private keys."""
    bob = X3dh.create(FORMAT, HashFunction.SHA_256, b"replaced per agreement")
    identity = IdentityKeyPair.from_model(bob.model.identity_key).as_priv().priv
    secrets = InvitationSecrets(
        SUPPORTED_VERSIONS,
        X25519KeyPair(identity),
        X25519KeyPair(bob.model.signed_pre_key.priv),
        None,
    )
    assert secrets.public.identity_key == bob.bundle.identity_key
    assert secrets.public.ratchet_key == bob.bundle.signed_pre_key
    return bob, secrets


async def test_veil_joiner_matches_x3dh_passive_inviter() -> None:
    bob, _secrets = reference_bob()
    invitation = InvitationKeys(
        SUPPORTED_VERSIONS, bob.bundle.identity_key, bob.bundle.signed_pre_key, None
    )
    reply, joiner = join(invitation, DeterministicRandom(b"joiner"), pq=False)
    bob = X3dh.from_model(
        bob.model, FORMAT, HashFunction.SHA_256, agreement_info(invitation, reply)
    )
    header = Header(reply.identity_key, reply.ephemeral_key, invitation.ratchet_key, None)
    shared_secret, associated_data, _ = await bob.get_shared_secret_passive(
        header, require_pre_key=False
    )
    assert shared_secret == joiner.shared_secret
    assert associated_data == joiner.associated_data


async def test_x3dh_active_joiner_matches_veil_inviter(monkeypatch: pytest.MonkeyPatch) -> None:
    bob, secrets = reference_bob()
    rng = DeterministicRandom(b"alice")
    identity, ephemeral = X25519KeyPair.generate(rng), X25519KeyPair.generate(rng)
    # x3dh draws the ephemeral key inside the call; the info must be known before it.
    reply = ReplyKeys(SUPPORTED_VERSIONS, identity.public, ephemeral.public, None)
    alice = X3dh.create(
        FORMAT,
        HashFunction.SHA_256,
        agreement_info(secrets.public, reply),
        IdentityKeyPairPriv(identity.private),
    )
    monkeypatch.setattr(
        x3dh.base_state, "secrets", SimpleNamespace(token_bytes=lambda _: ephemeral.private)
    )
    shared_secret, associated_data, header = await alice.get_shared_secret_active(
        bob.bundle, require_pre_key=False
    )
    assert (header.identity_key, header.ephemeral_key) == (identity.public, ephemeral.public)
    inviter = secrets.accept(reply)
    assert shared_secret == inviter.shared_secret
    assert associated_data == inviter.associated_data
