package server

import (
	"fmt"
)

// notAllocated is the reason of a token the client has no placement for.
const notAllocated = "not-allocated: the server has not allocated this token yet"

// Profile returns the profile of client cl: its site, the sharing tokens
// with its placements (a base in the token's zone, or "unplaced" with the
// reason; a token missing from placements is unplaced as not allocated),
// and the sets whose selector matches its site's tags, merged in order: a
// later set's task (or resource) of a name an earlier set used replaces it,
// in its place; self_update, constraints and parallel come from the last
// set that has them. The result is compact JSON that
// [afterhours.ParseProfile] accepts, the same bytes for the same config,
// client and placements. It fails, wrapping [ErrBadClient], when the
// config has no site of the client's site name.
func (c *Config) Profile(cl Client, placements map[string]Placement) ([]byte, error) {
	i := c.siteIndex(cl.Site)
	if i < 0 {
		return nil, fmt.Errorf("%w: client %q: no site %q in the config", ErrBadClient, cl.ID, cl.Site)
	}
	place := func(token string) Placement {
		if pl, ok := placements[token]; ok && (pl.Base != "" || pl.Unplaced != "") {
			return pl
		}
		return Placement{Unplaced: notAllocated}
	}
	data, _, err := c.compose(cl.ID, composition{site: i, sharing: true, sets: c.matching(c.sites[i].tags)}, place)
	return data, err
}
