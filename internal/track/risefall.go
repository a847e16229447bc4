package track

// RiseFall turns a series of check results into a verdict with
// keepalived's hysteresis (vrrp_script's rise and fall): a bad verdict
// turns good after rise successes in a row, a good one turns bad after
// fall failures in a row. A result that agrees with the verdict starts
// the count against it again.
//
// The zero value is a bad verdict with rise and fall 1. It is not safe for
// concurrent use.
type RiseFall struct {
	rise, fall    int
	good          bool
	okRun, badRun int // successes and failures in a row
}

// NewRiseFall is a verdict starting as good, that needs rise successes
// to turn good and fall failures to turn bad; below 1 they count as 1.
func NewRiseFall(rise, fall int, good bool) RiseFall {
	return RiseFall{rise: max(1, rise), fall: max(1, fall), good: good}
}

// Good is the verdict.
func (r *RiseFall) Good() bool { return r.good }

// Record counts one result and reports whether the verdict changed.
func (r *RiseFall) Record(ok bool) (changed bool) {
	if ok {
		r.okRun, r.badRun = r.okRun+1, 0
		if !r.good && r.okRun >= max(1, r.rise) {
			r.good = true
			return true
		}
		return false
	}
	r.badRun, r.okRun = r.badRun+1, 0
	if r.good && r.badRun >= max(1, r.fall) {
		r.good = false
		return true
	}
	return false
}
