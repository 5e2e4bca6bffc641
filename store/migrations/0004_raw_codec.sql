-- 0004_raw_codec: raw messages may be stored compressed.

-- How raw.data is encoded (the Go code's codec constants, store/raw.go):
-- 0 = the message as received, 1 = one zstd frame of it (then
-- messages.size is the decoded length). Rows stored before this migration
-- are plain; a constant default makes this an O(1) schema change.
ALTER TABLE raw ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
