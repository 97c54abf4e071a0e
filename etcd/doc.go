// Package etcd runs afterhours beyond one machine on etcd: the fleet
// server's [server.Store] shared by several server replicas ([Store]), and
// their leader election ([Election], a [server.Leadership]), and the
// shared state of a [fleet.Rollout] that several controller processes run
// together ([Coordinator], with [ReadRollout] for a monitor; the command
// etcd/examples/rollout runs one with N controllers). [Dial] gives the
// client they take.
//
// It is a module of its own (github.com/afterhours-go/afterhours/etcd), so
// that the users of the core library never download etcd's client; the
// afterhours command links it for `afterhours serve -etcd`.
//
// The client is go.etcd.io/etcd/client/v3 (v3.6), which speaks etcd's v3
// gRPC API; it is tested against Debian's etcd-server 3.4.23.
package etcd
