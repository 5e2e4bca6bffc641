-- 0002_search: inboxes, tags, the inline-part count and a full-text index
-- with one column per searchable field (Mailpit's search filters).

-- The inbox a message was routed to at insert ('' = the default inbox),
-- normalised by the Go code.
ALTER TABLE messages ADD COLUMN inbox TEXT NOT NULL DEFAULT '';
-- Number of inline parts with content (cid images …), for has:inline.
ALTER TABLE messages ADD COLUMN inlines INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET inlines = json_array_length(inline_parts) WHERE inline_parts <> '[]';

-- inbox:NAME lists newest first straight from the index (seq is the rowid,
-- so it is part of every index entry); Inboxes() counts per inbox from it.
CREATE INDEX messages_inbox ON messages (inbox);
-- Unread count per inbox without touching the table.
CREATE INDEX messages_inbox_unread ON messages (inbox) WHERE read = 0;
-- is:read, the counterpart of 0001's messages_unread.
CREATE INDEX messages_read ON messages (seq) WHERE read = 1;
-- larger:/smaller: count from the index.
CREATE INDEX messages_size ON messages (size);

-- One row per tag of a message. key is the tag case-folded by the Go code
-- (strings.ToLower): tag:X, Tags() and the counts of Stats go through the
-- primary key. tag is the spelling shown; all rows of one key share it.
-- messages.tags (JSON) is kept in step for the list view.
CREATE TABLE message_tags (
	key TEXT    NOT NULL,
	seq INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
	tag TEXT    NOT NULL,
	PRIMARY KEY (key, seq)
) WITHOUT ROWID;
-- The tags of one message; also what ON DELETE CASCADE looks up.
CREATE INDEX message_tags_seq ON message_tags (seq);

-- Backfill from the JSON column, then rewrite that from the rows so both
-- agree (0001 never wrote tags, so this is for completeness; only trimmed
-- here, and SQL lower() folds ASCII only).
INSERT OR IGNORE INTO message_tags (key, seq, tag)
	SELECT lower(trim(j.value)), m.seq, trim(j.value)
	FROM messages m, json_each(m.tags) j
	WHERE m.tags <> '[]' AND j.type = 'text' AND trim(j.value) <> '';
UPDATE messages SET tags =
	(SELECT json_group_array(tag ORDER BY key) FROM message_tags WHERE seq = messages.seq)
	WHERE tags <> '[]';

-- The full-text index gets one column per field so that from:, to:,
-- subject: … are FTS5 column filters. Contentless like before, so it is
-- rebuilt from the messages rows. Messages stored before this migration
-- have no html column text (their text column already holds enmime's text
-- version of an HTML-only body).
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5 (
	subject,
	from_addr,   -- names and addresses, space separated
	to_addr,
	cc_addr,
	bcc_addr,
	reply_to,
	return_path, -- envelope sender
	message_id,
	text,        -- text body
	html,        -- the text of the HTML body (tags and scripts removed)
	content = '',
	contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (rowid, subject, from_addr, to_addr, cc_addr, bcc_addr, reply_to,
		return_path, message_id, text, html)
	SELECT seq, subject,
		trim(coalesce(json_extract(from_addr, '$.Name'), '') || ' ' ||
			coalesce(json_extract(from_addr, '$.Address'), '')),
		coalesce((SELECT group_concat(json_extract(value, '$.Name') || ' ' ||
			json_extract(value, '$.Address'), ' ') FROM json_each(to_addrs)), ''),
		coalesce((SELECT group_concat(json_extract(value, '$.Name') || ' ' ||
			json_extract(value, '$.Address'), ' ') FROM json_each(cc_addrs)), ''),
		coalesce((SELECT group_concat(json_extract(value, '$.Name') || ' ' ||
			json_extract(value, '$.Address'), ' ') FROM json_each(bcc_addrs)), ''),
		coalesce((SELECT group_concat(json_extract(value, '$.Name') || ' ' ||
			json_extract(value, '$.Address'), ' ') FROM json_each(reply_to)), ''),
		return_path, message_id, text, ''
	FROM messages;
