package main

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
)

// metrics is what /metrics serves: deploys by state and the queue depth,
// counted from the store at each scrape; deploy durations, observed as
// deploys end (through the outbox: each is observed once); and HTTP
// latency by route.
type metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
	http     *prometheus.HistogramVec
}

func newMetrics(st *storage.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_deploy_duration_seconds",
			Help:    "Time from a deploy's start to its end, by project, environment and final state.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"project", "env", "state"}),
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "code"}),
	}
	m.reg.MustRegister(m.duration, m.http, &stateCollector{st: st},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves the metrics; with a token, only to a request that
// carries it as "Authorization: Bearer <token>".
func (m *metrics) handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ferry metrics"`)
			http.Error(w, "/metrics needs Authorization: Bearer <metrics.token of ferry.yaml>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// server is the listener of its own that metrics.listen asks for, or nil
// when /metrics is served on the main one.
func (m *metrics) server(cfg config.Metrics) *http.Server {
	if cfg.Listen == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.handler(cfg.Token))
	return &http.Server{Addr: cfg.Listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// metricsPlatform names the metrics in the outbox.
const metricsPlatform = "metrics"

// Notices implements pipeline.Subscriber: a deploy that ends owes the
// metrics its duration.
func (m *metrics) Notices(d pipeline.Deploy) []pipeline.Notice {
	if !d.State.Done() {
		return nil
	}
	return []pipeline.Notice{{Platform: metricsPlatform, Dest: fmt.Sprint("deploy ", d.ID), Kind: "ended", DeployID: d.ID, State: d.State}}
}

// Deliver implements bot.Sink: it observes the duration of a deploy that
// ended, in the state it ended in.
func (m *metrics) Deliver(_ context.Context, o bot.Outgoing, ref string) (string, error) {
	d := o.Deploy
	if !d.StartedAt.IsZero() && !d.FinishedAt.IsZero() {
		m.duration.WithLabelValues(d.Project, d.Env, string(o.State)).Observe(d.FinishedAt.Sub(d.StartedAt).Seconds())
	}
	return ref, nil
}

// instrument records the latency of every request under its route
// pattern: the pattern the innermost ServeMux matched, which it leaves in
// r.Pattern.
func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		pattern := r.Pattern
		if pattern == "" {
			pattern = "unmatched"
		}
		m.http.WithLabelValues(pattern, strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the writer (flushing events).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// stateCollector counts deploys by state, and the queue, at each scrape.
type stateCollector struct{ st *storage.Store }

var (
	deploysDesc = prometheus.NewDesc("ferry_deploys", "Deploys in the store, by state.", []string{"state"}, nil)
	queueDesc   = prometheus.NewDesc("ferry_queue_depth", "Deploys queued or awaiting approval.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- deploysDesc
	ch <- queueDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.st.CountByState(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(deploysDesc, err)
		return
	}
	for _, s := range pipeline.States {
		ch <- prometheus.MustNewConstMetric(deploysDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(counts[pipeline.StateQueued]+counts[pipeline.StateAwaitingApproval]))
}
