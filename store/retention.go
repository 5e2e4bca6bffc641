package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// pruneChunk bounds how many messages one retention transaction deletes.
// The writer is shared with ingestion: a prune of 100 000 messages in one
// transaction would hold every 250 behind it for seconds, so a backlog is
// deleted a chunk at a time, each chunk its own write request that queues
// behind the inserts already waiting, and the same bound applies to the
// prune that rides along with each batch of inserts (see pruneInBatch).
// A chunk costs about what a full batch of inserts does.
const pruneChunk = maxBatch

// Prune applies MaxMessages and MaxAge now and returns how many messages
// it deleted. Pruned messages are announced with a "delete" event per
// chunk of at most pruneChunk messages, each chunk its own transaction.
func (db *DB) Prune(ctx context.Context) (int, error) {
	return db.prune(ctx, true, true)
}

// prune deletes the messages beyond MaxMessages (byCount) and older than
// MaxAge (byAge), a chunk per transaction until none is left.
func (db *DB) prune(ctx context.Context, byCount, byAge bool) (int, error) {
	byCount = byCount && db.opts.MaxMessages > 0
	byAge = byAge && db.opts.MaxAge > 0
	total := 0
	for byCount || byAge {
		var n int
		var moreByCount, moreByAge bool // a full chunk: there may be more
		err := db.update(ctx, func(ctx context.Context, tx *sql.Tx) ([]Event, error) {
			ids := []string{}
			moreByCount, moreByAge = false, false
			if byCount {
				del, err := db.pruneByCount(ctx, tx, pruneChunk)
				if err != nil {
					return nil, fmt.Errorf("by count: %w", err)
				}
				moreByCount = len(del) == pruneChunk
				ids = append(ids, del...)
			}
			if byAge {
				cutoff := db.now().Add(-db.opts.MaxAge).UnixNano()
				del, err := deleteReturning(ctx, tx, `DELETE FROM messages WHERE seq IN (
					SELECT seq FROM messages WHERE created < ? ORDER BY seq LIMIT ?)
					RETURNING seq, id`, cutoff, pruneChunk)
				if err != nil {
					return nil, fmt.Errorf("by age: %w", err)
				}
				moreByAge = len(del) == pruneChunk
				ids = append(ids, del...)
			}
			n = len(ids)
			if n == 0 {
				return nil, nil
			}
			return []Event{{Type: "delete", Data: map[string]any{"IDs": ids}}}, nil
		})
		if err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		total += n
		byCount, byAge = moreByCount, moreByAge
	}
	if total > 0 {
		db.log.Info("pruned messages", "count", total)
	}
	return total, nil
}

// pruneByCount deletes up to limit of the oldest messages beyond
// MaxMessages and returns their ids, oldest first.
func (db *DB) pruneByCount(ctx context.Context, tx *sql.Tx, limit int) ([]string, error) {
	// seq only grows, so max-min+1 bounds the count from above: an O(log n)
	// look at both ends of the primary key spares the OFFSET walk below
	// (N index entries) while the store is under its limit.
	var span sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(seq) - min(seq) + 1 FROM messages`).Scan(&span); err != nil {
		return nil, err
	}
	if !span.Valid || span.Int64 <= int64(db.opts.MaxMessages) {
		return nil, nil
	}
	// The oldest messages at or below the seq of the (N+1)-th newest one.
	return deleteReturning(ctx, tx, `DELETE FROM messages WHERE seq IN (
		SELECT seq FROM messages
		WHERE seq <= (SELECT seq FROM messages ORDER BY seq DESC LIMIT 1 OFFSET ?)
		ORDER BY seq LIMIT ?)
		RETURNING seq, id`, db.opts.MaxMessages, limit)
}

// pruneInBatch applies MaxMessages inside a batch that inserted messages,
// before its COMMIT: the messages a batch adds and the ones they push out
// go in the same transaction, so the count never exceeds the limit on
// disk and a 250 waits for no second commit. At most pruneChunk are
// deleted here (what a batch can add); a larger backlog, say after
// lowering --max-messages, is left to the background pruner, a chunk at a
// time. A failure undoes only the prune (a savepoint) unless it is one
// that fails the whole batch anyway.
func (db *DB) pruneInBatch(ctx context.Context, tx *sql.Tx) ([]Event, error) {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT prune`); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	ids, err := db.pruneByCount(ctx, tx, pruneChunk)
	if err != nil {
		if failsBatch(err) {
			return nil, fmt.Errorf("retention: %w", err)
		}
		// Retention must not turn stored messages into error replies; the
		// next batch or the background pruner tries again.
		db.log.Error("retention in batch", "err", err)
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO prune`); err != nil {
			return nil, fmt.Errorf("rollback to savepoint: %w", err)
		}
		ids = nil
	}
	if _, err := tx.ExecContext(ctx, `RELEASE prune`); err != nil {
		return nil, fmt.Errorf("release savepoint: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return []Event{{Type: "delete", Data: map[string]any{"IDs": ids}}}, nil
}

// pruneLoop runs Prune at start and every PruneInterval until ctx is
// cancelled (Close).
func (db *DB) pruneLoop(ctx context.Context) {
	defer db.wg.Done()
	t := time.NewTicker(db.opts.PruneInterval)
	defer t.Stop()
	for {
		if _, err := db.prune(ctx, true, true); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
			db.log.Error("background prune", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
