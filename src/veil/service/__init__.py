"""The client as a service: ``veil serve`` and its local JSON-RPC 2.0 API.

* :mod:`veil.service.rpc` — the sans-I/O JSON-RPC core: framing, parsing, replies.
* :mod:`veil.service.api_types` — every method's parameters and result, and every
  event, as TypedDicts; the JSON Schema (``docs/api/schema.json``) is made from them.
* :mod:`veil.service.shapes` — chat records to those shapes (the CLI's ``--json`` too).
* :mod:`veil.service.methods` — the methods, over a ``Messenger``.
* :mod:`veil.service.server` — the asyncio process: receive loop, sockets, tokens.
* :mod:`veil.service.client` — the async API client; it imports no chat code, so an
  interface (TUI, web, bot) that uses only it never touches the store.
"""
