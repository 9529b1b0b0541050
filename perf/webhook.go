package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// WebhookConfig is where alert events are POSTed as JSON (an AlertEvent per
// request). Delivery never blocks the evaluator: events go through a bounded
// queue to one sender goroutine; when the queue is full they are dropped and
// counted. Each POST is tried once, bounded by Timeout.
type WebhookConfig struct {
	URL     string        `toml:"url"`
	Token   string        `toml:"token"`   // optional, sent as a bearer token; never logged
	Timeout time.Duration `toml:"timeout"` // default 5s
}

const webhookQueue = 64

type webhook struct {
	url     string
	token   string
	timeout time.Duration
	client  *http.Client
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex // guards closed and sends on q
	closed bool
	q      chan AlertEvent

	sent, failed, dropped atomic.Uint64
}

func checkWebhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: webhook url must be an absolute http(s) URL", ErrBadRule)
	}
	return nil
}

func newWebhook(cfg WebhookConfig, client *http.Client, log *slog.Logger) (*webhook, error) {
	if err := checkWebhookURL(cfg.URL); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL)
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if client == nil {
		client = &http.Client{}
	}
	w := &webhook{
		url:     cfg.URL,
		token:   cfg.Token,
		timeout: cfg.Timeout,
		client:  client,
		log:     log.With("webhook", u.Scheme+"://"+u.Host), // paths of chat webhooks are secrets
		done:    make(chan struct{}),
		q:       make(chan AlertEvent, webhookQueue),
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	go w.run()
	return w, nil
}

// sameConfig reports whether cfg describes this sender.
func (w *webhook) sameConfig(cfg WebhookConfig) bool {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	return cfg.URL == w.url && cfg.Token == w.token && cfg.Timeout == w.timeout
}

// enqueue hands ev to the sender without ever waiting.
func (w *webhook) enqueue(ev AlertEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	select {
	case w.q <- ev:
	default:
		w.dropped.Add(1)
		w.log.Warn("alert webhook queue full; event dropped", "rule", ev.Rule, "state", ev.State)
	}
}

func (w *webhook) run() {
	defer close(w.done)
	for ev := range w.q {
		if w.ctx.Err() != nil {
			continue // closing: drain without sending
		}
		if err := w.post(ev); err != nil {
			w.failed.Add(1)
			w.log.Warn("alert webhook delivery failed", "rule", ev.Rule, "state", ev.State, "err", err)
			continue
		}
		w.sent.Add(1)
	}
}

func (w *webhook) post(ev AlertEvent) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	ctx, cancel := context.WithTimeout(w.ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "laird-alerts")
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, whose path may be a secret
		}
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post: HTTP %d", resp.StatusCode)
	}
	return nil
}

// close stops the sender: an in-flight POST is cancelled, queued events are
// abandoned.
func (w *webhook) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.cancel()
	close(w.q)
	w.mu.Unlock()
	<-w.done
}
