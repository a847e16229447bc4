package api

import (
	_ "embed"
	"net/http"
	"time"
)

//go:embed page.html
var pageHTML []byte

// WithPage adds to the API's handler the read-only page at / (every
// instance and virtual server, each real server's recent check states,
// and the last hour's transitions) and the history behind it at
// /history (a JSON array of Event). The page reads /status,
// /status/virtual_servers and /history every two seconds; it changes
// nothing.
func WithPage(api http.Handler, h *History) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
		w.Write(pageHTML)
	})
	mux.HandleFunc("GET /history", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, h.Events(time.Now()))
	})
	return mux
}
