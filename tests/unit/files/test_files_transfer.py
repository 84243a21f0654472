"""Upload and download state machines: whole transfers, tampering, crashes, failover."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.files import RELAYS, FakeRelays, download_all, drive_upload, stage, upload_file
from veil.crypto.random import DeterministicRandom
from veil.files.description import (
    ChunkLocation,
    EncryptedBlob,
    FileDescription,
    RedirectDescription,
    decode_description,
    encode_description,
    fits_inline,
    follow_redirect,
    redirect_to,
)
from veil.files.download import (
    Download,
    decode_download_record,
    encode_download_record,
)
from veil.files.errors import ChunkTampered, CorruptTransferState, NoRelayAvailable
from veil.files.layout import place_chunks, plan_layout
from veil.files.stream import FileSecret
from veil.files.upload import ChunkStage, PutChunk, RegisterChunk, Upload
from veil.files.upload_record import decode_upload_record, encode_upload_record

DATA = bytes(range(251)) * 5000  # 1,255,000 bytes: 20 segments, five 256 KiB chunks


def test_whole_transfer_to_two_recipients_with_unlinkable_ids() -> None:
    descriptions, relays = upload_file(DATA, recipients=2)
    first, second = descriptions
    assert first.blob.chunks[0].recipient_id != second.blob.chunks[0].recipient_id
    for description in descriptions:
        assert download_all(Download(description.blob), relays, len(DATA)) == DATA
    assert len(relays.puts) == len(first.blob.chunks)  # each chunk uploaded once


def test_chunks_spread_over_both_relays() -> None:
    (description,), _ = upload_file(DATA)
    assert {description.blob.relay_of(i) for i in range(len(description.blob.chunks))} == set(
        RELAYS
    )


def test_a_flipped_chunk_is_detected_before_anything_is_written() -> None:
    (description,), relays = upload_file(DATA)
    download = Download(description.blob)
    fetch = download.next_fetches(parallel=1)[0]
    body = bytearray(relays.fetch(fetch.recipient_id))
    body[100] ^= 0x40
    with pytest.raises(ChunkTampered, match="chunk 0"):
        download.chunk_fetched(fetch.index, bytes(body))
    assert download.progress == (0, len(description.blob.chunks))
    assert download.next_fetches(parallel=1)[0].index == 0  # released for another try


def test_swapped_chunks_fail_their_digests() -> None:
    (description,), relays = upload_file(DATA)
    download = Download(description.blob)
    first, second = download.next_fetches(parallel=2)
    with pytest.raises(ChunkTampered):
        download.chunk_fetched(first.index, relays.fetch(second.recipient_id))


def test_download_resumes_from_its_record_without_fetching_done_chunks() -> None:
    (description,), relays = upload_file(DATA)
    count = len(description.blob.chunks)
    download = Download(description.blob)
    output = bytearray(len(DATA))
    for fetch in download.next_fetches(parallel=3):
        plain = download.chunk_fetched(fetch.index, relays.fetch(fetch.recipient_id))
        output[plain.offset : plain.offset + len(plain.data)] = plain.data
        download.chunk_written(fetch.index)
    saved = encode_download_record(download.record())
    resumed = Download(description.blob, decode_download_record(saved))
    assert resumed.progress == (3, count)
    fetched_after = [fetch.index for fetch in resumed.next_fetches(parallel=count)]
    assert fetched_after == list(range(3, count))
    for index in fetched_after:
        plain = resumed.chunk_fetched(
            index, relays.fetch(description.blob.chunks[index].recipient_id)
        )
        output[plain.offset : plain.offset + len(plain.data)] = plain.data
        resumed.chunk_written(index)
    assert resumed.complete and bytes(output) == DATA
    assert len(resumed.acknowledgements()) == count


def test_a_record_for_another_file_is_refused() -> None:
    (description,), _ = upload_file(DATA)
    (other,), _ = upload_file(DATA[:-1])
    record = Download(other.blob).record()
    with pytest.raises(CorruptTransferState, match="another file"):
        Download(description.blob, record)


def start_upload(relays_down: set[str] | None = None) -> tuple[Upload, bytes]:
    staged = stage(DATA)
    placement = place_chunks(staged.layout.chunk_count, RELAYS, relays_down or (), start=0)
    upload = Upload.start(
        secret=staged.secret,
        size=len(DATA),
        digests=staged.digests,
        placement=placement,
        recipients=1,
        rng=DeterministicRandom(b"u"),
    )
    return upload, staged.staged


def test_upload_crash_resumes_without_uploading_finished_chunks_again() -> None:
    upload, staged = start_upload()
    relays = FakeRelays()
    drive_upload(upload, relays, staged, steps=3)  # some chunks done, some in flight
    done_before = {
        i for i, c in enumerate(upload.record().chunks) if c.stage is ChunkStage.UPLOADED
    }
    assert done_before and not upload.complete
    restored = Upload(
        decode_upload_record(encode_upload_record(upload.record())), DeterministicRandom(b"r")
    )
    relays.puts.clear()
    drive_upload(restored, relays, staged)
    assert restored.complete
    assert not done_before & set(relays.puts)
    (description,) = restored.descriptions("f", "application/octet-stream")
    assert download_all(Download(description.blob), relays, len(DATA)) == DATA


def test_a_relay_going_down_moves_its_unfinished_chunks() -> None:
    upload, staged = start_upload()
    relays = FakeRelays(down={RELAYS[1]})
    drive_upload(upload, relays, staged)
    assert upload.complete
    assert {chunk.relay for chunk in upload.record().chunks} == {RELAYS[0]}


def test_with_every_relay_down_the_upload_says_so() -> None:
    upload, staged = start_upload()
    with pytest.raises(NoRelayAvailable):
        drive_upload(upload, FakeRelays(down=set(RELAYS)), staged)


def test_actions_are_bounded_and_out_of_order_answers_are_refused() -> None:
    upload, _ = start_upload()
    actions = upload.next_actions(parallel=2)
    assert len(actions) == 2 and all(isinstance(a, RegisterChunk) for a in actions)
    assert upload.next_actions(parallel=2) == []
    with pytest.raises(ValueError):
        upload.chunk_uploaded(actions[0].index)
    upload.chunk_registered(actions[0].index, b"s" * 24, [b"r" * 24])
    (put,) = upload.next_actions(parallel=2)
    assert isinstance(put, PutChunk) and put.index == actions[0].index


def test_register_keys_are_fresh_per_chunk_and_recipient() -> None:
    upload, _ = start_upload()
    actions = [a for a in upload.next_actions(parallel=5) if isinstance(a, RegisterChunk)]
    keys = [a.sender_auth_key for a in actions] + [
        k for a in actions for k in a.recipient_auth_keys
    ]
    assert len(set(keys)) == len(keys)


@given(st.binary(max_size=2048))
def test_record_decoders_only_raise_corrupt_transfer_state(data: bytes) -> None:
    try:
        upload = decode_upload_record(data)
    except CorruptTransferState:
        pass
    else:
        assert encode_upload_record(upload) == data
    try:
        download = decode_download_record(data)
    except CorruptTransferState:
        return
    assert encode_download_record(download) == data


def test_a_description_too_large_for_a_message_travels_as_a_file() -> None:
    big = FileDescription("film.mkv", "video/x-matroska", many_chunk_blob())
    target = encode_description(big)
    assert not fits_inline(target)
    (carrier,), relays = upload_file(target)  # the description's bytes, sent as a file
    redirect = redirect_to(target, carrier.blob)
    encoded = encode_description(redirect)
    assert fits_inline(encoded)
    received = decode_description(encoded)
    assert isinstance(received, RedirectDescription)
    downloaded = download_all(Download(received.blob), relays, received.blob.size)
    assert follow_redirect(received, downloaded) == big
    with pytest.raises(ValueError, match="plain file"):
        redirect_to(encoded, carrier.blob)


def many_chunk_blob() -> EncryptedBlob:
    rng = DeterministicRandom(b"big")
    size = 1 << 30
    chunks = tuple(
        ChunkLocation(0, rng.random_bytes(24), rng.random_bytes(32), rng.random_bytes(32))
        for _ in range(plan_layout(size).chunk_count)
    )
    return EncryptedBlob(size, FileSecret.generate(rng), RELAYS[:1], chunks)
