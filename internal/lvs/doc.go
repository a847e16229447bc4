// Package lvs is the load-balancing half's pure core: Pool keeps a
// virtual server's real servers, quorum (with hysteresis) and sorry
// server as keepalived's check/ipwrapper.c does, turns checker results
// into the notifications keepalived sends (notify_up/down, quorum_up/down,
// FIFO lines) with its log lines, and says which destinations the kernel
// should hold.
//
// Reconcile (pure) turns the desired services and those a Backend
// observes into the fewest kernel operations; a Syncer keeps a backend
// equal to the desired services with it (all of them at start and
// reload, one after a pool change); over a Watcher (nftables, from the
// ruleset generation) a sync reads the kernel back only when something
// else changed it. The backends: ipvs/ (the kernel's
// IPVS, as keepalived programs it) and nftables/ (destination NAT in a
// table of our own, where the kernel has no IPVS). FakeBackend is for
// tests.
package lvs
