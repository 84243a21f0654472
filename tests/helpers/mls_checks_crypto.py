"""Checkers for the crypto-level IETF vectors: crypto-basics."""

from __future__ import annotations

from helpers.mls_vectors import Case, checker, hexb, suite_of
from veil.mls.suites import suite_by_id


@checker("crypto-basics.json")
def check_crypto_basics(case: Case) -> None:
    """RefHash, ExpandWithLabel, DeriveSecret, DeriveTreeSecret, Sign/Verify, HPKE."""
    suite = suite_by_id(suite_of(case) or 0)
    ref = case["ref_hash"]
    assert suite.ref_hash(ref["label"].encode(), hexb(ref["value"])).hex() == ref["out"]
    expand = case["expand_with_label"]
    out = suite.expand_with_label(
        hexb(expand["secret"]), expand["label"].encode(), hexb(expand["context"]), expand["length"]
    )
    assert out.hex() == expand["out"]
    derive = case["derive_secret"]
    out = suite.derive_secret(hexb(derive["secret"]), derive["label"].encode())
    assert out.hex() == derive["out"]
    tree = case["derive_tree_secret"]
    out = suite.derive_tree_secret(
        hexb(tree["secret"]), tree["label"].encode(), tree["generation"], tree["length"]
    )
    assert out.hex() == tree["out"]
    _check_signature(case["sign_with_label"])
    _check_hpke(suite_of(case) or 0, case["encrypt_with_label"])


def _check_signature(sign: Case) -> None:
    suite = suite_by_id(1)
    label, content = sign["label"].encode(), hexb(sign["content"])
    assert suite.signature_public_key(hexb(sign["priv"])).hex() == sign["pub"]
    suite.verify_with_label(hexb(sign["pub"]), label, content, hexb(sign["signature"]))
    fresh = suite.sign_with_label(hexb(sign["priv"]), label, content)
    suite.verify_with_label(hexb(sign["pub"]), label, content, fresh)


def _check_hpke(suite_id: int, hpke: Case) -> None:
    suite = suite_by_id(suite_id)
    label, context = hpke["label"].encode(), hexb(hpke["context"])
    assert suite.hpke.kem.public_key_of(hexb(hpke["priv"])).hex() == hpke["pub"]
    opened = suite.decrypt_with_label(
        hexb(hpke["priv"]), label, context, hexb(hpke["kem_output"]), hexb(hpke["ciphertext"])
    )
    assert opened.hex() == hpke["plaintext"]
    kem_output, ciphertext = suite.encrypt_with_label(
        hexb(hpke["pub"]), label, context, hexb(hpke["plaintext"])
    )
    assert suite.decrypt_with_label(hexb(hpke["priv"]), label, context, kem_output, ciphertext) == (
        hexb(hpke["plaintext"])
    )
