"""Checkers for the key-schedule IETF vectors: key-schedule, psk_secret, secret-tree."""

from __future__ import annotations

from helpers.mls_vectors import Case, checker, hexb
from veil.mls.group_context import GroupContext
from veil.mls.key_schedule import (
    PSK_EXTERNAL,
    PreSharedKeyID,
    derive_epoch_secrets,
    derive_psk_secret,
    joiner_secret,
)
from veil.mls.secret_tree import SecretTree, sender_data_key_nonce
from veil.mls.suites import suite_by_id

_SECRET_FIELDS = (
    "welcome_secret",
    "sender_data_secret",
    "encryption_secret",
    "exporter_secret",
    "external_secret",
    "confirmation_key",
    "membership_key",
    "resumption_psk",
    "epoch_authenticator",
    "init_secret",
)


@checker("key-schedule.json")
def check_key_schedule(case: Case) -> None:
    """Each epoch's GroupContext, joiner secret, every epoch secret and the exporter."""
    suite = suite_by_id(case["cipher_suite"])
    init_secret = hexb(case["initial_init_secret"])
    for number, epoch in enumerate(case["epochs"]):
        context = GroupContext(
            suite.suite_id,
            hexb(case["group_id"]),
            number,
            hexb(epoch["tree_hash"]),
            hexb(epoch["confirmed_transcript_hash"]),
        ).to_bytes()
        assert context.hex() == epoch["group_context"]
        joiner = joiner_secret(suite, init_secret, hexb(epoch["commit_secret"]), context)
        assert joiner.hex() == epoch["joiner_secret"]
        secrets = derive_epoch_secrets(suite, joiner, hexb(epoch["psk_secret"]), context)
        for field in _SECRET_FIELDS:
            assert getattr(secrets, field).hex() == epoch[field], field
        assert secrets.external_public_key(suite).hex() == epoch["external_pub"]
        exporter = epoch["exporter"]
        # The vectors' exporter label is used as text (its hex digits), not hex-decoded.
        exported = secrets.export(
            suite, exporter["label"].encode(), hexb(exporter["context"]), exporter["length"]
        )
        assert exported.hex() == exporter["secret"]
        init_secret = secrets.init_secret


@checker("psk_secret.json")
def check_psk_secret(case: Case) -> None:
    """The psk_secret chained from external PSKs."""
    suite = suite_by_id(case["cipher_suite"])
    psks = [
        (
            PreSharedKeyID(PSK_EXTERNAL, hexb(p["psk_nonce"]), psk_id=hexb(p["psk_id"])),
            hexb(p["psk"]),
        )
        for p in case["psks"]
    ]
    assert derive_psk_secret(suite, psks).hex() == case["psk_secret"]


@checker("secret-tree.json")
def check_secret_tree(case: Case) -> None:
    """Sender-data key/nonce, and each leaf's handshake and application keys by generation.
    Keys are looked up, then consumed in order, as a receiver would."""
    suite = suite_by_id(case["cipher_suite"])
    sender_data = case["sender_data"]
    key, nonce = sender_data_key_nonce(
        suite, hexb(sender_data["sender_data_secret"]), hexb(sender_data["ciphertext"])
    )
    assert (key.hex(), nonce.hex()) == (sender_data["key"], sender_data["nonce"])
    tree = SecretTree(suite, hexb(case["encryption_secret"]), len(case["leaves"]))
    for leaf, generations in enumerate(case["leaves"]):
        for expected in generations:
            for kind in ("handshake", "application"):
                found = tree.key_for(leaf, kind, expected["generation"])
                assert found.key.hex() == expected[f"{kind}_key"]
                assert found.nonce.hex() == expected[f"{kind}_nonce"]
                tree.consume(leaf, kind, expected["generation"])
