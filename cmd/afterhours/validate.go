package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/afterhours-go/afterhours"
)

// runValidate is "afterhours validate FILE": it prints one line, "FILE: ok
// (client C)", and exits 0 when the profile is valid; otherwise it prints
// every problem on stdout, "path: message", sorted by path and then message,
// each once, and exits 1. A file that cannot be read is reported on stderr
// (exit 1).
func runValidate(args []string, stdout, stderr io.Writer, _ time.Time) int {
	f := newFlags("validate", "validate FILE")
	pos, code, stop := f.parse(args, 1, stdout, stderr)
	if stop {
		return code
	}
	file := pos[0]
	data, err := os.ReadFile(file)
	if err != nil {
		return failed("validate", stderr, err)
	}
	p, err := afterhours.ParseProfile(data)
	var ve *afterhours.ValidationError
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "%s: ok (client %s)\n", file, p.Client)
		return exitOK
	case !errors.As(err, &ve):
		return failed("validate", stderr, err)
	}
	ps := sortedProblems(ve.Problems)
	fmt.Fprintf(stdout, "%s: %d problem(s)\n", file, len(ps))
	for _, pr := range ps {
		fmt.Fprintln(stdout, pr)
	}
	return exitFailed
}

// sortedProblems returns the problems sorted by path, then message, each
// once.
func sortedProblems(ps []afterhours.Problem) []afterhours.Problem {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b afterhours.Problem) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Message, b.Message))
	})
	return slices.Compact(out)
}
