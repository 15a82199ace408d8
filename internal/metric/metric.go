// Package metric declares a service's Prometheus series on the registry the
// service is given (never the global one): one call a series, name and help
// side by side, registered as it is made.
package metric

import "github.com/prometheus/client_golang/prometheus"

// Factory makes series and registers each on its registry. A nil registry
// registers nothing (a component whose caller exports no metrics). The
// first registration error is kept for Err; after it nothing more is
// registered.
type Factory struct {
	reg prometheus.Registerer
	err error
}

// With returns a Factory registering on reg.
func With(reg prometheus.Registerer) *Factory { return &Factory{reg: reg} }

// Register registers c (a collector of the caller's own) and returns it.
func Register[C prometheus.Collector](f *Factory, c C) C {
	if f.reg != nil && f.err == nil {
		f.err = f.reg.Register(c)
	}
	return c
}

// Err is the first registration error, or nil.
func (f *Factory) Err() error { return f.err }

// Must panics on a registration error: for constructors whose duplicate
// registration can only be a programming error.
func (f *Factory) Must() {
	if f.err != nil {
		panic(f.err)
	}
}

// Counter is a counter without labels.
func (f *Factory) Counter(name, help string) prometheus.Counter {
	return Register(f, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
}

// CounterVec is a counter with labels whose values are known only as they
// come (each must still be bounded).
func (f *Factory) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return Register(f, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
}

// CounterPer is a counter with one label whose series for each of values
// exist from the start, so a rate over them is defined before the first
// event.
func (f *Factory) CounterPer(name, help, label string, values ...string) *prometheus.CounterVec {
	return withSeries(f.CounterVec(name, help, label), values)
}

// Gauge is a gauge without labels.
func (f *Factory) Gauge(name, help string) prometheus.Gauge {
	return Register(f, prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help}))
}

// GaugeVec is a gauge with labels whose values are known only as they come.
func (f *Factory) GaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return Register(f, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels))
}

// GaugePer is a gauge with one label whose series for each of values exist
// (at 0) from the start.
func (f *Factory) GaugePer(name, help, label string, values ...string) *prometheus.GaugeVec {
	return withSeries(f.GaugeVec(name, help, label), values)
}

// Histogram is a histogram without labels, with explicit buckets.
func (f *Factory) Histogram(name, help string, buckets []float64) prometheus.Histogram {
	return Register(f, prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}))
}

// HistogramVec is a histogram with labels, with explicit buckets.
func (f *Factory) HistogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return Register(f, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels))
}

// withSeries makes v's series for each of values, so they are exported
// (at 0) before the first event.
func withSeries[V interface{ WithLabelValues(...string) T }, T any](v V, values []string) V {
	for _, value := range values {
		v.WithLabelValues(value)
	}
	return v
}
