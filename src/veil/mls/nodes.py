"""Ratchet tree nodes and their wire form (RFC 9420 §7.1, §12.4.3.3).

The tree travels as ``optional<Node> ratchet_tree<V>``: one entry per node, left to
right, blank nodes as absent optionals, with trailing blanks removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.mls.codec import TlsReader, TlsWriter
from veil.mls.errors import MLSDecodeError
from veil.mls.leaf_node import MAX_KEY, LeafNode

__all__ = ["Node", "ParentNode", "decode_ratchet_tree", "encode_ratchet_tree"]

MAX_TREE = 1 << 27
MAX_UNMERGED = 1 << 16


@dataclass(frozen=True, slots=True)
class ParentNode:
    """An interior node: its HPKE key, parent hash and the leaves not yet merged under it."""

    encryption_key: bytes
    parent_hash: bytes
    unmerged_leaves: tuple[int, ...] = ()

    def encode(self, writer: TlsWriter) -> None:
        """Append the ParentNode."""
        writer.opaque(self.encryption_key).opaque(self.parent_hash)
        writer.vector(self.unmerged_leaves, TlsWriter.u32)

    @classmethod
    def decode(cls, reader: TlsReader) -> ParentNode:
        """Read a ParentNode."""
        key, parent_hash = reader.opaque(MAX_KEY), reader.opaque(MAX_KEY)
        return cls(key, parent_hash, tuple(reader.vector(TlsReader.u32, MAX_UNMERGED)))


Node = LeafNode | ParentNode


def _encode_node(writer: TlsWriter, node: Node) -> None:
    writer.u8(1 if isinstance(node, LeafNode) else 2)
    node.encode(writer)


def _encode_optional_node(writer: TlsWriter, node: Node | None) -> None:
    if node is None:
        writer.boolean(False)
    else:
        _encode_node(writer.boolean(True), node)


def _decode_node(reader: TlsReader) -> Node:
    kind = reader.u8()
    if kind == 1:
        return LeafNode.decode(reader)
    if kind == 2:
        return ParentNode.decode(reader)
    raise MLSDecodeError(f"unknown node type {kind}")


def encode_ratchet_tree(writer: TlsWriter, nodes: list[Node | None]) -> None:
    """Append a ratchet tree, trailing blank nodes removed."""
    end = len(nodes)
    while end and nodes[end - 1] is None:
        end -= 1
    writer.vector(nodes[:end], _encode_optional_node)


def decode_ratchet_tree(reader: TlsReader) -> list[Node | None]:
    """Read a ratchet tree; it must end in a non-blank node (RFC 9420 §12.4.3.3)."""
    nodes = reader.vector(lambda r: r.optional(_decode_node), MAX_TREE)
    if not nodes or nodes[-1] is None:
        raise MLSDecodeError("a ratchet tree must end with a non-blank node")
    return nodes
