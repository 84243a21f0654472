"""The relay client: its sans-I/O session (commands built, replies parsed) and the
asyncio client over it - one TLS connection (``connection``), the link that keeps
it up (``link``), the subscriptions and their events (``subscriptions``), and
:class:`~veil.relay.client.relay_client.RelayClient`, which issues the queue commands.
"""
