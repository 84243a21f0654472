"""Structures: the messages and deserialization IETF vectors, and strict decoding."""

from __future__ import annotations

import pytest

from helpers.mls_checks_messages import check_deserialization, check_messages
from helpers.mls_vectors import Case, implemented_cases
from veil.mls.codec import decode
from veil.mls.errors import MLSDecodeError, MLSTrailingBytes, UnsupportedProtocolVersion
from veil.mls.framing import MLSMessage


@pytest.mark.parametrize("case", implemented_cases("messages.json"), ids=str)
def test_messages_vector(case: Case) -> None:
    check_messages(case)


@pytest.mark.parametrize("case", implemented_cases("deserialization.json"), ids=str)
def test_deserialization_vector(case: Case) -> None:
    check_deserialization(case)


def test_messages_reject_unknown_versions_formats_and_trailing_bytes() -> None:
    welcome = bytes.fromhex(implemented_cases("messages.json")[0]["mls_welcome"])
    assert decode(welcome, MLSMessage.decode).to_bytes() == welcome
    with pytest.raises(MLSTrailingBytes):
        decode(welcome + b"\x00", MLSMessage.decode)
    with pytest.raises(UnsupportedProtocolVersion):
        decode(b"\x00\x02" + welcome[2:], MLSMessage.decode)
    with pytest.raises(MLSDecodeError, match="wire format"):
        decode(welcome[:2] + b"\x00\x09" + welcome[4:], MLSMessage.decode)
