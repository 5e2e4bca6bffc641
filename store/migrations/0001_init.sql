-- 0001_init: messages, their raw bytes and the full-text index.

-- One row per stored message. List queries read only this table; the big
-- raw blob lives in raw. Address lists, envelope, headers, the MIME tree
-- and findings are JSON documents owned by the Go code.
CREATE TABLE messages (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT, -- insertion order, never reused
	id           TEXT    NOT NULL UNIQUE,           -- opaque public id
	created      INTEGER NOT NULL,                  -- receive time, unix nanoseconds UTC
	size         INTEGER NOT NULL,                  -- raw bytes as stored
	read         INTEGER NOT NULL DEFAULT 0,
	subject      TEXT    NOT NULL DEFAULT '',
	from_addr    TEXT    NOT NULL DEFAULT 'null',   -- JSON Address or null
	to_addrs     TEXT    NOT NULL DEFAULT '[]',
	cc_addrs     TEXT    NOT NULL DEFAULT '[]',
	bcc_addrs    TEXT    NOT NULL DEFAULT '[]',
	reply_to     TEXT    NOT NULL DEFAULT '[]',
	message_id   TEXT    NOT NULL DEFAULT '',
	date         TEXT    NOT NULL DEFAULT '',       -- Date header, RFC 3339; '' when absent
	snippet      TEXT    NOT NULL DEFAULT '',
	attachments  INTEGER NOT NULL DEFAULT 0,
	tags         TEXT    NOT NULL DEFAULT '[]',
	username     TEXT    NOT NULL DEFAULT '',
	return_path  TEXT    NOT NULL DEFAULT '',
	envelope     TEXT    NOT NULL DEFAULT '{}',
	headers      TEXT    NOT NULL DEFAULT '[]',
	text         TEXT    NOT NULL DEFAULT '',
	html         TEXT    NOT NULL DEFAULT '',
	root         TEXT    NOT NULL DEFAULT '{}',     -- MIME tree (Part)
	inline_parts TEXT    NOT NULL DEFAULT '[]',
	attached     TEXT    NOT NULL DEFAULT '[]',
	findings     TEXT    NOT NULL DEFAULT '[]',
	list_unsub      TEXT NOT NULL DEFAULT '',
	list_unsub_post TEXT NOT NULL DEFAULT ''
);

-- Age-based retention scans by receive time.
CREATE INDEX messages_created ON messages (created);
-- Unread count: a partial index holds only the unread rows.
CREATE INDEX messages_unread ON messages (seq) WHERE read = 0;

-- The message exactly as received. Deleting a message deletes its raw row.
CREATE TABLE raw (
	seq  INTEGER PRIMARY KEY REFERENCES messages (seq) ON DELETE CASCADE,
	data BLOB    NOT NULL
);

-- Full-text index; rowid = messages.seq. Contentless (the text is already in
-- messages) with delete support, kept in step by the Go code in the same
-- transaction as the messages row.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
	subject,
	addresses,
	text,
	content = '',
	contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2'
);
