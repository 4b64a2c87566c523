package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"time"
)

// The plots are plain SVG written by hand, so the harness needs no
// plotting library. Each chart is a box with axes, ticks, one polyline or
// bar group per series, and a legend.

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// series is one line: points in data units.
type series struct {
	name string
	x, y []float64
}

// chart is the geometry shared by the plots.
type chart struct {
	w, h                   float64
	left, right, top, bot  float64
	xmin, xmax, ymin, ymax float64
	b                      *bytes.Buffer
}

func newChart(b *bytes.Buffer, x0, y0, w, h float64) *chart {
	return &chart{w: w, h: h, left: x0 + 60, right: x0 + w - 150, top: y0 + 30, bot: y0 + h - 45, b: b}
}

func (c *chart) px(x float64) float64 {
	return c.left + (x-c.xmin)/(c.xmax-c.xmin)*(c.right-c.left)
}

func (c *chart) py(y float64) float64 {
	return c.bot - (y-c.ymin)/(c.ymax-c.ymin)*(c.bot-c.top)
}

// niceStep picks a tick step of 1, 2 or 5 × 10^k giving about n ticks.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func (c *chart) axes(title, xlabel, ylabel string) {
	fmt.Fprintf(c.b, `<text x="%.0f" y="%.0f" font-size="14" font-weight="bold">%s</text>`+"\n", c.left, c.top-12, html.EscapeString(title))
	fmt.Fprintf(c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", c.left, c.top, c.right-c.left, c.bot-c.top)
	xs := niceStep(c.xmax-c.xmin, 6)
	for x := math.Ceil(c.xmin/xs) * xs; x <= c.xmax+xs/1e6; x += xs {
		fmt.Fprintf(c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%g</text>`+"\n",
			c.px(x), c.top, c.px(x), c.bot, c.px(x), c.bot+14, roundTick(x))
	}
	ys := niceStep(c.ymax-c.ymin, 5)
	for y := math.Ceil(c.ymin/ys) * ys; y <= c.ymax+ys/1e6; y += ys {
		fmt.Fprintf(c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" font-size="11" text-anchor="end">%g</text>`+"\n",
			c.left, c.py(y), c.right, c.py(y), c.left-4, c.py(y)+4, roundTick(y))
	}
	fmt.Fprintf(c.b, `<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle">%s</text>`+"\n", (c.left+c.right)/2, c.bot+32, html.EscapeString(xlabel))
	fmt.Fprintf(c.b, `<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		c.left-45, (c.top+c.bot)/2, c.left-45, (c.top+c.bot)/2, html.EscapeString(ylabel))
}

func roundTick(v float64) float64 { return math.Round(v*1e6) / 1e6 }

func (c *chart) legend(names []string) {
	for i, n := range names {
		y := c.top + 10 + float64(i)*18
		fmt.Fprintf(c.b, `<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/><text x="%.1f" y="%.1f" font-size="12">%s</text>`+"\n",
			c.right+12, y-10, palette[i%len(palette)], c.right+30, y, html.EscapeString(n))
	}
}

func (c *chart) lines(ss []series) {
	for i, s := range ss {
		var pts bytes.Buffer
		for j := range s.x {
			fmt.Fprintf(&pts, "%.1f,%.1f ", c.px(s.x[j]), c.py(s.y[j]))
		}
		fmt.Fprintf(c.b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", palette[i%len(palette)], pts.String())
	}
	var names []string
	for _, s := range ss {
		names = append(names, s.name)
	}
	c.legend(names)
}

// fit sets the ranges to hold every point, from zero.
func (c *chart) fit(ss []series) {
	c.xmin, c.ymin, c.xmax, c.ymax = 0, 0, 1e-9, 1e-9
	for _, s := range ss {
		for j := range s.x {
			c.xmax = math.Max(c.xmax, s.x[j])
			c.ymax = math.Max(c.ymax, s.y[j])
		}
	}
	c.xmax *= 1.05
	c.ymax *= 1.05
}

func svgDoc(w, h float64, body func(b *bytes.Buffer)) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	body(&b)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// herdPlot draws the distribution (CDF) of time to first byte in the herd,
// one line per target, with each target's lone-request TTFB as a dot.
func herdPlot(hs []HerdResult) []byte {
	return svgDoc(760, 420, func(b *bytes.Buffer) {
		c := newChart(b, 0, 0, 760, 420)
		var ss []series
		for _, h := range hs {
			s := series{name: fmt.Sprintf("%s (%d origin)", h.Target, h.OriginFetches)}
			n := len(h.TTFBs)
			// At most ~400 points per line keeps the file small.
			stride := max(1, n/400)
			for i := 0; i < n; i += stride {
				s.x = append(s.x, float64(h.TTFBs[i])/float64(time.Millisecond))
				s.y = append(s.y, float64(i+1)/float64(n))
			}
			if n > 0 {
				s.x = append(s.x, float64(h.TTFBs[n-1])/float64(time.Millisecond))
				s.y = append(s.y, 1)
			}
			ss = append(ss, s)
		}
		c.fit(ss)
		c.ymax = 1
		c.axes(fmt.Sprintf("Thundering herd: time to first byte, %d concurrent requests", hs[0].N), "time to first byte (ms); dot: lone request", "fraction of requests")
		c.lines(ss)
		// Lone-request TTFBs are nearly equal; stagger the dots so each shows.
		for i, h := range hs {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="5" fill="%s"/>`+"\n", c.px(float64(h.LoneTTFB)/float64(time.Millisecond)), c.py(0.5-0.06*float64(i)), palette[i%len(palette)])
		}
	})
}

// hitsPlot draws GB/s per (size, connections) as grouped bars.
func hitsPlot(hs []HitResult) []byte {
	type key struct {
		size  int64
		conns int
	}
	var groups []key
	var targets []string
	val := map[key]map[string]float64{}
	for _, h := range hs {
		k := key{h.Size, h.Conns}
		if val[k] == nil {
			val[k] = map[string]float64{}
			groups = append(groups, k)
		}
		val[k][h.Target] = h.GBPerSec
		found := false
		for _, t := range targets {
			found = found || t == h.Target
		}
		if !found {
			targets = append(targets, h.Target)
		}
	}
	return svgDoc(760, 420, func(b *bytes.Buffer) {
		c := newChart(b, 0, 0, 760, 420)
		c.xmin, c.xmax, c.ymin, c.ymax = 0, float64(len(groups)), 0, 1e-9
		for _, m := range val {
			for _, v := range m {
				c.ymax = math.Max(c.ymax, v*1.1)
			}
		}
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-size="14" font-weight="bold">Cache hits: GB/s by object size and connections (wrk)</text>`+"\n", c.left, c.top-12)
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", c.left, c.top, c.right-c.left, c.bot-c.top)
		ys := niceStep(c.ymax, 5)
		for y := 0.0; y <= c.ymax; y += ys {
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" font-size="11" text-anchor="end">%g</text>`+"\n",
				c.left, c.py(y), c.right, c.py(y), c.left-4, c.py(y)+4, roundTick(y))
		}
		gw := (c.right - c.left) / float64(len(groups))
		bw := gw * 0.8 / float64(max(1, len(targets)))
		for gi, g := range groups {
			x0 := c.left + float64(gi)*gw + gw*0.1
			for ti, t := range targets {
				v := val[g][t]
				fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x0+float64(ti)*bw, c.py(v), bw-2, c.bot-c.py(v), palette[ti%len(palette)])
			}
			label := fmt.Sprintf("%s, %d conns", sizeLabel(g.size), g.conns)
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>`+"\n", x0+gw*0.4, c.bot+14, label)
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">GB/s</text>`+"\n",
			c.left-45, (c.top+c.bot)/2, c.left-45, (c.top+c.bot)/2)
		c.legend(targets)
	})
}

func sizeLabel(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// soakPlot draws RSS, open files, threads and goroutines over time, each
// in its own panel.
func soakPlot(s SoakReport) []byte {
	rss, fds, thr, gor := soakSeries(s.Samples)
	var t []float64
	for _, x := range s.Samples {
		t = append(t, x.At.Seconds())
	}
	panels := []struct {
		title, unit string
		v           []float64
	}{{"RSS", "MiB", rss}, {"open files", "fds", fds}, {"threads", "threads", thr}}
	if len(gor) > 0 && gor[0] >= 0 {
		panels = append(panels, struct {
			title, unit string
			v           []float64
		}{"goroutines", "goroutines", gor})
	}
	h := 260.0
	return svgDoc(760, h*float64(len(panels)), func(b *bytes.Buffer) {
		for i, p := range panels {
			c := newChart(b, 0, float64(i)*h, 760, h)
			ss := []series{{name: s.Target, x: t, y: p.v}}
			c.fit(ss)
			c.axes(fmt.Sprintf("Soak (%s): %s", s.Target, p.title), "seconds", p.unit)
			c.lines(ss)
		}
	})
}
