package main

import (
	"fmt"
	"os"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// series names a set of rows in a chart: their path and node count.
func series(r Row) string {
	if r.Nodes == 1 {
		return r.Path + ", 1 node"
	}
	return fmt.Sprintf("%s, %d nodes", r.Path, r.Nodes)
}

// drawChart draws two panels to a PNG file: cycles/s per row, one bar per
// series (bourse, its references, NATS with -compare); and the latency
// percentiles of each series' rows.
func drawChart(file string, res *Results) error {
	rows := slices.Clone(res.Rows)
	if res.Peers != nil {
		rows = append(rows, res.Peers.Rows...)
	}
	var labels, names []string
	for _, r := range rows {
		if !slices.Contains(labels, r.Label()) {
			labels = append(labels, r.Label())
		}
		if !slices.Contains(names, series(r)) {
			names = append(names, series(r))
		}
	}
	value := func(name, label string, f func(Row) float64) float64 {
		for _, r := range rows {
			if series(r) == name && r.Label() == label {
				return f(r)
			}
		}
		return 0
	}
	// grouped adds one bar set per name, side by side around each label.
	grouped := func(p *plot.Plot, names []string, f func(name, label string) float64) error {
		w := vg.Points(min(40, 600/float64(len(labels)*len(names))))
		for i, name := range names {
			vals := make(plotter.Values, len(labels))
			for j, l := range labels {
				vals[j] = f(name, l)
			}
			bc, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return err
			}
			bc.LineStyle.Width = 0
			bc.Color = plotutil.Color(i)
			bc.Offset = w * vg.Length(float64(i)-float64(len(names)-1)/2)
			p.Add(bc)
			p.Legend.Add(name, bc)
		}
		p.Legend.Top = true
		p.NominalX(labels...)
		return nil
	}

	top := plot.New()
	top.Title.Text = "request-response cycles/s (higher is better)"
	top.Y.Label.Text = "cycles/s"
	if err := grouped(top, names, func(n, l string) float64 { return value(n, l, func(r Row) float64 { return r.PerSec }) }); err != nil {
		return err
	}

	// Latency: p50, p99 and p99.9 of each series as points on a log scale
	// (in-process rows take microseconds, remote ones milliseconds): the
	// colour tells the series, the glyph the percentile.
	bottom := plot.New()
	bottom.Title.Text = "latency percentiles, µs, log scale (lower is better)"
	bottom.Y.Label.Text = "µs"
	bottom.Y.Scale = plot.LogScale{}
	bottom.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	bottom.Legend.Top = true
	pcts := []struct {
		name string
		f    func(Row) float64
	}{
		{"p50", func(r Row) float64 { return r.Latency.P50 }},
		{"p99", func(r Row) float64 { return r.Latency.P99 }},
		{"p99.9", func(r Row) float64 { return r.Latency.P999 }},
	}
	for i, name := range names {
		for k, pct := range pcts {
			var pts plotter.XYs
			for j, l := range labels {
				if v := value(name, l, pct.f); v > 0 {
					pts = append(pts, plotter.XY{X: float64(j) + 0.08*(float64(i)-float64(len(names)-1)/2), Y: v})
				}
			}
			if len(pts) == 0 {
				continue
			}
			lp, err := plotter.NewScatter(pts)
			if err != nil {
				return err
			}
			lp.GlyphStyle.Color = plotutil.Color(i)
			lp.GlyphStyle.Shape = plotutil.Shape(k)
			lp.GlyphStyle.Radius = vg.Points(4)
			bottom.Add(lp)
			bottom.Legend.Add(name+" "+pct.name, lp)
		}
	}
	bottom.NominalX(labels...)
	// Headroom above the data for the legends.
	top.Y.Max *= 1.3
	bottom.Y.Max *= 20

	img := vgimg.New(vg.Points(1000), vg.Points(900))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10), PadY: vg.Points(20)}
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
