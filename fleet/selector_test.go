package fleet

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// TestSelectorMatches is rule 12 of the design, as a table: every plain tag
// must be among the target's tags, no "!tag" may be, the empty selector
// matches everything, and matching is case-sensitive.
func TestSelectorMatches(t *testing.T) {
	cases := []struct {
		sel  string
		tags []string
		want bool
	}{
		{"", nil, true},
		{"", []string{"uk"}, true},
		{"uk", []string{"uk", "retail"}, true},
		{"uk", nil, false},
		{"uk,retail", []string{"retail", "uk"}, true},
		{"uk,retail", []string{"uk"}, false},
		{"!kiosk", nil, true},
		{"!kiosk", []string{"kiosk"}, false},
		{"retail,!kiosk", []string{"retail"}, true},
		{"retail,!kiosk", []string{"retail", "kiosk"}, false},
		{"UK", []string{"uk"}, false},
		{"!UK", []string{"uk"}, true},
		{" uk , !kiosk ", []string{"uk"}, true},
	}
	for _, c := range cases {
		s, err := ParseSelector(c.sel)
		if err != nil {
			t.Fatalf("ParseSelector(%q): %v", c.sel, err)
		}
		if got := s.Matches(c.tags); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.sel, c.tags, got, c.want)
		}
	}
}

func TestSelectorInvalid(t *testing.T) {
	for _, sel := range []string{"uk,!uk", "!uk,uk", "uk,", ",uk", "!", "uk,uk", "uk,,retail"} {
		if _, err := ParseSelector(sel); !errors.Is(err, ErrInvalidSelector) {
			t.Errorf("ParseSelector(%q) = %v, want ErrInvalidSelector", sel, err)
		}
	}
	if _, err := NewSelector("a", "!a"); !errors.Is(err, ErrInvalidSelector) {
		t.Errorf("NewSelector(a, !a) = %v", err)
	}
}

func TestSelectorString(t *testing.T) {
	s, err := NewSelector("uk", "retail", "!kiosk")
	if err != nil {
		t.Fatal(err)
	}
	if s.String() != "uk,retail,!kiosk" || s.IsEmpty() {
		t.Errorf("String() = %q", s.String())
	}
	back, err := ParseSelector(s.String())
	if err != nil || back.String() != s.String() {
		t.Errorf("ParseSelector(String()) = %v, %v", back, err)
	}
	if !(Selector{}).IsEmpty() || (Selector{}).String() != "" {
		t.Error("zero Selector is not empty")
	}
}

func TestSelectSitesByTags(t *testing.T) {
	targets := []Target{
		{ID: "leeds", Tags: []string{"uk", "retail"}},
		{ID: "york-kiosk", Tags: []string{"uk", "retail", "kiosk"}},
		{ID: "lyon", Tags: []string{"fr", "retail"}},
		{ID: "hull-office", Tags: []string{"uk"}},
	}
	s, err := ParseSelector("uk,!kiosk")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range s.Select(targets) {
		got = append(got, tg.ID)
	}
	if want := []string{"leeds", "hull-office"}; !slices.Equal(got, want) {
		t.Errorf("Select = %v, want %v", got, want)
	}

	var ran []string
	r := mustRollout(t, targets, one(func(_ context.Context, tg Target) error {
		ran = append(ran, tg.ID)
		return nil
	}), WithSelector(s))
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := r.Report()
	if !slices.Equal(ran, got) || len(rep.Targets) != 2 || rep.Status.Total != 2 || rep.Status.Selector != "uk,!kiosk" {
		t.Errorf("ran %v; report %+v", ran, rep.Status)
	}
}
