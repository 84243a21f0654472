"""Checkers for the structure-level IETF vectors: messages and deserialization."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from helpers.mls_vectors import Case, checker, hexb
from veil.mls.codec import TlsReader, TlsWriter, decode
from veil.mls.framing import MLSMessage, PublicMessage
from veil.mls.group_context import decode_extension, encode_extension
from veil.mls.key_schedule import PreSharedKeyID
from veil.mls.leaf_node import KeyPackage, LeafNode
from veil.mls.nodes import decode_ratchet_tree, encode_ratchet_tree
from veil.mls.proposals import Commit, ReInit, decode_reinit, encode_proposal
from veil.mls.welcome import GroupSecrets


def without_wire(value: Any) -> Any:
    """The same structure with decoded FramedContents' cached bytes dropped, so that
    encoding it really re-encodes every field."""
    if isinstance(value, MLSMessage) and isinstance(value.body, PublicMessage):
        return MLSMessage(replace(value.body, content=replace(value.body.content, wire=b"")))
    return value


def _reinit_body(writer: TlsWriter, reinit: ReInit) -> None:
    body = TlsWriter()
    encode_proposal(body, reinit)
    writer.raw(body.build()[2:])  # without the proposal type


def _method(name: str) -> Callable[[TlsWriter, Any], object]:
    return lambda writer, value: getattr(value, name)(writer)


_CODECS: dict[str, tuple[Callable[[TlsReader], Any], Callable[[TlsWriter, Any], object]]] = {
    "mls_welcome": (MLSMessage.decode, _method("encode")),
    "mls_group_info": (MLSMessage.decode, _method("encode")),
    "mls_key_package": (MLSMessage.decode, _method("encode")),
    "ratchet_tree": (decode_ratchet_tree, encode_ratchet_tree),
    "group_secrets": (GroupSecrets.decode, lambda w, s: w.raw(s.to_bytes())),
    "add_proposal": (KeyPackage.decode, _method("encode")),
    "update_proposal": (LeafNode.decode, _method("encode")),
    "remove_proposal": (TlsReader.u32, TlsWriter.u32),
    "pre_shared_key_proposal": (PreSharedKeyID.decode, _method("encode")),
    "re_init_proposal": (decode_reinit, _reinit_body),
    "external_init_proposal": (TlsReader.opaque, TlsWriter.opaque),
    "group_context_extensions_proposal": (
        lambda r: r.vector(decode_extension),
        lambda w, e: w.vector(e, encode_extension),
    ),
    "commit": (Commit.decode, _method("encode")),
    "public_message_application": (MLSMessage.decode, _method("encode")),
    "public_message_proposal": (MLSMessage.decode, _method("encode")),
    "public_message_commit": (MLSMessage.decode, _method("encode")),
    "private_message": (MLSMessage.decode, _method("encode")),
}


@checker("messages.json")
def check_messages(case: Case) -> None:
    """Every structure decodes strictly and re-encodes to the same bytes."""
    assert set(case) == set(_CODECS), set(case) ^ set(_CODECS)
    for field, (decoder, encoder) in _CODECS.items():
        data = hexb(case[field])
        writer = TlsWriter()
        encoder(writer, without_wire(decode(data, decoder)))
        assert writer.build() == data, field


@checker("deserialization.json")
def check_deserialization(case: Case) -> None:
    """A vector length header decodes to the stated length."""
    header = hexb(case["vlbytes_header"])
    assert decode(header, TlsReader.varint) == case["length"]
