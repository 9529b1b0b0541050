package main

import (
	"time"

	"laird/chat"
)

// AccountsConfig is the [accounts] section: account registration,
// services and nick protection. Defaults are in defaultAccounts and
// laird.example.toml.
type AccountsConfig struct {
	// RequireVerification: REGISTER needs an email address and the account
	// can log in only after VERIFY with the code sent (logged) for it.
	RequireVerification bool `toml:"require_verification"`
	// RegisterBeforeConnect accepts REGISTER before NICK/USER complete
	// (never with a server password).
	RegisterBeforeConnect bool `toml:"register_before_connect"`
	// NickProtection renames clients that keep a nick reserved by an
	// account they are not logged in to, after NickGrace.
	NickProtection bool     `toml:"nick_protection"`
	NickGrace      duration `toml:"nick_grace"`
	GuestPrefix    string   `toml:"guest_prefix"`
	PasswordMinLen int      `toml:"password_min_len"`
	// BcryptCost is the work factor of stored password hashes (4-31).
	BcryptCost int `toml:"bcrypt_cost"`
	// Multiclient: a connection that registers logged in (SASL) to an
	// account whose user is online becomes another session of that user
	// (same nick, channels and away state), up to MaxSessions.
	Multiclient bool `toml:"multiclient"`
	MaxSessions int  `toml:"max_sessions"`
	// AlwaysOn is the default of each account's always-on setting.
	AlwaysOn bool `toml:"always_on"`
}

func defaultAccounts() AccountsConfig {
	return AccountsConfig{
		RegisterBeforeConnect: true,
		NickProtection:        true,
		NickGrace:             duration{30 * time.Second},
		GuestPrefix:           "Guest",
		PasswordMinLen:        5,
		BcryptCost:            10,
		Multiclient:           true,
		MaxSessions:           8,
	}
}

func (a AccountsConfig) chat() chat.AccountConfig {
	grace := a.NickGrace.Duration
	if !a.NickProtection || grace <= 0 {
		grace = -1
	}
	return chat.AccountConfig{
		RequireVerification:  a.RequireVerification,
		RegisterAfterConnect: !a.RegisterBeforeConnect,
		NickGrace:            grace,
		GuestPrefix:          a.GuestPrefix,
		PasswordMinLen:       a.PasswordMinLen,
		BcryptCost:           a.BcryptCost,
		NoMulticlient:        !a.Multiclient,
		MaxSessions:          a.MaxSessions,
		AlwaysOn:             a.AlwaysOn,
	}
}
