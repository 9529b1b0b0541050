package main

import (
	"encoding"
	"reflect"
	"strings"
)

// Options are named by their keys in the configuration file:
// "server.listen", "guard.flood.classes", "oper". A reload compares the
// running configuration with the file option by option, to apply what may
// change live and to name what needs a restart.

// reloadableKeys are the options a reload applies to a running server,
// each with every option under it. Anything not listed needs a restart, so
// an option added later is reported rather than silently ignored until it
// is wired here (reload.go applies each of these).
var reloadableKeys = []string{
	"server.password",
	"server.motd",
	"server.motd_file",
	"oper",
	// chat reads these from its live settings (chat.Reloadable); the rest
	// of [accounts] (multiclient, max_sessions) shapes sessions in place.
	"accounts.require_verification",
	"accounts.register_before_connect",
	"accounts.nick_protection",
	"accounts.nick_grace",
	"accounts.guest_prefix",
	"accounts.password_min_len",
	"accounts.bcrypt_cost",
	"accounts.always_on",
	"channels.invite_ttl",
	"sts",
	// Reconfigure builds the whole guard from the file, so every option
	// of [guard] applies but those that key its state (restartKeys).
	"guard",
	"alerts",
	"metrics.token",
	"log",
	"store.history_retention",
	"store.audit_retention",
}

// restartKeys are exceptions inside reloadableKeys: they key or size state
// that lives on (see guard.Guard.Reconfigure), or are derived from a
// restart-only option.
var restartKeys = []string{
	"guard.casemapping",
	"guard.connections.prefix_v4",
	"guard.connections.prefix_v6",
	"guard.connections.max_entries",
	"guard.bans.min_prefix_v4",
	"guard.bans.min_prefix_v6",
}

// under reports whether key is prefix or an option inside it.
func under(key, prefix string) bool {
	return key == prefix || strings.HasPrefix(key, prefix+".")
}

func reloadable(key string) bool {
	for _, k := range restartKeys {
		if under(key, k) {
			return false
		}
	}
	for _, k := range reloadableKeys {
		if under(key, k) {
			return true
		}
	}
	return false
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// optionKeys lists every option of cfg in declaration order. A struct is a
// table and is walked; anything else (a number, a duration, a list, a map,
// the [[oper]] blocks) is one option.
func optionKeys(cfg *Config) []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, ok := tomlName(f)
			if !ok {
				continue
			}
			key := prefix + name
			if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
				walk(f.Type, key+".")
				continue
			}
			keys = append(keys, key)
		}
	}
	walk(reflect.TypeOf(cfg).Elem(), "")
	return keys
}

func tomlName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	switch tag {
	case "-":
		return "", false
	case "":
		return strings.ToLower(f.Name), true
	}
	return tag, true
}

// option returns the addressable value of key in cfg.
func option(cfg *Config, key string) reflect.Value {
	v := reflect.ValueOf(cfg).Elem()
	for _, part := range strings.Split(key, ".") {
		t := v.Type()
		found := false
		for i := 0; i < t.NumField(); i++ {
			if name, ok := tomlName(t.Field(i)); ok && name == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			panic("config: no option " + key) // keys come from optionKeys
		}
	}
	return v
}

// changedOptions lists the options whose values differ between a and b.
// An empty list and an absent one are the same setting.
func changedOptions(a, b *Config) []string {
	var out []string
	for _, k := range optionKeys(a) {
		if !sameOption(option(a, k), option(b, k)) {
			out = append(out, k)
		}
	}
	return out
}

func sameOption(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Slice, reflect.Map:
		if a.Len() == 0 && b.Len() == 0 {
			return true
		}
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// keepOption sets key in dst to its value in src.
func keepOption(dst, src *Config, key string) {
	option(dst, key).Set(option(src, key))
}
