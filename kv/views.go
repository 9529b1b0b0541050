package kv

import (
	"errors"

	"github.com/cockroachdb/pebble/v2"
)

// views is what the writer's transactions read and write while a group is
// built: one indexed batch per Pebble instance, each reading through to its
// database, so a transaction sees the transactions before it in the group.
// Every key goes to the instance of its family (see histFamily).
type views struct {
	main *pebble.Batch
	hist *pebble.Batch // main itself unless history has its own instance
}

func (v *views) of(key []byte) *pebble.Batch {
	if len(key) > 0 && histFamily(key[0]) {
		return v.hist
	}
	return v.main
}

// get reads a key; found is false if it is absent. The value is a copy.
func (v *views) get(key []byte) (val []byte, found bool, err error) {
	raw, closer, err := v.of(key).Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	val = append([]byte(nil), raw...)
	return val, true, closer.Close()
}

// delPrefix deletes every key that starts with prefix.
func (v *views) delPrefix(prefix []byte) error { return v.delRange(prefix, prefixEnd(prefix)) }

func (v *views) set(key, val []byte) error { return v.of(key).Set(key, val, nil) }
func (v *views) del(key []byte) error      { return v.of(key).Delete(key, nil) }

func (v *views) delRange(start, end []byte) error {
	return v.of(start).DeleteRange(start, end, nil)
}

// scan calls fn for each key in [lower, upper) in order, until fn returns
// false or an error. Key and value are valid only during the call.
func (v *views) scan(lower, upper []byte, fn func(k, val []byte) (bool, error)) error {
	it, err := v.of(lower).NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		val, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(err, it.Close())
		}
		more, err := fn(it.Key(), val)
		if err != nil || !more {
			return errors.Join(err, it.Close())
		}
	}
	return errors.Join(it.Error(), it.Close())
}

// keys lists the keys under prefix as the views see them now.
func (v *views) keys(prefix []byte) ([][]byte, error) {
	var keys [][]byte
	err := v.scan(prefix, prefixEnd(prefix), func(k, _ []byte) (bool, error) {
		keys = append(keys, append([]byte(nil), k...))
		return true, nil
	})
	return keys, err
}
