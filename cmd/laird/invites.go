package main

import (
	"time"

	"laird/chat"
	"laird/kv"
)

// ChannelsConfig is the [channels] section.
type ChannelsConfig struct {
	// InviteTTL is how long an invitation stored for an account lasts
	// before it expires unused. Reloadable: it applies to invitations
	// made afterwards.
	InviteTTL duration `toml:"invite_ttl"`
	// MaxInvitesPerAccount and MaxInvitesPerChannel cap pending stored
	// invitations; INVITE past them gets FAIL INVITE TOO_MANY_INVITES.
	MaxInvitesPerAccount int `toml:"max_invites_per_account"`
	MaxInvitesPerChannel int `toml:"max_invites_per_channel"`
}

func defaultChannels() ChannelsConfig {
	return ChannelsConfig{
		InviteTTL:            duration{chat.DefaultInviteTTL},
		MaxInvitesPerAccount: kv.DefaultMaxInvitesPerAccount,
		MaxInvitesPerChannel: kv.DefaultMaxInvitesPerChannel,
	}
}

// expireInvites sweeps the invitations due at now (housekeeping).
func (in *instance) expireInvites(now time.Time) {
	expired, deleted, err := in.irc.ExpireInvites(now)
	if err != nil {
		in.log.Warn("invitation expiry", "err", err)
	}
	if expired > 0 || deleted > 0 {
		in.log.Info("invitation expiry", "expired", expired, "deleted", deleted)
	}
}
