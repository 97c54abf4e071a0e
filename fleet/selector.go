package fleet

import (
	"fmt"
	"slices"
	"strings"
)

// Selector chooses targets by their site tags, with the syntax and rules of
// the tags of a task in a profile: a target matches when every plain tag of
// the selector is among the target's tags and no "!tag" is. The empty
// selector matches every target. Matching is case-sensitive.
//
// The zero Selector is the empty one. A Selector is immutable once made and
// safe for concurrent use.
type Selector struct {
	tags    []string // as given, for String
	require []string
	exclude []string
}

// NewSelector returns the selector of tags, each a plain tag ("retail") or
// an excluded one ("!kiosk"). It fails, wrapping [ErrInvalidSelector], on an
// empty tag or "!", a repeated tag, and a tag given both plain and excluded
// ("kiosk" with "!kiosk" could never match).
func NewSelector(tags ...string) (Selector, error) {
	s := Selector{tags: slices.Clone(tags)}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		switch {
		case t == "":
			return Selector{}, fmt.Errorf("%w: empty tag", ErrInvalidSelector)
		case t == "!":
			return Selector{}, fmt.Errorf("%w: empty tag after '!'", ErrInvalidSelector)
		case seen[t]:
			return Selector{}, fmt.Errorf("%w: tag %q repeated", ErrInvalidSelector, t)
		}
		seen[t] = true
		if neg, ok := strings.CutPrefix(t, "!"); ok {
			s.exclude = append(s.exclude, neg)
		} else {
			s.require = append(s.require, t)
		}
	}
	for _, neg := range s.exclude {
		if seen[neg] {
			return Selector{}, fmt.Errorf("%w: has both %q and %q: it can never match", ErrInvalidSelector, neg, "!"+neg)
		}
	}
	return s, nil
}

// ParseSelector reads a selector written as a comma-separated list of tags,
// as [Selector.String] writes it: "uk,retail,!kiosk". Spaces around tags
// are ignored; "" is the empty selector. It fails as [NewSelector] does.
func ParseSelector(s string) (Selector, error) {
	if strings.TrimSpace(s) == "" {
		return Selector{}, nil
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return NewSelector(parts...)
}

// Matches reports whether a target with tags is chosen by s.
func (s Selector) Matches(tags []string) bool {
	for _, t := range s.require {
		if !slices.Contains(tags, t) {
			return false
		}
	}
	for _, t := range s.exclude {
		if slices.Contains(tags, t) {
			return false
		}
	}
	return true
}

// Select returns the targets s matches, in their order.
func (s Selector) Select(targets []Target) []Target {
	var out []Target
	for _, t := range targets {
		if s.Matches(t.Tags) {
			out = append(out, t)
		}
	}
	return out
}

// IsEmpty reports whether s matches every target.
func (s Selector) IsEmpty() bool { return len(s.tags) == 0 }

// String returns the selector's tags separated by commas, in the order they
// were given: "uk,retail,!kiosk".
func (s Selector) String() string { return strings.Join(s.tags, ",") }
