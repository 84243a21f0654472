"""The relay layer: one-way queues over TLS, in fixed 16 KiB blocks.

Four packages, each importing only those listed before it:

* :mod:`veil.relay.protocol` - what both sides share on the wire, sans I/O: the
  relay address, the hellos, transmissions, queue commands and responses, the
  per-queue cryptography, and the layer's errors.
* :mod:`veil.relay.transport` - TLS 1.3 in 16 KiB blocks and the relay's identity
  certificate, for the server and the client alike.
* :mod:`veil.relay.server` - the relay's queue core (sans I/O), its store, the
  service that commits to it, and the asyncio TLS server.
* :mod:`veil.relay.client` - the client core (sans I/O) and the asyncio client.

The server and the client never import each other. Private routing (the proxy and
destination roles) lives one layer up, in :mod:`veil.routing`; the ``veil-relay``
process that hosts both is assembled in :mod:`veil.relayd`.
"""
