// Package durfmt writes durations the way the library's plans, reports and
// command line write them.
package durfmt

import (
	"strings"
	"time"
)

// Short formats d as "5m", "1h30m" or "45s": time.Duration's form without
// its trailing zero units.
func Short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
