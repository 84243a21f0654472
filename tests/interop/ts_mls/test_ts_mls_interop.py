"""Veil's MLS interoperates with ts-mls, an independent implementation, in suite 0x0001
and in the X-Wing suite 0xF00D.

One mixed group per test: Veil and ts-mls members create it, add, update and remove
each other by commits, join from each other's Welcomes and exchange application
messages; after every commit every member must hold the same epoch authenticator.
Only RFC 9420 MLSMessage bytes cross between the two sides.

Two ts-mls deviations from RFC 9420 shape the schedule (both reported in
docs and the MLS coordination log): a ts-mls Commit covering a single Remove has no
path (so ts-mls removes two members at a time here, and a test pins Veil's rejection
of the single-Remove form), and a ts-mls member cannot process the path Commit that
removes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import pytest

from helpers.ts_mls import TsMls, TsMlsUnavailable, install
from veil.crypto import DeterministicRandom
from veil.mls.codec import decode
from veil.mls.errors import InvalidCommit
from veil.mls.framing import MLSMessage
from veil.mls.group_state import GroupState, JoinKeys, join_from_welcome
from veil.mls.leaf_node import KeyPackage, Lifetime
from veil.mls.operations import create_commit, create_group, encrypt_application, new_key_package
from veil.mls.processing import process_message
from veil.mls.proposals import Add, Proposal, Remove
from veil.mls.suites import suite_by_id
from veil.mls.welcome import Welcome

SUITES = [pytest.param(0x0001, id="0x0001"), pytest.param(0xF00D, id="xwing-0xF00D")]
# ts-mls caps a leaf's total lifetime (four months by default).
NOW = int(time.time())
LIFETIME = Lifetime(NOW - 3600, NOW + 30 * 86400)
BodyT = TypeVar("BodyT", KeyPackage, Welcome)


@pytest.fixture
def ts_mls() -> Iterator[TsMls]:
    """A fresh driver process per test; skips when ts-mls cannot be installed."""
    try:
        folder = install()
    except TsMlsUnavailable as reason:
        pytest.skip(str(reason))
    with TsMls(folder) as driver:
        yield driver


@dataclass
class MixedGroup:
    """A group whose members are Veil states or ts-mls members (by name) in the driver."""

    suite_id: int
    driver: TsMls
    rng: DeterministicRandom
    veil: dict[str, GroupState] = field(default_factory=dict)
    ts: set[str] = field(default_factory=set)
    pending: dict[str, tuple[KeyPackage, JoinKeys]] = field(default_factory=dict)

    def key_package(self, name: str, side: str) -> bytes:
        """A KeyPackage MLSMessage for a future member on ``side`` ("veil" or "ts")."""
        if side == "ts":
            return self.driver.key_package(name, self.suite_id)
        package, keys = new_key_package(suite_by_id(self.suite_id), self.rng, LIFETIME)
        self.pending[name] = (package, keys)
        return MLSMessage(package).to_bytes()

    def leaf_of(self, name: str) -> int:
        """The member's leaf index, as its own side reports it."""
        if name in self.veil:
            return self.veil[name].leaf_index
        return self.driver.summary(name).leaf_index

    def commit(
        self, committer: str, add: dict[str, str] | None = None, remove: tuple[str, ...] = ()
    ) -> None:
        """``committer`` commits Adds of new members (name -> side) and Removes; the
        others process it, joiners join from the Welcome, all authenticators agree."""
        add = add or {}
        packages = {name: self.key_package(name, side) for name, side in add.items()}
        leaves = tuple(self.leaf_of(name) for name in remove)
        if committer in self.veil:
            commit, welcome = self._veil_commit(committer, tuple(packages.values()), leaves)
        else:
            made = self.driver.commit(committer, tuple(packages.values()), leaves)
            commit, welcome = made.commit, made.welcome
        self._deliver(committer, commit, set(remove))
        for name in packages:
            assert welcome is not None
            self._join(name, welcome)
        assert len(self.authenticators()) == 1, f"authenticators diverge after {committer}'s commit"

    def _veil_commit(
        self, committer: str, packages: tuple[bytes, ...], leaves: tuple[int, ...]
    ) -> tuple[bytes, bytes | None]:
        proposals: list[Proposal] = [Add(_body(kp, KeyPackage)) for kp in packages]
        proposals += [Remove(leaf) for leaf in leaves]
        private = len(self.veil) % 2 == 0  # both framings reach ts-mls over the run
        result = create_commit(
            self.veil[committer], self.rng, by_value=tuple(proposals), private=private
        )
        self.veil[committer] = result.state
        welcome = None if result.welcome is None else result.welcome.to_bytes()
        return result.message.to_bytes(), welcome

    def _deliver(self, sender: str, message: bytes, removed: set[str]) -> None:
        for name in list(self.veil):
            if name != sender:
                outcome = process_message(self.veil[name], _message(message))
                assert outcome.removed == (name in removed)
                self.veil[name] = outcome.state
        # ts-mls 2.0.0-rc.10 cannot process a Commit that removes it when the Commit
        # carries a path (it looks for a path secret it is not sent and throws), so a
        # removed ts-mls member is just dropped; the rest must see no removal.
        for name in self.ts - removed - {sender}:
            assert not self.driver.process(name, message).removed
        for name in removed:
            self.veil.pop(name, None)
            self.ts.discard(name)

    def _join(self, name: str, welcome: bytes) -> None:
        if name in self.pending:
            package, keys = self.pending.pop(name)
            self.veil[name] = join_from_welcome(_body(welcome, Welcome), package, keys)
        else:
            self.driver.join(name, welcome)
            self.ts.add(name)

    def authenticators(self) -> set[bytes]:
        """The distinct epoch authenticators the members hold."""
        found = {state.epoch_authenticator for state in self.veil.values()}
        return found | {self.driver.summary(name).epoch_authenticator for name in self.ts}

    def send(self, sender: str, data: bytes) -> None:
        """``sender`` sends an application message; every other member reads ``data``."""
        if sender in self.veil:
            message, self.veil[sender] = encrypt_application(self.veil[sender], data, self.rng)
            wire = message.to_bytes()
        else:
            wire = self.driver.encrypt(sender, data)
        for name in list(self.veil):
            if name != sender:
                outcome = process_message(self.veil[name], _message(wire))
                assert outcome.content == data
                self.veil[name] = outcome.state
        for name in self.ts:
            if name != sender:
                assert self.driver.process(name, wire).application_data == data


def _message(data: bytes) -> MLSMessage:
    return decode(data, MLSMessage.decode)


def _body(data: bytes, kind: type[BodyT]) -> BodyT:
    body = _message(data).body
    assert isinstance(body, kind), type(body)
    return body


def exercise(group: MixedGroup, first: str, other: str) -> None:
    """Commits of every kind from both sides, messages both ways after each."""
    group.commit(first, add={"p": "veil", "q": "ts"})  # one Add each side, one Welcome
    group.send(first, b"hello from the creator")
    group.send(other, b"hello from the other side")
    group.commit(other)  # Update through a path
    group.commit(first)
    group.commit("p", add={"r": "ts", "t": "ts"})
    group.commit("q", add={"s": "veil"})
    group.send("r", b"from ts-mls")
    group.send("s", b"from veil")
    group.commit("q", remove=("p", "r"))  # two Removes: see test_ts_mls_single_remove_...
    group.commit("s", remove=("t",))  # Veil removes a ts-mls member
    group.commit("q")
    group.commit("s")
    group.send(first, b"after the removals")
    group.send(other, b"still here")


@pytest.mark.parametrize("suite_id", SUITES)
def test_veil_group_joined_by_ts_mls(ts_mls: TsMls, suite_id: int) -> None:
    rng = DeterministicRandom(b"veil-creates-%d" % suite_id)
    group = MixedGroup(suite_id, ts_mls, rng)
    group.veil["a"] = create_group(
        suite_by_id(suite_id), b"veil-group-%d" % suite_id, rng, LIFETIME
    )
    group.commit("a", add={"b": "ts"})
    exercise(group, "a", "b")


@pytest.mark.parametrize("suite_id", SUITES)
def test_ts_mls_group_joined_by_veil(ts_mls: TsMls, suite_id: int) -> None:
    rng = DeterministicRandom(b"ts-creates-%d" % suite_id)
    group = MixedGroup(suite_id, ts_mls, rng)
    ts_mls.create_group("A", suite_id, b"ts-group-%d" % suite_id)
    group.ts.add("A")
    group.commit("A", add={"B": "veil"})
    exercise(group, "A", "B")


@pytest.mark.parametrize("suite_id", SUITES)
def test_ts_mls_single_remove_commit_lacks_the_required_path(ts_mls: TsMls, suite_id: int) -> None:
    """ts-mls 2.0.0-rc.10 sends a Commit covering ONE Remove without a path (its
    ``needsUpdatePath`` counts ``removes.length > 1``); RFC 9420 §12.4 requires a path
    whenever a Commit covers a Remove, so Veil rejects it and keeps its state."""
    rng = DeterministicRandom(b"single-remove-%d" % suite_id)
    group = MixedGroup(suite_id, ts_mls, rng)
    ts_mls.create_group("A", suite_id, b"single-remove-%d" % suite_id)
    group.ts.add("A")
    group.commit("A", add={"B": "veil", "C": "veil"})
    made = ts_mls.commit("A", remove=(group.leaf_of("C"),))
    before = group.veil["B"]
    with pytest.raises(InvalidCommit, match="UpdatePath"):
        process_message(before, _message(made.commit))
    assert group.veil["B"].epoch_authenticator == before.epoch_authenticator
