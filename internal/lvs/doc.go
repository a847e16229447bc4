// Package lvs is the load-balancing half's pure core: Pool keeps a
// virtual server's real servers, quorum (with hysteresis) and sorry
// server as keepalived's check/ipwrapper.c does, turns checker results
// into the notifications keepalived sends (notify_up/down, quorum_up/down,
// FIFO lines) with its log lines, and says which destinations the kernel
// should hold. The backends that program IPVS or nftables from it come
// with the data-plane work.
package lvs
