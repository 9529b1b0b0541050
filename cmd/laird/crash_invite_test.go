package main

import (
	"fmt"
	"sync"
	"testing"

	"laird/kv"
)

// Invitations in the crash test (issue 14): accepting an invitation to a
// registered channel consumes it and grants access in one batch, and the
// JOIN is answered only once that is durable. Whenever the kill lands,
// the store afterwards has both or neither, and every JOIN that was
// answered has both.

// inviteAcks is what the invitation worker saw acknowledged.
type inviteAcks struct {
	mu       sync.Mutex
	accepted map[string]string // invitee account -> channel it joined
}

func (a *inviteAcks) accept(account, channel string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.accepted == nil {
		a.accepted = map[string]string{}
	}
	a.accepted[account] = channel
}

// inviteWorker registers a channel and makes it invite-only, then over
// and over registers an account, invites it and has it JOIN (accepting)
// until the server dies.
func inviteWorker(addr string, round int, acks *inviteAcks) {
	founder := fmt.Sprintf("inviter%d", round)
	ch := fmt.Sprintf("#inv%d", round)
	rc, err := dialRaw(addr)
	if err != nil {
		return
	}
	defer rc.c.Close()
	if rc.register(founder) != nil || rc.send("REGISTER * * pw-%s", founder) != nil {
		return
	}
	if _, err := rc.wait(`REGISTER SUCCESS`, `FAIL`); err != nil {
		return
	}
	if rc.send("JOIN %s\r\nMODE %s +i\r\nCS REGISTER %s", ch, ch, ch) != nil {
		return
	}
	if _, err := rc.wait(`is now registered to`, `NOTICE `+founder+` :`); err != nil {
		return
	}
	for k := 0; k < 1000; k++ {
		name := fmt.Sprintf("r%dinv%d", round, k)
		guest, err := dialRaw(addr)
		if err != nil {
			return
		}
		ok := guest.register(name) == nil && guest.send("REGISTER * * pw-%s", name) == nil
		if ok {
			_, err = guest.wait(`REGISTER SUCCESS`, `FAIL`)
			ok = err == nil
		}
		if ok && rc.send("INVITE %s %s", name, ch) == nil {
			_, err = rc.wait(` 341 `+founder+` `+name+` `, `FAIL| 4\d\d `)
			ok = err == nil
		}
		if ok && guest.send("JOIN %s", ch) == nil {
			_, err = guest.wait(` 366 `+name+` `+ch+` `, `FAIL| 4\d\d `)
			ok = err == nil
		}
		guest.c.Close()
		if !ok {
			return
		}
		acks.accept(name, ch)
	}
}

// verifyInvites checks that every answered JOIN consumed its invitation
// and left its access entry, and that no invitation was consumed without
// its access entry nor an access entry granted without its invitation.
// It returns the number of acceptances acknowledged.
func verifyInvites(t *testing.T, st *kv.Store, acks *inviteAcks) int {
	t.Helper()
	for account, ch := range acks.accepted {
		inv, err := st.Invite(ch, account)
		if err != nil || inv.Status != kv.InviteAccepted {
			t.Errorf("acknowledged JOIN of %s to %s: invitation %+v, %v", account, ch, inv, err)
		}
		if a, err := st.AccessOf(ch, account); err != nil || a.Level != kv.LevelMember {
			t.Errorf("acknowledged JOIN of %s to %s: access %+v, %v", account, ch, a, err)
		}
	}
	accepted := map[[2]string]bool{}
	err := st.ScanInvites(func(inv kv.Invitation) bool {
		if inv.Status == kv.InviteAccepted {
			accepted[[2]string{inv.Channel, inv.Account}] = true
			if a, err := st.AccessOf(inv.Channel, inv.Account); err != nil || a.Level != kv.LevelMember {
				t.Errorf("invitation of %s to %s consumed without its access entry (%+v, %v)", inv.Account, inv.Channel, a, err)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.ScanChannels(func(c kv.Channel) bool {
		list, err := st.Access(c.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range list {
			if a.Level == kv.LevelMember && !accepted[[2]string{c.Name, a.Account}] {
				t.Errorf("access of %s to %s without its accepted invitation", a.Account, c.Name)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(acks.accepted)
}
