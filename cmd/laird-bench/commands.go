package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"laird/bench"
)

func cmdSuite(ctx context.Context, args []string, writeBaseline bool) int {
	name := "suite"
	if writeBaseline {
		name = "baseline"
	}
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	var o options
	o.register(fs)
	from := ""
	if writeBaseline {
		fs.StringVar(&from, "from", "", "promote this existing result file instead of running the suite")
	}
	_ = fs.Parse(args)
	if err := o.finish(); err != nil {
		return fail(err)
	}
	if from != "" {
		res, err := bench.LoadResult(from)
		if err != nil {
			return fail(err)
		}
		if unmet := bench.UnmetRequirements(res); len(unmet) > 0 {
			return fail(fmt.Errorf("refusing a baseline that misses requirements: %s", strings.Join(unmet, "; ")))
		}
		if err := res.Save(o.baseline); err != nil {
			return fail(err)
		}
		fmt.Printf("baseline %s written from %s\n", o.baseline, from)
		return exitOK
	}
	serverCPUs, statement := o.pinning()
	srv, err := o.lairdServer(serverCPUs, "laird")
	if err != nil {
		return fail(err)
	}
	res, runErr := o.runAll(ctx, []bench.Server{srv}, statement, serverCPUs)
	if res == nil {
		return fail(runErr)
	}
	var base *bench.Result
	var cmp *bench.Comparison
	if b, err := bench.LoadResult(o.baseline); err == nil {
		base, cmp = b, bench.Compare(b, res, o.rules())
	} else if !errors.Is(err, os.ErrNotExist) {
		o.log.Warn("baseline unreadable; not comparing", "err", err)
	}
	jsonPath, htmlPath, saveErr := o.save(res, base, cmp, "")
	bench.WriteText(os.Stdout, res)
	code := exitOK
	if cmp != nil {
		fmt.Printf("\n== against the baseline %s (commit %s)\n", o.baseline, base.Meta.Commit)
		bench.WriteComparison(os.Stdout, cmp)
		if cmp.Failed() && !writeBaseline {
			code = exitRegression
		}
	} else {
		fmt.Printf("\nno baseline at %s: nothing to compare with (make bench-baseline writes one)\n", o.baseline)
	}
	if unmet := bench.UnmetRequirements(res); len(unmet) > 0 {
		fmt.Printf("requirements missed: %s\n", strings.Join(unmet, "; "))
		code = exitRegression
	}
	warnNoisy(res)
	fmt.Printf("\nresults: %s\nreport:  %s\n", jsonPath, htmlPath)
	if saveErr != nil {
		return fail(saveErr)
	}
	if runErr != nil {
		fmt.Fprintf(os.Stderr, "laird-bench: %v\n", runErr)
		return exitError
	}
	if writeBaseline {
		if code != exitOK {
			fmt.Fprintln(os.Stderr, "laird-bench: not writing a baseline from a run that missed requirements")
			return code
		}
		if err := res.Save(o.baseline); err != nil {
			return fail(err)
		}
		fmt.Printf("baseline: %s\n", o.baseline)
	}
	return code
}

func cmdCompare(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	var o options
	o.register(fs)
	peers := fs.String("peers", "inspircd", "peer servers to start, comma separated: inspircd, ngircd, or laird:PATH for another laird build (A/B)")
	inspBin := fs.String("inspircd", "/usr/sbin/inspircd", "InspIRCd binary")
	ngBin := fs.String("ngircd", "/usr/sbin/ngircd", "ngircd binary")
	peerUser := fs.String("peer-user", "irc", "unprivileged user the peers run as")
	_ = fs.Parse(args)
	if err := o.finish(); err != nil {
		return fail(err)
	}
	serverCPUs, statement := o.pinning()
	srv, err := o.lairdServer(serverCPUs, "laird")
	if err != nil {
		return fail(err)
	}
	servers := []bench.Server{srv}
	for _, p := range strings.Split(*peers, ",") {
		switch strings.TrimSpace(p) {
		case "inspircd":
			if _, err := os.Stat(*inspBin); err != nil {
				return fail(fmt.Errorf("inspircd: %w (apt-get install -y inspircd)", err))
			}
			servers = append(servers, &bench.InspIRCd{Bin: *inspBin, User: *peerUser, Pin: serverCPUs})
		case "ngircd":
			if _, err := os.Stat(*ngBin); err != nil {
				return fail(fmt.Errorf("ngircd: %w (apt-get install -y ngircd)", err))
			}
			servers = append(servers, &bench.NgIRCd{Bin: *ngBin, User: *peerUser, Pin: serverCPUs})
		case "":
		default:
			if path, ok := strings.CutPrefix(strings.TrimSpace(p), "laird:"); ok && path != "" {
				if _, err := os.Stat(path); err != nil {
					return fail(fmt.Errorf("laird peer: %w", err))
				}
				servers = append(servers, &bench.Laird{Bin: path, Args: strings.Fields(o.lairdArgs), Pin: serverCPUs,
					Label: "laird:" + path, ConfigFile: o.lairdConfig})
				continue
			}
			return fail(fmt.Errorf("unknown peer %q", p))
		}
	}
	res, runErr := o.runAll(ctx, servers, statement, serverCPUs)
	if res == nil {
		return fail(runErr)
	}
	jsonPath, htmlPath, saveErr := o.save(res, nil, nil, "-compare")
	bench.WriteText(os.Stdout, res)
	fmt.Println()
	bench.WriteSideBySide(os.Stdout, res)
	warnNoisy(res)
	fmt.Printf("\nresults: %s\nreport:  %s\n", jsonPath, htmlPath)
	if saveErr != nil {
		return fail(saveErr)
	}
	if runErr != nil {
		fmt.Fprintf(os.Stderr, "laird-bench: %v\n", runErr)
		return exitError
	}
	return exitOK
}

func cmdRun(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var o options
	o.register(fs)
	jsonOut := fs.String("json", "", "also write the result to this file")
	_ = fs.Parse(args)
	if err := o.finish(); err != nil {
		return fail(err)
	}
	if o.attach == "" {
		return fail(errors.New("run needs -attach ADDR (and -pid PID for CPU and RSS)"))
	}
	serverCPUs, statement := o.pinning()
	srv, err := o.lairdServer(serverCPUs, o.attach)
	if err != nil {
		return fail(err)
	}
	res, runErr := o.runAll(ctx, []bench.Server{srv}, statement, serverCPUs)
	if res == nil {
		return fail(runErr)
	}
	bench.WriteText(os.Stdout, res)
	if *jsonOut != "" {
		if err := res.Save(*jsonOut); err != nil {
			return fail(err)
		}
	}
	if runErr != nil {
		fmt.Fprintf(os.Stderr, "laird-bench: %v\n", runErr)
		return exitError
	}
	if len(bench.UnmetRequirements(res)) > 0 {
		return exitRegression
	}
	return exitOK
}

func cmdCheck(args []string) int {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	var o options
	o.register(fs)
	result := fs.String("result", "", "result file to judge")
	_ = fs.Parse(args)
	if err := o.finish(); err != nil {
		return fail(err)
	}
	if *result == "" {
		return fail(errors.New("check needs -result FILE"))
	}
	cur, err := bench.LoadResult(*result)
	if err != nil {
		return fail(err)
	}
	base, err := bench.LoadResult(o.baseline)
	if err != nil {
		return fail(err)
	}
	cmp := bench.Compare(base, cur, o.rules())
	bench.WriteComparison(os.Stdout, cmp)
	if cmp.Failed() || len(bench.UnmetRequirements(cur)) > 0 {
		return exitRegression
	}
	return exitOK
}

func cmdReport(args []string) int {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	var o options
	o.register(fs)
	result := fs.String("result", "", "result file")
	out := fs.String("html", "", "HTML file to write (default: the result file with .html)")
	_ = fs.Parse(args)
	if err := o.finish(); err != nil {
		return fail(err)
	}
	if *result == "" {
		return fail(errors.New("report needs -result FILE"))
	}
	cur, err := bench.LoadResult(*result)
	if err != nil {
		return fail(err)
	}
	var base *bench.Result
	var cmp *bench.Comparison
	if b, err := bench.LoadResult(o.baseline); err == nil && len(cur.Servers) == 1 {
		base, cmp = b, bench.Compare(b, cur, o.rules())
	}
	path := *out
	if path == "" {
		path = strings.TrimSuffix(*result, ".json") + ".html"
	}
	f, err := os.Create(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	if err := bench.WriteHTML(f, cur, base, cmp); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	fmt.Println(path)
	return exitOK
}

// noisyLimit is the share of all CPUs other processes may use during a measured phase
// before the figures are called noisy.
const noisyLimit = 25

// warnNoisy says which scenarios ran while the machine was busy with other work.
func warnNoisy(res *bench.Result) {
	if noisy := bench.NoisyRuns(res, noisyLimit); len(noisy) > 0 {
		fmt.Printf("warning: other processes kept more than %d%% of the CPUs busy during %s; these figures are noisy (rerun on a quiet machine before trusting a regression or writing a baseline)\n",
			noisyLimit, strings.Join(noisy, ", "))
	}
}
