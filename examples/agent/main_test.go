package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// A night of the example profile at 20,000 times real speed: the real
// scripts run, in order, and the journal says so.
func TestAgentNight(t *testing.T) {
	var out bytes.Buffer
	args := []string{"-profile", "agent.profile.json", "-speed", "20000", "-at", "2026-11-23T17:00:00Z", "-for", "14h", "-work", t.TempDir()}
	if err := run(context.Background(), args, &out, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"started housekeeping rotate-logs",
		"finished update openssl-3.0.15",
		"finished self-update agent-2.4.1",
		"finished shared fetch-packages",
		"finished timer inventory",
		"cycle 2026-11-23: ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in the output:\n%s", want, out.String())
		}
	}
}

// The first interrupt stops gracefully; a second one kills, and the kill
// survives a restart until -resume.
func TestAgentInterrupts(t *testing.T) {
	state := t.TempDir()
	args := []string{"-profile", "agent.profile.json", "-speed", "20000", "-at", "2026-11-23T17:00:00Z", "-state", state, "-work", t.TempDir()}
	signals := make(chan os.Signal, 2)
	signals <- os.Interrupt
	var out bytes.Buffer
	if err := run(context.Background(), args, &out, signals); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "interrupt: stopping") || strings.Contains(out.String(), "killed") {
		t.Errorf("one interrupt:\n%s", out.String())
	}
	signals <- os.Interrupt
	signals <- os.Interrupt
	out.Reset()
	if err := run(context.Background(), args, &out, signals); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "killed (killed): interrupted twice") {
		t.Errorf("two interrupts:\n%s", out.String())
	}
	signals <- os.Interrupt
	out.Reset()
	if err := run(context.Background(), args, &out, signals); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "killed since") {
		t.Errorf("restart after a kill:\n%s", out.String())
	}
	signals <- os.Interrupt
	out.Reset()
	if err := run(context.Background(), append(args, "-resume"), &out, signals); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "killed since") || !strings.Contains(out.String(), "resumed") {
		t.Errorf("restart with -resume:\n%s", out.String())
	}
}
