"""Regenerate Veil's MLS vectors for the X-Wing suite: ``python tests/vectors/mls/generate.py``.

The files use the IETF format (mlswg/mls-implementations ``test-vectors.md``), so any
implementation of suite 0xF00D can check itself against them. Every input comes from
``veil.crypto.DeterministicRandom`` seeds, except HPKE encryption, which
``cryptography`` randomises internally; those ciphertexts are recorded as generated
and checked by decryption.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from veil.crypto import DeterministicRandom
from veil.mls.codec import TlsWriter
from veil.mls.framing import (
    WIRE_PRIVATE,
    WIRE_PUBLIC,
    AuthenticatedContent,
    Content,
    FramedContent,
    MLSMessage,
    PublicMessage,
    Sender,
)
from veil.mls.group_context import GroupContext
from veil.mls.group_state import join_from_welcome
from veil.mls.key_schedule import (
    PSK_EXTERNAL,
    PreSharedKeyID,
    confirmed_transcript_hash,
    derive_epoch_secrets,
    derive_psk_secret,
    interim_transcript_hash,
    joiner_secret,
)
from veil.mls.leaf_node import (
    Lifetime,
)
from veil.mls.operations import (
    CommitResult,
    create_commit,
    create_group,
    encrypt_application,
    new_key_package,
    propose,
)
from veil.mls.processing import process_message
from veil.mls.proposals import Add, Commit, ProposalOrRef, Remove, encode_proposal
from veil.mls.protection import (
    confirmation_tag,
    encrypt_private,
    membership_tag,
    sign_content,
)
from veil.mls.secret_tree import SecretTree, sender_data_key_nonce
from veil.mls.state_codec import encode_state
from veil.mls.suites import MLS_256_XWING_AES256GCM_SHA512_ED25519 as SUITE
from veil.mls.welcome import (
    EncryptedGroupSecrets,
    GroupInfo,
    GroupSecrets,
    Welcome,
    seal_group_info,
    seal_group_secrets,
)

HERE = Path(__file__).parent
RNG = DeterministicRandom(b"veil-mls-xwing-vectors")
Case = dict[str, Any]


def _bytes(length: int | None = None) -> bytes:
    return RNG.random_bytes(length or SUITE.hash_size)


def crypto_basics() -> Case:
    """One crypto-basics case."""
    secret, context, value = _bytes(), _bytes(), _bytes()
    hpke_private, hpke_public = SUITE.derive_key_pair(_bytes())
    signature_private, signature_public = SUITE.generate_signature_key(RNG)
    plaintext, content = _bytes(), _bytes()
    kem_output, ciphertext = SUITE.encrypt_with_label(
        hpke_public, b"EncryptWithLabel", context, plaintext
    )
    return {
        "cipher_suite": SUITE.suite_id,
        "ref_hash": {
            "label": "RefHash",
            "value": value.hex(),
            "out": SUITE.ref_hash(b"RefHash", value).hex(),
        },
        "expand_with_label": {
            "secret": secret.hex(),
            "label": "ExpandWithLabel",
            "context": context.hex(),
            "length": 32,
            "out": SUITE.expand_with_label(secret, b"ExpandWithLabel", context, 32).hex(),
        },
        "derive_secret": {
            "secret": secret.hex(),
            "label": "DeriveSecret",
            "out": SUITE.derive_secret(secret, b"DeriveSecret").hex(),
        },
        "derive_tree_secret": {
            "secret": secret.hex(),
            "label": "DeriveTreeSecret",
            "generation": 2694881440,
            "length": 32,
            "out": SUITE.derive_tree_secret(secret, b"DeriveTreeSecret", 2694881440, 32).hex(),
        },
        "sign_with_label": {
            "priv": signature_private.hex(),
            "pub": signature_public.hex(),
            "content": content.hex(),
            "label": "SignWithLabel",
            "signature": SUITE.sign_with_label(signature_private, b"SignWithLabel", content).hex(),
        },
        "encrypt_with_label": {
            "priv": hpke_private.hex(),
            "pub": hpke_public.hex(),
            "label": "EncryptWithLabel",
            "context": context.hex(),
            "plaintext": plaintext.hex(),
            "kem_output": kem_output.hex(),
            "ciphertext": ciphertext.hex(),
        },
    }


def key_schedule() -> Case:
    """A key-schedule case over three epochs."""
    group_id, initial_init_secret = _bytes(16), _bytes()
    init_secret = initial_init_secret
    epochs = []
    for number in range(3):
        tree_hash, confirmed = _bytes(), _bytes()
        commit_secret, psk_secret = _bytes(), _bytes()
        context = GroupContext(SUITE.suite_id, group_id, number, tree_hash, confirmed).to_bytes()
        joiner = joiner_secret(SUITE, init_secret, commit_secret, context)
        secrets = derive_epoch_secrets(SUITE, joiner, psk_secret, context)
        label, exporter_context = _bytes(8).hex(), _bytes()
        epoch = {
            "tree_hash": tree_hash.hex(),
            "commit_secret": commit_secret.hex(),
            "psk_secret": psk_secret.hex(),
            "confirmed_transcript_hash": confirmed.hex(),
            "group_context": context.hex(),
            "joiner_secret": joiner.hex(),
            "external_pub": secrets.external_public_key(SUITE).hex(),
            "exporter": {
                "label": label,
                "context": exporter_context.hex(),
                "length": 32,
                "secret": secrets.export(SUITE, label.encode(), exporter_context, 32).hex(),
            },
        }
        for field in (
            "welcome_secret",
            "init_secret",
            "sender_data_secret",
            "encryption_secret",
            "exporter_secret",
            "epoch_authenticator",
            "external_secret",
            "confirmation_key",
            "membership_key",
            "resumption_psk",
        ):
            epoch[field] = getattr(secrets, field).hex()
        epochs.append(epoch)
        init_secret = secrets.init_secret
    return {
        "cipher_suite": SUITE.suite_id,
        "group_id": group_id.hex(),
        "initial_init_secret": initial_init_secret.hex(),
        "epochs": epochs,
    }


def psk_secret() -> Case:
    """A psk_secret case with three external PSKs."""
    psks = [(PreSharedKeyID(PSK_EXTERNAL, _bytes(), psk_id=_bytes(16)), _bytes()) for _ in range(3)]
    return {
        "cipher_suite": SUITE.suite_id,
        "psks": [
            {"psk_id": i.psk_id.hex(), "psk": psk.hex(), "psk_nonce": i.psk_nonce.hex()}
            for i, psk in psks
        ],
        "psk_secret": derive_psk_secret(SUITE, psks).hex(),
    }


def secret_tree() -> Case:
    """A secret-tree case: sender data, and 4 leaves at a few generations."""
    sender_data_secret, ciphertext, encryption_secret = _bytes(), _bytes(), _bytes()
    key, nonce = sender_data_key_nonce(SUITE, sender_data_secret, ciphertext)
    tree = SecretTree(SUITE, encryption_secret, 4)
    leaves = []
    for leaf in range(4):
        generations = []
        for generation in (0, 1, 15):
            entry: dict[str, Any] = {"generation": generation}
            for kind in ("handshake", "application"):
                found = tree.key_for(leaf, kind, generation)
                entry[f"{kind}_key"], entry[f"{kind}_nonce"] = found.key.hex(), found.nonce.hex()
            generations.append(entry)
        leaves.append(generations)
    return {
        "cipher_suite": SUITE.suite_id,
        "sender_data": {
            "sender_data_secret": sender_data_secret.hex(),
            "ciphertext": ciphertext.hex(),
            "key": key.hex(),
            "nonce": nonce.hex(),
        },
        "encryption_secret": encryption_secret.hex(),
        "leaves": leaves,
    }


def _encoded(encode: Any) -> str:
    writer = TlsWriter()
    encode(writer)
    return writer.build().hex()


def message_protection() -> Case:
    """A message-protection case: a Remove proposal, a commit and application data,
    each as PublicMessage (but application) and PrivateMessage from leaf 1 of 2."""
    group_id, epoch = _bytes(16), 7
    context = GroupContext(SUITE.suite_id, group_id, epoch, _bytes(), _bytes())
    signature_private, signature_public = SUITE.generate_signature_key(RNG)
    encryption_secret, sender_data_secret, membership_key = _bytes(), _bytes(), _bytes()
    tree = SecretTree(SUITE, encryption_secret, 2)
    proposal = Remove(0)
    commit = Commit((ProposalOrRef(proposal=proposal),))
    case: Case = {
        "cipher_suite": SUITE.suite_id,
        "group_id": group_id.hex(),
        "epoch": epoch,
        "tree_hash": context.tree_hash.hex(),
        "confirmed_transcript_hash": context.confirmed_transcript_hash.hex(),
        "signature_priv": signature_private.hex(),
        "signature_pub": signature_public.hex(),
        "encryption_secret": encryption_secret.hex(),
        "sender_data_secret": sender_data_secret.hex(),
        "membership_key": membership_key.hex(),
        "proposal": _encoded(lambda w: encode_proposal(w, proposal)),
        "commit": _encoded(commit.encode),
        "application": _bytes(40).hex(),
    }
    bodies: list[tuple[str, Content]] = [
        ("proposal", proposal),
        ("commit", commit),
        ("application", bytes.fromhex(case["application"])),
    ]
    for name, body in bodies:
        content = FramedContent(group_id, epoch, Sender(1, 1), b"", body)
        tag = _bytes() if name == "commit" else None
        if name != "application":
            signature = sign_content(SUITE, signature_private, WIRE_PUBLIC, content, context)
            public = AuthenticatedContent(WIRE_PUBLIC, content, signature, tag)
            mac = membership_tag(SUITE, membership_key, public, context)
            message = PublicMessage(content, signature, tag, mac)
            case[f"{name}_pub"] = MLSMessage(message).to_bytes().hex()
        signature = sign_content(SUITE, signature_private, WIRE_PRIVATE, content, context)
        private = AuthenticatedContent(WIRE_PRIVATE, content, signature, tag)
        sealed = encrypt_private(SUITE, private, tree, sender_data_secret, RNG)
        case[f"{name}_priv"] = MLSMessage(sealed).to_bytes().hex()
    return case


def transcript_hashes() -> Case:
    """A transcript-hashes case over a signed empty commit."""
    confirmation_key, interim_before = _bytes(), _bytes()
    signature_private, _ = SUITE.generate_signature_key(RNG)
    content = FramedContent(_bytes(16), 3, Sender(1, 0), b"", Commit(()))
    context = GroupContext(SUITE.suite_id, content.group_id, 3, _bytes(), _bytes())
    signature = sign_content(SUITE, signature_private, WIRE_PUBLIC, content, context)
    unconfirmed = AuthenticatedContent(WIRE_PUBLIC, content, signature, b"")
    confirmed = confirmed_transcript_hash(
        SUITE, interim_before, unconfirmed.confirmed_transcript_input()
    )
    tag = confirmation_tag(SUITE, confirmation_key, confirmed)
    authenticated = AuthenticatedContent(WIRE_PUBLIC, content, signature, tag)
    return {
        "cipher_suite": SUITE.suite_id,
        "confirmation_key": confirmation_key.hex(),
        "authenticated_content": _encoded(authenticated.encode),
        "interim_transcript_hash_before": interim_before.hex(),
        "confirmed_transcript_hash_after": confirmed.hex(),
        "interim_transcript_hash_after": interim_transcript_hash(SUITE, confirmed, tag).hex(),
    }


def welcome() -> Case:
    """A welcome case: GroupInfo signed by member 0, secrets for one key package."""
    package, keys = new_key_package(SUITE, RNG, Lifetime(0, 2**63))
    init_private = keys.init_private
    signer_private, signer_public = SUITE.generate_signature_key(RNG)
    joiner = _bytes()
    context = GroupContext(SUITE.suite_id, _bytes(16), 1, _bytes(), _bytes())
    no_psk = bytes(SUITE.hash_size)
    secrets = derive_epoch_secrets(SUITE, joiner, no_psk, context.to_bytes())
    tag = confirmation_tag(SUITE, secrets.confirmation_key, context.confirmed_transcript_hash)
    group_info = GroupInfo(context, (), tag, 0).signed(SUITE, signer_private)
    encrypted_group_info = seal_group_info(SUITE, secrets.welcome_secret, group_info)
    recipients = [(package.init_key, GroupSecrets(joiner))]
    [sealed] = seal_group_secrets(SUITE, encrypted_group_info, recipients, RNG)
    message = Welcome(
        SUITE.suite_id,
        (EncryptedGroupSecrets(package.reference(SUITE), sealed),),
        encrypted_group_info,
    )
    return {
        "cipher_suite": SUITE.suite_id,
        "init_priv": init_private.hex(),
        "key_package": MLSMessage(package).to_bytes().hex(),
        "signer_pub": signer_public.hex(),
        "welcome": MLSMessage(message).to_bytes().hex(),
    }


def passive_client() -> Case:
    """A passive client joins a 4-member group by Welcome, then follows commits: an
    empty update, an Add, a Remove with a path, a private commit, and a commit of a
    proposal by reference (IETF passive-client format)."""
    lifetime = Lifetime(0, 2**63)
    creator = create_group(SUITE, b"passive-client", RNG, lifetime)
    me, my_keys = new_key_package(SUITE, RNG, lifetime)
    others = [new_key_package(SUITE, RNG, lifetime) for _ in range(2)]
    first = create_commit(creator, RNG, by_value=(Add(me), *(Add(p) for p, _ in others)))
    assert first.welcome is not None and isinstance(first.welcome.body, Welcome)
    member = join_from_welcome(first.welcome.body, others[0][0], others[0][1])
    mine = join_from_welcome(first.welcome.body, me, my_keys)
    states, epochs = [first.state, member], []

    def commit(index: int, proposals: list[MLSMessage], result: CommitResult) -> None:
        for position, before in enumerate(states):
            if position != index:
                current = before
                for proposal in proposals:
                    current = process_message(current, proposal).state
                states[position] = process_message(current, result.message).state
        states[index] = result.state
        epochs.append(
            {
                "proposals": [p.to_bytes().hex() for p in proposals],
                "commit": result.message.to_bytes().hex(),
                "epoch_authenticator": result.state.epoch_authenticator.hex(),
            }
        )

    commit(0, [], create_commit(states[0], RNG))
    newcomer, _ = new_key_package(SUITE, RNG, lifetime)
    commit(1, [], create_commit(states[1], RNG, by_value=(Add(newcomer),)))
    commit(0, [], create_commit(states[0], RNG, by_value=(Remove(4),)))
    commit(1, [], create_commit(states[1], RNG, private=True))
    proposal, states[1], reference = propose(states[1], Remove(3), RNG)
    states[0] = process_message(states[0], proposal).state
    commit(0, [proposal], create_commit(states[0], RNG, by_reference=(reference,)))
    return {
        "cipher_suite": SUITE.suite_id,
        "external_psks": [],
        "key_package": MLSMessage(me).to_bytes().hex(),
        "signature_priv": my_keys.signature_private.hex(),
        "encryption_priv": my_keys.encryption_private.hex(),
        "init_priv": my_keys.init_private.hex(),
        "welcome": first.welcome.to_bytes().hex(),
        "ratchet_tree": None,
        "initial_epoch_authenticator": mine.epoch_authenticator.hex(),
        "epochs": epochs,
    }


GENERATORS = {
    "crypto-basics.json": crypto_basics,
    "key-schedule.json": key_schedule,
    "psk_secret.json": psk_secret,
    "secret-tree.json": secret_tree,
    "message-protection.json": message_protection,
    "transcript-hashes.json": transcript_hashes,
    "welcome.json": welcome,
    "passive-client-handling-commit.json": passive_client,
}


PINNED_STATE = HERE / "pinned" / "state_v1.json"


def state_v1() -> Case:
    """A member's persisted state (format v1) in a 3-member X-Wing group, and a message
    from another member to decrypt after restoring it."""
    lifetime = Lifetime(0, 2**63)
    creator = create_group(SUITE, b"pinned-state-v1", RNG, lifetime)
    joining = [new_key_package(SUITE, RNG, lifetime) for _ in range(2)]
    result = create_commit(creator, RNG, by_value=tuple(Add(p) for p, _ in joining))
    assert result.welcome is not None and isinstance(result.welcome.body, Welcome)
    member = join_from_welcome(result.welcome.body, joining[0][0], joining[0][1])
    message, _ = encrypt_application(result.state, b"read me after restoring", RNG)
    return {
        "format_version": 1,
        "state": encode_state(member).hex(),
        "epoch_authenticator": member.epoch_authenticator.hex(),
        "message": message.to_bytes().hex(),
        "plaintext": b"read me after restoring".hex(),
    }


def main() -> None:
    """Write every file (one case each, as a one-element list like the IETF files). The
    pinned state fixture is written only if absent (``--repin-state-v1`` to overwrite,
    only while format v1 itself is being corrected before release)."""
    for name, generate in GENERATORS.items():
        (HERE / name).write_text(json.dumps([generate()], indent=1) + "\n")
    if not PINNED_STATE.exists() or "--repin-state-v1" in sys.argv:
        PINNED_STATE.parent.mkdir(exist_ok=True)
        PINNED_STATE.write_text(json.dumps(state_v1(), indent=1) + "\n")


if __name__ == "__main__":
    main()
