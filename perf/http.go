package perf

import (
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTPOptions configures NewHTTPHandler.
type HTTPOptions struct {
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// /metrics and every data endpoint. It is compared in constant time and
	// never logged.
	Token string
	// Gatherer is what /metrics serves. Default NewPrometheusRegistry(reg).
	Gatherer prometheus.Gatherer
	// Logger receives scrape errors. Default slog.Default().
	Logger *slog.Logger
	// ReportTop is how many commands reports name. Default 10.
	ReportTop int
}

//go:embed status.html
var statusHTML []byte

// NewHTTPHandler returns the monitoring endpoints, to be mounted at the
// root of the metrics listener:
//
//	/metrics             Prometheus text format; OpenMetrics when the scraper asks
//	/debug/status        a self-contained HTML page (no data in it, no external
//	                     assets) that polls status.json; it is served without
//	                     the token and reads the token from its URL fragment
//	                     (/debug/status#token=...), which browsers never send
//	/debug/status.json   the latest Snapshot as JSON
//	/debug/history.json  the last minutes of the headline figures (History)
//	/debug/report        the report (slowest commands, hottest shard) as text
//	/debug/report.json   the same as JSON
func NewHTTPHandler(reg *Registry, opts HTTPOptions) (http.Handler, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if opts.ReportTop <= 0 {
		opts.ReportTop = 10
	}
	g := opts.Gatherer
	if g == nil {
		pr, err := NewPrometheusRegistry(reg)
		if err != nil {
			return nil, err
		}
		g = pr
	}
	auth := func(h http.Handler) http.Handler { return requireToken(opts.Token, h) }
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", auth(promhttp.HandlerFor(g, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorHandling:     promhttp.ContinueOnError,
		ErrorLog:          promLogger{log},
	})))
	mux.HandleFunc("GET /debug/status", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
		h.Set("Cache-Control", "no-store")
		_, _ = w.Write(statusHTML)
	})
	mux.Handle("GET /debug/status.json", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := latest(reg, w); ok {
			writeJSON(w, s)
		}
	})))
	mux.Handle("GET /debug/history.json", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, reg.History())
	})))
	mux.Handle("GET /debug/report.json", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := latest(reg, w); ok {
			writeJSON(w, BuildReport(s, opts.ReportTop))
		}
	})))
	mux.Handle("GET /debug/report", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := latest(reg, w); ok {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			_ = BuildReport(s, opts.ReportTop).WriteText(w)
		}
	})))
	return mux, nil
}

// latest returns the published snapshot or answers 503 before the first
// collection.
func latest(reg *Registry, w http.ResponseWriter) (*Snapshot, bool) {
	s := reg.Snapshot()
	if s == nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "no collection yet", http.StatusServiceUnavailable)
		return nil, false
	}
	return s, true
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprintf("encode: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

// requireToken wraps next with bearer-token authentication. Both sides are
// hashed first so the comparison takes the same time whatever the lengths.
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearerToken(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="laird"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// promLogger adapts slog to promhttp's error log.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) { l.log.Warn("metrics endpoint: " + fmt.Sprint(v...)) }
