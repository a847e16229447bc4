package kernel

import (
	"fmt"
	"strconv"
	"sync"
)

// promoteSecondaries is the process-wide bookkeeping of keepalived's
// promote_secondaries: per network namespace and interface, how many
// holders want it and whether we turned it on.
var (
	promoteMu   sync.Mutex
	promoteRefs = map[string]*promoteState{} // ns/ifindex
)

type promoteState struct {
	refs    int
	changed bool // we set it to 1; the last release sets it back to 0
	name    string
}

// PromoteSecondaries turns net.ipv4.conf.IFNAME.promote_secondaries on
// for as long as a holder keeps it, in the calling thread's network
// namespace, as keepalived's set_promote_secondaries and
// reset_promote_secondaries (vrrp_if_config.c) do: an interface that has
// it already is left alone; one we turned it on for gets it turned off
// again when the last holder calls release. Without it, removing an
// interface's primary address also removes its secondaries, a VIP of the
// same subnet among them.
func PromoteSecondaries(ifname string) (release func() error, err error) {
	index, err := interfaceIndex(ifname)
	if err != nil {
		return nil, fmt.Errorf("kernel: promote_secondaries: %w", err)
	}
	ns, err := currentNetns()
	if err != nil {
		return nil, fmt.Errorf("kernel: promote_secondaries: %w", err)
	}
	key := ns + "/" + strconv.Itoa(index)
	promoteMu.Lock()
	defer promoteMu.Unlock()
	st := promoteRefs[key]
	if st == nil {
		v, err := readSysctl(ipv4Conf(ifname, "promote_secondaries"))
		if err != nil {
			return nil, fmt.Errorf("kernel: promote_secondaries: %w", err)
		}
		st = &promoteState{name: ifname}
		if v == 0 {
			if err := writeSysctl(ipv4Conf(ifname, "promote_secondaries"), 1); err != nil {
				return nil, fmt.Errorf("kernel: promote_secondaries: %w", err)
			}
			st.changed = true
		}
		promoteRefs[key] = st
	}
	st.refs++
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			promoteMu.Lock()
			defer promoteMu.Unlock()
			if st.refs--; st.refs > 0 {
				return
			}
			delete(promoteRefs, key)
			if st.changed {
				err = writeSysctl(ipv4Conf(st.name, "promote_secondaries"), 0)
			}
		})
		return err
	}, nil
}
