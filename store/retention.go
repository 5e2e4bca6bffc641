package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Prune applies MaxMessages and MaxAge now and returns how many messages
// it deleted. Pruned messages are announced with a "delete" event.
func (db *DB) Prune(ctx context.Context) (int, error) {
	return db.prune(ctx, true, true)
}

// prune deletes the messages beyond MaxMessages (byCount) and older than
// MaxAge (byAge), in one transaction.
func (db *DB) prune(ctx context.Context, byCount, byAge bool) (int, error) {
	byCount = byCount && db.opts.MaxMessages > 0
	byAge = byAge && db.opts.MaxAge > 0
	if !byCount && !byAge {
		return 0, nil
	}
	var n int
	err := db.update(ctx, func(ctx context.Context, tx *sql.Tx) ([]Event, error) {
		ids := []string{}
		if byCount {
			// Everything at or below the seq of the (N+1)-th newest message.
			del, err := deleteReturning(ctx, tx, `DELETE FROM messages
				WHERE seq <= (SELECT seq FROM messages ORDER BY seq DESC LIMIT 1 OFFSET ?)
				RETURNING seq, id`, db.opts.MaxMessages)
			if err != nil {
				return nil, fmt.Errorf("by count: %w", err)
			}
			ids = append(ids, del...)
		}
		if byAge {
			cutoff := db.now().Add(-db.opts.MaxAge).UnixNano()
			del, err := deleteReturning(ctx, tx,
				`DELETE FROM messages WHERE created < ? RETURNING seq, id`, cutoff)
			if err != nil {
				return nil, fmt.Errorf("by age: %w", err)
			}
			ids = append(ids, del...)
		}
		n = len(ids)
		if n == 0 {
			return nil, nil
		}
		return []Event{{Type: "delete", Data: map[string]any{"IDs": ids}}}, nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	if n > 0 {
		db.log.Info("pruned messages", "count", n)
	}
	return n, nil
}

// pruneLoop runs Prune every PruneInterval until ctx is cancelled (Close).
func (db *DB) pruneLoop(ctx context.Context) {
	defer db.wg.Done()
	t := time.NewTicker(db.opts.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := db.prune(ctx, true, true); err != nil && !errors.Is(err, context.Canceled) {
				db.log.Error("background prune", "err", err)
			}
		}
	}
}
