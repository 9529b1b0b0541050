package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// The command line: `laird [flags]` runs the server, `laird COMMAND ...`
// runs a tool. Exit status 0 on success (and for -h), 1 when the work
// failed, 2 when the command line itself is wrong (usage on stderr).

// stdio is where a command reads and writes.
type stdio struct {
	in       io.Reader // os.Stdin in the binary; passwd checks for a terminal
	out, err io.Writer
}

// command is one subcommand.
type command struct {
	name, args, summary string
	run                 func(args []string, std stdio) error
}

func commands() []command {
	return []command{
		{"passwd", "", "read a password (prompted on a terminal, else one line of standard input) and print its bcrypt hash for an [[oper]] block", passwdCommand},
		{"check", "[-config FILE]", "validate a configuration file as a start or reload would, and exit", checkCommand},
		{"report", "[-config FILE] [-metrics ADDR] [-token T]", "print a running server's slowest commands (p99) and hottest shard", report},
		{"backup", "[-config FILE] [-metrics ADDR] [-token T] DIR", "online backup of a running server's store into DIR, which must be new or empty", backup},
		{"mkcert", "DIR", "write DIR/cert.pem and DIR/key.pem, a self-signed certificate for 127.0.0.1, ::1 and localhost", mkcert},
		{"version", "", "print the version", func(args []string, std stdio) error {
			if err := noArgs("version", args, std); err != nil {
				return err
			}
			_, err := fmt.Fprintln(std.out, version)
			return err
		}},
		{"help", "", "print this help", func(_ []string, std stdio) error { usage(std.out); return nil }},
	}
}

// usageError is a wrong command line: the message, then usage, exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usage(w io.Writer) {
	fmt.Fprintf(w, `Usage:
  laird [-config FILE] [-listen ADDR] [-data DIR] [-metrics ADDR|off]
        run the IRC server (until SIGINT or SIGTERM; SIGHUP reloads the configuration)
  laird COMMAND [ARGS]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s\n        %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprintf(w, "\nServer flags:\n")
	o := serverFlags()
	o.fs.SetOutput(w)
	o.fs.PrintDefaults()
	fmt.Fprintf(w, "\nRun \"laird COMMAND -h\" for a command's flags. Manual: docs/operators.md.\n")
}

// run is main without the exit: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	std := stdio{in: stdin, out: stdout, err: stderr}
	var err error
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		err = usageError{fmt.Sprintf("unknown command %q", args[0])}
		for _, c := range commands() {
			if c.name == args[0] {
				err = c.run(args[1:], std)
			}
		}
	} else {
		err = serverCommand(args, std)
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "laird:", ue.msg)
		fmt.Fprintln(stderr)
		usage(stderr)
		return 2
	case errors.Is(err, errFlags):
		return 2 // the flag package has said what and printed the flags
	}
	fmt.Fprintln(stderr, "laird:", err)
	return 1
}

// errFlags: a command's flags did not parse; the flag package reported it.
var errFlags = errors.New("bad flags")

// parseFlags parses a command's flags. -h prints the synopsis and flags on
// out and returns flag.ErrHelp (exit 0); a bad flag prints them on err
// after the flag package's message and returns errFlags (exit 2).
func parseFlags(fs *flag.FlagSet, args []string, std stdio, synopsis string) error {
	fs.SetOutput(std.err)
	fs.Usage = func() {}
	help := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: %s\n", synopsis)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		help(std.out)
		return err
	case err != nil:
		help(std.err)
		return errFlags
	}
	return nil
}

// serverOptions are the server's flags.
type serverOptions struct {
	fs                            *flag.FlagSet
	config, listen, data, metrics *string
	version                       *bool
}

func serverFlags() serverOptions {
	fs := flag.NewFlagSet("laird", flag.ContinueOnError)
	return serverOptions{
		fs:      fs,
		config:  fs.String("config", "", "configuration file (TOML); see laird.example.toml"),
		listen:  fs.String("listen", "", "add a plain IRC listener (default 127.0.0.1:6667 when the file has no [[listen]] block)"),
		data:    fs.String("data", "", "data directory (default ./data)"),
		metrics: fs.String("metrics", "", "metrics HTTP address, or off (default 127.0.0.1:9100)"),
		version: fs.Bool("version", false, "print the version and exit"),
	}
}

// override applies the flags given over a configuration.
func (o serverOptions) override(cfg *Config) {
	if *o.listen != "" {
		cfg.listenFlag = *o.listen
	}
	if *o.data != "" {
		cfg.Server.DataDir = *o.data
	}
	if *o.metrics != "" {
		cfg.Metrics.Listen = *o.metrics
	}
}

func serverCommand(args []string, std stdio) error {
	o := serverFlags()
	o.fs.SetOutput(std.err)
	o.fs.Usage = func() {}
	switch err := o.fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		usage(std.out)
		return err
	case err != nil:
		return usageError{err.Error()}
	}
	if o.fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q (a command comes first: laird COMMAND ...)", o.fs.Arg(0))}
	}
	if *o.version {
		_, err := fmt.Fprintln(std.out, version)
		return err
	}
	cfg, err := loadConfig(*o.config)
	if err != nil {
		return err
	}
	cfg.flags = o.override
	o.override(&cfg)
	log, _, err := newLogger(std.err, cfg.Log)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return serve(cfg, log)
}

// noArgs parses the flags of a command that takes none but -h.
func noArgs(name string, args []string, std stdio) error {
	_, err := positional(name, args, std, 0, "laird "+name)
	return err
}

// positional parses the flags of a command without flags of its own but
// -h, and returns its n arguments.
func positional(name string, args []string, std stdio, n int, synopsis string) ([]string, error) {
	fs := flag.NewFlagSet("laird "+name, flag.ContinueOnError)
	if err := parseFlags(fs, args, std, synopsis); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > n:
		return nil, usageError{fmt.Sprintf("%s: unexpected argument %q", name, fs.Arg(n))}
	case fs.NArg() < n:
		return nil, usageError{fmt.Sprintf("%s: missing argument (usage: %s)", name, synopsis)}
	}
	return fs.Args(), nil
}

// checkCommand is `laird check`: the file loads and validates.
func checkCommand(args []string, std stdio) error {
	fs := flag.NewFlagSet("laird check", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file to check (default: the built-in defaults)")
	if err := parseFlags(fs, args, std, "laird check [-config FILE]"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("check: unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	if err := validateConfig(&cfg, nil); err != nil {
		if cfg.path != "" {
			return fmt.Errorf("config %s: %w", cfg.path, err)
		}
		return err
	}
	name := cfg.path
	if name == "" {
		name = "the built-in defaults"
	}
	_, err = fmt.Fprintf(std.out, "%s: ok\n", name)
	return err
}
