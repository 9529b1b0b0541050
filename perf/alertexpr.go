package perf

import (
	"errors"
	"fmt"
	"strings"
)

// An alert rule's metric is a small expression over a Snapshot:
//
//	p50(NAME) p90(NAME) p99(NAME) p99.9(NAME) p100(NAME)
//	    a quantile of the latency series NAME (short name, e.g. cmd.PRIVMSG,
//	    kv.commit, shard.wait, fanout) over the live window, in seconds;
//	    no data in the window means the condition is false.
//	per_second(SEL) per_minute(SEL)
//	    the summed rate of the counter series SEL, e.g.
//	    per_minute(laird_errors_total) or per_minute(laird_errors_total{numeric="433"})
//	sum(SEL) max(SEL) min(SEL) SEL
//	    the current value of counter or gauge series, e.g.
//	    max(laird_shard_queue_depth), laird_connections{transport="tls"};
//	    a bare SEL is sum(SEL)
//
// SEL is a Prometheus metric name with an optional {label="value",...}
// equality filter.

// ErrBadExpr is wrapped by the errors of rules whose metric does not parse.
var ErrBadExpr = errors.New("perf: bad alert metric expression")

type exprFunc uint8

const (
	fnQuantile exprFunc = iota
	fnPerSecond
	fnPerMinute
	fnSum
	fnMax
	fnMin
)

// expr is a parsed alert metric.
type expr struct {
	fn       exprFunc
	quantile string // for fnQuantile: "p50", "p90", "p99", "p99.9", "p100"
	name     string
	match    []Label
}

var quantileFuncs = map[string]bool{"p50": true, "p90": true, "p99": true, "p99.9": true, "p100": true}

var scalarFuncs = map[string]exprFunc{
	"per_second": fnPerSecond, "per_minute": fnPerMinute,
	"sum": fnSum, "max": fnMax, "min": fnMin,
}

// parseExpr parses an alert metric expression.
func parseExpr(s string) (expr, error) {
	s = strings.TrimSpace(s)
	var e expr
	fn, arg := "", s
	if open := strings.IndexByte(s, '('); open >= 0 {
		if !strings.HasSuffix(s, ")") {
			return e, fmt.Errorf("%w: %q: missing ')'", ErrBadExpr, s)
		}
		fn, arg = strings.TrimSpace(s[:open]), strings.TrimSpace(s[open+1:len(s)-1])
	}
	switch {
	case fn == "":
		e.fn = fnSum
	case quantileFuncs[fn]:
		e.fn, e.quantile = fnQuantile, fn
		if !validShortName(arg) {
			return e, fmt.Errorf("%w: %q: bad latency name %q", ErrBadExpr, s, arg)
		}
		e.name = arg
		return e, nil
	default:
		f, ok := scalarFuncs[fn]
		if !ok {
			return e, fmt.Errorf("%w: %q: unknown function %q", ErrBadExpr, s, fn)
		}
		e.fn = f
	}
	name, match, err := parseSelector(arg)
	if err != nil {
		return e, fmt.Errorf("%w: %q: %v", ErrBadExpr, s, err)
	}
	e.name, e.match = name, match
	return e, nil
}

func validShortName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '.' || c == '_' || c == '-' || c == ':' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')) {
			return false
		}
	}
	return true
}

// parseSelector parses name{l="v",...}.
func parseSelector(s string) (string, []Label, error) {
	name, rest := s, ""
	if i := strings.IndexByte(s, '{'); i >= 0 {
		name, rest = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i:])
	}
	if !validMetricName(name) {
		return "", nil, fmt.Errorf("bad metric name %q", name)
	}
	if rest == "" {
		return name, nil, nil
	}
	if !strings.HasSuffix(rest, "}") {
		return "", nil, errors.New("missing '}'")
	}
	body := strings.TrimSpace(rest[1 : len(rest)-1])
	var match []Label
	for body != "" {
		eq := strings.IndexByte(body, '=')
		if eq < 0 {
			return "", nil, errors.New("label matcher without '='")
		}
		ln := strings.TrimSpace(body[:eq])
		if !validLabelName(ln) {
			return "", nil, fmt.Errorf("bad label name %q", ln)
		}
		body = strings.TrimSpace(body[eq+1:])
		if !strings.HasPrefix(body, `"`) {
			return "", nil, errors.New("label value must be double-quoted")
		}
		end := strings.IndexByte(body[1:], '"')
		if end < 0 {
			return "", nil, errors.New("unterminated label value")
		}
		match = append(match, Label{ln, body[1 : 1+end]})
		body = strings.TrimSpace(body[end+2:])
		if body != "" {
			if body[0] != ',' {
				return "", nil, errors.New("expected ',' between label matchers")
			}
			body = strings.TrimSpace(body[1:])
		}
	}
	return name, match, nil
}

// String renders the expression in canonical form.
func (e expr) String() string {
	var b strings.Builder
	switch e.fn {
	case fnQuantile:
		return e.quantile + "(" + e.name + ")"
	case fnPerSecond:
		b.WriteString("per_second(")
	case fnPerMinute:
		b.WriteString("per_minute(")
	case fnMax:
		b.WriteString("max(")
	case fnMin:
		b.WriteString("min(")
	default:
		b.WriteString("sum(")
	}
	b.WriteString(e.name)
	if len(e.match) > 0 {
		b.WriteByte('{')
		for i, l := range e.match {
			if i > 0 {
				b.WriteByte(',')
			}
			// Raw, not %q: values hold no '"' and the parser knows no escapes.
			b.WriteString(l.Name + `="` + l.Value + `"`)
		}
		b.WriteByte('}')
	}
	b.WriteByte(')')
	return b.String()
}

// eval computes the expression on a snapshot; ok is false when there is no
// data to judge (a latency series without samples in the window).
func (e expr) eval(s *Snapshot) (v float64, ok bool) {
	if e.fn == fnQuantile {
		l, found := s.Latency(e.name)
		if !found || l.Count == 0 {
			return 0, false
		}
		var us int64
		switch e.quantile {
		case "p50":
			us = l.P50
		case "p90":
			us = l.P90
		case "p99":
			us = l.P99
		case "p99.9":
			us = l.P999
		default:
			us = l.Max
		}
		return float64(us) / 1e6, true
	}
	list := s.Gauges
	if e.fn == fnPerSecond || e.fn == fnPerMinute {
		list = s.Counters
	} else if !e.hasSeries(s.Gauges) {
		list = s.Counters
	}
	first := true
	for _, ss := range list {
		if ss.Name != e.name || !matches(ss.Labels, e.match) {
			continue
		}
		x := ss.Value
		switch e.fn {
		case fnPerSecond:
			x = ss.Rate
		case fnPerMinute:
			x = ss.Rate * 60
		}
		switch {
		case first:
			v = x
		case e.fn == fnMax:
			v = max(v, x)
		case e.fn == fnMin:
			v = min(v, x)
		default:
			v += x
		}
		first = false
	}
	return v, true
}

func (e expr) hasSeries(list []SeriesStat) bool {
	for _, ss := range list {
		if ss.Name == e.name {
			return true
		}
	}
	return false
}

func matches(labels map[string]string, match []Label) bool {
	for _, m := range match {
		if labels[m.Name] != m.Value {
			return false
		}
	}
	return true
}
