"""RFC 9420 §12.4.3.1 rejections of a Welcome: each inconsistency in its GroupInfo or
GroupSecrets raises its own error. The Welcomes are re-sealed by the committer (who
knows the welcome secret), so each one opens and reaches the check under test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from helpers.mls_forge import four_members
from helpers.mls_groups import LIFETIME, Harness
from veil.crypto import DeterministicRandom
from veil.mls.codec import decode
from veil.mls.errors import (
    InvalidConfirmationTag,
    InvalidGroupInfo,
    InvalidSignature,
    InvalidTree,
    InvalidWelcome,
    MLSError,
)
from veil.mls.group_context import Extension
from veil.mls.group_state import EXTENSION_RATCHET_TREE, GroupState, JoinKeys, join_from_welcome
from veil.mls.leaf_node import KeyPackage
from veil.mls.nodes import decode_ratchet_tree
from veil.mls.operations import create_commit, new_key_package
from veil.mls.proposals import Add
from veil.mls.ratchet_tree import RatchetTree
from veil.mls.suites import SUITES, suite_by_id
from veil.mls.welcome import (
    EncryptedGroupSecrets,
    GroupInfo,
    GroupSecrets,
    Welcome,
    seal_group_info,
    seal_group_secrets,
)


@dataclass(frozen=True)
class Invitation:
    """A Welcome m0 sent for a newcomer, with the newcomer's package and keys and
    m0's state after the commit (it holds the welcome secret)."""

    welcome: Welcome
    package: KeyPackage
    keys: JoinKeys
    committer: GroupState

    def resealed(
        self,
        info: Callable[[GroupInfo], GroupInfo] = lambda info: info,
        secrets: Callable[[GroupSecrets], GroupSecrets] = lambda secrets: secrets,
        signer_key: bytes | None = None,
    ) -> Welcome:
        """The Welcome with its GroupInfo and GroupSecrets changed, the GroupInfo
        signed again (by ``signer_key``, default m0's) and everything re-encrypted."""
        suite = self.committer.suite
        welcome_secret = self.committer.secrets.welcome_secret
        group_info = info(self.welcome.open_group_info(suite, welcome_secret))
        group_info = group_info.signed(suite, signer_key or self.committer.signature_key)
        sealed_info = seal_group_info(suite, welcome_secret, group_info)
        reference = self.package.reference(suite)
        opened = self.welcome.open_group_secrets(suite, reference, self.keys.init_private)
        assert opened is not None
        recipients = [(self.package.init_key, secrets(opened))]
        [sealed] = seal_group_secrets(suite, sealed_info, recipients, DeterministicRandom(b"w"))
        entry = EncryptedGroupSecrets(reference, sealed)
        return Welcome(suite.suite_id, (entry,), sealed_info)

    def assert_refused(self, welcome: Welcome, error: type[MLSError]) -> None:
        """Joining from ``welcome`` raises exactly ``error``."""
        with pytest.raises(error) as raised:
            join_from_welcome(welcome, self.package, self.keys)
        assert type(raised.value) is error, f"{type(raised.value).__name__}: {raised.value}"


@pytest.fixture(params=sorted(SUITES), ids=lambda suite_id: f"{suite_id:#06x}")
def group(request: pytest.FixtureRequest) -> Harness:
    """Four members m0..m3 in epoch 1, in each suite Veil implements."""
    return four_members(suite_by_id(request.param))


@pytest.fixture
def invitation(group: Harness) -> Invitation:
    """m0 adds a newcomer in a commit with a path (so the Welcome has a path secret)."""
    package, keys = new_key_package(group.suite, group.rng, LIFETIME)
    result = create_commit(group.members["m0"], group.rng, by_value=(Add(package),))
    assert result.welcome is not None and isinstance(result.welcome.body, Welcome)
    return Invitation(result.welcome.body, package, keys, result.state)


def test_resealed_welcome_is_accepted(invitation: Invitation) -> None:
    """The control case: re-sealing alone changes nothing a joiner checks."""
    joined = join_from_welcome(invitation.resealed(), invitation.package, invitation.keys)
    assert joined.epoch_authenticator == invitation.committer.epoch_authenticator


def without_leaf_3(info: GroupInfo) -> GroupInfo:
    """``info`` whose ratchet tree no longer holds the member at leaf 3."""
    suite = suite_by_id(info.group_context.cipher_suite)
    extensions = []
    for extension in info.extensions:
        if extension.extension_type == EXTENSION_RATCHET_TREE:
            tree = RatchetTree(suite, decode(extension.extension_data, decode_ratchet_tree))
            tree.remove_leaf(3)
            extensions.append(Extension(EXTENSION_RATCHET_TREE, tree.to_bytes()))
        else:
            extensions.append(extension)
    return replace(info, extensions=tuple(extensions))


def test_tree_that_is_not_the_groups_is_refused(invitation: Invitation) -> None:
    invitation.assert_refused(invitation.resealed(without_leaf_3), InvalidTree)


def test_group_info_without_a_tree_is_refused(invitation: Invitation) -> None:
    """Veil puts the tree in the GroupInfo; without it (and none supplied) no join."""
    welcome = invitation.resealed(lambda info: replace(info, extensions=()))
    invitation.assert_refused(welcome, InvalidWelcome)


def test_wrong_confirmation_tag_is_refused(invitation: Invitation) -> None:
    def retag(info: GroupInfo) -> GroupInfo:
        return replace(info, confirmation_tag=bytes(len(info.confirmation_tag)))

    invitation.assert_refused(invitation.resealed(retag), InvalidConfirmationTag)


def test_group_info_signed_by_another_member_is_refused(
    group: Harness, invitation: Invitation
) -> None:
    welcome = invitation.resealed(signer_key=group.members["m2"].signature_key)
    invitation.assert_refused(welcome, InvalidSignature)


def test_group_info_signed_by_no_member_is_refused(invitation: Invitation) -> None:
    welcome = invitation.resealed(lambda info: replace(info, signer=9))
    invitation.assert_refused(welcome, InvalidGroupInfo)


def test_group_info_naming_another_suite_is_refused(invitation: Invitation) -> None:
    suite_id = invitation.committer.suite.suite_id
    other = next(candidate for candidate in sorted(SUITES) if candidate != suite_id)

    def resuite(info: GroupInfo) -> GroupInfo:
        return replace(info, group_context=replace(info.group_context, cipher_suite=other))

    invitation.assert_refused(invitation.resealed(resuite), InvalidWelcome)


def test_wrong_path_secret_is_refused(invitation: Invitation) -> None:
    def repath(secrets: GroupSecrets) -> GroupSecrets:
        assert secrets.path_secret is not None
        return replace(secrets, path_secret=bytes(len(secrets.path_secret)))

    invitation.assert_refused(invitation.resealed(secrets=repath), InvalidWelcome)


def test_wrong_joiner_secret_is_refused(invitation: Invitation) -> None:
    def rejoin(secrets: GroupSecrets) -> GroupSecrets:
        return replace(secrets, joiner_secret=bytes(len(secrets.joiner_secret)))

    invitation.assert_refused(invitation.resealed(secrets=rejoin), InvalidWelcome)
