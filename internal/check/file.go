package check

import "math"

// WeightFault is keepalived's IPVS_WEIGHT_FAULT (ip_vs.h): a FILE_CHECK
// whose weighted value comes to it or below is down.
const WeightFault = math.MinInt32

// File is FILE_CHECK (check_file.c): the value of a track_file, which
// the daemon follows with inotify (internal/track's FileWatch); there is
// no probe and no schedule, each new value applies at once.
//
// With Weight 0 a non-zero value means down (with Reverse, a zero one).
// Otherwise value × Weight, negated by Reverse, is added to the real
// server's weight, and a result at or below WeightFault means down
// (track_file.c update_track_file_status and
// process_update_checker_track_file_status).
type File struct {
	// TrackFile is the track_file's name.
	TrackFile string
	// Weight and Reverse are the FILE_CHECK's weight keyword, else the
	// track_file's (check_file.c file_end_handler).
	Weight  int
	Reverse bool
}

// Status is what value means: down, or up with the weight it adds. The
// product is kept within the int range as keepalived's weight_range does.
func (f File) Status(value int64) (down bool, adjust int64) {
	if f.Weight == 0 {
		return (value != 0) != f.Reverse, 0
	}
	w := int64(f.Weight)
	if f.Reverse {
		w = -w
	}
	s := max(math.MinInt32, min(value*w, math.MaxInt32))
	if s <= WeightFault {
		return true, 0
	}
	return false, s
}
