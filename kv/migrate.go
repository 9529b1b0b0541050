package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Migrations bring an older store forward when Open finds it, before the
// writer starts (so writing directly does not break the one-writer rule)
// and after both instances are open with history where the options say
// (see histdb.go). A step writes its changes synced, then the new schema
// version is written, synced: a crash in between leaves the old version,
// and the next Open runs the step again, so every step must give the same
// result when run twice.
var migrations = map[uint32]func(s *Store) (string, error){
	1: migrateV1,
}

func (s *Store) migrate(from uint32) (err error) {
	defer s.recoverFatal(&err)
	for v := from; v < SchemaVersion; v++ {
		step := migrations[v]
		if step == nil {
			return fmt.Errorf("kv: no migration from schema version %d", v)
		}
		what, err := step(s)
		if err == nil {
			err = s.db.Set(schemaKey, binary.BigEndian.AppendUint32(nil, v+1), pebble.Sync)
		}
		if err != nil {
			return fmt.Errorf("%w: migrate schema %d to %d: %w", ErrUnavailable, v, v+1, err)
		}
		s.log.Info("migrated store", "dir", s.dir, "from", v, "to", v+1, "changes", what)
	}
	return nil
}

// migrateV1 deletes the private history of schema 1, keyed by the two
// nicks that talked (DMTarget). Nothing says which accounts those nicks
// belonged to, so it cannot be given to accounts, and whoever holds one of
// the nicks later must never read it: it goes. (Schema 2 keys private
// history by parties; see PrivateTarget.) Range deletions, one pair per
// conversation, in one batch that stays small however long the history is.
func migrateV1(s *Store) (string, error) {
	b := s.hdb.NewBatch()
	defer b.Close()
	convs := 0
	for _, tag := range []byte{tagHistory, tagMsgID} {
		n, err := deleteNickTargets(s.hdb, b, tag)
		if err != nil {
			return "", err
		}
		convs = max(convs, n)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return "", err
	}
	return fmt.Sprintf("deleted %d nick-keyed private conversations", convs), nil
}

// deleteNickTargets adds to b a range deletion of every target of a
// target-keyed family (tag target 0 ...) whose name holds a space: a
// schema-1 private conversation, since channel names cannot.
func deleteNickTargets(db *pebble.DB, b *pebble.Batch, tag byte) (int, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{tag}, UpperBound: []byte{tag + 1}})
	if err != nil {
		return 0, err
	}
	n := 0
	for ok := it.First(); ok; {
		target, _, found := splitKey2(it.Key()[1:])
		if !found {
			ok = it.Next()
			continue
		}
		prefix := prefix2(nil, tag, string(target))
		if strings.IndexByte(string(target), ' ') >= 0 {
			if err := b.DeleteRange(prefix, prefixEnd(prefix), nil); err != nil {
				return n, errors.Join(err, it.Close())
			}
			n++
		}
		ok = it.SeekGE(prefixEnd(prefix))
	}
	return n, errors.Join(it.Error(), it.Close())
}
