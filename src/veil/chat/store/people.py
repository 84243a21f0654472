"""Repositories for who the user is and who they know: own profile, relays, contacts,
contact requests and the contact address."""

from __future__ import annotations

from veil.agent.store import AddressRecord
from veil.chat.errors import DuplicateRecord, RecordNotFound
from veil.chat.profile import Profile
from veil.chat.store.base import Repository, Row, profile_columns, profile_from
from veil.chat.store.records import (
    Contact,
    ContactRequestRecord,
    ContactStatus,
    OwnProfile,
    RequestStatus,
)

__all__ = [
    "AddressRepository",
    "ContactRepository",
    "OwnProfileRepository",
    "RelayRepository",
    "RequestRepository",
]


class OwnProfileRepository(Repository):
    """The single row holding the user's profile and long-term keys."""

    __slots__ = ()

    def create(self, profile: Profile, keys: bytes, now: float) -> OwnProfile:
        """Store the profile of a new user; :class:`DuplicateRecord` if one exists."""
        self._execute(
            "INSERT INTO own_profile VALUES (1, ?, ?, ?, ?, ?)",
            (*profile_columns(profile), keys, now),
        )
        return OwnProfile(profile, keys, now)

    def get(self) -> OwnProfile:
        """The user's profile; :class:`RecordNotFound` before ``veil init``."""
        row = self._one(
            "SELECT display_name, full_name, bio, keys, created_at FROM own_profile",
            (),
            "profile (run veil init)",
        )
        return OwnProfile(profile_from(row[:3]), bytes(row[3]), row[4])

    def update_profile(self, profile: Profile) -> None:
        """Replace the user's display name, full name and bio."""
        self._changed(
            "UPDATE own_profile SET display_name = ?, full_name = ?, bio = ?",
            profile_columns(profile),
            "profile",
        )

    def update_keys(self, keys: bytes) -> None:
        """Replace the opaque long-term key blob."""
        self._changed("UPDATE own_profile SET keys = ?", (keys,), "profile")


class RelayRepository(Repository):
    """The relays the user chose for their receive queues, in the order added."""

    __slots__ = ()

    def add(self, address: str, now: float) -> None:
        """Add a relay address (``veil://fp@host[:port]``)."""
        self._execute("INSERT INTO relays VALUES (?, ?)", (address, now))

    def remove(self, address: str) -> None:
        """Forget a relay address."""
        self._changed("DELETE FROM relays WHERE address = ?", (address,), f"relay {address}")

    def list(self) -> list[str]:
        """Every chosen relay address, oldest first."""
        return [row[0] for row in self._all("SELECT address FROM relays ORDER BY added_at")]


_SELECT_CONTACTS = (
    "SELECT contact_id, alias, display_name, full_name, bio, verified, status, created_at"
    " FROM contacts"
)


def _contact(row: Row) -> Contact:
    return Contact(
        contact_id=row[0],
        alias=row[1],
        profile=profile_from(row[2:5]),
        verified=bool(row[5]),
        status=ContactStatus(row[6]),
        created_at=row[7],
    )


class ContactRepository(Repository):
    """Contacts, each with a local alias unique within this store."""

    __slots__ = ()

    def add(self, profile: Profile, status: ContactStatus, now: float) -> Contact:
        """Add a contact, aliased by its display name (suffixed ``-2``, ``-3``... if taken)."""
        alias = self._free_alias(profile.display_name)
        cursor = self._execute(
            "INSERT INTO contacts (alias, display_name, full_name, bio, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (alias, *profile_columns(profile), status.value, now),
        )
        return Contact(int(cursor.lastrowid), alias, profile, False, status, now)

    def _free_alias(self, wanted: str) -> str:
        taken = {row[0] for row in self._all("SELECT alias FROM contacts")}
        alias, suffix = wanted, 1
        while alias in taken:
            suffix += 1
            alias = f"{wanted}-{suffix}"
        return alias

    def get(self, contact_id: int) -> Contact:
        """The contact with this id."""
        sql = _SELECT_CONTACTS + " WHERE contact_id = ?"
        return _contact(self._one(sql, (contact_id,), f"contact {contact_id}"))

    def find(self, alias: str) -> Contact:
        """The contact with this alias; :class:`RecordNotFound` if none."""
        sql = _SELECT_CONTACTS + " WHERE alias = ?"
        return _contact(self._one(sql, (alias,), f"contact named {alias!r}"))

    def list(self) -> list[Contact]:
        """Every contact, in the order they were added."""
        return [_contact(row) for row in self._all(_SELECT_CONTACTS + " ORDER BY contact_id")]

    def rename(self, contact_id: int, alias: str) -> None:
        """Change a contact's local alias; :class:`DuplicateRecord` if it is taken."""
        if not alias.strip():
            raise ValueError("an alias must not be empty")
        self._update(contact_id, "alias = ?", (alias,))

    def set_profile(self, contact_id: int, profile: Profile) -> None:
        """Apply a profile the contact sent."""
        self._update(
            contact_id, "display_name = ?, full_name = ?, bio = ?", profile_columns(profile)
        )

    def set_verified(self, contact_id: int, verified: bool) -> None:
        """Record the outcome of comparing security codes."""
        self._update(contact_id, "verified = ?", (int(verified),))

    def set_status(self, contact_id: int, status: ContactStatus) -> None:
        """Record where the contact's connection stands."""
        self._update(contact_id, "status = ?", (status.value,))

    def delete(self, contact_id: int) -> None:
        """Delete the contact with its connections and history."""
        self._changed(
            "DELETE FROM contacts WHERE contact_id = ?", (contact_id,), f"contact {contact_id}"
        )

    def _update(self, contact_id: int, assignments: str, values: tuple[object, ...]) -> None:
        # ``assignments`` is always a literal from this class, never user input.
        sql = f"UPDATE contacts SET {assignments} WHERE contact_id = ?"  # noqa: S608
        self._changed(sql, (*values, contact_id), f"contact {contact_id}")


_SELECT_REQUESTS = (
    "SELECT request_id, display_name, full_name, bio, invitation, status, received_at"
    " FROM contact_requests"
)


def _request(row: Row) -> ContactRequestRecord:
    return ContactRequestRecord(
        request_id=row[0],
        profile=profile_from(row[1:4]),
        invitation=bytes(row[4]),
        status=RequestStatus(row[5]),
        received_at=row[6],
    )


class RequestRepository(Repository):
    """Contact requests received through the contact address, awaiting the user."""

    __slots__ = ()

    def add(self, profile: Profile, invitation: bytes, now: float) -> ContactRequestRecord:
        """Record a request carrying the requester's profile and one-time invitation."""
        cursor = self._execute(
            "INSERT INTO contact_requests"
            " (display_name, full_name, bio, invitation, status, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (*profile_columns(profile), invitation, RequestStatus.PENDING.value, now),
        )
        return ContactRequestRecord(
            int(cursor.lastrowid), profile, invitation, RequestStatus.PENDING, now
        )

    def get(self, request_id: int) -> ContactRequestRecord:
        """The request with this id."""
        sql = _SELECT_REQUESTS + " WHERE request_id = ?"
        return _request(self._one(sql, (request_id,), f"request {request_id}"))

    def list(self, status: RequestStatus | None = None) -> list[ContactRequestRecord]:
        """Requests, oldest first, optionally only those with ``status``."""
        if status is None:
            rows = self._all(_SELECT_REQUESTS + " ORDER BY request_id")
        else:
            rows = self._all(
                _SELECT_REQUESTS + " WHERE status = ? ORDER BY request_id", (status.value,)
            )
        return [_request(row) for row in rows]

    def set_status(self, request_id: int, status: RequestStatus) -> None:
        """Record the user's answer."""
        self._changed(
            "UPDATE contact_requests SET status = ? WHERE request_id = ?",
            (status.value, request_id),
            f"request {request_id}",
        )


class AddressRepository(Repository):
    """The user's one long-lived contact address (at most one at a time)."""

    __slots__ = ()

    def create(
        self, link: str, receive_queue_id: bytes, queue_state: bytes, now: float
    ) -> AddressRecord:
        """Store a new address; :class:`DuplicateRecord` if one already exists."""
        if self.get() is not None:
            raise DuplicateRecord("a contact address already exists; delete it first")
        self._execute(
            "INSERT INTO contact_address VALUES (1, ?, ?, ?, ?)",
            (link, receive_queue_id, queue_state, now),
        )
        return AddressRecord(link, receive_queue_id, queue_state, now)

    def get(self) -> AddressRecord | None:
        """The current address, or ``None``."""
        try:
            row = self._one(
                "SELECT link, receive_queue_id, queue_state, created_at FROM contact_address",
                (),
                "address",
            )
        except RecordNotFound:
            return None
        return AddressRecord(row[0], bytes(row[1]), bytes(row[2]), row[3])

    def save_queue_state(self, queue_state: bytes) -> None:
        """Replace the address queue's opaque state."""
        self._changed(
            "UPDATE contact_address SET queue_state = ?", (queue_state,), "contact address"
        )

    def delete(self) -> None:
        """Delete the address; contacts made through it are untouched."""
        self._changed("DELETE FROM contact_address", (), "contact address")
