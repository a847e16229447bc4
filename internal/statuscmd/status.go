// Package statuscmd is `keepalived-go status`: the running daemon's state
// for a terminal, read from its API (/status and
// /status/virtual_servers), with an exit code a script or a monitoring
// check can act on. keepalived has no such command: its state is in
// the dumps that signals write.
package statuscmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/api"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// Exit codes: as monitoring plugins read them.
const (
	OK          = 0 // every instance BACKUP or MASTER, every quorum up
	Degraded    = 1 // an instance in FAULT, or a virtual server's quorum lost
	Unreachable = 2 // the daemon did not answer (not running, no API)
)

// DefaultAddress is the API's address when none is given: the
// exporters' port on the loopback.
const DefaultAddress = "127.0.0.1:9165"

// Run is `keepalived-go status [--web.listen-address=ADDR] [--json]`.
func Run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keepalived-go status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("web.listen-address", DefaultAddress, "the daemon's API address (its --web.listen-address)")
	fs.StringVar(addr, "api-listen", DefaultAddress, "the same as --web.listen-address")
	asJSON := fs.Bool("json", false, "print the state as JSON (both documents) instead of a table")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the daemon")
	if err := fs.Parse(args); err != nil {
		return Unreachable
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	st, err := fetch(ctx, "http://"+*addr)
	if err != nil {
		fmt.Fprintf(stderr, "keepalived-go status: %v (is the daemon running with --web.listen-address=%s?)\n", err, *addr)
		return Unreachable
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(st)
	} else {
		st.write(stdout)
	}
	return st.code()
}

// state is what the daemon says.
type state struct {
	Instances      []api.InstanceJSON `json:"vrrp_instances"`
	VirtualServers []lvs.PoolStatus   `json:"virtual_servers"`
}

func fetch(ctx context.Context, base string) (*state, error) {
	var st state
	if err := getJSON(ctx, base+"/status", &st.Instances); err != nil {
		return nil, err
	}
	if err := getJSON(ctx, base+"/status/virtual_servers", &st.VirtualServers); err != nil {
		return nil, err
	}
	return &st, nil
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// code is the exit code the state calls for.
func (st *state) code() int {
	for _, in := range st.Instances {
		if in.State == "FAULT" {
			return Degraded
		}
	}
	for _, vs := range st.VirtualServers {
		if !vs.QuorumUp {
			return Degraded
		}
	}
	return OK
}

// write prints the state as two tables.
func (st *state) write(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(st.Instances) > 0 {
		fmt.Fprintln(tw, "VRRP INSTANCE\tSTATE\tINTERFACE\tVRID\tPRIORITY\tVIPS\tSINCE")
		for _, in := range st.Instances {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", in.Name, in.State, in.Interface, in.VRID,
				priority(in), strings.Join(in.VIPs, ","), since(in.LastTransition))
		}
	}
	if len(st.VirtualServers) > 0 {
		if len(st.Instances) > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintln(tw, "VIRTUAL SERVER\tQUORUM\tREAL SERVER\tSTATE\tWEIGHT")
		for _, vs := range st.VirtualServers {
			quorum := "up"
			if !vs.QuorumUp {
				quorum = "LOST"
			}
			if len(vs.Servers) == 0 {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\n", vs.Name, quorum)
			}
			for i, rs := range vs.Servers {
				name, q := vs.Name, quorum
				if i > 0 {
					name, q = "", ""
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", name, q, rs.Name, serverState(rs), rs.Weight)
			}
			if vs.Sorry != nil {
				state := "standby"
				if vs.SorryIn {
					state = "IN USE"
				}
				fmt.Fprintf(tw, "\t\t%s (sorry server)\t%s\t%d\n", vs.Sorry.Name, state, vs.Sorry.Weight)
			}
		}
	}
	if len(st.Instances) == 0 && len(st.VirtualServers) == 0 {
		fmt.Fprintln(tw, "no VRRP instance and no virtual server")
	}
	tw.Flush()
}

func priority(in api.InstanceJSON) string {
	if in.Priority == in.BasePriority {
		return fmt.Sprint(in.Priority)
	}
	return fmt.Sprintf("%d (base %d)", in.Priority, in.BasePriority)
}

func serverState(rs lvs.ServerStatus) string {
	if rs.Alive {
		return "UP"
	}
	if rs.FailedCheckers > 0 {
		return fmt.Sprintf("DOWN (%d checker(s) failing)", rs.FailedCheckers)
	}
	return "DOWN"
}

// since is how long ago the last transition was, to the second.
func since(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return time.Since(*t).Truncate(time.Second).String() + " ago"
}
