"""Veil's MLS (RFC 9420) core: pure and sans-I/O, randomness injected.

Modules follow the RFC's sections: :mod:`~veil.mls.codec` (§2.1 encoding),
:mod:`~veil.mls.suites` (§5 cipher suites), the key schedule, secret tree and
framing, the ratchet tree and the group operations built on them.
"""
