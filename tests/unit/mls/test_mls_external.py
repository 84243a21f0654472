"""External commits: a newcomer joins from a published GroupInfo (both suites)."""

from __future__ import annotations

import pytest

from helpers.mls_groups import LIFETIME, Harness
from veil.mls.codec import decode
from veil.mls.errors import InvalidSignature
from veil.mls.external_join import group_info_for_joiners, join_by_external_commit
from veil.mls.framing import MLSMessage
from veil.mls.operations import encrypt_application
from veil.mls.processing import process_message
from veil.mls.suites import SUITES, CipherSuite
from veil.mls.welcome import GroupInfo


@pytest.mark.parametrize("suite", list(SUITES.values()), ids=lambda s: f"{s.suite_id:#06x}")
def test_a_newcomer_joins_by_external_commit(suite: CipherSuite) -> None:
    group = Harness.start(suite, b"external")
    group.commit("m0", (), new=2)
    published = decode(group_info_for_joiners(group.members["m1"]).to_bytes(), MLSMessage.decode)
    assert isinstance(published.body, GroupInfo)
    commit, joiner = join_by_external_commit(published.body, group.rng, LIFETIME)
    group.deliver("newcomer", decode(commit.to_bytes(), MLSMessage.decode))
    group.members["newcomer"] = joiner
    assert len(group.members) == 4 and len(group.authenticators()) == 1
    message, group.members["newcomer"] = encrypt_application(joiner, b"hello", group.rng)
    assert process_message(group.members["m0"], message).content == b"hello"


def test_a_tampered_group_info_is_refused() -> None:
    group = Harness.start(next(iter(SUITES.values())), b"external-bad")
    group.commit("m0", (), new=1)
    info = group_info_for_joiners(group.members["m1"]).body
    assert isinstance(info, GroupInfo)
    forged = GroupInfo(
        info.group_context, info.extensions, info.confirmation_tag, info.signer, bytes(64)
    )
    with pytest.raises(InvalidSignature):
        join_by_external_commit(forged, group.rng, LIFETIME)
