"""The relay client: its sans-I/O session (commands built, replies parsed) and the
asyncio client that keeps a pinned connection, reconnects and delivers events.
"""
