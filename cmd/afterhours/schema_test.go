package main

import (
	"os"
	"testing"
)

// TestSchema: "afterhours schema" prints the embedded schema, byte for byte
// the root module's profile.schema.json, and takes no argument.
func TestSchema(t *testing.T) {
	want, err := os.ReadFile("../../profile.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	r := runArgs("schema")
	r.check(t, exitOK, nil, nil)
	if r.stdout != string(want) {
		t.Errorf("schema printed %d bytes that differ from profile.schema.json (%d bytes)", len(r.stdout), len(want))
	}
	if r.stderr != "" {
		t.Errorf("stderr %q", r.stderr)
	}
	runArgs("schema", "extra").check(t, exitUsage, nil, []string{"want 0 argument(s), got 1", "usage: afterhours schema"})
}
