package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
)

// logSwitch lets a reload change the level and format of every logger in
// the process, including the ones components derived with With at start.
// Each switchHandler keeps a text and a JSON handler side by side (with
// the same attributes and groups) and writes through the one selected.
type logSwitch struct {
	level slog.LevelVar
	json  atomic.Bool
}

type switchHandler struct {
	sw   *logSwitch
	text slog.Handler
	json slog.Handler
}

// newLogger returns a logger writing to w at cfg's level and format, and
// the switch that changes them later.
func newLogger(w io.Writer, cfg LogConfig) (*slog.Logger, *logSwitch, error) {
	sw := &logSwitch{}
	if err := sw.set(cfg); err != nil {
		return nil, nil, err
	}
	opts := &slog.HandlerOptions{Level: &sw.level}
	h := &switchHandler{sw: sw, text: slog.NewTextHandler(w, opts), json: slog.NewJSONHandler(w, opts)}
	return slog.New(h), sw, nil
}

// parseLog validates a [log] section.
func parseLog(cfg LogConfig) (slog.Level, bool, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		return 0, false, fmt.Errorf("log level %q: want debug, info, warn or error", cfg.Level)
	}
	switch strings.ToLower(cfg.Format) {
	case "json":
		return level, true, nil
	case "text", "":
		return level, false, nil
	}
	return 0, false, fmt.Errorf("log format %q: want text or json", cfg.Format)
}

func (sw *logSwitch) set(cfg LogConfig) error {
	level, json, err := parseLog(cfg)
	if err != nil {
		return err
	}
	sw.level.Set(level)
	sw.json.Store(json)
	return nil
}

// switchOf returns the switch behind log, nil when log was made elsewhere
// (tests pass their own loggers; a reload then leaves logging alone).
func switchOf(log *slog.Logger) *logSwitch {
	if h, ok := log.Handler().(*switchHandler); ok {
		return h.sw
	}
	return nil
}

func (h *switchHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.sw.level.Level()
}

func (h *switchHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.sw.json.Load() {
		return h.json.Handle(ctx, r)
	}
	return h.text.Handle(ctx, r)
}

func (h *switchHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &switchHandler{sw: h.sw, text: h.text.WithAttrs(attrs), json: h.json.WithAttrs(attrs)}
}

func (h *switchHandler) WithGroup(name string) slog.Handler {
	return &switchHandler{sw: h.sw, text: h.text.WithGroup(name), json: h.json.WithGroup(name)}
}
