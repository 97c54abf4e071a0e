package etcd_test

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/etcd/etcdtest"
	"github.com/afterhours-go/afterhours/internal/testenv"
	"github.com/afterhours-go/afterhours/server"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// limitsConfig is one site and one sharing token with room for every
// client of the measurement.
const limitsConfig = `{
  "sites": [{"name": "leeds", "timezone": "Europe/London", "tags": ["retail"],
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"]}}],
  "sharing": [{"token": "pkg-repo", "zone": "UTC", "duration": "10m", "capacity": 1000}],
  "sets": [{"name": "base", "housekeeping": [{"name": "rotate-logs", "run": ["/usr/sbin/logrotate"], "estimate": "2m"}]}]
}`

// defaultQuota is etcd's default --quota-backend-bytes (2 GiB), and
// maxQuota the most etcd's documentation recommends (8 GiB).
const (
	defaultQuota = 2 << 30
	maxQuota     = 8 << 30
)

// etcdDB measures the database of a dedicated etcd server.
type etcdDB struct {
	cli      *clientv3.Client
	endpoint string
}

// settled compacts the history to the current revision, defragments, and
// returns the database's size then (what the quota is compared with).
func (d etcdDB) settled(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := d.cli.Get(ctx, "any")
	require.NoError(t, err)
	_, err = d.cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical())
	require.NoError(t, err)
	_, err = d.cli.Defragment(ctx, d.endpoint)
	require.NoError(t, err)
	st, err := d.cli.Status(ctx, d.endpoint)
	require.NoError(t, err)
	return st.DbSize
}

// raw returns the database's size without compaction: history included.
func (d etcdDB) raw(t *testing.T) int64 {
	t.Helper()
	st, err := d.cli.Status(context.Background(), d.endpoint)
	require.NoError(t, err)
	return st.DbSize
}

// kvBytes sums the sizes of the keys and values under prefix by their
// first segment after the store's "k/".
func (d etcdDB) kvBytes(t *testing.T, prefix string) map[string][2]int64 {
	t.Helper()
	resp, err := d.cli.Get(context.Background(), prefix, clientv3.WithPrefix())
	require.NoError(t, err)
	out := map[string][2]int64{} // category: count, bytes
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), prefix)
		cat := k
		if rest, ok := strings.CutPrefix(k, "k/"); ok {
			cat, _, _ = strings.Cut(rest, "/")
		}
		v := out[cat]
		v[0]++
		v[1] += int64(len(kv.Key) + len(kv.Value))
		out[cat] = v
	}
	return out
}

// TestEtcdLimits measures what a fleet costs in etcd, on a server of its
// own (so that nothing else is in its database): the bytes of the
// database, compacted and defragmented, per client (registered and
// enrolled), per acknowledged command and per report summary, and the raw
// growth of the history before compaction; from them, how many clients one
// cluster holds with etcd's default quota and with 8 GiB. The README's
// section "Running on etcd" quotes its output:
//
//	go test -run TestEtcdLimits -v ./etcd
func TestEtcdLimits(t *testing.T) {
	bin, err := exec.LookPath("etcd")
	testenv.Require(t, err == nil, "no etcd binary: install etcd-server (apt-get install etcd-server)")
	url, stop, err := etcdtest.Start(bin)
	require.NoError(t, err)
	defer stop()
	cli, err := etcd.Dial([]string{url})
	require.NoError(t, err)
	defer cli.Close()
	db := etcdDB{cli: cli, endpoint: url}
	const prefix = "/afterhours/"
	store, err := etcd.NewStore(cli, prefix)
	require.NoError(t, err)
	defer store.Close()
	f, err := server.OpenFleet(store)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.SetConfig([]byte(limitsConfig)))

	clients := 400
	if testing.Short() {
		clients = 100
	}
	empty := db.settled(t)

	// Clients: registered in batches, each enrolled.
	var ids []string
	for i := 0; i < clients; i += 100 {
		var batch []server.Client
		for j := i; j < min(i+100, clients); j++ {
			id := fmt.Sprintf("shop-%05d", j)
			batch = append(batch, server.Client{ID: id, Site: "leeds", LAN: "lan-" + id})
			ids = append(ids, id)
		}
		codes, err := f.Register(batch...)
		require.NoError(t, err)
		for _, code := range codes {
			_, _, err := f.Enroll(code)
			require.NoError(t, err)
		}
	}
	withClients := db.settled(t)

	// One command for every client, acknowledged by each.
	_, _, err = f.Queue(server.NewCommand{ID: "vacuum-2026-11-24", Run: []string{"/usr/bin/vacuumdb", "--all", "--analyze"}, Clients: ids})
	require.NoError(t, err)
	for _, id := range ids {
		_, err := f.Ack(id, "vacuum-2026-11-24", "accepted", "")
		require.NoError(t, err)
	}
	withCommands := db.settled(t)

	// Two nights of report summaries per client, with a failed run each.
	rawBefore := db.raw(t)
	for night, cycle := range []string{"2026-11-24", "2026-11-25"} {
		for _, id := range ids {
			_, err := f.PutReport(id, server.Report{Cycle: cycle, Seq: 1,
				Counts: map[afterhours.State]int{afterhours.StateCompleted: 7, afterhours.StateFailed: 1},
				Failed: []server.FailedRun{{Task: "rotate-logs", Kind: afterhours.Housekeeping, Error: "exit status 1", ExitCode: 1,
					Start: time.Date(2026, 11, 24+night, 21, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 24+night, 21, 2, 0, 0, time.UTC)}}})
			require.NoError(t, err)
		}
	}
	rawGrowth := db.raw(t) - rawBefore
	withReports := db.settled(t)
	reports := 2 * clients

	kv := db.kvBytes(t, prefix)
	var cats []string
	for c := range kv {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	for _, c := range cats {
		t.Logf("keys %-10s %6d keys, %5d bytes each (key and value)", c, kv[c][0], kv[c][1]/max(kv[c][0], 1))
	}

	perClient := float64(withClients-empty) / float64(clients)
	perCommand := float64(withCommands-withClients) / float64(clients)
	perReport := float64(withReports-withCommands) / float64(reports)
	t.Logf("etcd %s database, compacted and defragmented: empty fleet %d bytes; per client (registered, enrolled) %.0f bytes; per acknowledged command %.0f bytes; per report summary %.0f bytes",
		serverVersion(t, db), empty, perClient, perCommand, perReport)
	t.Logf("history before compaction: %d report summaries grew the database by %.0f bytes each", reports, float64(rawGrowth)/float64(reports))
	require.Positive(t, perClient)
	require.Positive(t, perCommand)
	require.Positive(t, perReport)

	// A client at the server's retention: KeepCycles report summaries and
	// KeepAcked commands; and a typical one: 30 nights, 10 commands.
	full := perClient + server.KeepAcked*perCommand + server.KeepCycles*perReport
	typical := perClient + 10*perCommand + server.KeepCycles*perReport
	for _, q := range []struct {
		name  string
		bytes float64
	}{{"2 GiB (default quota)", defaultQuota}, {"8 GiB", maxQuota}} {
		t.Logf("%s: %.0f clients at full retention (%d reports, %d commands each: %.0f bytes), %.0f clients with 30 reports and 10 commands each (%.0f bytes)",
			q.name, q.bytes/full, server.KeepCycles, server.KeepAcked, full, q.bytes/typical, typical)
	}
}

// serverVersion returns the etcd server's version.
func serverVersion(t *testing.T, d etcdDB) string {
	st, err := d.cli.Status(context.Background(), d.endpoint)
	require.NoError(t, err)
	return st.Version
}
