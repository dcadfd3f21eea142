package web

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/alertd/alertd/internal/subscription"
)

// The chart's drawing area, in the units of its viewBox: the axis labels
// sit in the margins, the right one wide enough for the half of the last
// date's label that stands past the plot.
const (
	chartWidth, chartHeight     = 720, 240
	chartLeft, chartRight       = 44, 28
	chartTop, chartBottom       = 10, 28
	chartPlotW, chartPlotH      = chartWidth - chartLeft - chartRight, chartHeight - chartTop - chartBottom
	chartTicks                  = 4 // horizontal grid lines above zero
	chartDateFormat             = "2 Jan"
	chartLongDateFormat         = "2 January 2006"
	chartDays               int = 90
)

// chartView is the sign-up chart drawn on the server: an SVG of three
// lines, and the same numbers for the table beside it.
type chartView struct {
	Width, Height int
	// PlotLeft and PlotRight bound the grid lines; the grid's labels end
	// at LabelX and the dates stand on DatesY.
	PlotLeft, PlotRight, LabelX, DatesY int
	Series                              []chartSeries
	// Grid are the horizontal lines with their values; Dates label days
	// along the bottom.
	Grid  []chartLabel
	Dates []chartLabel
	// Days are the numbers by day, newest first, and Total their sums.
	Days  []subscription.Day
	Total subscription.Day
	// Summary says in words what the chart shows.
	Summary string
}

// chartSeries is one line: its CSS class, legend name and points.
type chartSeries struct {
	Class, Name, Points string
}

// chartLabel is a label at a position along an axis.
type chartLabel struct {
	At   int // x for dates, y for grid lines
	Text string
}

func newChart(days []subscription.Day) chartView {
	c := chartView{
		Width: chartWidth, Height: chartHeight, PlotLeft: chartLeft, PlotRight: chartLeft + chartPlotW,
		LabelX: chartLeft - 6, DatesY: chartHeight - 8,
	}
	peak := 0
	for _, d := range days {
		c.Total.Signups += d.Signups
		c.Total.Confirmations += d.Confirmations
		c.Total.Unsubscribes += d.Unsubscribes
		peak = max(peak, d.Signups, d.Confirmations, d.Unsubscribes)
	}
	top := niceCeiling(peak)
	x := func(i int) int {
		if len(days) < 2 {
			return chartLeft
		}
		return chartLeft + i*chartPlotW/(len(days)-1)
	}
	y := func(v int) int { return chartTop + chartPlotH - v*chartPlotH/top }
	for _, s := range []struct {
		class, name string
		value       func(subscription.Day) int
	}{
		{"signups", "Sign-ups", func(d subscription.Day) int { return d.Signups }},
		{"confirmations", "Confirmations", func(d subscription.Day) int { return d.Confirmations }},
		{"unsubscribes", "Unsubscribes", func(d subscription.Day) int { return d.Unsubscribes }},
	} {
		var points strings.Builder
		for i, d := range days {
			if i > 0 {
				points.WriteByte(' ')
			}
			fmt.Fprintf(&points, "%d,%d", x(i), y(s.value(d)))
		}
		c.Series = append(c.Series, chartSeries{Class: s.class, Name: s.name, Points: points.String()})
	}
	for i := 0; i <= chartTicks; i++ {
		v := top * i / chartTicks
		c.Grid = append(c.Grid, chartLabel{At: y(v), Text: strconv.Itoa(v)})
	}
	for i := 0; i < len(days); i += 30 {
		c.Dates = append(c.Dates, chartLabel{At: x(i), Text: days[i].Day.Format(chartDateFormat)})
	}
	if n := len(days); n > 0 {
		c.Dates = append(c.Dates, chartLabel{At: x(n - 1), Text: days[n-1].Day.Format(chartDateFormat)})
		c.Summary = fmt.Sprintf("From %s to %s (UTC days): %d sign-ups, %d confirmations and %d unsubscribes; at most %d of any on one day.",
			days[0].Day.Format(chartLongDateFormat), days[n-1].Day.Format(chartLongDateFormat),
			c.Total.Signups, c.Total.Confirmations, c.Total.Unsubscribes, peak)
	}
	for i := len(days) - 1; i >= 0; i-- {
		c.Days = append(c.Days, days[i])
	}
	return c
}

// niceCeiling is the top of the chart's scale: the least of 4, 8, 20, 40,
// 80, 200... that is at least n, so the four grid lines fall on whole
// numbers.
func niceCeiling(n int) int {
	for scale := 1; ; scale *= 10 {
		for _, step := range []int{4, 8, 20} {
			if step*scale >= n {
				return step * scale
			}
		}
	}
}
