"""The relay server: the queue core (sans I/O), its stores, the service that commits
commands to a store in groups, and the asyncio TLS server in front of it.

Private-routing commands are served by an extension the process plugs in
(:class:`veil.relay.server.service.CommandExtension`), so this package knows
nothing of routing.
"""
