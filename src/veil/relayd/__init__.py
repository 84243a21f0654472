"""The ``veil-relay`` process: the composition root of a relay.

It sits above :mod:`veil.routing` because the relay process hosts the proxy and
destination roles of private routing next to the queues of :mod:`veil.relay.server`.
"""
