package report

import (
	"fmt"
	"image/color"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/vidcomments/vidcomments/bench/load"
)

// plot draws the report's PNGs into dir and returns their file names.
func (r *Report) plot(dir string) ([]string, error) {
	var out []string
	if len(r.Modes) > 0 {
		if err := latencyPlot(filepath.Join(dir, "latency.png"), "Latency against offered rate", r.Modes); err != nil {
			return nil, err
		}
		out = append(out, "latency.png")
		// One plot per scenario ("hot" of "hot/readsvc") when there are several.
		var groups []string
		byGroup := map[string][]Mode{}
		for _, m := range r.Modes {
			g, _, ok := strings.Cut(m.Name, "/")
			if !ok {
				continue
			}
			if _, seen := byGroup[g]; !seen {
				groups = append(groups, g)
			}
			byGroup[g] = append(byGroup[g], m)
		}
		if len(groups) > 1 {
			for _, g := range groups {
				name := "latency-" + g + ".png"
				if err := latencyPlot(filepath.Join(dir, name), "Latency against offered rate: "+g, byGroup[g]); err != nil {
					return nil, err
				}
				out = append(out, name)
			}
		}
	}
	if len(r.Tiers) > 0 {
		if err := r.tierPlot(filepath.Join(dir, "tiers.png")); err != nil {
			return nil, err
		}
		out = append(out, "tiers.png")
	}
	return out, nil
}

// lastPerRate keeps, of steps run more than once at one rate (a retried
// step), the last attempt, in rate order of first appearance.
func lastPerRate(steps []load.Result) []load.Result {
	idx := map[float64]int{}
	var out []load.Result
	for _, s := range steps {
		if i, ok := idx[s.Rate]; ok {
			out[i] = s
			continue
		}
		idx[s.Rate] = len(out)
		out = append(out, s)
	}
	return out
}

// latencyPlot: p50 and p99 against offered rate, one pair of lines per mode.
func latencyPlot(path, title string, modes []Mode) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "offered requests/s"
	p.Y.Label.Text = "latency (ms, log)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Scale = plot.LogScale{} // ramps multiply the rate step by step
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	for i, m := range modes {
		var p50, p99 plotter.XYs
		for _, s := range lastPerRate(m.Steps) {
			if s.OK == 0 {
				continue
			}
			p50 = append(p50, plotter.XY{X: s.Rate, Y: max(s.P50, 0.01)})
			p99 = append(p99, plotter.XY{X: s.Rate, Y: max(s.P99, 0.01)})
		}
		if len(p50) == 0 {
			continue
		}
		for j, series := range []struct {
			name string
			xys  plotter.XYs
		}{{"p50", p50}, {"p99", p99}} {
			l, pts, err := plotter.NewLinePoints(series.xys)
			if err != nil {
				return err
			}
			c := plotutil.Color(i)
			l.Color, pts.Color = c, c
			if j == 1 {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			p.Add(l, pts)
			p.Legend.Add(fmt.Sprintf("%s %s", m.Name, series.name), l, pts)
		}
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// tierPlot: stacked shares of groupcache, Redis and Cassandra per mode.
func (r *Report) tierPlot(path string) error {
	p := plot.New()
	p.Title.Text = "Where reads were served"
	p.Y.Label.Text = "% of requests"
	names := make([]string, len(r.Tiers))
	gc, rd, cs := make(plotter.Values, len(r.Tiers)), make(plotter.Values, len(r.Tiers)), make(plotter.Values, len(r.Tiers))
	for i, t := range r.Tiers {
		names[i] = t.Mode
		gc[i], rd[i], cs[i] = t.GroupcachePct, t.RedisPct, t.CassandraPct
	}
	w := vg.Points(60)
	bars := []*plotter.BarChart{}
	for i, vals := range []plotter.Values{gc, rd, cs} {
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		b.Color = []color.Color{color.RGBA{66, 133, 244, 255}, color.RGBA{219, 68, 55, 255}, color.RGBA{244, 180, 0, 255}}[i]
		b.LineStyle.Width = 0
		if i > 0 {
			b.StackOn(bars[i-1])
		}
		bars = append(bars, b)
		p.Add(b)
	}
	p.Legend.Add("groupcache", bars[0])
	p.Legend.Add("Redis", bars[1])
	p.Legend.Add("Cassandra", bars[2])
	p.Legend.Top, p.Legend.Left = true, true
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.7, float64(len(names))-0.3
	p.Y.Max = 125 // room for the legend above the bars
	return p.Save(8*vg.Inch, 4*vg.Inch, path)
}
