package kv

import (
	"testing"
	"time"
)

func TestAuditQuery(t *testing.T) {
	s := openTest(t, Options{})
	txn := s.NewTxn()
	actions := []string{"kline.add", "account.register", "kline.add", "channel.register", "kline.del"}
	for i, a := range actions {
		actor := "oper"
		if i%2 == 1 {
			actor = "alice"
		}
		txn.AppendAudit(AuditEntry{Time: ts(i), Actor: actor, Action: a, Target: "t", IP: "192.0.2.1"})
	}
	mustCommit(t, s, txn)
	// An entry without a time gets the current time.
	txn = s.NewTxn()
	txn.AppendAudit(AuditEntry{Actor: "server", Action: "startup"})
	mustCommit(t, s, txn)

	check := func(name string, q AuditQuery, want ...string) {
		t.Helper()
		list, err := s.Audit(q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for _, e := range list {
			got = append(got, e.Action)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: got %v, want %v", name, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: got %v, want %v", name, got, want)
			}
		}
	}
	check("all newest first", AuditQuery{}, "startup", "kline.del", "channel.register", "kline.add", "account.register", "kline.add")
	check("oldest first limited", AuditQuery{Oldest: true, Limit: 2}, "kline.add", "account.register")
	check("actor", AuditQuery{Actor: "alice", Oldest: true}, "account.register", "channel.register")
	check("action", AuditQuery{Action: "kline.add"}, "kline.add", "kline.add")
	check("range", AuditQuery{Since: ts(1), Until: ts(3), Oldest: true}, "account.register", "kline.add")
	check("range and actor", AuditQuery{Since: ts(1), Until: ts(4), Actor: "oper"}, "kline.add")
	check("nothing", AuditQuery{Target: "other"})

	list, _ := s.Audit(AuditQuery{Action: "startup"})
	if len(list) != 1 || time.Since(list[0].Time) > time.Minute || list[0].Seq == 0 {
		t.Fatalf("defaulted time: %+v", list)
	}
	list, _ = s.Audit(AuditQuery{Limit: 1, Oldest: true})
	if list[0].IP != "192.0.2.1" || !list[0].Time.Equal(ts(0)) {
		t.Fatalf("entry: %+v", list[0])
	}

	n, err := s.PruneAudit(ts(3))
	if err != nil || n != 3 {
		t.Fatalf("PruneAudit = %d, %v", n, err)
	}
	check("after prune", AuditQuery{Oldest: true}, "channel.register", "kline.del", "startup")
	if n, err := s.PruneAudit(ts(3)); err != nil || n != 0 {
		t.Fatalf("second PruneAudit = %d, %v", n, err)
	}
}
