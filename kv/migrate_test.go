package kv

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// A schema-1 store: an account, channel history, and private history keyed
// by nicks (DMTarget), which the migration must make unreadable by
// anyone, since the nicks may belong to somebody else by now.
func TestMigrateV1DeletesNickKeyedHistory(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Options{Dir: dir})
	mustCommit(t, s, register(s, "alice", 1))
	fillHistory(t, s, "#chan", 5)
	fillHistory(t, s, DMTarget("alice", "bob"), 5)
	fillHistory(t, s, DMTarget("bob", "zed"), 3)
	fillHistory(t, s, "#zzz", 2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, dir, map[string][]byte{"S": binary.BigEndian.AppendUint32(nil, 1)})

	for range 2 { // and a second open finds nothing left to do
		s = openTest(t, Options{Dir: dir})
		if got := idsOf(t)(s.HistoryLatest("#chan", HistoryRef{}, 10)); !reflect.DeepEqual(got, seq(0, 4)) {
			t.Fatalf("channel history after migration: %v", got)
		}
		if got := idsOf(t)(s.HistoryLatest("#zzz", HistoryRef{}, 10)); !reflect.DeepEqual(got, seq(0, 1)) {
			t.Fatalf("#zzz after migration: %v", got)
		}
		for _, target := range []string{DMTarget("alice", "bob"), DMTarget("bob", "zed")} {
			if got := idsOf(t)(s.HistoryLatest(target, HistoryRef{}, 10)); len(got) != 0 {
				t.Fatalf("nick-keyed %q readable after migration: %v", target, got)
			}
			if _, err := s.HistoryMessageByID(target, target+"-1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("msgid index of %q left: %v", target, err)
			}
		}
		if m, err := s.HistoryMessageByID("#chan", "#chan-2"); err != nil || m.Text != "msg 2" {
			t.Fatalf("channel msgid index: %+v %v", m, err)
		}
		if _, err := s.Account("alice"); err != nil {
			t.Fatal(err)
		}
		var v uint32
		if err := s.get(schemaKey, func(b []byte) error { v = binary.BigEndian.Uint32(b); return nil }); err != nil || v != SchemaVersion {
			t.Fatalf("schema after migration: %d, %v", v, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A read-only store of an older schema opens without migrating.
func TestReadOnlyOldSchemaNotMigrated(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Options{Dir: dir})
	fillHistory(t, s, DMTarget("alice", "bob"), 2)
	_ = s.Close()
	writeRaw(t, dir, map[string][]byte{"S": binary.BigEndian.AppendUint32(nil, 1)})
	r := openTest(t, Options{Dir: dir, ReadOnly: true})
	if got := idsOf(t)(r.HistoryLatest(DMTarget("alice", "bob"), HistoryRef{}, 10)); len(got) != 2 {
		t.Fatalf("read-only open changed the store: %v", got)
	}
}
