// Package metrics exports the state of an [afterhours.Executor] and of a
// [fleet.Rollout] as Prometheus metrics ([prometheus.Collector]s). The core
// packages do not import it: an agent that wants metrics registers the
// collectors of this package, and only it depends on client_golang.
//
// The collectors read what the executor and the rollout keep (their
// status, the executor's journal) when they are scraped, never a
// subscription to events, which drops events when its reader falls behind:
// a counter misses nothing that is in the journal when it is scraped. The
// journal keeps a limited number of cycles ([afterhours.WithRetention]),
// so a run is counted as long as a scrape comes before its cycle leaves
// the journal, which with a scrape every few minutes and a retention of
// days it always does.
package metrics
