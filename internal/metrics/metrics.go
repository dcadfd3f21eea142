// Package metrics holds alertd's Prometheus collectors in a registry of
// their own (no global state), served as GET /metrics.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the collectors the delivery engine and the web layer update.
type Metrics struct {
	registry *prometheus.Registry

	// MessagesSent counts messages the relay accepted, by kind
	// (confirmation, welcome, digest).
	MessagesSent *prometheus.CounterVec
	// MessagesFailed counts messages given up, by kind and reason
	// (permanent, bad_address, retries_exhausted).
	MessagesFailed *prometheus.CounterVec
	// MessagesRetried counts temporary failures put back for a later
	// attempt, by reason (temporary, connection).
	MessagesRetried *prometheus.CounterVec
	// MessagesCancelled counts messages dropped at send time because the
	// recipient had left.
	MessagesCancelled *prometheus.CounterVec
	// SendSeconds is how long one message took to hand to the relay.
	SendSeconds prometheus.Histogram
	// SubscribeRequests counts POST /subscribe answers, by outcome
	// (accepted, invalid, rate_limited, honeypot, too_large, error).
	SubscribeRequests *prometheus.CounterVec
	// SourcePolls counts polls of feed sources, by source (its url) and
	// outcome (ok, error).
	SourcePolls *prometheus.CounterVec
	// Bounces counts bounces and complaints kept, by kind (hard, soft,
	// policy, complaint, unsubscribe, unrecognised) and source (dsn, arf,
	// mail, ses, postmark, mailgun, sendgrid).
	Bounces *prometheus.CounterVec
}

// New makes the collectors; queueDepth is read at each scrape and returns
// the number of messages waiting to be sent.
func New(queueDepth func() float64) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		MessagesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertd_messages_sent_total", Help: "Messages accepted by the relay, by kind.",
		}, []string{"kind"}),
		MessagesFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertd_messages_failed_total", Help: "Messages given up, by kind and reason.",
		}, []string{"kind", "reason"}),
		MessagesRetried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertd_messages_retried_total", Help: "Temporary failures scheduled for another attempt, by reason.",
		}, []string{"reason"}),
		MessagesCancelled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertd_messages_cancelled_total", Help: "Messages dropped at send time because the recipient had left, by kind.",
		}, []string{"kind"}),
		SendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "alertd_send_duration_seconds", Help: "Time to hand one message to the relay.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		SubscribeRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertd_subscribe_requests_total", Help: "POST /subscribe answers, by outcome.",
		}, []string{"outcome"}),
		SourcePolls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertd_source_polls_total", Help: "Polls of feed sources, by source and outcome.",
		}, []string{"source", "outcome"}),
		Bounces: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertd_bounces_total", Help: "Bounces and complaints kept, by kind and source.",
		}, []string{"kind", "source"}),
	}
	m.registry.MustRegister(
		m.MessagesSent, m.MessagesFailed, m.MessagesRetried, m.MessagesCancelled, m.SendSeconds, m.SubscribeRequests, m.SourcePolls, m.Bounces,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "alertd_queue_depth", Help: "Messages waiting to be sent (due now or later).",
		}, queueDepth),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
