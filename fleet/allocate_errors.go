package fleet

import "errors"

// These sentinel errors move to errors.go when the Allocate and Rollout
// halves of the package merge.

// ErrInvalidResource is returned by [Allocate] when the resource cannot be
// allocated: no token name, an unknown zone, a duration that is not positive,
// a negative buffer or capacity, or a buffer and duration longer than a day.
var ErrInvalidResource = errors.New("fleet: invalid resource")

// ErrInvalidPeriod is returned by [Allocate] when the first date of the year
// to allocate for is not a valid date, and by [LoadForecastInterval] when the
// interval is empty or longer than [MaxLoadInterval].
var ErrInvalidPeriod = errors.New("fleet: invalid period")
