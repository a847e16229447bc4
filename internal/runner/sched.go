package runner

import "golang.org/x/sys/unix"

// resetThreadScheduling gives the calling thread the normal policy and
// nice value 0 if it has another (vrrp_rt_priority, vrrp_priority), and
// says whether it changed anything. Lowering one's own scheduling needs no
// privilege.
func resetThreadScheduling() (bool, error) {
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return false, err
	}
	if attr.Policy == unix.SCHED_NORMAL && attr.Nice == 0 {
		return false, nil
	}
	normal := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}
	return true, unix.SchedSetAttr(0, &normal, 0)
}
