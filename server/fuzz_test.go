package server

import (
	"testing"

	"github.com/afterhours-go/afterhours"
)

// FuzzParseConfig checks that decoding never panics, and that a config
// it accepts gives every site's client a profile ParseProfile accepts,
// placed or not.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(testConfig))
	f.Add([]byte(tightConfig))
	f.Add([]byte(`{"sites": [{"name": "a", "timezone": "UTC"}], "sets": [{"name": "s", "parallel": 2}, {"name": "t", "parallel": null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		for _, site := range c.Sites() {
			for _, pl := range []Placement{{Base: "23:59"}, {Unplaced: "capacity: full"}} {
				places := map[string]Placement{}
				for _, r := range c.Resources() {
					places[r.Token] = pl
				}
				p, err := c.Profile(Client{ID: "fuzz", Site: site}, places)
				if err != nil {
					t.Fatalf("site %q: %v", site, err)
				}
				if _, err := afterhours.ParseProfile(p); err != nil {
					t.Fatalf("site %q: the profile of an accepted config is refused: %v\n%s", site, err, p)
				}
			}
		}
	})
}
