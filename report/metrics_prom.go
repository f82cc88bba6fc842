package report

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// promMetrics are what operators alert on, observed when a conversation's
// figure first becomes known as its events are archived (each conversation
// once across every instance: the archive's facts row says it was seen; a
// batch retried after a failed commit may count again). Labels: the
// conversation's channel and the group of its first hand-off, as known
// when observed (an event archived before the hand-off's is labelled
// without the group).
type promMetrics struct {
	firstResponse *prometheus.HistogramVec
	queueWait     *prometheus.HistogramVec
	surveys       *prometheus.CounterVec
	ratings       *prometheus.CounterVec
}

func newPromMetrics() *promMetrics {
	buckets := []float64{5, 10, 20, 30, 60, 120, 180, 300, 600, 900, 1800, 3600, 7200}
	return &promMetrics{
		firstResponse: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kefu_first_response_seconds",
			Help: "Hand-off to the first agent message, per conversation, as archived.", Buckets: buckets},
			[]string{"group", "channel"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kefu_queue_wait_seconds",
			Help: "Hand-off to claim, per claimed conversation, as archived.", Buckets: buckets},
			[]string{"group", "channel"}),
		surveys: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_surveys_total",
			Help: "Conversations sent a satisfaction survey, as archived."}, []string{"group", "channel"}),
		ratings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_ratings_total",
			Help: "Conversations rated, by score (1-5), as archived."}, []string{"group", "channel", "score"}),
	}
}

// Collectors are the reporter's Prometheus series, for the gateway's
// registry.
func (r *Reporter) Collectors() []prometheus.Collector {
	m := r.prom
	return []prometheus.Collector{m.firstResponse, m.queueWait, m.surveys, m.ratings}
}

// observe records what became known of a conversation between old and nf.
func (m *promMetrics) observe(old, nf *facts) {
	if nf == nil {
		return
	}
	var was facts
	if old != nil {
		was = *old
	} else {
		was = facts{QueueWait: -1, FirstResp: -1}
	}
	g, ch := nf.Group, nf.Channel
	if nf.FirstResp >= 0 && was.FirstResp < 0 {
		m.firstResponse.WithLabelValues(g, ch).Observe(float64(nf.FirstResp) / 1000)
	}
	if nf.QueueWait >= 0 && was.QueueWait < 0 {
		m.queueWait.WithLabelValues(g, ch).Observe(float64(nf.QueueWait) / 1000)
	}
	if nf.Survey && !was.Survey {
		m.surveys.WithLabelValues(g, ch).Inc()
	}
	if nf.Rating > 0 && was.Rating == 0 {
		m.ratings.WithLabelValues(g, ch, strconv.Itoa(nf.Rating)).Inc()
	}
}
