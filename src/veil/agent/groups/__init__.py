"""Groups: MLS groups whose handshake and application messages go through an ordered
relay log, so the log's order is the group's order (docs/protocol/groups.md)."""
