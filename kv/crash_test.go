package kv

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test runs a child process (this test binary re-executed with
// KV_CRASH_DIR set) that commits transactions from several goroutines and
// prints the id of each one the store acknowledges; the parent SIGKILLs it
// at a random moment, reopens the directory and checks that every
// acknowledged transaction is wholly present and no transaction is partly
// present. Several rounds run on the same directory.

const crashWriters = 8

// crashTxn is one unit of the check: account, nick, access entry, audit
// entry and metadata, all keyed by id, and the acceptance of the account's
// invitation to #crash-inv with the access entry it grants (issue 14: a
// crash leaves both or neither). The invitation itself is committed before.
func crashTxn(s *Store, id int) *Txn {
	name := fmt.Sprint("acct-", id)
	txn := s.NewTxn()
	txn.RequireNoAccount(name)
	txn.PutAccount(Account{Name: name, PassHash: strings.Repeat("h", 60), Created: time.Now()})
	txn.PutNick(NickRecord{Nick: fmt.Sprint("nick-", id), Account: name})
	txn.PutAccess(Access{Channel: "#crash", Account: name, Level: LevelVoice})
	txn.AppendAudit(AuditEntry{Actor: name, Action: "crash", Target: strconv.Itoa(id)})
	txn.PutMeta(fmt.Sprint("crash/", id), []byte(name))
	txn.AcceptInvite("#crash-inv", name, time.Now(), LevelMember, AuditEntry{Actor: name})
	// History in the same transaction: with SeparateHistory it spans both
	// instances.
	txn.AppendHistory(HistoryMessage{Target: "#crash-x", MsgID: fmt.Sprint("x-", id), Command: "JOIN"})
	return txn
}

// crashHistory is what a chat message costs: one history append (durable:
// LazyHistory is off) and an offline message to the account (always
// durable). The child acknowledges an id only once these are durable too.
func crashHistory(s *Store, id int) *Txn {
	txn := s.NewTxn()
	txn.AppendHistory(HistoryMessage{Target: "#crash-hist", MsgID: fmt.Sprint("m-", id), Command: "PRIVMSG", Text: "hello"})
	return txn
}

func crashOffline(s *Store, id int) *Txn {
	txn := s.NewTxn()
	txn.AppendOffline(HistoryMessage{MsgID: fmt.Sprint("o-", id), Command: "PRIVMSG", Text: "while you were out"},
		Peer{AccountParty("op"), "op"}, Peer{AccountParty(fmt.Sprint("acct-", id)), "x"})
	return txn
}

func crashInvite(s *Store, id int) *Txn {
	txn := s.NewTxn()
	txn.Invite(Invitation{Channel: "#crash-inv", Account: fmt.Sprint("acct-", id), InviterNick: "op"}, AuditEntry{Actor: "op"})
	return txn
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv("KV_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestCrashAcknowledgedTxnsSurvive")
	}
	round, _ := strconv.Atoi(os.Getenv("KV_CRASH_ROUND"))
	s, err := Open(crashOptions(dir, round, quietLogger()))
	if err != nil {
		fmt.Println("open error:", err)
		os.Exit(2)
	}
	reg := s.NewTxn()
	reg.PutChannel(Channel{Name: "#crash-inv", Founder: "op"})
	if err := s.CommitWait(reg); err != nil {
		fmt.Println("register #crash-inv:", err)
		os.Exit(2)
	}
	var out sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "ready")
	w.Flush()
	var wg sync.WaitGroup
	deadline := time.Now().Add(30 * time.Second) // bounded even if never killed
	for g := range crashWriters {
		wg.Go(func() {
			for i := 0; i < 20000 && time.Now().Before(deadline); i++ {
				id := round*1_000_000 + g*100_000 + i
				if err := s.CommitWait(crashInvite(s, id)); err != nil {
					fmt.Fprintln(os.Stderr, "invite:", err)
					os.Exit(3)
				}
				for _, txn := range []*Txn{crashTxn(s, id), crashHistory(s, id), crashOffline(s, id)} {
					if err := s.CommitWait(txn); err != nil {
						fmt.Fprintln(os.Stderr, "commit:", err)
						os.Exit(3)
					}
				}
				out.Lock()
				fmt.Fprintln(w, "ack", id)
				w.Flush()
				out.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(0) // no Close: as abrupt as we can be without the parent's kill
}

func TestCrashAcknowledgedTxnsSurvive(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	acked := map[int]bool{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "KV_CRASH_DIR="+dir, fmt.Sprint("KV_CRASH_ROUND=", round))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 20 + rng.IntN(200)
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() && n < killAfter {
			line := sc.Text()
			if id, ok := strings.CutPrefix(line, "ack "); ok {
				v, err := strconv.Atoi(id)
				if err != nil {
					t.Fatalf("child said %q", line)
				}
				acked[v] = true
				n++
			} else if line != "ready" {
				t.Fatalf("child said %q", line)
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill: %v", err)
		}
		// Acks printed after the kill decision still count: the child
		// printed them only after the store acknowledged them.
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
				v, _ := strconv.Atoi(id)
				acked[v] = true
				n++
			}
		}
		_ = cmd.Wait()
		if n == 0 {
			t.Fatalf("round %d: child acknowledged nothing", round)
		}
		checkCrashState(t, dir, acked, round)
		t.Logf("round %d: killed after %d acks; %d acknowledged so far", round, n, len(acked))
	}
}

// crashOptions alternates the rounds between one instance and a separate
// history instance: the switches move history at Open, after a kill.
func crashOptions(dir string, round int, log *slog.Logger) Options {
	return Options{Dir: dir, Logger: log, DiskReserve: -1, MaxInvitesPerChannel: 1 << 30, SeparateHistory: round%2 == 1}
}

// checkCrashState reopens dir and checks every acknowledged id is wholly
// present and every id found anywhere is wholly present.
func checkCrashState(t *testing.T, dir string, acked map[int]bool, round int) {
	t.Helper()
	s, err := Open(crashOptions(dir, round, testLogger(t)))
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer s.Close()
	seen := map[int]bool{}
	for id := range acked {
		seen[id] = true
	}
	err = s.ScanAccounts(func(a Account) bool {
		if id, err := strconv.Atoi(strings.TrimPrefix(a.Name, "acct-")); err == nil {
			seen[id] = true
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ScanMeta("crash/", func(name string, _ []byte) bool {
		id, _ := strconv.Atoi(strings.TrimPrefix(name, "crash/"))
		seen[id] = true
		return true
	}); err != nil {
		t.Fatal(err)
	}
	audit, err := s.Audit(AuditQuery{Action: "crash", Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	audited := map[int]bool{}
	for _, e := range audit {
		id, _ := strconv.Atoi(e.Target)
		audited[id] = true
		seen[id] = true
	}
	access, err := s.Access("#crash")
	if err != nil {
		t.Fatal(err)
	}
	hasAccess := map[string]bool{}
	for _, a := range access {
		hasAccess[a.Account] = true
	}
	invAccess, err := s.Access("#crash-inv")
	if err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, a := range invAccess {
		granted[a.Account] = a.Level == LevelMember
	}
	present := 0
	for id := range seen {
		name := fmt.Sprint("acct-", id)
		_, accErr := s.Account(name)
		owner, nickErr := s.NickOwner(fmt.Sprint("nick-", id))
		_, metaErr := s.Meta(fmt.Sprint("crash/", id))
		inv, invErr := s.Invite("#crash-inv", name)
		if invErr != nil && !errors.Is(invErr, ErrNotFound) {
			t.Fatal(invErr)
		}
		accepted := invErr == nil && inv.Status == InviteAccepted
		_, xErr := s.HistoryMessageByID("#crash-x", fmt.Sprint("x-", id))
		parts := []bool{accErr == nil, nickErr == nil && owner == name, hasAccess[name], audited[id], metaErr == nil,
			accepted, granted[name], xErr == nil}
		all, none := true, true
		for _, p := range parts {
			all = all && p
			none = none && !p
		}
		if acked[id] {
			if _, err := s.HistoryMessageByID("#crash-hist", fmt.Sprint("m-", id)); err != nil {
				t.Fatalf("round %d: acknowledged history message %d lost: %v", round, id, err)
			}
			offline, err := s.HistoryMessageByID(PrivateTarget(AccountParty("op"), AccountParty(name)), fmt.Sprint("o-", id))
			if n, _ := s.UnreadCount(name); err != nil || n != 1 || offline.Text == "" {
				t.Fatalf("round %d: acknowledged offline message %d lost: %v, unread %d", round, id, err, n)
			}
		}
		switch {
		case acked[id] && !all:
			t.Fatalf("round %d: acknowledged txn %d not wholly present: %v", round, id, parts)
		case !all && !none:
			t.Fatalf("round %d: txn %d half present: %v", round, id, parts)
		case all:
			present++
		}
	}
	if present < len(acked) {
		t.Fatalf("round %d: %d present < %d acknowledged", round, present, len(acked))
	}
}
