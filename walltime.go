package afterhours

import (
	"time"

	"github.com/afterhours-go/afterhours/internal/wallclock"
)

// WallTime returns the instant of the site-local wall-clock time
// hour:min:sec of date d, under the rule every local time of a profile
// follows (see [Site]): a time that does not exist, because a DST gap skips
// it, means the instant the gap moves it to (on Europe/London's
// spring-forward day 01:30 becomes 02:30 BST); a time that occurs twice, in
// a DST overlap, means its first occurrence (on the fall-back day 01:30 is
// 01:30 BST, not GMT). It is how a user's "tonight at 21:00" becomes the
// instant a plan is built at, read the way the planner reads business hours
// and downtimes. The fields are normalised as by time.Date (hour 24 is the
// next day's midnight).
//
// The site must be validated; WallTime reads an unvalidated site's times in
// UTC.
func (s *Site) WallTime(d Date, hour, min, sec int) time.Time {
	return wallclock.Resolve(d.Year, d.Month, d.Day, hour, min, sec, s.loc)
}
