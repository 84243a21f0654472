"""External commits (RFC 9420 §12.4.3.2), the members' side: checking the proposals of
a commit from a new member and recovering its ``init_secret`` from the ExternalInit.

The joiner derives ``init_secret`` with HPKE: ``kem_output, ctx = SetupBaseS(external_pub,
"")`` and ``ctx.export("MLS 1.0 external init secret", Nh)``; members redo it with the
private key derived from the epoch's ``external_secret``.
"""

from __future__ import annotations

from veil.mls.errors import InvalidProposal
from veil.mls.group_state import GroupState
from veil.mls.proposals import ExternalInit, PreSharedKey, Proposal, Remove
from veil.mls.suites import CipherSuite

__all__ = [
    "EXTENSION_EXTERNAL_PUB",
    "EXTERNAL_INIT_LABEL",
    "external_init_secret",
    "validate_external_proposals",
]

EXTENSION_EXTERNAL_PUB = 4
EXTERNAL_INIT_LABEL = b"MLS 1.0 external init secret"


def validate_external_proposals(proposals: list[tuple[Proposal, int]]) -> ExternalInit:
    """Exactly one ExternalInit; besides it only Remove and PreSharedKey; return it."""
    inits = [p for p, _ in proposals if isinstance(p, ExternalInit)]
    if len(inits) != 1:
        raise InvalidProposal("an external commit carries exactly one ExternalInit")
    if any(not isinstance(p, ExternalInit | Remove | PreSharedKey) for p, _ in proposals):
        raise InvalidProposal("an external commit may add only Remove and PreSharedKey")
    if sum(isinstance(p, Remove) for p, _ in proposals) > 1:
        raise InvalidProposal("an external commit removes at most the joiner's old leaf")
    return inits[0]


def external_init_secret(state: GroupState, external_init: ExternalInit) -> bytes:
    """The ``init_secret`` a member recovers from a joiner's ExternalInit."""
    suite: CipherSuite = state.suite
    external_private, _ = suite.derive_key_pair(state.secrets.external_secret)
    context = suite.setup_base_receiver(external_init.kem_output, external_private, b"")
    return context.export(EXTERNAL_INIT_LABEL, suite.hash_size)
