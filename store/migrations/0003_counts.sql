-- 0003_counts: message counts kept up to date by triggers, so that Stats,
-- Inboxes, Tags and the counts of a plain list read a few rows instead of
-- counting the messages (which takes time in proportion to their number).
-- Triggers fire on every change, whichever Go code makes it, and run in
-- the same transaction: the counts cannot drift from the rows.

-- One row per inbox that holds mail ('' = the default inbox): how many
-- messages it holds and how many of those are unread. The store's totals
-- are the sums over these rows (one per inbox, so few).
CREATE TABLE inbox_counts (
	inbox  TEXT    PRIMARY KEY,
	total  INTEGER NOT NULL,
	unread INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
	INSERT INTO inbox_counts (inbox, total, unread) VALUES (NEW.inbox, 1, NEW.read = 0)
		ON CONFLICT (inbox) DO UPDATE SET total = total + 1, unread = unread + excluded.unread;
END;

CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
	UPDATE inbox_counts SET total = total - 1, unread = unread - (OLD.read = 0) WHERE inbox = OLD.inbox;
	DELETE FROM inbox_counts WHERE inbox = OLD.inbox AND total = 0;
END;

-- read changes with SetRead; inbox never changes today, but if it did the
-- counts would follow.
CREATE TRIGGER messages_count_update AFTER UPDATE OF read, inbox ON messages
	WHEN (OLD.read = 0) IS NOT (NEW.read = 0) OR OLD.inbox IS NOT NEW.inbox
BEGIN
	UPDATE inbox_counts SET total = total - 1, unread = unread - (OLD.read = 0) WHERE inbox = OLD.inbox;
	INSERT INTO inbox_counts (inbox, total, unread) VALUES (NEW.inbox, 1, NEW.read = 0)
		ON CONFLICT (inbox) DO UPDATE SET total = total + 1, unread = unread + excluded.unread;
	DELETE FROM inbox_counts WHERE inbox = OLD.inbox AND total = 0;
END;

-- One row per tag in use (key as in message_tags): its spelling and how
-- many messages have it. All message_tags rows of one key share one
-- spelling (see tags.go), so the last one written is that spelling.
CREATE TABLE tag_counts (
	key TEXT    PRIMARY KEY,
	tag TEXT    NOT NULL,
	n   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER message_tags_count_insert AFTER INSERT ON message_tags BEGIN
	INSERT INTO tag_counts (key, tag, n) VALUES (NEW.key, NEW.tag, 1)
		ON CONFLICT (key) DO UPDATE SET n = n + 1, tag = excluded.tag;
END;

CREATE TRIGGER message_tags_count_delete AFTER DELETE ON message_tags BEGIN
	UPDATE tag_counts SET n = n - 1 WHERE key = OLD.key;
	DELETE FROM tag_counts WHERE key = OLD.key AND n = 0;
END;

-- RenameTag rewrites key and tag in place.
CREATE TRIGGER message_tags_count_update AFTER UPDATE OF key, tag ON message_tags BEGIN
	UPDATE tag_counts SET n = n - 1 WHERE key = OLD.key;
	INSERT INTO tag_counts (key, tag, n) VALUES (NEW.key, NEW.tag, 1)
		ON CONFLICT (key) DO UPDATE SET n = n + 1, tag = excluded.tag;
	DELETE FROM tag_counts WHERE key = OLD.key AND n = 0;
END;

-- Backfill from the rows stored so far (one pass over two indexes).
INSERT INTO inbox_counts (inbox, total, unread)
	SELECT inbox, count(*), 0 FROM messages GROUP BY inbox;
UPDATE inbox_counts SET unread =
	(SELECT count(*) FROM messages WHERE read = 0 AND inbox = inbox_counts.inbox);
INSERT INTO tag_counts (key, tag, n)
	SELECT key, min(tag), count(*) FROM message_tags GROUP BY key;
