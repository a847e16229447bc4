// Package vrrpd is VRRP as the daemon runs it: keepalived's VRRP child
// process. It turns a configuration's vrrp_instance, vrrp_sync_group,
// tracking, notify and static address blocks into running vrrp.Instances
// with their sockets, VMACs, nftables tables, trackers and notifiers, and
// reloads them in place without dropping a VIP.
//
// The daemon sees it through Subsystem (New, Apply, Stop, Keywords): Apply
// starts the instances at start-up and carries their states over at a
// reload (reload.go); Stop makes masters resign and release their VIPs and
// returns once every goroutine has ended.
//
// What it builds on: internal/vrrp (the protocol and the instance driver),
// internal/kernel (sockets, addresses, routes, rules, VMACs, nftables,
// process scheduling), internal/runner (scripts). Tracking and notify are
// on their way to internal/track and internal/notify, which the health
// checkers will share.
package vrrpd
