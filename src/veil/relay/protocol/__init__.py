"""The relay protocol as it travels, shared by server and client; sans I/O.

See ``docs/protocol/relay.md``. Nothing here touches sockets, clocks or global
randomness.
"""
