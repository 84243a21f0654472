"""``veil backup`` / ``veil restore``: the whole profile in one passphrase-encrypted file.

File layout (docs/protocol/agent.md, "Backup and restore")::

    file  = MAGIC (12) || u8 format (1) || u8 t || u8 p || u32 m_kib || 16 salt
            || 12 nonce || u64 created_at_ms || AES-256-GCM(key, nonce, payload, ad)
    key   = Argon2id(NFC(passphrase) as UTF-8, salt, t, p, m_kib, 32)   (RFC 9106)
    ad    = every byte before the ciphertext

The salt is fresh for every backup, so every backup has its own key and the random
nonce is used once under it. The payload (:mod:`veil.chat.backup_codec`) is every
row of the store — profile, relays, contacts, connections with their ratchet and
queue state, history, outbox — and the profile's other files (routing policy).

Restoring writes a new profile from it and then applies the restore rule to every
connection (:meth:`veil.agent.runtime.Agent.restore`): no ratchet sends with a
chain the lost device may have used, and each connection re-keys with its peer
automatically over its existing queues.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from veil.chat.app import Messenger
from veil.chat.backup_codec import MAX_FILE_SIZE, decode_payload, encode_payload
from veil.chat.errors import BackupUnreadable, RestoreTargetInUse
from veil.chat.receive_lock import LOCK_FILE
from veil.chat.store import ChatStore, KdfParams
from veil.chat.store.database import HEADER_SUFFIX
from veil.chat.store.snapshot import StoreSnapshot
from veil.crypto import AuthenticationFailed, RandomSource, aead_decrypt, aead_encrypt, argon2id
from veil.wire import Reader, WireError, Writer

__all__ = [
    "BACKUP_FORMAT",
    "BACKUP_MAGIC",
    "Backup",
    "open_backup",
    "read_backup",
    "restore_into",
    "resume_connections",
    "seal_backup",
    "write_backup",
]

BACKUP_MAGIC = b"VEIL-BACKUP\n"
BACKUP_FORMAT = 1
_SALT_SIZE, _NONCE_SIZE, _KEY_SIZE = 16, 12, 32
_MAX_BACKUP_SIZE = 1 << 30
_PRIVATE_FILE, _PRIVATE_DIR = 0o600, 0o700


@dataclass(frozen=True, slots=True)
class Backup:
    """A decrypted backup: when it was made, the store's rows and the other files."""

    created_at: float
    snapshot: StoreSnapshot
    files: dict[str, bytes]


def _key(passphrase: str, salt: bytes, kdf: KdfParams) -> bytes:
    password = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return argon2id(
        password,
        salt,
        length=_KEY_SIZE,
        iterations=kdf.iterations,
        lanes=kdf.lanes,
        memory_kib=kdf.memory_kib,
    )


def _profile_files(home: Path, store_file: str) -> dict[str, bytes]:
    """The profile's files besides the store (the routing policy, for one)."""
    skipped = (
        store_file,
        store_file + HEADER_SUFFIX,
        store_file + "-wal",
        store_file + "-shm",
        LOCK_FILE,
    )
    return {
        path.name: path.read_bytes()
        for path in sorted(home.iterdir())
        if path.is_file()
        and path.name not in skipped
        and not path.name.endswith(".tmp")
        and path.stat().st_size <= MAX_FILE_SIZE
    }


def seal_backup(
    payload: bytes,
    passphrase: str,
    *,
    salt: bytes,
    nonce: bytes,
    kdf: KdfParams,
    created_at_ms: int,
) -> bytes:
    """The backup file around ``payload`` (the construction, without any I/O)."""
    header = Writer().raw(BACKUP_MAGIC).u8(BACKUP_FORMAT)
    header.u8(kdf.iterations).u8(kdf.lanes).u32(kdf.memory_kib).raw(salt).raw(nonce)
    associated = header.u64(created_at_ms).build()
    return associated + aead_encrypt(_key(passphrase, salt, kdf), nonce, payload, associated)


def open_backup(data: bytes, passphrase: str) -> tuple[int, bytes]:
    """Check and decrypt a backup file; return its creation time (ms) and payload."""
    try:
        reader = Reader(data)
        if reader.raw(len(BACKUP_MAGIC)) != BACKUP_MAGIC:
            raise BackupUnreadable("this is not a Veil backup")
        if (version := reader.u8()) != BACKUP_FORMAT:
            raise BackupUnreadable(f"backup format {version} is unknown: update Veil")
        kdf = KdfParams(reader.u8(), reader.u8(), reader.u32())
        salt, nonce, created_ms = reader.raw(_SALT_SIZE), reader.raw(_NONCE_SIZE), reader.u64()
        ciphertext = reader.rest()
    except (WireError, ValueError) as exc:
        raise BackupUnreadable(f"the backup is damaged: {exc}") from exc
    associated = data[: len(data) - len(ciphertext)]
    try:
        return created_ms, aead_decrypt(_key(passphrase, salt, kdf), nonce, ciphertext, associated)
    except AuthenticationFailed as exc:
        raise BackupUnreadable("wrong backup passphrase, or the backup is damaged") from exc


def write_backup(
    store: ChatStore,
    passphrase: str,
    target: Path,
    *,
    rng: RandomSource,
    now: float,
    kdf: KdfParams | None = None,
) -> int:
    """Write the profile ``store`` belongs to into ``target``, encrypted under
    ``passphrase``; return the file's size. The file is created 0600 and never
    overwrites one that exists."""
    payload = encode_payload(store.snapshot(), _profile_files(store.path.parent, store.path.name))
    data = seal_backup(
        payload,
        passphrase,
        salt=rng.random_bytes(_SALT_SIZE),
        nonce=rng.random_bytes(_NONCE_SIZE),
        kdf=kdf or KdfParams(),
        created_at_ms=int(now * 1000),
    )
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return len(data)


def read_backup(source: Path, passphrase: str) -> Backup:
    """Decrypt and parse a backup file; :class:`BackupUnreadable` on any fault."""
    if source.stat().st_size > _MAX_BACKUP_SIZE:
        raise BackupUnreadable(f"{source} is larger than any Veil backup")
    created_ms, payload = open_backup(source.read_bytes(), passphrase)
    snapshot, files = decode_payload(payload)
    return Backup(created_ms / 1000, snapshot, files)


def restore_into(
    backup: Backup, home: Path, passphrase: str, store_file: str, *, kdf: KdfParams | None = None
) -> ChatStore:
    """Write ``backup`` as a new profile in ``home`` (created 0700; it must not hold
    anything yet), its store locked with ``passphrase``; return the open store."""
    if home.exists() and any(home.iterdir()):
        raise RestoreTargetInUse(f"{home} is not empty: restore into a new folder")
    home.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
    home.chmod(_PRIVATE_DIR)
    for name, content in backup.files.items():
        if Path(name).name != name or name.startswith("."):
            raise BackupUnreadable(f"the backup names a file outside the profile: {name!r}")
        descriptor = os.open(home / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE)
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
    return ChatStore.restore(home / store_file, passphrase, backup.snapshot, kdf=kdf)


async def resume_connections(messenger: Messenger) -> int:
    """Apply the restore rule to every connection of a just-restored profile and send
    the automatic repair offers; return how many were sent (or queued for retry)."""
    with messenger.store.transaction() as tx:
        offers = messenger.agent.restore(tx)
    await messenger.agent.outbox.flush(force=True)
    return offers
