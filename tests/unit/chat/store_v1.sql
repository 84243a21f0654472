-- Pinned fixture: the client store schema exactly as format v1 shipped, plus sample
-- rows. Never edit this file; add store_v2.sql when the schema moves on.
CREATE TABLE own_profile (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    display_name TEXT NOT NULL,
    full_name TEXT,
    bio TEXT,
    keys BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE relays (
    address TEXT PRIMARY KEY,
    added_at REAL NOT NULL
);
CREATE TABLE contacts (
    contact_id INTEGER PRIMARY KEY,
    alias TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    full_name TEXT,
    bio TEXT,
    verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
    status TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE connections (
    connection_id INTEGER PRIMARY KEY,
    contact_id INTEGER REFERENCES contacts (contact_id) ON DELETE CASCADE,
    phase TEXT NOT NULL,
    agent_version INTEGER NOT NULL,
    receive_queue_id BLOB NOT NULL UNIQUE,
    ratchet_state BLOB,
    queue_state BLOB NOT NULL,
    envelope_state BLOB NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE messages (
    row_id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (contact_id) ON DELETE CASCADE,
    message_id BLOB NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('sent', 'received')),
    sequence INTEGER NOT NULL,
    text TEXT,
    reply_to BLOB,
    edited INTEGER NOT NULL DEFAULT 0 CHECK (edited IN (0, 1)),
    deletion TEXT NOT NULL DEFAULT 'none',
    receipt TEXT NOT NULL,
    integrity TEXT NOT NULL DEFAULT 'ok',
    sent_at REAL NOT NULL,
    received_at REAL,
    UNIQUE (contact_id, direction, message_id)
);
CREATE INDEX messages_by_contact ON messages (contact_id, row_id);
CREATE TABLE reactions (
    message_row INTEGER NOT NULL REFERENCES messages (row_id) ON DELETE CASCADE,
    direction TEXT NOT NULL CHECK (direction IN ('sent', 'received')),
    emoji TEXT NOT NULL,
    PRIMARY KEY (message_row, direction, emoji)
);
CREATE TABLE pending_sends (
    send_id INTEGER PRIMARY KEY,
    connection_id INTEGER NOT NULL
        REFERENCES connections (connection_id) ON DELETE CASCADE,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX pending_sends_due ON pending_sends (next_attempt_at);
CREATE TABLE contact_requests (
    request_id INTEGER PRIMARY KEY,
    display_name TEXT NOT NULL,
    full_name TEXT,
    bio TEXT,
    invitation BLOB NOT NULL,
    status TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE TABLE contact_address (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    link TEXT NOT NULL,
    receive_queue_id BLOB NOT NULL UNIQUE,
    queue_state BLOB NOT NULL,
    created_at REAL NOT NULL
);

INSERT INTO own_profile VALUES (1, 'Alice', NULL, 'v1 bio', x'6b657973', 100.0);
INSERT INTO relays VALUES ('veil://relay-one', 100.0);
INSERT INTO contacts VALUES (1, 'Bob', 'Bob', 'Robert', NULL, 1, 'connected', 101.0);
INSERT INTO connections VALUES
    (1, 1, 'connected', 1, x'717171', x'7261', x'7175', x'7472', 102.0);
INSERT INTO messages VALUES
    (1, 1, x'000102030405060708090a0b0c0d0e0f', 'received', 7, 'hello from v1', NULL,
     1, 'none', 'read', 'ok', 103.0, 104.0);
INSERT INTO reactions VALUES (1, 'sent', '❤');
INSERT INTO pending_sends VALUES (1, 1, x'626f6479', 2, 110.0, 105.0);
INSERT INTO contact_requests VALUES (1, 'Carol', NULL, NULL, x'696e76', 'pending', 106.0);
INSERT INTO contact_address VALUES (1, 'veil://contact#AQ', x'616464', x'7371', 107.0);
PRAGMA user_version = 1;
