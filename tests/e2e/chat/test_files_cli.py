"""Files between two people through a real file relay, only through the ``veil`` CLI."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from helpers.file_relays import start_file_relay
from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser, connect, kill

pytestmark = pytest.mark.slow

GPS_IFD = 0x8825


@pytest.fixture
async def file_relay(tmp_path: Path) -> AsyncIterator[RelayProcess]:
    relay = await start_file_relay(tmp_path / "relay")
    yield relay
    await relay.stop()


@pytest.fixture
async def friends(
    file_relay: RelayProcess, users: dict[str, VeilUser]
) -> tuple[VeilUser, VeilUser]:
    alice, bob = users["Alice"], users["Bob"]
    await alice.init(file_relay)
    await bob.init(file_relay)
    await connect(alice, bob)
    return alice, bob


def gps_photo(path: Path) -> Path:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (52.0, 31.0, 12.0)
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (200, 30, 30)).save(buffer, format="JPEG", exif=exif)
    path.write_bytes(buffer.getvalue())
    with Image.open(path) as before:
        assert before.getexif().get_ifd(GPS_IFD)  # the fixture really carries GPS
    return path


async def test_a_photo_arrives_without_its_gps_and_a_file_intact(
    friends: tuple[VeilUser, VeilUser], tmp_path: Path
) -> None:
    alice, bob = friends
    photo = gps_photo(tmp_path / "holiday.jpg")
    sent = await alice.run("send-file", "Bob", str(photo))
    assert (sent["state"], sent["mime_type"], sent["direction"]) == ("sent", "image/jpeg", "sent")
    assert sent["preview_bytes"] > 0

    (offer,) = [e for e in await bob.receive() if e["kind"] == "file"]
    assert offer["contact"] == "Alice" and "holiday.jpg" in offer["text"]
    inbox = tmp_path / "inbox"
    (got,) = (await bob.run("receive-file", str(offer["id"]), "--to", str(inbox)))["received"]
    assert got["state"] == "received" and Path(got["path"]).parent == inbox
    assert got["contact"] == "Alice"
    with Image.open(got["path"]) as after:
        assert "exif" not in after.info and not after.getexif()
        assert after.size == (320, 200)
    twice = await bob.run("receive-file", str(offer["id"]), "--to", str(inbox), ok=False)
    assert "received already" in twice["error"]

    document = tmp_path / "report.pdf"
    document.write_bytes(b"%PDF-" + os.urandom(3 * 1024 * 1024))
    await alice.run("send-file", "Bob", str(document))
    await bob.receive()
    listed = await bob.run("files", "--auto-accept", "10M")
    assert listed["auto_accept_bytes"] == 10 * 1024 * 1024
    waiting = [t for t in listed["transfers"] if t["state"] == "offered"]
    assert [t["name"] for t in waiting] == ["report.pdf"]
    (auto,) = (await bob.run("receive-file", "--auto", "--to", str(inbox)))["received"]
    saved = Path(auto["path"])
    assert (
        hashlib.sha256(saved.read_bytes()).digest()
        == hashlib.sha256(document.read_bytes()).digest()
    )
    states = {t["name"]: t["state"] for t in (await bob.run("files"))["transfers"]}
    assert states == {"holiday.jpg": "received", "report.pdf": "received"}


async def test_send_and_receive_killed_part_way_resume_and_the_file_arrives_once(
    friends: tuple[VeilUser, VeilUser], tmp_path: Path
) -> None:
    alice, bob = friends
    video = tmp_path / "video.bin"
    video.write_bytes(os.urandom(24 * 1024 * 1024))
    await kill_after_progress(alice, "send-file", "Bob", str(video))
    (under_way,) = (await alice.run("files"))["uploading"]
    assert (under_way["name"], under_way["contact"]) == ("video.bin", "Bob")
    assert under_way["chunks_done"] >= 2
    sent = await alice.run("send-file", "Bob", str(video))
    assert sent["state"] == "sent"
    offers = [e for e in await bob.receive() if e["kind"] == "file"]
    assert len(offers) == 1  # the killed run sent no offer
    inbox = tmp_path / "inbox"
    await kill_after_progress(bob, "receive-file", str(offers[0]["id"]), "--to", str(inbox))
    (halfway,) = (await bob.run("files"))["transfers"]
    assert halfway["state"] == "downloading" and halfway["chunks_done"] >= 2
    (got,) = (await bob.run("receive-file", str(offers[0]["id"]), "--to", str(inbox)))["received"]
    assert Path(got["path"]).read_bytes() == video.read_bytes()
    assert sorted(path.name for path in inbox.iterdir()) == ["video.bin"]


async def kill_after_progress(user: VeilUser, *args: str) -> None:
    """Start a CLI transfer and SIGKILL it after its second finished chunk."""
    process = await user.start(*args)
    assert process.stdout is not None
    seen = 0
    while seen < 2:
        line = await process.stdout.readline()
        assert line, "the transfer ended before it was killed"
        seen += b'"progress"' in line
    kill(process)
    await process.wait()


async def test_veil_receive_downloads_offers_within_the_limit_into_the_profile(
    friends: tuple[VeilUser, VeilUser], tmp_path: Path
) -> None:
    alice, bob = friends
    assert (await bob.run("files", "--auto-accept", "1M"))["auto_accept_bytes"] == 1024 * 1024
    small, large = tmp_path / "note.bin", tmp_path / "large.bin"
    small.write_bytes(os.urandom(200_000))
    large.write_bytes(os.urandom(2 * 1024 * 1024))
    for source in (small, large):
        await alice.run("send-file", "Bob", str(source))
    arrived = await bob.receive()
    assert sorted(e["text"].split(" ")[0] for e in arrived if e["kind"] == "file") == [
        "large.bin",
        "note.bin",
    ]
    (done,) = [e for e in arrived if e["kind"] == "file-done"]  # the small one only
    assert Path(done["text"]) == bob.home / "downloads" / "note.bin"
    assert Path(done["text"]).read_bytes() == small.read_bytes()
    states = {t["name"]: t["state"] for t in (await bob.run("files"))["transfers"]}
    assert states == {"note.bin": "received", "large.bin": "offered"}
