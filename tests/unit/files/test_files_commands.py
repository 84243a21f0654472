"""File relay commands: codec tables, strictness, piece order and download sealing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto.primitives import X25519KeyPair
from veil.crypto.random import DeterministicRandom
from veil.files.commands import (
    MAX_PIECE_SIZE,
    AcknowledgeChunk,
    AddRecipients,
    ChunkIds,
    DeleteChunk,
    DownloadKey,
    DownloadPiece,
    FileCommand,
    FileResponse,
    GetChunk,
    NewChunk,
    PutPiece,
    RecipientIds,
    decode_file_command,
    decode_file_response,
    encode_file_command,
    encode_file_response,
)
from veil.files.errors import MalformedFileCommand, StreamAuthenticationFailed
from veil.files.pieces import (
    ChunkAssembler,
    PieceReceiver,
    download_key,
    piece_count,
    seal_piece,
    split_into_pieces,
)

K, ID = b"\x0b" * 32, b"\x1d" * 24
COMMANDS: list[tuple[FileCommand, bytes]] = [
    (
        NewChunk(256 * 1024, b"\xdd" * 32, K, (K, K), b"pw"),
        b"\x20\x01" + b"\xdd" * 32 + K + b"\x02" + K + K + b"\x02pw",
    ),
    (AddRecipients((K,)), b"\x21\x01" + K),
    (PutPiece(16000, b"abc"), b"\x22" + (16000).to_bytes(4, "big") + b"\x00\x03abc"),
    (DeleteChunk(), b"\x23"),
    (GetChunk(K), b"\x24" + K),
    (AcknowledgeChunk(), b"\x25"),
]
RESPONSES: list[tuple[FileResponse, bytes]] = [
    (ChunkIds(ID, (ID,)), b"\xa0" + ID + b"\x01" + ID),
    (RecipientIds((ID, ID)), b"\xa1\x02" + ID + ID),
    (DownloadKey(K, 4 << 20), b"\xa2" + K + (4 << 20).to_bytes(4, "big")),
    (DownloadPiece(3, b"s" * 20), b"\xa3\x00\x00\x00\x03\x00\x14" + b"s" * 20),
]


@pytest.mark.parametrize(("command", "encoded"), COMMANDS, ids=lambda v: type(v).__name__)
def test_command_table(command: FileCommand, encoded: bytes) -> None:
    assert encode_file_command(command) == encoded
    assert decode_file_command(encoded) == command
    with pytest.raises(MalformedFileCommand):
        decode_file_command(encoded + b"\x00")
    if len(encoded) > 1:
        with pytest.raises(MalformedFileCommand):
            decode_file_command(encoded[:-1])


@pytest.mark.parametrize(("response", "encoded"), RESPONSES, ids=lambda v: type(v).__name__)
def test_response_table(response: FileResponse, encoded: bytes) -> None:
    assert encode_file_response(response) == encoded
    assert decode_file_response(encoded) == response
    with pytest.raises(MalformedFileCommand):
        decode_file_response(encoded + b"\x00")
    with pytest.raises(MalformedFileCommand):
        decode_file_response(encoded[:-1])


@pytest.mark.parametrize(
    "encoded",
    [
        b"",
        b"\x26",
        b"\x20\x04" + b"\xdd" * 32 + K + b"\x01" + K + b"\x00",  # unknown size code
        b"\x21\x00",  # no keys
        b"\x21\x11" + K * 17,  # too many keys
        b"\x22\x00\x00\x00\x00\x00\x00",  # empty piece
        b"\x22\x00\x00\x00\x00" + (16001).to_bytes(2, "big") + b"x" * 16001,
    ],
)
def test_malformed_commands(encoded: bytes) -> None:
    with pytest.raises(MalformedFileCommand):
        decode_file_command(encoded)


def test_largest_put_fits_a_proxied_transmission() -> None:
    encoded = encode_file_command(PutPiece(0, b"x" * MAX_PIECE_SIZE))
    header = 1 + 32 + 24 + 1 + 24  # authenticator, correlation id, entity id
    assert header + len(encoded) == 16089 <= 16190


def test_largest_id_answer_fits_a_forwarded_response() -> None:
    encoded = encode_file_response(ChunkIds(ID, (ID,) * 16))
    assert 1 + 24 + 1 + 24 + len(encoded) == 460 <= 510


def test_upload_pieces_must_come_in_order_and_fill_the_chunk() -> None:
    body = bytes(64 * 1024)
    pieces = list(split_into_pieces(body))
    assert len(pieces) == piece_count(len(body)) == 5
    receiver = PieceReceiver(len(body))
    assert [receiver.accept(p) for p in pieces] == [False] * 4 + [True]
    out_of_order = PieceReceiver(len(body))
    with pytest.raises(MalformedFileCommand, match="does not follow"):
        out_of_order.accept(pieces[1])
    short = PieceReceiver(len(body))
    with pytest.raises(MalformedFileCommand, match="last"):
        short.accept(PutPiece(0, b"x"))


def test_download_is_resealed_and_reassembled() -> None:
    rng = DeterministicRandom(b"dl")
    relay, recipient = X25519KeyPair.generate(rng), X25519KeyPair.generate(rng)
    key = download_key(relay, recipient.public)
    assert key == download_key(recipient, relay.public)
    body = rng.random_bytes(64 * 1024)
    correlation = b"c" * 24
    sealed = [
        DownloadPiece(i, seal_piece(key, correlation, i, p.piece))
        for i, p in enumerate(split_into_pieces(body))
    ]
    assert not any(
        p.piece in s.sealed for p, s in zip(split_into_pieces(body), sealed, strict=True)
    )
    assembler = ChunkAssembler(key, correlation, len(body))
    results = [assembler.accept(piece) for piece in sealed]
    assert results[:-1] == [None] * 4 and results[-1] == body
    with pytest.raises(MalformedFileCommand):
        assembler.accept(sealed[0])
    swapped = ChunkAssembler(key, correlation, len(body))
    with pytest.raises(MalformedFileCommand, match="out of order"):
        swapped.accept(sealed[1])
    replayed = ChunkAssembler(key, b"d" * 24, len(body))  # another FGET's correlation id
    with pytest.raises(StreamAuthenticationFailed):
        replayed.accept(sealed[0])


@given(st.binary(max_size=700))
def test_command_decoder_raises_only_malformed_file_command_and_is_canonical(data: bytes) -> None:
    try:
        command = decode_file_command(data)
    except MalformedFileCommand:
        return
    assert encode_file_command(command) == data


@given(st.binary(max_size=700))
def test_response_decoder_raises_only_malformed_file_command_and_is_canonical(data: bytes) -> None:
    try:
        response = decode_file_response(data)
    except MalformedFileCommand:
        return
    assert encode_file_response(response) == data
