// Package check is the health checkers of real servers: one probe per
// checker type (TCP_CHECK in tcp.go; the others follow), the pure Schedule
// that applies keepalived's retry, delay_before_retry, delay_loop, alpha
// and warmup rules to their results, and the Engine that runs thousands of
// them from one goroutine and a heap of deadlines, a probe's goroutine
// living only as long as the probe.
//
// keepalived's rules, read from check/check_api.c and the checkers'
// epilogs (check_tcp.c tcp_epilog and its siblings), are in schedule.go.
package check
