"""Persisted group state: the pinned v1 fixture restores exactly; damage is a local error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.mls_groups import Harness
from veil.mls.codec import decode
from veil.mls.errors import CorruptGroupState, MustCommitFirst, UnsupportedStateVersion
from veil.mls.framing import MLSMessage
from veil.mls.operations import encrypt_application
from veil.mls.processing import process_message
from veil.mls.state_codec import decode_state, encode_state
from veil.mls.suites import suite_by_id

PINNED = Path(__file__).resolve().parents[2] / "vectors" / "mls" / "pinned" / "state_v1.json"


def test_pinned_v1_state_restores_exactly_and_reads_a_message() -> None:
    fixture = json.loads(PINNED.read_text())
    data = bytes.fromhex(fixture["state"])
    state = decode_state(data)
    assert encode_state(state) == data
    assert state.epoch_authenticator.hex() == fixture["epoch_authenticator"]
    message = decode(bytes.fromhex(fixture["message"]), MLSMessage.decode)
    assert process_message(state, message).content == bytes.fromhex(fixture["plaintext"])


def test_a_live_state_round_trips_mid_conversation() -> None:
    group = Harness.start(suite_by_id(1), b"state")
    group.commit("m0", (), new=2)
    first, group.members["m0"] = encrypt_application(group.members["m0"], b"1", group.rng)
    second, group.members["m0"] = encrypt_application(group.members["m0"], b"2", group.rng)
    group.members["m1"] = process_message(group.members["m1"], second).state
    restored = decode_state(encode_state(group.members["m1"]))
    assert process_message(restored, first).content == b"1"  # the retained late key survived


def test_damaged_or_future_states_are_local_errors() -> None:
    data = bytes.fromhex(json.loads(PINNED.read_text())["state"])
    with pytest.raises(CorruptGroupState):
        decode_state(data[:-1])
    with pytest.raises(CorruptGroupState):
        decode_state(b"XXXX" + data[4:])
    with pytest.raises(UnsupportedStateVersion):
        decode_state(data[:4] + b"\x00\x02" + data[6:])


def test_a_restored_member_commits_before_it_sends_again() -> None:
    group = Harness.start(suite_by_id(1), b"restore-send")
    group.commit("m0", (), new=1)
    restored = decode_state(encode_state(group.members["m1"]))
    with pytest.raises(MustCommitFirst):
        encrypt_application(restored, b"could reuse a nonce", group.rng)
    group.members["m1"] = restored
    group.commit("m1", ())  # a public commit: no ratchet key used
    message, _ = encrypt_application(group.members["m1"], b"fresh epoch", group.rng)
    assert process_message(group.members["m0"], message).content == b"fresh epoch"
