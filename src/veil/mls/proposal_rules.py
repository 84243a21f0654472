"""Rules on PreSharedKey and GroupContextExtensions proposals (RFC 9420 §12.1.4,
§12.1.7, §12.2, §11.1, §13): each violation is an :class:`InvalidProposal`."""

from __future__ import annotations

from veil.mls.codec import TlsReader, decode
from veil.mls.errors import InvalidProposal, MLSProtocolError
from veil.mls.group_context import Extension
from veil.mls.key_schedule import PSK_RESUMPTION, PreSharedKeyID
from veil.mls.leaf_node import Credential
from veil.mls.proposals import GroupContextExtensions, PreSharedKey, Proposal
from veil.mls.ratchet_tree import RatchetTree

__all__ = ["check_group_context_extensions", "check_psk_proposals"]

RESUMPTION_APPLICATION = 1
DEFAULT_EXTENSIONS = range(1, 6)  # application_id .. external_senders: need not be listed
DEFAULT_PROPOSALS = range(1, 8)  # add .. group_context_extensions
EXTENSION_REQUIRED_CAPABILITIES = 3
EXTENSION_EXTERNAL_SENDERS = 5


def check_psk_proposals(proposals: list[tuple[Proposal, int]], hash_size: int) -> None:
    """Distinct PSK ids, nonces of ``Nh`` bytes, resumption only with usage application."""
    seen: set[PreSharedKeyID] = set()
    for proposal, _ in proposals:
        if not isinstance(proposal, PreSharedKey):
            continue
        psk = proposal.psk
        if len(psk.psk_nonce) != hash_size:
            raise InvalidProposal(f"a PSK nonce must be {hash_size} bytes")
        if psk.psk_type == PSK_RESUMPTION and psk.usage != RESUMPTION_APPLICATION:
            raise InvalidProposal("a resumption PSK in a commit must have usage application")
        if psk in seen:
            raise InvalidProposal("the same PreSharedKeyID is proposed twice")
        seen.add(psk)


def _u16_lists(reader: TlsReader) -> tuple[list[int], list[int], list[int]]:
    return reader.vector(TlsReader.u16), reader.vector(TlsReader.u16), reader.vector(TlsReader.u16)


def _check_required(tree: RatchetTree, data: bytes) -> None:
    try:
        extensions, proposals, credentials = decode(data, _u16_lists)
    except MLSProtocolError as error:
        raise InvalidProposal("required_capabilities does not decode") from error
    for index in tree.members():
        capabilities = tree.member_leaf(index).capabilities
        if any(e not in capabilities.extensions for e in extensions if e not in DEFAULT_EXTENSIONS):
            raise InvalidProposal(f"leaf {index} lacks a required extension")
        if any(p not in capabilities.proposals for p in proposals if p not in DEFAULT_PROPOSALS):
            raise InvalidProposal(f"leaf {index} lacks a required proposal type")
        if any(c not in capabilities.credentials for c in credentials):
            raise InvalidProposal(f"leaf {index} lacks a required credential type")


def _check_external_senders(data: bytes) -> None:
    def sender(reader: TlsReader) -> Credential:
        reader.opaque(4096)
        return Credential.decode(reader)

    try:
        decode(data, lambda r: r.vector(sender))
    except MLSProtocolError as error:
        raise InvalidProposal("external_senders does not decode") from error


def check_group_context_extensions(tree: RatchetTree, proposal: GroupContextExtensions) -> None:
    """Each type once, supported by every member, and well-formed where Veil parses it."""
    types = [extension.extension_type for extension in proposal.extensions]
    if len(set(types)) != len(types):
        raise InvalidProposal("an extension type appears twice")
    for index in tree.members():
        supported = tree.member_leaf(index).capabilities.extensions
        if any(t not in supported for t in types if t not in DEFAULT_EXTENSIONS):
            raise InvalidProposal(f"leaf {index} does not support every extension")
    for extension in proposal.extensions:
        _check_known(tree, extension)


def _check_known(tree: RatchetTree, extension: Extension) -> None:
    if extension.extension_type == EXTENSION_REQUIRED_CAPABILITIES:
        _check_required(tree, extension.extension_data)
    elif extension.extension_type == EXTENSION_EXTERNAL_SENDERS:
        _check_external_senders(extension.extension_data)
