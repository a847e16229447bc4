// Package kernel is the only part of keepalived-go's VRRP side that talks to
// the Linux kernel: the raw IP protocol 112 sockets adverts travel on
// (VRRPConn), virtual addresses, routes and rules (rtnetlink, through
// github.com/vishvananda/netlink), the gratuitous ARP / unsolicited
// neighbour advertisement announcements a new master sends (AF_PACKET),
// and what the trackers (internal/track) watch:
//
//   - interface states (links.go): LinkStates lists them, WatchLinks
//     subscribes to their changes (RTNLGRP_LINK). A LinkWatch that ends
//     by itself says why (Err): netlink drops events for a socket whose
//     buffer is full, its next read fails with ENOBUFS, and the netlink
//     library ends the subscription there. The watcher must then
//     subscribe and list again (internal/track does);
//   - files (inotify.go): DirWatcher follows the files of directories
//     with inotify, as keepalived's track_file; ReadNonblocking reads a
//     file that may be a FIFO;
//   - processes (procfs.go, procconn.go): Pids and ReadProcess read /proc;
//     ProcConnector subscribes to the kernel's process events (the
//     netlink proc connector, which the kernel grants only to root in the
//     initial network namespace).
//
// Each subscription (LinkWatch, DirWatcher, ProcConnector) has one
// goroutine, which its Close ends and waits for: after Close nothing of it
// runs, and its channel is closed.
//
// The layers above (internal/vrrp's instances, internal/daemon) see it
// through the Kernel interface. Linux implements it for real; Fake is an
// in-memory implementation for unit tests, and FakeNet joins several Fakes
// into one simulated link so that adverts one Fake sends reach the others,
// which lets whole-instance tests run without root.
//
// # Conventions
//
//   - Addresses are netip values. IPv6 addresses are returned without zone;
//     the interface index travels separately (Packet.IfIndex,
//     Interface.Index).
//   - Address, route and rule changes are idempotent: adding something that
//     already exists, or deleting something that is already gone, returns
//     nil. Only the first call changes the kernel; repeating it (a reload,
//     a restart after a crash, two instances sharing a VIP) is harmless.
//   - Every socket and netlink request is created in the network namespace
//     of the calling OS thread. A daemon that runs in one namespace needs
//     nothing special; tests that switch namespaces per thread must create
//     their VRRPConns, and first use their Linux value, while switched (see
//     netns_test.go): a Linux's sockets, opened on first use, stay in that
//     namespace.
//
// # What keepalived does, and what this package copies
//
//   - Adverts: raw IP protocol 112, TTL / hop limit 255, to 224.0.0.18 or
//     ff02::12 (or a configured group), or unicast to each peer. The
//     socket is bound to its interface (SO_BINDTODEVICE), joins the group
//     on that interface only, turns IP_MULTICAST_ALL / IPV6_MULTICAST_ALL
//     off (so groups joined on other interfaces by other sockets do not
//     leak in) and multicast loopback off. The kernel writes the IP header;
//     the source address is pinned per packet (IP_PKTINFO /
//     IPV6_PKTINFO) so that the VRRPv3 checksum computed with Source()
//     matches what goes on the wire. IPv6 adverts come from the
//     interface's link-local address (RFC 5798 §5.1.2.1).
//   - Gratuitous ARP: keepalived sends an ARP request with sender IP =
//     target IP = the VIP, sender MAC = the interface's MAC, target MAC
//     ff:ff:ff:ff:ff:ff, to the Ethernet broadcast address, over an
//     AF_PACKET socket (vrrp_arp.c). GratuitousARP sends that request and
//     then the same as a reply, as MetalLB does, because some hosts only
//     update their caches from one of the two.
//   - Unsolicited NA: keepalived builds the whole frame on AF_PACKET
//     (vrrp_ndisc.c): Ethernet 33:33:00:00:00:01, IPv6 from the VIP itself
//     to ff02::1 with hop limit 255, ICMPv6 type 136 with Override set,
//     Solicited clear, Router set iff the interface forwards IPv6, and a
//     Target Link-Layer Address option with the interface's MAC.
//     UnsolicitedNA does the same. Sourcing from the VIP (rather than the
//     link-local address) also works while the link-local address is
//     still tentative.
//   - IPv6 VIPs are added with IFA_F_NODAD (no duplicate address
//     detection: the VRRP election is what guarantees uniqueness) and a
//     preferred lifetime of 0, i.e. deprecated, so the kernel never picks a
//     VIP as the source address of its own connections (kube-vip PR #1199).
//     Address.DAD and Address.Preferred opt out.
package kernel
