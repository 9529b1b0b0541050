package kv

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestMetadata(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Options{Dir: dir, MetadataMaxKeys: 3, MetadataMaxValueBytes: 10})
	set := func(o MetadataOwner, key, value string) error {
		txn := s.NewTxn()
		txn.SetMetadata(o, MetadataEntry{Key: key, Value: value, Visibility: "*"})
		if err := txn.Err(); err != nil {
			return err
		}
		return s.CommitWait(txn)
	}
	alice, ch := AccountMetadata("alice"), ChannelMetadata("#c")
	for _, kv := range [][2]string{{"avatar", "a.png"}, {"pronouns", "she"}, {"display-name", "Alice"}} {
		if err := set(alice, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := set(ch, "avatar", "c.png"); err != nil {
		t.Fatal(err)
	}
	// Limits: a fourth key, a long value; replacing a value always fits.
	err := set(alice, "homepage", "x")
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitMetadataKeys || le.Name != "alice" || le.Max != 3 {
		t.Fatalf("fourth key = %v", err)
	}
	err = set(alice, "avatar", strings.Repeat("x", 11))
	if !errors.As(err, &le) || le.Limit != LimitMetadataValue || le.Max != 10 || !errors.Is(err, ErrLimit) {
		t.Fatalf("long value = %v", err)
	}
	if err := set(alice, "avatar", "b.png"); err != nil {
		t.Fatalf("replacing a value at the key limit: %v", err)
	}
	for _, bad := range []string{"", "Avatar", "with space", strings.Repeat("k", 257), "a\x00b"} {
		if err := set(alice, bad, "v"); !errors.Is(err, ErrInvalid) {
			t.Errorf("key %q: %v", bad, err)
		}
	}
	txn := s.NewTxn()
	txn.SetMetadata(MetadataOwner{}, MetadataEntry{Key: "k"})
	if !errors.Is(txn.Err(), ErrInvalid) {
		t.Fatal("zero owner accepted")
	}

	// Durable: after a restart it is all there.
	_ = s.Close()
	s = openTest(t, Options{Dir: dir, MetadataMaxKeys: 3})
	list, err := s.Metadata(alice)
	want := []MetadataEntry{{"avatar", "b.png", "*"}, {"display-name", "Alice", "*"}, {"pronouns", "she", "*"}}
	if err != nil || !reflect.DeepEqual(list, want) {
		t.Fatalf("alice's metadata = %+v, %v", list, err)
	}
	if m, err := s.MetadataValue(ch, "avatar"); err != nil || m.Value != "c.png" {
		t.Fatalf("channel avatar = %+v, %v", m, err)
	}
	if _, err := s.MetadataValue(ch, "pronouns"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unset key = %v", err)
	}
	// Account and channel of the same name do not mix.
	if list, _ := s.Metadata(AccountMetadata("#c")); len(list) != 0 {
		t.Fatalf("account #c: %+v", list)
	}
	txn = s.NewTxn()
	txn.DeleteMetadata(alice, "pronouns")
	txn.DeleteMetadata(alice, "never-set")
	mustCommit(t, s, txn)
	if list, _ := s.Metadata(alice); len(list) != 2 {
		t.Fatalf("after delete: %+v", list)
	}
	txn = s.NewTxn()
	txn.ClearMetadata(alice)
	mustCommit(t, s, txn)
	if list, _ := s.Metadata(alice); len(list) != 0 {
		t.Fatalf("after clear: %+v", list)
	}
	// Unregistering the channel drops its metadata; deleting an account
	// drops the account's.
	mustCommit(t, s, register(s, "bob", 1))
	txn = s.NewTxn()
	txn.SetMetadata(AccountMetadata("bob"), MetadataEntry{Key: "k", Value: "v"})
	mustCommit(t, s, txn)
	txn = s.NewTxn()
	txn.DeleteChannel("#c")
	txn.DeleteAccount("bob")
	mustCommit(t, s, txn)
	for _, o := range []MetadataOwner{ch, AccountMetadata("bob")} {
		if list, _ := s.Metadata(o); len(list) != 0 {
			t.Fatalf("left after deletion: %+v", list)
		}
	}
}

func TestAlwaysOnChannels(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Options{Dir: dir})
	txn := s.NewTxn()
	for i, acct := range []string{"alice", "bob"} {
		for j := range 3 {
			txn.PutAlwaysOn(acct, AlwaysOnChannel{Channel: fmt.Sprint("#c", j), Name: fmt.Sprint("#C", j), Modes: "o"[:i], Joined: ts(j)})
		}
	}
	mustCommit(t, s, txn)
	txn = s.NewTxn()
	txn.DeleteAlwaysOn("bob", "#c1")
	mustCommit(t, s, txn)

	_ = s.Close() // restored after a restart
	s = openTest(t, Options{Dir: dir})
	got := map[string][]string{}
	err := s.ScanAlwaysOn(func(acct string, chans []AlwaysOnChannel) bool {
		for _, c := range chans {
			got[acct] = append(got[acct], c.Channel+"/"+c.Name+"/"+c.Modes)
		}
		return true
	})
	want := map[string][]string{"alice": {"#c0/#C0/", "#c1/#C1/", "#c2/#C2/"}, "bob": {"#c0/#C0/o", "#c2/#C2/o"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ScanAlwaysOn = %v, %v", got, err)
	}
	calls := 0
	_ = s.ScanAlwaysOn(func(string, []AlwaysOnChannel) bool { calls++; return false })
	if calls != 1 {
		t.Fatalf("ScanAlwaysOn went on after false: %d calls", calls)
	}
	if m, _ := s.AlwaysOnMembers("#c1"); !reflect.DeepEqual(m, []string{"alice"}) {
		t.Fatalf("members of #c1: %v", m)
	}
	list, _ := s.AlwaysOnChannels("bob")
	if len(list) != 2 || !list[1].Joined.Equal(ts(2)) {
		t.Fatalf("bob's channels: %+v", list)
	}
	txn = s.NewTxn()
	txn.ClearAlwaysOn("bob")
	mustCommit(t, s, txn)
	mustCommit(t, s, register(s, "alice", 1))
	txn = s.NewTxn()
	txn.DeleteAccount("alice")
	mustCommit(t, s, txn)
	for _, ch := range []string{"#c0", "#c1", "#c2"} {
		if m, _ := s.AlwaysOnMembers(ch); len(m) != 0 {
			t.Fatalf("members of %s left: %v", ch, m)
		}
	}
	if err := s.ScanAlwaysOn(func(a string, _ []AlwaysOnChannel) bool { t.Fatalf("%s left", a); return true }); err != nil {
		t.Fatal(err)
	}
}
