// Command afterhours checks, plans and exports afterhours profiles from the
// command line.
//
// Install it with
//
//	go install github.com/afterhours-go/afterhours/cmd/afterhours@latest
//
// Usage:
//
//	afterhours validate FILE
//	afterhours plan FILE [-at TIME] [-json|-svg]
//	afterhours forecast FILE -days N [-at TIME] [-json]
//	afterhours export FILE -crontab|-systemd [-at TIME]
//	afterhours affected FILE -resource R -days N [-at TIME] [-csv|-json]
//	afterhours explain FILE TASK [-at TIME] [-days N] [-json]
//	afterhours schema
//	afterhours serve -data DIR [-listen ADDR] [-tls-cert FILE -tls-key FILE] [-tokens FILE] [-etcd URLS ...]
//	afterhours agent -state DIR [-server URL] [-enroll CODE [-reenroll]] [-ca FILE]
//	afterhours help [COMMAND]
//
// Every command takes -h. TIME is an RFC 3339 instant
// (2026-11-24T21:00:00Z) or a site-local time without an offset
// (2026-11-24T21:00, seconds optional), read in the profile's zone under the
// library's wall-clock rule ([afterhours.Site.WallTime]): a local time that
// a DST gap skips moves forward by the gap (Europe/London 2026-03-29T01:30
// is 02:30 BST), one that occurs twice means the first (2026-10-25T01:30 is
// 01:30 BST). Without -at, the current time.
//
// Exit status: 0 on success; 1 when the profile cannot be read, is invalid
// (each problem is printed on stderr with its field path) or cannot be
// planned; 2 for a bad command line; and for export, 3 when some tasks could
// not be exported (each is named on stderr with the reason; the lines of the
// others are printed).
//
// # Explain and schema
//
// explain says why TASK runs when it does, or why not, over N consecutive
// cycles (default 7) from the one plan would print, as forecast plans them
// (assuming that placed work completes): the task's recurrence, estimate,
// resources, selector and constraints, then per cycle the window, the
// task's placement (start, end, lane, and what ends where it starts: a
// step, a hold, a downtime) or its deferral with the planner's reason and
// detail, when a recurring task is next due, the holds and downtimes it
// contends with, and its estimate against the room left in the window. An
// unknown TASK is exit status 1, with the profile's task names on stderr.
// schema prints the profile's JSON Schema ([afterhours.ProfileSchema]).
//
// # Serve
//
// serve runs the fleet server of package server until SIGINT or SIGTERM,
// on the bbolt store DIR/fleet.db. DIR is created (mode 0700) when missing
// and refused when it is a symbolic link, is not this user's, or is
// writable by group or others, as the agent's state directory is. The admin
// tokens are read from -tokens FILE, lines "ROLE TOKEN" (ROLE view, operate
// or admin; a token of 16 bytes at least; blank lines and # comments
// skipped), a file of this user that group and others can neither read nor
// write. Without -tokens they are read from DIR/admin.token in the same
// format; when it is missing, serve writes it (mode 0600) with one admin
// token of 32 random bytes and says where on stderr, never printing the
// token. The address defaults to 127.0.0.1:8443 with TLS (-tls-cert and
// -tls-key, both or neither; TLS 1.2 at least) and 127.0.0.1:8080 without.
// serve logs on stderr (log/slog), a line at start with the address and
// whether TLS is on; stopped, it stops accepting, answers the requests in
// flight (a long-poll at once, as when its wait ends) within 10 seconds, and
// closes the store. Exit status 1 when it cannot start.
//
// With -etcd URLS (etcd's client URLs, comma-separated), the fleet is kept
// in etcd under -etcd-prefix (default /afterhours/) instead of
// DIR/fleet.db, and the server is one replica of those that share that
// prefix: they elect a leader on a lease of -etcd-lease-ttl (whole seconds,
// 2s or more, default 10s), which alone allocates; a follower forwards the
// admin requests that allocate to the leader at the URL it advertised
// (-advertise, by default http:// or https:// and the listen address, which
// must then name a host; over TLS, trusting the system's roots and the
// certificates of -tls-cert). A replica logs when it starts and stops leading,
// and resigns first when stopped. -etcd-prefix, -advertise and
// -etcd-lease-ttl need -etcd.
//
// # Agent
//
// agent runs an executor of real processes linked to a fleet server
// (package agentlink) until SIGINT or SIGTERM. Its state directory -state
// DIR holds the executor's journal, the credentials (agentlink.json, mode
// 0600) and the last profile; it is created (mode 0700) when missing and
// refused, as serve's data directory is, when it is a symbolic link, is not
// this user's, or is writable by group or others. The first run enrols:
// -server URL -enroll CODE trades the one-time code the admin API gave at
// registration for the client's token. -enroll is refused when the
// directory already holds credentials, unless -reenroll is given, which
// replaces them (the journal is kept). Later runs need neither flag: they
// use the stored credentials, and a -server given then replaces the stored
// URL (a moved server). Without credentials, agent exits 1 and says to
// enrol. The URL must be https, unless its host is a loopback address or
// localhost: the bearer token must not cross a network in clear. -ca FILE
// adds the PEM certificates of a private CA to the system's. The agent
// runs from the last profile it applied, so it starts without a network;
// on its first run it waits for the server to serve a profile (with
// backoff, saying so on stderr), since it cannot plan without one. It logs
// on stderr (log/slog), a line at start with the client, the server and
// the state directory. On SIGINT or SIGTERM it stops the link and the
// executor, whose runs in flight get SIGTERM then SIGKILL after the grace
// and are recorded as interrupted, and exits 0. Exit status 1 when it
// cannot start.
//
// # Modules
//
// This command is its own module, so that its dependencies (the server's
// store, later etcd's client) never become the library's. Its go.mod
// requires the root module at a pseudo-version, a commit of main, and has no
// replace directive, because `go install pkg@version` refuses a go.mod with
// one: installed that way, the command builds against exactly the version
// its go.mod names. While developing, go.work at the repository root makes
// the working tree of the root module the one every module of the workspace
// builds with; go.work also replaces that pseudo-version by the working tree,
// since the go command reads the go.mod of a required version even when a
// workspace module stands in for it, and the commit is not published yet.
// When the command starts to use an API of the root module newer than the
// required commit, raise the requirement to a commit of main that has it, in
// the same change or the next: `go mod edit -require` here and in go.work's
// replace line (the test TestModulesPublishable of the root module checks that they agree and that
// go.mod has no replace; .ci/run checks that this module builds against the
// required commit alone, that the commit is in the history of HEAD, and
// prints the two commands that raise the requirement when it is not). The
// command also requires the etcd module of the repository
// (github.com/afterhours-go/afterhours/etcd, for serve -etcd) the same way:
// at a pseudo-version, with go.work's replace line for it; the etcd module
// requires the root module too, and when both name it, the higher version
// is the one built with.
package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, time.Now()))
}

// command is one subcommand: its name, a line of usage and the function that
// runs it. Each writes its output to stdout and its problems to stderr and
// returns the exit status; now stands for the current time.
type command struct {
	name, usage, summary string
	run                  func(args []string, stdout, stderr io.Writer, now time.Time) int
}

// commands lists the subcommands in the order help shows them.
var commands []command

func init() {
	commands = []command{
		{"validate", "validate FILE", "check a profile; print every problem with its field path", runValidate},
		{"plan", "plan FILE [-at TIME] [-json|-svg]", "print the plan of the cycle at TIME (default now)", runPlan},
		{"forecast", "forecast FILE -days N [-at TIME] [-json]", "print the plans of N consecutive cycles", runForecast},
		{"export", "export FILE -crontab|-systemd [-at TIME]", "print recurring tasks as crontab lines or systemd units", runExport},
		{"affected", "affected FILE -resource R -days N [-at TIME] [-csv|-json]", "list the tasks a resource's downtimes affect", runAffected},
		{"explain", explainUsage, "say why a task runs when it does, or why not, cycle by cycle", runExplain},
		{"schema", "schema", "print the JSON Schema of the profile", runSchema},
		{"serve", serveUsage, "run the fleet server on a data directory until SIGINT or SIGTERM", runServe},
		{"agent", agentUsage, "run a fleet agent: the executor linked to a server, until SIGINT or SIGTERM", runAgent},
		{"help", "help [COMMAND]", "print this help, or a command's", runHelp},
	}
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1 // the profile cannot be read, is invalid, or cannot be planned
	exitUsage   = 2 // a bad command line
	exitPartial = 3 // export: some tasks could not be exported
)

// run is the whole command: it dispatches args[0] to its subcommand.
func run(args []string, stdout, stderr io.Writer, now time.Time) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr, now)
		}
	}
	fmt.Fprintf(stderr, "afterhours: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: afterhours COMMAND [ARGS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "TIME is RFC 3339 (2026-11-24T21:00:00Z) or site-local (2026-11-24T21:00).")
	fmt.Fprintln(w, "Run \"afterhours help COMMAND\" or \"afterhours COMMAND -h\" for a command's flags.")
}

// runHelp prints the usage, or a command's flags.
func runHelp(args []string, stdout, stderr io.Writer, now time.Time) int {
	switch {
	case len(args) == 0, len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		usage(stdout)
		return exitOK
	case len(args) > 1:
		fmt.Fprintln(stderr, "usage: afterhours help [COMMAND]")
		return exitUsage
	}
	for _, c := range commands {
		if c.name == args[0] && c.name != "help" {
			return c.run([]string{"-h"}, stdout, stderr, now)
		}
	}
	if args[0] == "help" {
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "afterhours: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}
