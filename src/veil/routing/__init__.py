"""Private routing: a proxy relay between a sender and the destination relay.

* :mod:`veil.routing.codec` - the ``PRXY``/``PKEY``/``PFWD``/``PRES``/``RFWD``/``RRES``
  commands and responses.
* :mod:`veil.routing.forward_crypto` - their cryptography, for the client, the proxy and
  the destination (sans I/O: randomness is passed in).
* :mod:`veil.routing.proxied_sender` - the client's transmissions to a proxy and the
  reading of its replies (sans I/O); :mod:`veil.routing.proxied_path` - sending
  through a proxy over a live relay client (asyncio).
* :mod:`veil.routing.destination` - the relay's routing commands: the destination
  role (sans I/O), plugged into the relay service as its command extension.
* :mod:`veil.routing.proxy` - the proxy role at a relay: shared sessions to
  destination relays (asyncio).
* :mod:`veil.routing.policy` - relays grouped by operator, the private-routing
  policy, and the choice of receive relay and proxy.
* :mod:`veil.routing.config` - the versioned client configuration of all that, and
  :mod:`veil.routing.config_file` - its TOML file.
* :mod:`veil.routing.socks` - the asyncio SOCKS5 connector (I/O).
* :mod:`veil.routing.cli` - the ``relays`` and ``operators`` commands.

See ``docs/protocol/routing.md`` for the normative description.
"""

from veil.routing.codec import (
    ROUTING_VERSIONS,
    ProxyForward,
    ProxyKey,
    ProxyRequest,
    ProxyResponse,
    RelayForward,
    RelayResponse,
    RoutingTag,
    decode_routing_command,
    decode_routing_response,
    encode_routing_command,
    encode_routing_response,
)
from veil.routing.forward_crypto import (
    ForwardReceiver,
    OpenedForward,
    PendingCommand,
    PendingForward,
    ProxiedDestination,
    ProxyForwarder,
)
from veil.routing.proxied_sender import Forward, ProxiedSender, proxy_request, read_proxy_key

__all__ = [
    "ROUTING_VERSIONS",
    "Forward",
    "ForwardReceiver",
    "OpenedForward",
    "PendingCommand",
    "PendingForward",
    "ProxiedDestination",
    "ProxiedSender",
    "ProxyForward",
    "ProxyForwarder",
    "ProxyKey",
    "ProxyRequest",
    "ProxyResponse",
    "RelayForward",
    "RelayResponse",
    "RoutingTag",
    "decode_routing_command",
    "decode_routing_response",
    "encode_routing_command",
    "encode_routing_response",
    "proxy_request",
    "read_proxy_key",
]
