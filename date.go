package alertd

import "time"

// Date writes the day of t as readers are shown it, in loc, the zone of
// digest.timezone: a report published at 01:04 +02:00 on 22 December is
// of 22 December to readers there, though in UTC it is still the 21st.
func Date(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2 January 2006")
}
