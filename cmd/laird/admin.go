package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"

	"laird/kv"
)

// adminBackup serves POST /admin/backup?dir=DIR: an online Pebble
// checkpoint of the running server's store, for `laird backup`. Admin
// endpoints need credentials: without a configured metrics token it is
// refused outright.
func adminBackup(token string, store *kv.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			http.Error(w, "admin endpoints are disabled: set [metrics] token", http.StatusForbidden)
			return
		}
		if !bearerOK(r, token) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		dir := r.URL.Query().Get("dir")
		if dir == "" || !filepath.IsAbs(dir) {
			http.Error(w, "dir must be an absolute path", http.StatusBadRequest)
			return
		}
		if err := backupTarget(dir); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		if err := store.Checkpoint(dir); err != nil {
			log.Error("backup failed", "dir", dir, "err", err)
			http.Error(w, "backup failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		log.Info("backup written", "dir", dir)
		_, _ = w.Write([]byte("ok\n"))
	})
}

// adminOnly serves h only to requests with the bearer token; without a
// configured token the endpoint is refused (profiles expose internals).
func adminOnly(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			http.Error(w, "admin endpoints are disabled: set [metrics] token", http.StatusForbidden)
			return
		}
		if !bearerOK(r, token) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func bearerOK(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
