package api

import (
	"encoding/json"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the collector of src's instances
// and the Go runtime and process collectors. It is our own registry, not
// the global one, so that nothing registered elsewhere leaks into
// /metrics.
func NewRegistry(src Source) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// NewHandler serves:
//
//	GET /metrics  Prometheus metrics
//	GET /status   the instances as a JSON array (InstanceJSON)
//	GET /status/virtual_servers  the virtual servers' pools
//	GET /status/lvs  the kernel's counters of the virtual services
//	              and their real servers (LVSServiceJSON), read now
//	GET /healthz  200 "ok" while the daemon runs
func NewHandler(src Source) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(NewRegistry(src), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { serveStatus(w, src) })
	mux.HandleFunc("GET /status/virtual_servers", func(w http.ResponseWriter, r *http.Request) {
		out := pools(src)
		if out == nil {
			out = []lvs.PoolStatus{} // [] rather than null
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("GET /status/lvs", func(w http.ResponseWriter, r *http.Request) {
		st, _, err := lvsStats(src)
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			writeJSON(w, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, lvsJSON(st))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	return mux
}

func serveStatus(w http.ResponseWriter, src Source) {
	writeJSON(w, instancesJSON(src))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
