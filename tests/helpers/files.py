"""In-memory file relays and drivers for the pure file-transfer state machines."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from veil.crypto.random import DeterministicRandom
from veil.files.description import FileDescription
from veil.files.download import Download
from veil.files.layout import ChunkLayout, place_chunks, plan_layout
from veil.files.stream import FileSecret, encrypt_stream
from veil.files.upload import ChunkDigests, PutChunk, RegisterChunk, Upload

RELAYS = ("veil://relay-one@one.example", "veil://relay-two@two.example:5223")


@dataclass
class Staged:
    """A file encrypted once into a staging buffer, with its chunk digests."""

    secret: FileSecret
    layout: ChunkLayout
    staged: bytes
    digests: tuple[bytes, ...]


def stage(data: bytes, seed: bytes = b"stage") -> Staged:
    rng = DeterministicRandom(seed)
    layout = plan_layout(len(data))
    secret = FileSecret.generate(rng)
    hasher = ChunkDigests(layout)
    parts = []
    for segment in encrypt_stream(secret, layout, io.BytesIO(data).read):
        hasher.add(segment)
        parts.append(segment)
    return Staged(secret, layout, b"".join(parts), hasher.digests())


@dataclass
class FakeRelays:
    """Relays that register and store chunks in dictionaries; some may be down."""

    down: set[str] = field(default_factory=set)
    bodies: dict[bytes, bytes] = field(default_factory=dict)
    readers: dict[bytes, bytes] = field(default_factory=dict)
    puts: list[int] = field(default_factory=list)
    counter: int = 0

    def _new_id(self) -> bytes:
        self.counter += 1
        return self.counter.to_bytes(24, "big")

    def register(self, action: RegisterChunk) -> tuple[bytes, list[bytes]]:
        sender = self._new_id()
        readers = [self._new_id() for _ in action.recipient_auth_keys]
        for reader in readers:
            self.readers[reader] = sender
        return sender, readers

    def put(self, action: PutChunk, staged: bytes) -> None:
        self.puts.append(action.index)
        self.bodies[action.sender_id] = staged[action.offset : action.offset + action.size]

    def fetch(self, recipient_id: bytes) -> bytes:
        return self.bodies[self.readers[recipient_id]]


def drive_upload(upload: Upload, relays: FakeRelays, staged: bytes, steps: int = 10**6) -> None:
    """Run actions against the fake relays, at most ``steps`` answers; down relays fail."""
    for _ in range(steps):
        actions = upload.next_actions(parallel=3)
        if not actions:
            return
        for action in actions:
            if action.relay in relays.down:
                upload.action_failed(action.index)
                upload.relays_down(RELAYS, relays.down)
            elif isinstance(action, RegisterChunk):
                upload.chunk_registered(action.index, *relays.register(action))
            else:
                relays.put(action, staged)
                upload.chunk_uploaded(action.index)


def upload_file(data: bytes, recipients: int = 1) -> tuple[tuple[FileDescription, ...], FakeRelays]:
    staged = stage(data)
    rng = DeterministicRandom(b"upload")
    placement = place_chunks(staged.layout.chunk_count, RELAYS, (), start=0)
    upload = Upload.start(
        secret=staged.secret,
        size=len(data),
        digests=staged.digests,
        placement=placement,
        recipients=recipients,
        rng=rng,
    )
    relays = FakeRelays()
    drive_upload(upload, relays, staged.staged)
    return upload.descriptions("file.bin", "application/octet-stream"), relays


def download_all(download: Download, relays: FakeRelays, size: int) -> bytes:
    """Fetch every remaining chunk into an output buffer of ``size`` bytes."""
    output = bytearray(size)
    while not download.complete:
        for fetch in download.next_fetches(parallel=4):
            plain = download.chunk_fetched(fetch.index, relays.fetch(fetch.recipient_id))
            output[plain.offset : plain.offset + len(plain.data)] = plain.data
            download.chunk_written(fetch.index)
    return bytes(output)
