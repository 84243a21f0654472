"""The secret tree and its per-sender hash ratchets (RFC 9420 §9).

The epoch's ``encryption_secret`` sits at the root; each node's children derive from it
with ``ExpandWithLabel(secret, "tree", "left"|"right", Nh)``, and each leaf seeds a
handshake and an application ratchet. A ratchet hands out ``(key, nonce)`` per
generation and forgets secrets as it moves on (forward secrecy): an interior secret is
deleted once both children exist, a ratchet secret once the next one exists.

Late messages: when a receiver skips ahead, the keys of the generations it skipped are
kept, at most :attr:`SecretTreeConfig.max_retained_keys` per ratchet (the oldest go
first), and a generation more than :attr:`SecretTreeConfig.max_forward_gap` ahead is
refused. Lookups never change state; :meth:`SecretTree.consume` does, after the caller
authenticated the message, so a forged message cannot burn keys.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from veil.mls import tree_math
from veil.mls.codec import TlsReader, TlsWriter
from veil.mls.errors import InvalidMembership, MLSDecodeError, SecretAlreadyUsed, SecretTooFarAhead
from veil.mls.suites import CipherSuite

__all__ = ["ContentKind", "RatchetKey", "SecretTree", "SecretTreeConfig", "sender_data_key_nonce"]

ContentKind = Literal["handshake", "application"]
_KINDS: tuple[ContentKind, ...] = ("handshake", "application")


@dataclass(frozen=True, slots=True)
class SecretTreeConfig:
    """Bounds on what an attacker (or a lossy network) can make a receiver keep."""

    max_forward_gap: int = 1024
    max_retained_keys: int = 128


@dataclass(frozen=True, slots=True)
class RatchetKey:
    """The AEAD key and nonce of one generation of one sender's ratchet."""

    generation: int
    key: bytes
    nonce: bytes


@dataclass(slots=True)
class _HashRatchet:
    generation: int
    secret: bytes
    retained: OrderedDict[int, RatchetKey]


class SecretTree:
    """One epoch's secret tree for a group of ``n_leaves`` leaves."""

    def __init__(
        self,
        suite: CipherSuite,
        encryption_secret: bytes,
        n_leaves: int,
        config: SecretTreeConfig | None = None,
    ) -> None:
        self._suite = suite
        self._n_leaves = n_leaves
        self.config = config or SecretTreeConfig()
        self._node_secrets: dict[int, bytes] = {tree_math.root(n_leaves): encryption_secret}
        self._ratchets: dict[tuple[int, ContentKind], _HashRatchet] = {}
        self._owned: set[tuple[int, ContentKind]] = set()  # ratchets no copy shares

    def copy(self) -> SecretTree:
        """An independent copy, for transactional processing. Ratchets are shared until
        one side changes one (copy on write): a message changes one ratchet, and copying
        all of them, one per sender in a large group, would cost O(n) per message."""
        other = SecretTree.__new__(SecretTree)
        other._suite, other._n_leaves, other.config = self._suite, self._n_leaves, self.config
        other._node_secrets = dict(self._node_secrets)
        other._ratchets = dict(self._ratchets)
        other._owned, self._owned = set(), set()
        return other

    def encode(self, writer: TlsWriter) -> None:
        """Append the tree's remaining secrets and ratchets (for persisted state)."""
        writer.u32(self._n_leaves).u32(self.config.max_forward_gap)
        writer.u32(self.config.max_retained_keys)
        writer.vector(sorted(self._node_secrets.items()), lambda w, e: w.u32(e[0]).opaque(e[1]))
        writer.vector(sorted(self._ratchets.items()), _encode_ratchet)

    @classmethod
    def decode(cls, suite: CipherSuite, reader: TlsReader) -> SecretTree:
        """Read a tree written by :meth:`encode`."""
        n_leaves = reader.u32()
        config = SecretTreeConfig(reader.u32(), reader.u32())
        tree = cls(suite, b"", n_leaves, config)
        tree._node_secrets = dict(reader.vector(lambda r: (r.u32(), r.opaque(64))))
        tree._ratchets = dict(reader.vector(_decode_ratchet))
        return tree

    # --- reading keys (no state change) --------------------------------------------

    def key_for(self, leaf: int, kind: ContentKind, generation: int) -> RatchetKey:
        """The key a receiver needs for ``generation``; raises if it is gone or too far."""
        ratchet = self._peek_ratchet(leaf, kind)
        if generation < ratchet.generation:
            retained = ratchet.retained.get(generation)
            if retained is None:
                raise SecretAlreadyUsed(
                    f"generation {generation} of leaf {leaf} is used or deleted"
                )
            return retained
        if generation - ratchet.generation > self.config.max_forward_gap:
            raise SecretTooFarAhead(
                f"generation {generation} is more than {self.config.max_forward_gap} ahead"
            )
        secret = ratchet.secret
        for step in range(ratchet.generation, generation):
            secret = self._suite.derive_tree_secret(secret, b"secret", step, self._suite.hash_size)
        return self._ratchet_key(secret, generation)

    # --- changing state ------------------------------------------------------------

    def next_sending_key(self, leaf: int, kind: ContentKind) -> RatchetKey:
        """The sender's key for its next generation; the ratchet moves past it."""
        ratchet = self._ratchet(leaf, kind)
        key = self._ratchet_key(ratchet.secret, ratchet.generation)
        self._advance(ratchet)
        return key

    def consume(self, leaf: int, kind: ContentKind, generation: int) -> None:
        """Forget ``generation``'s key after its message authenticated, keeping skipped
        generations' keys for late messages (bounded)."""
        ratchet = self._ratchet(leaf, kind)
        if generation < ratchet.generation:
            ratchet.retained.pop(generation, None)
            return
        while ratchet.generation < generation:
            ratchet.retained[ratchet.generation] = self._ratchet_key(
                ratchet.secret, ratchet.generation
            )
            self._advance(ratchet)
        self._advance(ratchet)
        while len(ratchet.retained) > self.config.max_retained_keys:
            ratchet.retained.popitem(last=False)

    # --- internals -----------------------------------------------------------------

    def _ratchet_key(self, secret: bytes, generation: int) -> RatchetKey:
        suite = self._suite
        key = suite.derive_tree_secret(secret, b"key", generation, suite.key_size)
        nonce = suite.derive_tree_secret(secret, b"nonce", generation, suite.nonce_size)
        return RatchetKey(generation, key, nonce)

    def _advance(self, ratchet: _HashRatchet) -> None:
        suite = self._suite
        ratchet.secret = suite.derive_tree_secret(
            ratchet.secret, b"secret", ratchet.generation, suite.hash_size
        )
        ratchet.generation += 1

    def _peek_ratchet(self, leaf: int, kind: ContentKind) -> _HashRatchet:
        existing = self._ratchets.get((leaf, kind))
        if existing is not None:
            return existing
        leaf_secret = self._leaf_secret(leaf, store=False)
        secret = self._suite.expand_with_label(
            leaf_secret, kind.encode(), b"", self._suite.hash_size
        )
        return _HashRatchet(0, secret, OrderedDict())

    def _ratchet(self, leaf: int, kind: ContentKind) -> _HashRatchet:
        if (leaf, kind) not in self._ratchets:
            leaf_secret = self._leaf_secret(leaf, store=True)
            for each in ("handshake", "application"):
                secret = self._suite.expand_with_label(
                    leaf_secret, each.encode(), b"", self._suite.hash_size
                )
                self._ratchets[(leaf, each)] = _HashRatchet(0, secret, OrderedDict())
                self._owned.add((leaf, each))
            del self._node_secrets[tree_math.node_of_leaf(leaf)]
        ratchet = self._ratchets[(leaf, kind)]
        if (leaf, kind) not in self._owned:  # shared with a copy: change our own
            retained = OrderedDict(ratchet.retained)
            ratchet = _HashRatchet(ratchet.generation, ratchet.secret, retained)
            self._ratchets[(leaf, kind)] = ratchet
            self._owned.add((leaf, kind))
        return ratchet

    def _leaf_secret(self, leaf: int, *, store: bool) -> bytes:
        """Walk down from the deepest stored ancestor; with ``store``, keep the children
        derived on the way and delete each parent once both children exist."""
        if not 0 <= leaf < self._n_leaves:
            raise InvalidMembership(f"leaf {leaf} is outside a tree of {self._n_leaves} leaves")
        target = tree_math.node_of_leaf(leaf)
        path = [target, *tree_math.direct_path(target, self._n_leaves)]
        start = next((i for i, node in enumerate(path) if node in self._node_secrets), None)
        if start is None:
            raise SecretAlreadyUsed(f"the secrets of leaf {leaf} were consumed already")
        secret = self._node_secrets[path[start]]
        for node in reversed(path[:start]):
            above = tree_math.parent(node, self._n_leaves)
            secret, sibling = self._children(above, secret, node)
            if store:
                self._node_secrets[node] = secret
                self._node_secrets[tree_math.sibling(node, self._n_leaves)] = sibling
                del self._node_secrets[above]
        return secret

    def _children(self, parent: int, secret: bytes, wanted: int) -> tuple[bytes, bytes]:
        size = self._suite.hash_size
        left = self._suite.expand_with_label(secret, b"tree", b"left", size)
        right = self._suite.expand_with_label(secret, b"tree", b"right", size)
        return (left, right) if wanted == tree_math.left(parent) else (right, left)


def _encode_ratchet(writer: TlsWriter, entry: tuple[tuple[int, ContentKind], _HashRatchet]) -> None:
    (leaf, kind), ratchet = entry
    writer.u32(leaf).u8(_KINDS.index(kind)).u32(ratchet.generation).opaque(ratchet.secret)
    writer.vector(
        ratchet.retained.values(),
        lambda w, k: w.u32(k.generation).opaque(k.key).opaque(k.nonce),
    )


def _decode_ratchet(reader: TlsReader) -> tuple[tuple[int, ContentKind], _HashRatchet]:
    leaf, kind_index = reader.u32(), reader.u8()
    if kind_index >= len(_KINDS):
        raise MLSDecodeError(f"unknown ratchet kind {kind_index}")
    generation, secret = reader.u32(), reader.opaque(64)
    retained = reader.vector(lambda r: RatchetKey(r.u32(), r.opaque(64), r.opaque(64)))
    ratchet = _HashRatchet(generation, secret, OrderedDict((k.generation, k) for k in retained))
    return (leaf, _KINDS[kind_index]), ratchet


def sender_data_key_nonce(
    suite: CipherSuite, sender_data_secret: bytes, ciphertext: bytes
) -> tuple[bytes, bytes]:
    """The key and nonce that protect a PrivateMessage's sender data (RFC 9420 §6.3.2)."""
    sample = ciphertext[: suite.hash_size]
    key = suite.expand_with_label(sender_data_secret, b"key", sample, suite.key_size)
    nonce = suite.expand_with_label(sender_data_secret, b"nonce", sample, suite.nonce_size)
    return key, nonce
