package store

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrStorageFull is wrapped by a write that failed because the disk (or the
// process's file size limit) has no room for it. The write was not done;
// it may succeed once space returns.
var ErrStorageFull = errors.New("store: insufficient storage")

// sqliteCode is the (extended) SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isStorageFull reports whether err means "no room to write". SQLite's
// unix VFS turns a short write or ENOSPC into SQLITE_FULL, but any other
// failed write(2), such as EFBIG beyond RLIMIT_FSIZE or EDQUOT over a
// quota, into SQLITE_IOERR_WRITE, and the driver does not expose errno.
// So a failed write counts as storage full too: the reply is a temporary
// failure either way, and on a dying disk (EIO) "insufficient storage" is
// the nearest enhanced code there is. Growing the WAL index fails with
// SQLITE_IOERR_SHMSIZE for the same reasons.
func isStorageFull(err error) bool {
	switch c := sqliteCode(err); {
	case c&0xff == sqlite3.SQLITE_FULL:
		return true
	case c == sqlite3.SQLITE_IOERR_WRITE, c == sqlite3.SQLITE_IOERR_SHMSIZE:
		return true
	}
	return false
}

// failsBatch reports whether err says the database, not the request, is
// at fault: the disk, a lock held by another process, a read-only file,
// memory. Such a failure undoes the whole transaction (SQLite may already
// have rolled it back), so the writer fails the batch at once instead of
// re-running every request under savepoints, where each would meet the
// same failure (a lock: busy_timeout once per request).
func failsBatch(err error) bool {
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM,
		sqlite3.SQLITE_READONLY, sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// classify wraps err with ErrStorageFull when it means exactly that.
func classify(err error) error {
	if err != nil && isStorageFull(err) && !errors.Is(err, ErrStorageFull) {
		return fmt.Errorf("%w: %w", ErrStorageFull, err)
	}
	return err
}
