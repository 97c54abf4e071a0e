package main

import (
	"io"
	"time"

	"github.com/afterhours-go/afterhours"
)

// runSchema is "afterhours schema": it prints the JSON Schema of the
// profile, the exact bytes of [afterhours.ProfileSchema], for editors to
// complete and check profiles with ("$schema" in a profile names it).
func runSchema(args []string, stdout, stderr io.Writer, now time.Time) int {
	f := newFlags("schema", "schema")
	_, code, stop := f.parse(args, 0, stdout, stderr)
	if stop {
		return code
	}
	if _, err := stdout.Write(afterhours.ProfileSchema()); err != nil {
		return failed("schema", stderr, err)
	}
	return exitOK
}
