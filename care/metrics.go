package care

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spid-idp/spid-idp/storage"
)

// Metrics exposes the open complaints by deadline status (E109) and the
// open tickets by state, read from the store at each scrape so two nodes
// report the same figures.
type Metrics struct {
	Service    *Service
	complaints *prometheus.Desc
	tickets    *prometheus.Desc
	errors     prometheus.Counter
}

// NewMetrics returns the collector; register it on the server's registry.
func NewMetrics(s *Service) *Metrics {
	return &Metrics{
		Service: s,
		complaints: prometheus.NewDesc("spid_care_open_complaints",
			"Formal complaints not yet answered, by deadline status (on_time, at_risk: due within 3 days, late).",
			[]string{"deadline"}, nil),
		tickets: prometheus.NewDesc("spid_care_open_tickets", "Trouble tickets not closed, by state.", []string{"state"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "spid_care_metrics_errors_total",
			Help: "Scrapes that could not read the tickets."}),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.complaints
	ch <- m.tickets
	m.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	defer m.errors.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	complaints, err := m.Service.Store.ListTickets(ctx, storage.TicketFilter{Kind: storage.TicketKindComplaint, States: []string{StateAssigned}})
	if err != nil {
		m.errors.Inc()
		return
	}
	now := m.Service.now()
	counts := map[string]float64{DeadlineOnTime: 0, DeadlineAtRisk: 0, DeadlineLate: 0}
	for _, t := range complaints {
		if st := DeadlineStatus(t, now); st != DeadlineAnswered && st != "" {
			counts[st]++
		}
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(m.complaints, prometheus.GaugeValue, n, st)
	}
	open := []string{StateReceived, StateOpen, StateInProgress, StateWaitingRequester, StateEscalated, StateSolutionReady, StateSolved}
	tickets, err := m.Service.Store.ListTickets(ctx, storage.TicketFilter{Kind: storage.TicketKindTicket, States: open})
	if err != nil {
		m.errors.Inc()
		return
	}
	byState := map[string]float64{}
	for _, s := range open {
		byState[s] = 0
	}
	for _, t := range tickets {
		byState[t.State]++
	}
	for st, n := range byState {
		ch <- prometheus.MustNewConstMetric(m.tickets, prometheus.GaugeValue, n, st)
	}
}
