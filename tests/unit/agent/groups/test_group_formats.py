"""The group formats round-trip, and random or mutated bytes raise only the group
layer's own errors (hypothesis)."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.agent.groups.codec import decode_member
from veil.agent.groups.errors import GroupProtocolError, GroupStateCorrupt, MalformedGroupData
from veil.agent.groups.external import ExternalOffer
from veil.agent.groups.policy import (
    POLICY_EXTENSION,
    GroupPolicy,
    Role,
    RosterEntry,
    policy_of,
)
from veil.agent.groups.wire import JoinRequest, PendingJoin, WelcomeBundle, decode_entry
from veil.crypto import SystemRandom
from veil.mls.group_context import Extension, GroupContext
from veil.mls.leaf_node import Lifetime
from veil.mls.operations import new_key_package
from veil.mls.suites import suite_by_id

POLICY = GroupPolicy(
    "Book club",
    "Monthly",
    public=True,
    receipts=False,
    default_role=Role.OBSERVER,
    roster=(
        RosterEntry(b"\x01" * 16, Role.OWNER, "Ann", b"ref-a"),
        RosterEntry(b"\x02" * 16, Role.MEMBER, "Bob", b"ref-b"),
    ),
)


def _request() -> tuple[JoinRequest, PendingJoin]:
    package, keys = new_key_package(suite_by_id(1), SystemRandom(), Lifetime(0, 2**40))
    return JoinRequest(package, "Cy"), PendingJoin(package, keys)


def test_policy_and_join_messages_round_trip() -> None:
    extension = POLICY.to_extension()
    assert GroupPolicy.from_extension(extension.extension_data) == POLICY
    request, pending = _request()
    assert JoinRequest.from_bytes(request.to_bytes()) == request
    assert PendingJoin.from_bytes(pending.to_bytes()) == pending


def test_a_policy_is_decoded_once_per_epoch_and_a_bad_one_every_time() -> None:
    context = GroupContext(1, b"g" * 16, 3, b"", b"", (POLICY.to_extension(),))
    assert policy_of(context) == POLICY
    assert policy_of(context) is policy_of(replace(context, epoch=4))  # same bytes: kept
    bad = Extension(POLICY_EXTENSION, POLICY.to_extension().extension_data[:-1])
    for _ in range(2):
        with pytest.raises(MalformedGroupData):
            policy_of(replace(context, extensions=(bad,)))


def test_a_roster_out_of_order_or_with_two_owners_is_refused() -> None:
    rows = POLICY.roster
    for roster in ((rows[1], rows[0]), (rows[0], RosterEntry(b"\x03" * 16, Role.OWNER))):
        bad = GroupPolicy("x", roster=roster).to_extension().extension_data
        try:
            GroupPolicy.from_extension(bad)
        except GroupProtocolError:
            continue
        raise AssertionError("accepted")


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_group_errors(data: bytes) -> None:
    for parse in (
        decode_entry,
        GroupPolicy.from_extension,
        JoinRequest.from_bytes,
        WelcomeBundle.from_bytes,
        PendingJoin.from_bytes,
        ExternalOffer.from_bytes,
    ):
        with contextlib.suppress(GroupProtocolError):
            parse(data)
    with contextlib.suppress(GroupStateCorrupt):
        decode_member(data)


@settings(max_examples=200)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_mutated_policies_raise_only_group_errors(position: int, value: int) -> None:
    data = bytearray(POLICY.to_extension().extension_data)
    data[position % len(data)] = value
    with contextlib.suppress(GroupProtocolError):
        GroupPolicy.from_extension(bytes(data))
