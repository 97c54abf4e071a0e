package afterhours

import (
	"cmp"
	"fmt"
	"time"
)

// Date is a calendar date without a time zone: the site-local date a cycle
// is named after. The zero value is not a valid date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses a date in the form 2006-01-02 and rejects dates that do
// not exist, such as 2026-02-29.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD, an existing date", s)
	}
	return DateOf(t), nil
}

// String formats d as 2006-01-02.
func (d Date) String() string {
	if d.Year < 0 || d.Year > 9999 {
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
	}
	y, m := d.Year, int(d.Month)
	return string([]byte{
		byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + m/10), byte('0' + m%10), '-', byte('0' + d.Day/10), byte('0' + d.Day%10),
	})
}

// AddDays returns the date n days after d (before it when n is negative).
// A d that is not a valid date is normalised first, as time.Date does.
func (d Date) AddDays(n int) Date {
	if d.Month < time.January || d.Month > time.December || d.Day < 1 || d.Day > 28 && d.Day > daysInMonth(d.Year, d.Month) {
		return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
	}
	if n == 0 {
		return d
	}
	return dateOfDay(d.dayNumber() + int64(n))
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return weekdayOf(d.dayNumber())
}

// The calendar arithmetic below works on day numbers, days since
// 1970-01-01 in the proleptic Gregorian calendar, with the integer
// algorithms of Howard Hinnant's "chrono-compatible low-level date
// algorithms": no time.Time, no allocation, a few nanoseconds a date.

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// dayNumber returns the day number of a valid date.
func (d Date) dayNumber() int64 {
	y, m := int64(d.Year), int64(d.Month)
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	doy := (153*((m+9)%12)+2)/5 + int64(d.Day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// dateOfDay returns the date of a day number.
func dateOfDay(z int64) Date {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	return Date{int(y), time.Month(m), int(d)}
}

// weekdayOf returns the day of the week of a day number (day 0 was a Thursday).
func weekdayOf(z int64) time.Weekday {
	return time.Weekday((z%7 + 7 + 4) % 7)
}

func daysInMonth(y int, m time.Month) int {
	if m == time.February && (y%4 != 0 || y%100 == 0 && y%400 != 0) {
		return 28
	}
	return daysIn[m]
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmp.Compare(d.Year, e.Year)
	case d.Month != e.Month:
		return cmp.Compare(d.Month, e.Month)
	default:
		return cmp.Compare(d.Day, e.Day)
	}
}

// Interval is the half-open interval of instants [Start, End). It is empty
// when End is not after Start.
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Empty reports whether the interval contains no instant.
func (iv Interval) Empty() bool { return !iv.End.After(iv.Start) }

// Duration returns the length of the interval, 0 when it is empty.
func (iv Interval) Duration() time.Duration {
	if iv.Empty() {
		return 0
	}
	return iv.End.Sub(iv.Start)
}

// Contains reports whether t lies in [Start, End).
func (iv Interval) Contains(t time.Time) bool {
	return !t.Before(iv.Start) && t.Before(iv.End)
}

// Overlaps reports whether the two intervals share an instant.
func (iv Interval) Overlaps(o Interval) bool {
	return iv.Start.Before(o.End) && o.Start.Before(iv.End) && !iv.Empty() && !o.Empty()
}
