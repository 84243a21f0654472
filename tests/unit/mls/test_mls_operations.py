"""Group operations among Veil members: agreement, removal, PCS and FS (hypothesis)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.mls_groups import LIFETIME, Harness
from veil.crypto import DeterministicRandom
from veil.mls.errors import (
    DecryptionFailed,
    InvalidLeafNode,
    MissingPskSecret,
    SecretAlreadyUsed,
    WrongEpoch,
)
from veil.mls.framing import PrivateMessage
from veil.mls.key_schedule import PSK_EXTERNAL, PSK_RESUMPTION, PreSharedKeyID
from veil.mls.operations import (
    create_commit,
    encrypt_application,
    new_key_package,
    process_from_log,
    propose_update,
)
from veil.mls.processing import process_message
from veil.mls.proposals import Add, Commit, HPKECiphertext, PreSharedKey, ReInit
from veil.mls.protection import decrypt_private
from veil.mls.state_codec import decode_state, encode_state
from veil.mls.suites import SUITES, CipherSuite, suite_by_id


@pytest.mark.parametrize("suite", list(SUITES.values()), ids=lambda s: f"{s.suite_id:#06x}")
def test_add_update_remove_and_messages(suite: CipherSuite) -> None:
    group = Harness.start(suite, b"lifecycle")
    group.commit("m0", (), new=3)
    assert len(group.members) == 4 and len(group.authenticators()) == 1
    group.commit("m2", ())  # an empty commit: an update with a path
    group.remove("m1", "m3")
    assert set(group.members) == {"m0", "m1", "m2"} and len(group.authenticators()) == 1
    message, group.members["m2"] = encrypt_application(group.members["m2"], b"hi", group.rng)
    assert process_message(group.members["m0"], message).content == b"hi"
    with pytest.raises(WrongEpoch):
        process_message(group.removed["m3"], message)


Step = tuple[str, int, int]
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "update", "remove", "message"]),
        st.integers(0, 99),
        st.integers(0, 99),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_random_schedules_keep_members_in_agreement(steps: list[Step]) -> None:
    group = Harness.start(suite_by_id(1), b"random")
    for action, first, second in steps:
        names = sorted(group.members)
        actor = names[first % len(names)]
        if action == "add" and len(names) < 16:
            group.commit(actor, (), new=1 + second % 3)
        elif action == "update":
            group.commit(actor, ())
        elif action == "remove" and len(names) > 1:
            victim = names[second % len(names)]
            actor = actor if actor != victim else names[(first + 1) % len(names)]
            gone = group.removed.copy()
            group.remove(actor, victim)
            assert victim in group.removed and victim not in gone
        elif action == "message":
            message, group.members[actor] = encrypt_application(
                group.members[actor], b"m", group.rng
            )
            for name, state in group.members.items():
                if name != actor:
                    assert process_message(state, message).content == b"m"
            for state in group.removed.values():
                with pytest.raises(WrongEpoch):
                    process_message(state, message)
        assert len(group.authenticators()) == 1


def test_post_compromise_security() -> None:
    """A copy of m1's state (a compromise) learns nothing once m1 commits an update."""
    group = Harness.start(suite_by_id(0xF00D), b"pcs")
    group.commit("m0", (), new=2)
    stolen = group.members["m1"].copy()
    result = group.commit("m1", ())
    commit = result.message.body.content.content  # type: ignore[union-attr]
    assert isinstance(commit, Commit) and commit.path is not None
    context = replace(
        group.members["m0"].context,
        confirmed_transcript_hash=stolen.context.confirmed_transcript_hash,
    ).to_bytes()
    suite = stolen.suite

    def opens(private: bytes, sealed: HPKECiphertext) -> bool:
        try:
            suite.decrypt_with_label(
                private, b"UpdatePathNode", context, sealed.kem_output, sealed.ciphertext
            )
        except DecryptionFailed:
            return False
        return True

    sealed_secrets = [s for node in commit.path.nodes for s in node.encrypted_path_secret]
    m0_leaf_key = group.members["m0"].private.keys[0][0]
    assert any(opens(m0_leaf_key, sealed) for sealed in sealed_secrets)  # the check can pass
    for sealed in sealed_secrets:
        assert not any(opens(private, sealed) for private, _ in stolen.private.keys.values())
    message, group.members["m0"] = encrypt_application(group.members["m0"], b"after", group.rng)
    body = message.body
    assert isinstance(body, PrivateMessage)
    with pytest.raises(DecryptionFailed):
        decrypt_private(stolen.suite, body, stolen.secret_tree, stolen.secrets.sender_data_secret)


def test_forward_secrecy_of_used_keys_and_past_epochs() -> None:
    group = Harness.start(suite_by_id(1), b"fs")
    group.commit("m0", (), new=1)
    message, group.members["m0"] = encrypt_application(
        group.members["m0"], b"old", DeterministicRandom(b"r")
    )
    group.members["m1"] = process_message(group.members["m1"], message).state
    with pytest.raises(SecretAlreadyUsed):
        process_message(group.members["m1"], message)
    group.commit("m0", ())
    with pytest.raises(WrongEpoch):
        process_message(group.members["m1"], message)


def test_adding_a_key_package_twice_is_refused_and_changes_nothing() -> None:
    group = Harness.start(suite_by_id(1), b"twice")
    package, _ = new_key_package(group.suite, group.rng, LIFETIME)
    group.members["m0"] = create_commit(
        group.members["m0"], group.rng, by_value=(Add(package),)
    ).state
    before = encode_state(group.members["m0"])
    with pytest.raises(InvalidLeafNode, match="already used by another member"):
        create_commit(group.members["m0"], group.rng, by_value=(Add(package),))
    assert encode_state(group.members["m0"]) == before


def test_an_update_proposal_committed_by_another_member_keeps_the_proposer_in_the_group() -> None:
    group = Harness.start(suite_by_id(0xF00D), b"update")
    group.commit("m0", (), new=2)
    message, group.members["m1"], reference = propose_update(group.members["m1"], group.rng)
    group.deliver("m1", message)
    result = create_commit(group.members["m0"], group.rng, by_reference=(reference,))
    group.deliver("m0", result.message)
    group.members["m0"] = result.state
    assert len(group.authenticators()) == 1
    group.commit("m2", ())  # m1 must decrypt this path with its new leaf key
    assert len(group.authenticators()) == 1
    restored = decode_state(encode_state(group.members["m1"]))
    assert restored.epoch_authenticator == group.members["m1"].epoch_authenticator


def test_the_log_decides_which_of_two_concurrent_commits_wins() -> None:
    group = Harness.start(suite_by_id(1), b"race")
    group.commit("m0", (), new=2)
    first = create_commit(group.members["m1"], group.rng)
    second = create_commit(group.members["m2"], group.rng)
    # The log accepted m2's commit first: everyone, m2 included, follows it.
    states = {
        name: process_from_log(state, second.message, second if name == "m2" else None).state
        for name, state in group.members.items()
    }
    assert len({state.epoch_authenticator for state in states.values()}) == 1
    with pytest.raises(WrongEpoch):  # m1's losing commit is stale for everyone
        process_from_log(states["m0"], first.message)


def test_a_reinit_commit_tells_every_member_the_group_ends() -> None:
    group = Harness.start(suite_by_id(1), b"reinit")
    group.commit("m0", (), new=1)
    plan = ReInit(b"successor", 0xF00D)
    result = create_commit(group.members["m0"], group.rng, by_value=(plan,))
    assert process_message(group.members["m1"], result.message).reinit == plan


def test_external_and_resumption_psks_enter_the_key_schedule() -> None:
    group = Harness.start(suite_by_id(1), b"psk")
    group.commit("m0", (), new=1)
    store = {b"psk-id": b"s" * 32}
    external = PreSharedKey(PreSharedKeyID(PSK_EXTERNAL, b"n" * 32, psk_id=b"psk-id"))
    epoch = group.members["m0"].context.epoch
    resumption = PreSharedKey(
        PreSharedKeyID(
            PSK_RESUMPTION, b"r" * 32, usage=1, psk_group_id=b"group-psk", psk_epoch=epoch
        )
    )
    with pytest.raises(MissingPskSecret):
        create_commit(group.members["m0"], group.rng, by_value=(external,))
    result = create_commit(
        group.members["m0"], group.rng, by_value=(external, resumption), external_psks=store
    )
    with pytest.raises(MissingPskSecret):
        process_message(group.members["m1"], result.message)
    processed = process_message(group.members["m1"], result.message, store)
    assert processed.state.epoch_authenticator == result.state.epoch_authenticator


def test_a_welcome_hashes_its_large_hpke_info_once(hashed_infos: list[int]) -> None:
    """The Welcome's HPKE info holds the encrypted GroupInfo (the whole tree): it is hashed
    once for all joiners (RFC 9180 §5.1 info_hash), not once per joiner, which was O(n²)."""
    group = Harness.start(suite_by_id(0xF00D), b"welcome-once")
    group.commit("m0", (), new=5)
    assert len(group.members) == 6 and len(group.authenticators()) == 1
    assert len(hashed_infos) == 1 and hashed_infos[0] > 5 * 1216
