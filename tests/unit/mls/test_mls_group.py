"""Group state: the passive-client IETF vectors, and rejections that change nothing."""

from __future__ import annotations

import pytest

from helpers.mls_checks_group import (
    check_passive_client_handling_commit,
    check_passive_client_random,
    check_passive_client_welcome,
    join_case,
)
from helpers.mls_vectors import Case, hexb, implemented_cases
from veil.mls.codec import decode
from veil.mls.errors import InvalidMembershipTag, WrongEpoch
from veil.mls.framing import MLSMessage, PublicMessage
from veil.mls.processing import process_message


@pytest.mark.parametrize("case", implemented_cases("passive-client-welcome.json"), ids=str)
def test_passive_client_welcome_vector(case: Case) -> None:
    check_passive_client_welcome(case)


@pytest.mark.parametrize("case", implemented_cases("passive-client-handling-commit.json"), ids=str)
def test_passive_client_handling_commit_vector(case: Case) -> None:
    check_passive_client_handling_commit(case)


@pytest.mark.parametrize("case", implemented_cases("passive-client-random.json"), ids=str)
def test_passive_client_random_vector(case: Case) -> None:
    check_passive_client_random(case)


def _public_commit_case() -> Case:
    for case in implemented_cases("passive-client-handling-commit.json"):
        message = decode(hexb(case["epochs"][0]["commit"]), MLSMessage.decode)
        if isinstance(message.body, PublicMessage) and not case["epochs"][0]["proposals"]:
            return case
    raise AssertionError("no public commit without proposals in the vectors")


def test_a_rejected_commit_leaves_the_state_unchanged_and_the_good_one_still_applies() -> None:
    case = _public_commit_case()
    state, psks = join_case(case)
    before = (state.context, state.epoch_authenticator, state.tree.to_bytes())
    commit = hexb(case["epochs"][0]["commit"])
    forged = bytearray(commit)
    forged[-1] ^= 1  # the membership tag is last
    with pytest.raises(InvalidMembershipTag):
        process_message(state, decode(bytes(forged), MLSMessage.decode), psks)
    assert (state.context, state.epoch_authenticator, state.tree.to_bytes()) == before
    outcome = process_message(state, decode(commit, MLSMessage.decode), psks)
    assert outcome.state.epoch_authenticator.hex() == case["epochs"][0]["epoch_authenticator"]
    with pytest.raises(WrongEpoch):
        process_message(outcome.state, decode(commit, MLSMessage.decode), psks)
