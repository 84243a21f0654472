"""A tiny in-memory group of Veil MLS members for property tests: every commit is
delivered to every member in one order, as the group's relay log would."""

from __future__ import annotations

from dataclasses import dataclass, field

from veil.crypto import DeterministicRandom
from veil.mls.framing import MLSMessage
from veil.mls.group_state import GroupState, join_from_welcome
from veil.mls.leaf_node import Lifetime
from veil.mls.operations import CommitResult, create_commit, create_group, new_key_package
from veil.mls.processing import process_message
from veil.mls.proposals import Add, Proposal, Remove
from veil.mls.suites import CipherSuite

LIFETIME = Lifetime(0, 2**63)


@dataclass
class Harness:
    """Members by name; ``removed`` keeps the last state of every removed member."""

    suite: CipherSuite
    rng: DeterministicRandom
    members: dict[str, GroupState] = field(default_factory=dict)
    removed: dict[str, GroupState] = field(default_factory=dict)
    counter: int = 0

    @classmethod
    def start(cls, suite: CipherSuite, seed: bytes) -> Harness:
        """A group whose creator is named ``m0``."""
        rng = DeterministicRandom(seed)
        harness = cls(suite, rng)
        harness.members["m0"] = create_group(suite, b"group-" + seed, rng, LIFETIME)
        harness.counter = 1
        return harness

    def commit(self, committer: str, proposals: tuple[Proposal, ...], new: int = 0) -> CommitResult:
        """``committer`` commits ``proposals`` plus Adds for ``new`` fresh members; every
        member processes it; joiners join from the Welcome."""
        packages = [new_key_package(self.suite, self.rng, LIFETIME) for _ in range(new)]
        adds = tuple(Add(package) for package, _ in packages)
        result = create_commit(self.members[committer], self.rng, by_value=proposals + adds)
        self.deliver(committer, result.message)
        self.members[committer] = result.state
        for package, keys in packages:
            assert result.welcome is not None
            welcome = result.welcome.body
            name = f"m{self.counter}"
            self.counter += 1
            self.members[name] = join_from_welcome(welcome, package, keys)  # type: ignore[arg-type]
        return result

    def deliver(self, sender: str, message: MLSMessage) -> None:
        """Every other member processes ``message``; the removed ones move aside."""
        for name, state in list(self.members.items()):
            if name == sender:
                continue
            outcome = process_message(state, message)
            if outcome.removed:
                self.removed[name] = self.members.pop(name)
            else:
                self.members[name] = outcome.state

    def remove(self, committer: str, victim: str) -> CommitResult:
        """``committer`` removes ``victim``."""
        return self.commit(committer, (Remove(self.members[victim].leaf_index),))

    def authenticators(self) -> set[bytes]:
        """The distinct epoch authenticators members hold (one if they agree)."""
        return {state.epoch_authenticator for state in self.members.values()}
