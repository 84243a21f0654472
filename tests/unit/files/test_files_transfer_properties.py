"""Property: whatever fails and wherever the sender or recipient crashes, a transfer
completes, no chunk recorded as finished is sent or fetched again, and the file
arrives exactly."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.files import RELAYS, FakeRelays, stage
from veil.crypto.random import DeterministicRandom
from veil.files.description import EncryptedBlob
from veil.files.download import Download, decode_download_record, encode_download_record
from veil.files.layout import place_chunks
from veil.files.upload import RegisterChunk, Upload
from veil.files.upload_record import decode_upload_record, encode_upload_record

DATA = bytes(range(256)) * 2100  # 537,600 bytes: 9 segments padded to 10, ten 64 KiB chunks
STAGED = stage(DATA)

# Each step: 0 = answer succeeds, 1 = answer fails, 2 = crash and restore from the record.
steps = st.lists(st.integers(0, 2), min_size=0, max_size=80)


def restart_upload(upload: Upload, seed: int) -> Upload:
    record = decode_upload_record(encode_upload_record(upload.record()))
    return Upload(record, DeterministicRandom(seed.to_bytes(4, "big")))


@settings(max_examples=60, deadline=None)
@given(steps, steps)
def test_transfer_survives_any_failures_and_crashes(
    upload_steps: list[int], fetch_steps: list[int]
) -> None:
    relays = FakeRelays()
    upload = upload_everything(relays, iter(upload_steps))
    assert sorted(relays.puts) == list(range(STAGED.layout.chunk_count))  # each body once
    (description,) = upload.descriptions("f", "application/octet-stream")
    assert fetch_everything(description.blob, relays, iter(fetch_steps)) == DATA


def upload_everything(relays: FakeRelays, script: Iterator[int]) -> Upload:
    placement = place_chunks(STAGED.layout.chunk_count, RELAYS, (), start=1)
    upload = Upload.start(
        secret=STAGED.secret,
        size=len(DATA),
        digests=STAGED.digests,
        placement=placement,
        recipients=1,
        rng=DeterministicRandom(b"p"),
    )
    while not upload.complete:
        step = next(script, 0)
        if step == 2:
            upload = restart_upload(upload, len(relays.puts))
            continue
        (action,) = upload.next_actions(parallel=1)
        if step == 1:
            upload.action_failed(action.index)
        elif isinstance(action, RegisterChunk):
            upload.chunk_registered(action.index, *relays.register(action))
        else:
            assert action.index not in relays.puts  # a finished chunk is never sent again
            relays.put(action, STAGED.staged)
            upload.chunk_uploaded(action.index)
    return upload


def fetch_everything(blob: EncryptedBlob, relays: FakeRelays, script: Iterator[int]) -> bytes:
    download = Download(blob)
    output = bytearray(len(DATA))
    written: set[int] = set()
    while not download.complete:
        step = next(script, 0)
        if step == 2:
            record = decode_download_record(encode_download_record(download.record()))
            download = Download(blob, record)
            continue
        (fetch,) = download.next_fetches(parallel=1)
        assert fetch.index not in written  # a chunk on disk is never fetched again
        if step == 1:
            download.chunk_failed(fetch.index)
            continue
        plain = download.chunk_fetched(fetch.index, relays.fetch(fetch.recipient_id))
        output[plain.offset : plain.offset + len(plain.data)] = plain.data
        download.chunk_written(fetch.index)
        written.add(fetch.index)
    return bytes(output)
