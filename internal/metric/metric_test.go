package metric

import (
	"fmt"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestPerSeriesExistFromTheStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := With(reg)
	f.CounterPer("x_total", "X by result.", "result", "ok", "error")
	f.GaugePer("y", "Y by kind.", "kind", "a")
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			got = append(got, fmt.Sprintf("%s %s=%s", mf.GetName(), m.GetLabel()[0].GetName(), m.GetLabel()[0].GetValue()))
		}
	}
	want := []string{"x_total result=error", "x_total result=ok", "y kind=a"}
	if !slices.Equal(got, want) {
		t.Errorf("series before any event\n got %q\nwant %q", got, want)
	}
}

func TestFirstRegistrationErrorIsKept(t *testing.T) {
	f := With(prometheus.NewRegistry())
	f.Counter("x_total", "X.")
	if f.Err() != nil {
		t.Fatal(f.Err())
	}
	f.Counter("x_total", "X again.")
	if f.Err() == nil {
		t.Fatal("a second x_total registered without error")
	}
	defer func() {
		if recover() == nil {
			t.Error("Must did not panic on the registration error")
		}
	}()
	f.Must()
}

func TestNilRegistryRegistersNothing(t *testing.T) {
	f := With(nil)
	f.Histogram("h_seconds", "H.", []float64{1}).Observe(2)
	if f.Err() != nil {
		t.Fatal(f.Err())
	}
}
