"""Fixtures shared by the MLS tests."""

from __future__ import annotations

import pytest

from veil.mls.hpke import HpkeSuite


@pytest.fixture
def hashed_infos(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every HPKE ``info`` hashed by ``HpkeSuite.info_hash`` (RFC 9180 §5.1)
    while the test runs, in order."""
    hashed: list[int] = []
    original = HpkeSuite.info_hash

    def counting(self: HpkeSuite, info: bytes) -> bytes:
        hashed.append(len(info))
        return original(self, info)

    monkeypatch.setattr(HpkeSuite, "info_hash", counting)
    return hashed
