// Package chart draws the chart of a digest as a PNG with gonum's plot:
// deploys per day stacked by how they ended, over the median lead time of
// each day's production deploys. It also serves the chart at the signed
// addresses the digest links to.
package chart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"log/slog"
	"net/http"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/ferrybot/ferry/dashboards"
)

// Size of the chart: 800 × 500 pixels at 96 dots per inch.
const (
	width  = 800 * vg.Inch / 96
	height = 500 * vg.Inch / 96
	dpi    = 96
)

// Colours of the outcomes, as on the web pages.
var (
	green  = color.RGBA{R: 0x2e, G: 0x9e, B: 0x5b, A: 0xff}
	red    = color.RGBA{R: 0xd6, G: 0x3b, B: 0x3b, A: 0xff}
	orange = color.RGBA{R: 0xe8, G: 0x8b, B: 0x1a, A: 0xff}
	grey   = color.RGBA{R: 0x9a, G: 0xa3, B: 0xad, A: 0xff}
	blue   = color.RGBA{R: 0x2f, G: 0x6f, B: 0xd1, A: 0xff}
)

// PNG draws the chart of a digest.
func PNG(g dashboards.Digest) ([]byte, error) {
	if len(g.Days) == 0 {
		return nil, errors.New("chart: the digest has no days")
	}
	bars, err := deploysPlot(g)
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	lead, err := leadPlot(g)
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(10), PadY: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{{bars}, {lead}}, tiles, dc)
	bars.Draw(canvases[0][0])
	lead.Draw(canvases[1][0])
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	return buf.Bytes(), nil
}

func dayNames(g dashboards.Digest) []string {
	names := make([]string, len(g.Days))
	for i, d := range g.Days {
		if len(g.Days) <= 7 {
			names[i] = d.Date.Format("Mon 2")
		} else {
			names[i] = d.Date.Format("Jan 2")
		}
	}
	return names
}

// deploysPlot stacks each day's deploys: succeeded at the bottom, then
// failed, rolled back, and cancelled or still running.
func deploysPlot(g dashboards.Digest) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = g.Title() + ", " + g.Period.String()
	p.Y.Label.Text = "deploys"
	p.Legend.Top = true
	p.Legend.Left = true
	series := []struct {
		name  string
		col   color.Color
		count func(dashboards.Day) int
	}{
		{"succeeded", green, func(d dashboards.Day) int { return d.Succeeded }},
		{"failed", red, func(d dashboards.Day) int { return d.Failed }},
		{"rolled back", orange, func(d dashboards.Day) int { return d.RolledBack }},
		{"cancelled or running", grey, func(d dashboards.Day) int { return d.Cancelled + d.InProgress }},
	}
	w := vg.Points(float64(380 / len(g.Days)))
	var below *plotter.BarChart
	top := 0
	for _, s := range series {
		vs := make(plotter.Values, len(g.Days))
		for i, d := range g.Days {
			vs[i] = float64(s.count(d))
		}
		b, err := plotter.NewBarChart(vs, w)
		if err != nil {
			return nil, err
		}
		b.Color, b.LineStyle.Width = s.col, 0
		if below != nil {
			b.StackOn(below)
		}
		p.Add(b)
		p.Legend.Add(s.name, b)
		below = b
	}
	for _, d := range g.Days {
		top = max(top, d.Total())
	}
	p.Y.Min, p.Y.Max = 0, float64(max(top, 1))*1.6 // room above the bars for the legend
	p.NominalX(dayNames(g)...)
	p.Add(plotter.NewGrid())
	return p, nil
}

// leadPlot draws the median lead time of each day, in hours; days without
// a production deploy break the line.
func leadPlot(g dashboards.Digest) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Lead time for changes, median per day"
	p.Y.Label.Text = "hours"
	p.Y.Min = 0
	p.NominalX(dayNames(g)...)
	p.Add(plotter.NewGrid())
	var run plotter.XYs
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		l, s, err := plotter.NewLinePoints(run)
		if err != nil {
			return err
		}
		l.Color, s.Color = blue, blue
		l.Width = vg.Points(2)
		s.Shape = draw.CircleGlyph{}
		p.Add(l, s)
		run = nil
		return nil
	}
	topHours := 1.0
	for i, d := range g.Days {
		if d.Leads == 0 {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		h := d.LeadTime.Hours()
		topHours = max(topHours, h)
		run = append(run, plotter.XY{X: float64(i), Y: h})
	}
	if err := flush(); err != nil {
		return nil, err
	}
	p.Y.Max = topHours * 1.15
	return p, nil
}

// Handler serves digest charts at dashboards.ChartPath for the addresses
// signer signed, drawing them from d when asked.
func Handler(d *dashboards.Dashboards, signer dashboards.Signer, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scopeText, p, err := signer.Verify(r.URL.Query(), d.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		scope, err := d.ParseScope(scopeText)
		if err != nil {
			http.Error(w, "the chart's scope no longer exists: "+err.Error(), http.StatusNotFound)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		g, err := d.Digest(ctx, scope, p)
		var png []byte
		if err == nil {
			png, err = PNG(g)
		}
		if err != nil {
			if log != nil {
				log.ErrorContext(ctx, "chart", "scope", scopeText, "err", err)
			}
			http.Error(w, "ferry could not draw the chart; the error is in its log", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "private, max-age=3600")
		_, _ = w.Write(png)
	})
}
