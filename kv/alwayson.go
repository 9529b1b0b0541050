package kv

import (
	"time"
)

// Always-on accounts stay in their channels with nothing connected; after
// a restart chat puts them back from these records:
//
//	j account 0 channel   AlwaysOnChannel
//	J channel 0 account   empty: the always-on members of a channel (reverse of j)

const alwaysOnV1 = 1

// AlwaysOnChannel is a channel an always-on account is in.
type AlwaysOnChannel struct {
	Channel string // casefolded: the key
	Name    string // the channel as named, for display
	Modes   string // the member's prefix modes, e.g. "o"
	Joined  time.Time
}

func (c *AlwaysOnChannel) appendValue(dst []byte) []byte {
	e := encoder{dst}
	e.byte(alwaysOnV1)
	e.str(c.Name)
	e.str(c.Modes)
	e.time(c.Joined)
	return e.b
}

func decodeAlwaysOn(channel string, v []byte) (AlwaysOnChannel, error) {
	d := newDecoder(v)
	d.version("always-on channel", alwaysOnV1)
	c := AlwaysOnChannel{Channel: channel}
	c.Name = d.str()
	c.Modes = d.str()
	c.Joined = d.time()
	return c, d.finish("always-on channel")
}

// PutAlwaysOn records that an always-on account is in a channel (or
// updates its modes there).
func (t *Txn) PutAlwaysOn(account string, c AlwaysOnChannel) {
	if !t.ok("account name", account, "channel name", c.Channel) {
		return
	}
	k := t.mark(func(b []byte) []byte { return key2(b, tagAlwaysOn, account, c.Channel) })
	t.set(k, t.mark(c.appendValue))
	rk := t.mark(func(b []byte) []byte { return key2(b, tagChannelAlwaysOn, c.Channel, account) })
	t.set(rk, t.mark(noValue))
}

// DeleteAlwaysOn records that an account left a channel (PART, KICK).
func (t *Txn) DeleteAlwaysOn(account, channel string) {
	if !t.ok("account name", account, "channel name", channel) {
		return
	}
	t.deleteKey(key2(nil, tagAlwaysOn, account, channel))
	t.deleteKey(key2(nil, tagChannelAlwaysOn, channel, account))
}

// ClearAlwaysOn forgets every channel of an account (always-on turned off).
func (t *Txn) ClearAlwaysOn(account string) {
	if t.ok("account name", account) {
		t.derive(false, func(vw *views) error { return clearAlwaysOn(vw, account) })
	}
}

func clearAlwaysOn(vw *views, account string) error {
	prefix := prefix2(nil, tagAlwaysOn, account)
	keys, err := vw.keys(prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := vw.del(key2(nil, tagChannelAlwaysOn, string(k[len(prefix):]), account)); err != nil {
			return err
		}
	}
	return vw.delPrefix(prefix)
}

// AlwaysOnChannels returns the channels an account is in, by channel.
func (s *Store) AlwaysOnChannels(account string) ([]AlwaysOnChannel, error) {
	prefix := prefix2(nil, tagAlwaysOn, account)
	var list []AlwaysOnChannel
	err := s.scanPrefix(prefix, func(k, v []byte) (bool, error) {
		c, err := decodeAlwaysOn(string(k[len(prefix):]), v)
		list = append(list, c)
		return err == nil, err
	})
	return list, err
}

// ScanAlwaysOn calls fn for every always-on account with its channels, in
// account order, until fn returns false (chat restores them at startup).
// fn must not call Close.
func (s *Store) ScanAlwaysOn(fn func(account string, channels []AlwaysOnChannel) bool) error {
	var (
		cur  string
		list []AlwaysOnChannel
		stop bool
	)
	err := s.scanPrefix([]byte{tagAlwaysOn}, func(k, v []byte) (bool, error) {
		acct, ch, ok := splitKey2(k[1:])
		if !ok {
			return false, ErrCorrupt
		}
		if string(acct) != cur && list != nil {
			if !fn(cur, list) {
				stop = true
				return false, nil
			}
			list = nil
		}
		cur = string(acct)
		c, err := decodeAlwaysOn(string(ch), v)
		list = append(list, c)
		return err == nil, err
	})
	if err == nil && !stop && list != nil {
		fn(cur, list)
	}
	return err
}

// AlwaysOnMembers returns the always-on accounts in a channel, in order.
func (s *Store) AlwaysOnMembers(channel string) ([]string, error) {
	prefix := prefix2(nil, tagChannelAlwaysOn, channel)
	var list []string
	err := s.scanPrefix(prefix, func(k, _ []byte) (bool, error) {
		list = append(list, string(k[len(prefix):]))
		return true, nil
	})
	return list, err
}
