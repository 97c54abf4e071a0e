package fleet

import "time"

var t0 = time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
