package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/afterhours-go/afterhours"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// flags is a subcommand's flag set and the usage line it prints for -h.
type flags struct {
	*flag.FlagSet
	usage string
}

func newFlags(name, usage string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return &flags{FlagSet: fs, usage: usage}
}

// parse parses args, flags and positional arguments in any order (the FILE
// usually comes first, which the flag package alone would take as the end
// of the flags). It returns the positional arguments and, when the command
// must stop, the exit status: 0 after -h (the usage on stdout), 2 after a
// bad flag or a wrong number of positional arguments (on stderr).
func (f *flags) parse(args []string, npos int, stdout, stderr io.Writer) (pos []string, code int, stop bool) {
	var msg bytes.Buffer
	f.SetOutput(&msg)
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.printUsage(stdout)
			return nil, exitOK, true
		}
		if err != nil {
			fmt.Fprintf(stderr, "afterhours %s: %v\n", f.Name(), err)
			f.printUsage(stderr)
			return nil, exitUsage, true
		}
		if f.NArg() == 0 {
			break
		}
		pos = append(pos, f.Arg(0))
		args = f.Args()[1:]
	}
	if len(pos) != npos {
		fmt.Fprintf(stderr, "afterhours %s: want %d argument(s), got %d\n", f.Name(), npos, len(pos))
		f.printUsage(stderr)
		return nil, exitUsage, true
	}
	return pos, exitOK, false
}

func (f *flags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: afterhours %s\n", f.usage)
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		f.SetOutput(w)
		f.PrintDefaults()
	}
}

// usageError reports a bad flag value and returns exit status 2.
func (f *flags) usageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "afterhours %s: %s\n", f.Name(), fmt.Sprintf(format, args...))
	f.printUsage(stderr)
	return exitUsage
}

// load reads and validates the profile in file. On failure it reports the
// error on stderr, each problem of an invalid profile on a line of its own
// with its field path, and returns false.
func load(name, file string, stderr io.Writer) (*afterhours.Profile, bool) {
	p, err := afterhours.LoadProfile(file)
	if err == nil {
		return p, true
	}
	var ve *afterhours.ValidationError
	if !errors.As(err, &ve) {
		fmt.Fprintf(stderr, "afterhours %s: %v\n", name, err)
		return nil, false
	}
	ps := sortedProblems(ve.Problems)
	fmt.Fprintf(stderr, "afterhours %s: %s: invalid profile, %d problem(s):\n", name, file, len(ps))
	for _, pr := range ps {
		fmt.Fprintf(stderr, "\t%s\n", pr)
	}
	return nil, false
}

// fixedClock is the clock of a command's plans: it always reads one
// instant, -at or the time the command started (planning never waits).
type fixedClock = fakeclock.Fixed

// instant returns the instant of -at (see [parseAt]), or now when at is
// empty.
func instant(f *flags, p *afterhours.Profile, at string, now time.Time, stderr io.Writer) (time.Time, int, bool) {
	if at == "" {
		return now, exitOK, true
	}
	t, note, err := parseAt(&p.Site, at)
	if err != nil {
		return time.Time{}, f.usageError(stderr, "-at %q: %v", at, err), false
	}
	if note != "" {
		fmt.Fprintf(stderr, "afterhours %s: -at %s: %s\n", f.Name(), at, note)
	}
	return t, exitOK, true
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(out, '\n'))
	return err
}

// failed reports an error of a command and returns exit status 1.
func failed(name string, stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "afterhours %s: %v\n", name, err)
	return exitFailed
}
