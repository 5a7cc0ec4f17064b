package console

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spid-idp/spid-idp/enrolment"
)

// DeadlineCollector exports the verification queue by deadline status
// (§6.2, E048), counted afresh on every scrape.
type DeadlineCollector struct {
	Service *enrolment.Service
	desc    *prometheus.Desc
}

// NewDeadlineCollector makes the collector of
// spid_enrolment_requests{status="on_time|at_risk|late|paused"}.
func NewDeadlineCollector(s *enrolment.Service) *DeadlineCollector {
	return &DeadlineCollector{Service: s, desc: prometheus.NewDesc("spid_enrolment_requests",
		"Requests in the verification queue by deadline status (on_time, at_risk at 75% of the 48 working hours, late past the deadline, paused awaiting documents).",
		[]string{"status"}, nil)}
}

// Describe implements prometheus.Collector.
func (d *DeadlineCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

// Collect implements prometheus.Collector.
func (d *DeadlineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	items, err := d.Service.Queue(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(d.desc, err)
		return
	}
	counts := map[string]int{"on_time": 0, "at_risk": 0, "late": 0, "paused": 0}
	for _, it := range items {
		counts[it.Status]++
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, float64(n), st)
	}
}
