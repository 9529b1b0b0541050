package chat

import (
	"strings"
	"time"

	"laird/guard"
)

// Reloadable is the part of the configuration that changes on a running
// server (REHASH, SIGHUP) without dropping a connection. It is replaced
// whole (copy-on-write), so readers on any goroutine see one consistent
// version. Everything else in Config is fixed at New: names and limits
// clients were told in 001-005, the shard count, the casemapping.
type Reloadable struct {
	MOTD     []string
	Opers    []Oper
	Password string
	// Accounts: every setting except ScramIterations and SendCode, which
	// are not configuration-file options and keep their values from New.
	Accounts AccountConfig
	// InviteTTL: the lifetime of invitations stored from now on.
	InviteTTL time.Duration
	// STS is the policy advertised in CAP LS from now on (sts.go).
	STS STSPolicy
	// Guard, when not nil, replaces the policy engine; build it with
	// guard.Guard.Reconfigure so that bans, connection counts and detector
	// state carry over. Clients move to the new flood classes at their next
	// command, keeping their debt.
	Guard *guard.Guard
}

// RehashResult is what a reload did, for the REHASH reply (382) and the
// operators' notice.
type RehashResult struct {
	File string // the configuration file read
	// Restart lists the options changed in the file that take effect only
	// after a restart; until then they keep their running values.
	Restart []string
}

// Summary is the text of the 382 reply.
func (r RehashResult) Summary() string {
	if len(r.Restart) == 0 {
		return "Rehashing"
	}
	return "Rehashing; a restart is needed to apply: " + strings.Join(r.Restart, ", ")
}

func (s *Server) liveConfig() *Reloadable { return s.live.Load() }

// accounts returns the live account settings.
func (s *Server) accounts() *AccountConfig { return &s.liveConfig().Accounts }

// guard returns the live policy engine, nil when there is none (unit
// tests). Callers load it once per decision.
func (s *Server) guard() *guard.Guard { return s.guardp.Load() }

// Reload publishes a new live configuration. Any goroutine may call it;
// every command that starts afterwards sees the new values.
func (s *Server) Reload(r Reloadable) {
	r.Accounts.ScramIterations = s.cfg.Accounts.ScramIterations
	r.Accounts.SendCode = s.cfg.Accounts.SendCode
	r.Accounts.setDefaults()
	if r.InviteTTL <= 0 {
		r.InviteTTL = DefaultInviteTTL
	}
	if r.Guard != nil {
		s.guardp.Store(r.Guard)
		r.Guard = nil // the live guard has its own pointer
	}
	s.live.Store(&r)
}

// SetRehash installs the function REHASH calls to reload the
// configuration; it applies what it loaded itself (through Reload) and
// says what it did. by names who asked, for the log. It runs off the event
// loops. Without one, REHASH is refused.
func (s *Server) SetRehash(fn func(by string) (RehashResult, error)) { s.rehash = fn }
