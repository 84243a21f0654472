"""Coverage-guided fuzzing (atheris) of every parser that reads network or link input.

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/parsers.py -runs=500000 -max_len=20000 [CORPUS_DIR]

The first input byte picks the parser, the rest is its input (padded or cut to the
exact size for parsers of fixed-size units such as blocks and frames, so the fuzzer
reaches past the size check). A parser may raise only Veil's own errors
(:class:`veil.errors.VeilError`); any other exception is a crash that atheris reports
with the input that caused it. ``tests/unit/test_fuzz_targets.py`` keeps every target
working without atheris.
"""

# Imports stay inside functions on purpose: atheris must instrument Veil before it loads.
# ruff: noqa: PLC0415
from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from functools import partial

Parser = Callable[[bytes], object]


def _sized(parser: Parser, size: int) -> Parser:
    return lambda data: parser(data[:size].ljust(size, b"\x00"))


def _text(parser: Callable[[str], object]) -> Parser:
    return lambda data: parser(data.decode("utf-8", "replace"))


def targets() -> tuple[tuple[str, Parser], ...]:
    """``(name, parser)`` for every untrusted-input parser; imported lazily so atheris
    can instrument the modules before they load."""
    from veil.agent.envelope import EnvelopeTracker
    from veil.agent.frames import FRAME_SIZE, INNER_FRAME_SIZE, decode_frame
    from veil.agent.groups.codec import decode_member
    from veil.agent.groups.external import ExternalOffer
    from veil.agent.groups.policy import GroupPolicy
    from veil.agent.groups.wire import JoinRequest, PendingJoin, WelcomeBundle, decode_entry
    from veil.agent.links import decode_link
    from veil.agent.payloads import ContactRequest, RepairOffer, decode_payload
    from veil.agent.queue_frames import open_queue_frame
    from veil.agent.short_links import ShortLink
    from veil.bot.cursor import decode_cursor
    from veil.chat.backup import open_backup
    from veil.chat.backup_codec import decode_payload as decode_backup_payload
    from veil.chat.events import decode_event
    from veil.chat.profile import Profile
    from veil.files.commands import decode_file_command, decode_file_response
    from veil.files.description import decode_description
    from veil.files.download import decode_download_record
    from veil.files.upload_record import decode_upload_record
    from veil.mls.fuzzing import MLS_DECODERS
    from veil.ratchet.agreement import InvitationKeys, ReplyKeys
    from veil.ratchet.header import Header
    from veil.relay.client.file_uploads import decode_answer
    from veil.relay.client.log_events import LogAdmin, LogReader, LogWriter
    from veil.relay.protocol.address import RelayAddress
    from veil.relay.protocol.handshake import decode_client_hello, decode_server_hello
    from veil.relay.protocol.log_commands import decode_log_command
    from veil.relay.protocol.log_responses import decode_log_response
    from veil.relay.protocol.queue_commands import decode_command
    from veil.relay.protocol.queue_responses import decode_response
    from veil.relay.protocol.transmission import decode_client_transmission, decode_transmission
    from veil.relay.server.file_store_format import BODY_HEADER_SIZE, decode_body_header
    from veil.relay.server.store.journal_format import decode_message, decode_queue
    from veil.relay.server.store.journal_replay import scan
    from veil.routing.codec import decode_routing_command, decode_routing_response
    from veil.service.rpc import LineFramer, parse_message
    from veil.service.schema import parse_call
    from veil.wire.blocks import BLOCK_SIZE, decode_block

    return (
        ("block", _sized(decode_block, BLOCK_SIZE)),
        ("client transmission", decode_client_transmission),
        ("transmission", decode_transmission),
        ("command", decode_command),
        ("response", decode_response),
        ("server hello", _sized(decode_server_hello, BLOCK_SIZE)),
        ("client hello", _sized(decode_client_hello, BLOCK_SIZE)),
        ("routing command", decode_routing_command),
        ("routing response", decode_routing_response),
        ("relay address", _text(RelayAddress.parse)),
        ("frame", _sized(decode_frame, FRAME_SIZE)),
        ("inner frame", _sized(partial(decode_frame, size=INNER_FRAME_SIZE), INNER_FRAME_SIZE)),
        ("queue frame", _sized(lambda data: open_queue_frame(bytes(32), data), FRAME_SIZE)),
        ("agent payload", decode_payload),
        ("contact request", ContactRequest.from_bytes),
        ("envelope", lambda data: EnvelopeTracker().open(data)),
        ("link", _text(decode_link)),
        ("short link", _text(ShortLink.decode)),
        ("chat event", decode_event),
        ("handshake profile", Profile.from_handshake_bytes),
        ("invitation keys", InvitationKeys.decode),
        ("reply keys", ReplyKeys.decode),
        ("ratchet header", lambda data: Header.decode(data[1:], pq=bool(data[:1] == b"\x01"))),
        *MLS_DECODERS,
        ("file description", decode_description),
        ("file upload record", decode_upload_record),
        ("file download record", decode_download_record),
        ("file chunk body header", _sized(decode_body_header, BODY_HEADER_SIZE)),
        ("file command", decode_file_command),
        ("file response", decode_file_response),
        ("group log entry", decode_entry),
        ("group policy", GroupPolicy.from_extension),
        ("group join request", JoinRequest.from_bytes),
        ("group welcome bundle", WelcomeBundle.from_bytes),
        ("group pending join", PendingJoin.from_bytes),
        ("group member state", decode_member),
        ("group external offer", ExternalOffer.from_bytes),
        ("log command", decode_log_command),
        ("log response", decode_log_response),
        ("log admin credentials", LogAdmin.decode),
        ("log writer credentials", LogWriter.decode),
        ("log reader credentials", LogReader.decode),
        ("repair offer", RepairOffer.from_bytes),
        ("backup file", lambda data: open_backup(data, "fuzz")),
        ("backup payload", decode_backup_payload),
        ("file answer (client)", decode_answer),
        ("journal segment", lambda data: scan(data, 0)),
        ("journal queue record", decode_queue),
        ("journal message record", decode_message),
        ("api request", parse_call),
        ("api message", parse_message),
        ("api line framer", lambda data: LineFramer(limit=4096).feed(data)),
        ("bot cursor", decode_cursor),
    )


def make_one_input(parsers: tuple[tuple[str, Parser], ...]) -> Callable[[bytes], None]:
    """The fuzzing entry point: run one input through the parser its first byte picks."""
    from veil.errors import VeilError

    def one_input(data: bytes) -> None:
        if not data:
            return
        _, parse = parsers[data[0] % len(parsers)]
        with contextlib.suppress(VeilError):  # a clean rejection is the expected outcome
            parse(data[1:])

    return one_input


def main() -> None:
    """Run atheris over every target."""
    import atheris

    with atheris.instrument_imports():
        parsers = targets()
    atheris.Setup(sys.argv, make_one_input(parsers))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
