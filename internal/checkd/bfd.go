package checkd

import (
	"fmt"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// BFD_CHECK without BFD. keepalived-go does not run BFD yet (bfd_instance
// is logged as not supported), so a BFD_CHECK never hears of its
// session. keepalived's BFD checker (check_bfd.c) has no probe of its
// own: it starts up, or down with alpha (check_data.c
// validate_check_config), and moves only when its bfd_instance reports a
// change (bfd_check_handle_event). Here it stays as it starts: without
// alpha it never fails and its real server counts it as up (a server
// whose only checker it is stays in the pool); with alpha it never comes
// up and keeps its server out, as keepalived does until a BFD session
// comes up, which here none does. The daemon says so, with the file and
// line, for each BFD_CHECK.

// bfdCheck is a BFD_CHECK of real server srv.
type bfdCheck struct {
	srv int
	up  bool
}

// bfdJob notes the BFD_CHECK c of the last real server of svc and says
// what it means.
func (svc *service) bfdJob(c *config.Checker) {
	i := len(svc.servers) - 1
	svc.bfd = append(svc.bfd, bfdCheck{srv: i, up: !c.Alpha})
	what := "it never fails: the real server counts it as up, as keepalived does until the BFD session reports"
	if c.Alpha {
		what = "with alpha it stays down: the real server stays out of the pool (keepalived brings it in when the BFD session comes up)"
	}
	svc.log.Warn(fmt.Sprintf("(%s: Line %d) BFD_CHECK of %s for VS %s: not acted on, keepalived-go runs no BFD yet (bfd_instance %s is not run); %s",
		c.Pos.File, c.Pos.Line, svc.servers[i].name, svc.name, c.Name, what))
}

// startBFD counts the BFD_CHECKs in the pool, before it starts.
func (svc *service) startBFD() {
	for _, b := range svc.bfd {
		svc.pool.AddChecker(b.srv, b.up)
	}
}
