package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"laird/chat"
)

func operHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestOperKillWallops(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Opers = []chat.Oper{{Name: "admin", PasswordHash: operHash(t, "hunter2")}}
	})
	op := ts.dial("op")
	op.register("op")
	op.send("OPER admin wrong")
	op.expect(` 464 op :Password incorrect`)
	op.send("OPER admin hunter2")
	op.expect(` 381 op :You are now an IRC operator`)
	op.expect(`:op!op@127\.0\.0\.1 MODE op \+o`)
	op.send("LUSERS")
	op.expect(` 252 op 1 `)

	w := ts.dial("w")
	w.register("w")
	w.send("MODE w +w")
	w.expect(`MODE w \+w`)
	op.send("WALLOPS :maintenance at noon")
	w.expect(`^:op!op@127\.0\.0\.1 WALLOPS :maintenance at noon$`)

	victim := ts.dial("victim")
	victim.register("victim")
	op.send("KILL victim :spamming")
	victim.expect(`^ERROR :Closing Link: 127\.0\.0\.1 \(Killed \(op \(spamming\)\)\)$`)
	victim.expectClosed()
	op.send("KILL nobody")
	op.expect(` 401 op nobody `)
	op.send("WHOIS op")
	op.expect(` 313 op op :is an IRC operator`)
	op.send("MODE op -o")
	op.expect(`MODE op -o`)
	op.send("KILL w")
	op.expect(` 481 op `)
}

func TestRehash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "laird.toml")
	write := func(motd string) {
		cfg := "[server]\nmotd = [\"" + motd + "\"]\n\n[[oper]]\nname = \"admin\"\npassword_hash = \"" + operHash(t, "pw") + "\"\n"
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("before")
	ts := startTestServer(t, func(c *Config) {
		loaded, err := loadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		loaded.Server.Listen, loaded.Server.DataDir, loaded.Metrics.Listen = c.Server.Listen, c.Server.DataDir, c.Metrics.Listen
		*c = loaded
	})
	c := ts.dial("c")
	c.register("c")
	c.send("MOTD")
	c.expect(` 372 c :- before`)
	c.send("REHASH")
	c.expect(` 481 c `)
	c.send("OPER admin pw")
	c.expect(` 381 c `)
	write("after")
	c.send("REHASH")
	c.expect(` 382 c .* :Rehashing`)
	c.send("MOTD")
	c.expect(` 372 c :- after`)
	// A broken file is refused and the old configuration stays.
	if err := os.WriteFile(path, []byte("[server\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.send("REHASH")
	c.expect(`FAIL REHASH CANNOT_REHASH :Rehash failed`)
	c.send("MOTD")
	c.expect(` 372 c :- after`)
}

func TestPasswdCommand(t *testing.T) {
	var out bytes.Buffer
	if err := passwdCommand(nil, stdio{in: strings.NewReader("s3cret\n"), out: &out, err: io.Discard}); err != nil {
		t.Fatal(err)
	}
	hash := strings.TrimSpace(out.String())
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret")) != nil {
		t.Fatalf("hash %q does not verify", hash)
	}
	if strings.Contains(out.String(), "s3cret") {
		t.Fatal("password echoed")
	}
	if err := passwdCommand(nil, stdio{in: strings.NewReader(""), out: &out, err: io.Discard}); err == nil {
		t.Fatal("empty password accepted")
	}
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := loadConfig("../../laird.example.toml")
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	def := defaultConfig()
	if cfg.Server.Listen != def.Server.Listen || cfg.Limits.SendQ != def.Limits.SendQ ||
		cfg.Limits.PingInterval != def.Limits.PingInterval || cfg.Metrics.Listen != def.Metrics.Listen {
		t.Errorf("example config disagrees with the built-in defaults: %+v", cfg)
	}
	// The guard section documents guard's own defaults.
	gotGuard, wantGuard := cfg.Guard, def.Guard
	// Compared as printed: an empty list in the file and a nil default
	// are the same setting.
	if fmt.Sprintf("%+v", gotGuard) != fmt.Sprintf("%+v", wantGuard) {
		t.Errorf("example [guard] disagrees with guard.DefaultConfig():\n got %+v\nwant %+v", gotGuard, wantGuard)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	_ = os.WriteFile(bad, []byte("[server]\nlisten_typo = \"x\"\n"), 0o600)
	if _, err := loadConfig(bad); err == nil || !strings.Contains(err.Error(), "unknown keys") {
		t.Fatalf("unknown key not rejected: %v", err)
	}
}
