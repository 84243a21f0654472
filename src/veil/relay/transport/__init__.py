"""TLS 1.3 carrying exactly one 16 KiB block per read and write, and the relay's
identity certificate that a client pins by fingerprint (``docs/protocol/transport.md``).
"""
