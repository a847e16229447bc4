package config

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// track_file and vrrp_track_process, read as keepalived 2.2.7 reads them
// (trackers/track_file.c, vrrp/vrrp_parser.c vrrp_tprocess_*), with its
// messages, cited at the keyword's line (the missing file or process at the
// block's closing brace, where keepalived's end handler runs). The result
// is on each block's Resolved; Config.TrackFileSpecs and
// Config.TrackProcessSpecs give the usable ones by name, as the runtime
// needs them.

// TrackFileInit is what init_file asks for at start.
type TrackFileInit int

const (
	TrackFileNoInit    TrackFileInit = iota // no init_file
	TrackFileCreate                         // init_file [VALUE]: write VALUE if the file does not exist
	TrackFileOverwrite                      // init_file [VALUE] overwrite: write it even if it exists (not at a reload)
)

func (m TrackFileInit) String() string {
	switch m {
	case TrackFileCreate:
		return "create"
	case TrackFileOverwrite:
		return "overwrite"
	}
	return "none"
}

// TrackFileSpec is a track_file block as keepalived keeps it.
type TrackFileSpec struct {
	Name      string
	Pos       Pos // the track_file line
	Path      string
	Weight    int // in [-254, 254]; 1 unless set (track_file_handler)
	Reverse   bool
	Init      TrackFileInit
	InitValue int // what init_file writes (0 unless given)
}

// TrackProcessParamMatch is how a process's parameters must match.
type TrackProcessParamMatch int

const (
	ParamMatchNone    TrackProcessParamMatch = iota // the name alone
	ParamMatchExact                                 // exactly the configured parameters
	ParamMatchPartial                               // the first parameters are the configured ones
	ParamMatchInitial                               // as partial, but the last configured one may be a prefix
)

func (m TrackProcessParamMatch) String() string {
	return [...]string{"none", "exact", "partial", "initial"}[m]
}

// TrackProcessNoQuorumMax is keepalived's default quorum_max (UINT_MAX).
const TrackProcessNoQuorumMax = math.MaxUint32

// TrackProcessSpec is a vrrp_track_process block as keepalived keeps it.
type TrackProcessSpec struct {
	Name string
	Pos  Pos // the vrrp_track_process line
	// Process is the process name (matched against comm), or argv[0]
	// when FullCommand is set.
	Process string
	// Params are the words after the process name; with any, ParamMatch
	// is at least ParamMatchExact and FullCommand is set.
	Params      []string
	ParamMatch  TrackProcessParamMatch
	FullCommand bool
	// The process is up while the number running is in [Quorum,
	// QuorumMax]: Quorum 1 and QuorumMax TrackProcessNoQuorumMax unless
	// set; quorum_max 0 makes Quorum 0 (up while none runs).
	Quorum, QuorumMax int
	Weight            int // in [-254, 254]; 0 (down means FAULT) unless set
	Reverse           bool
	// delay sets both; 0 unless set.
	TerminateDelay, ForkDelay time.Duration
}

// TrackFileSpecs are the track_file blocks keepalived keeps, by name: of
// two blocks with one name the first, which keepalived's lookup finds.
func (c *Config) TrackFileSpecs() map[string]*TrackFileSpec {
	out := map[string]*TrackFileSpec{}
	for _, tf := range c.TrackFiles {
		if s := tf.Resolved; s != nil && out[s.Name] == nil {
			out[s.Name] = s
		}
	}
	return out
}

// TrackProcessSpecs are the vrrp_track_process blocks keepalived keeps, by
// name: of two blocks with one name the first.
func (c *Config) TrackProcessSpecs() map[string]*TrackProcessSpec {
	out := map[string]*TrackProcessSpec{}
	for _, tp := range c.TrackProcesses {
		if s := tp.Resolved; s != nil && out[s.Name] == nil {
			out[s.Name] = s
		}
	}
	return out
}

// trackObjects resolves the track_file and vrrp_track_process blocks. It
// runs before the instances and virtual servers that refer to them.
func (v *validator) trackObjects() {
	if !v.cfg.stopped["vrrp"] || !v.cfg.stopped["check"] {
		// The VRRP and checker children both read track_file.
		for _, tf := range v.cfg.TrackFiles {
			tf.Resolved = v.trackFile(tf)
		}
	}
	if !v.cfg.stopped["vrrp"] {
		for _, tp := range v.cfg.TrackProcesses {
			tp.Resolved = v.trackProcess(tp)
		}
	}
}

// endPos is where keepalived's end-of-block handler reports: the closing
// brace, or the block's line if it has none.
func endPos(b *Block) Pos {
	if b.End.Line == 0 {
		return b.Pos
	}
	return b.End
}

// trackFile is track_file_handler and its keyword handlers; the keywords
// are applied in the order they were written.
func (v *validator) trackFile(tf *TrackFile) *TrackFileSpec {
	name := firstArg(tf.Args)
	s := &TrackFileSpec{Name: name, Pos: tf.Pos, Path: tf.File, Weight: 1}
	for _, kw := range inLineOrder(&tf.Block, "weight", "init_file") {
		pos := tf.PosOf(kw)
		if kw == "weight" {
			// track_file_weight_handler
			w := tf.Weight
			if n, msg := kaInt(w[0], -254, 254); msg != "" {
				v.at(pos, ExitConfigErrors, kw, "%s", msg)
				v.at(pos, ExitConfigErrors, kw, "Weight (%s) for track_file %s must be between [-254..254] inclusive. Ignoring...", w[0], name)
				s.Weight = 1
			} else {
				s.Weight = n
			}
			if len(w) > 1 {
				if w[1] == "reverse" {
					s.Reverse = true
				} else {
					v.at(pos, ExitConfigErrors, kw, "track_file %s unknown weight option %s", name, w[1])
				}
			}
			continue
		}
		// track_file_init_handler
		s.Init, s.InitValue = TrackFileCreate, 0
		for _, w := range tf.InitFile {
			w = strings.TrimLeft(w, lexWhiteSpace)
			switch {
			case w != "" && (isDigit(w[0]) || w[0] == '-'):
				n, msg := kaInt(w, math.MinInt32, math.MaxInt32)
				if msg != "" {
					v.at(pos, ExitConfigErrors, kw, "%s", msg)
					v.at(pos, ExitConfigErrors, kw, "Track file %s init value %s is invalid", name, w)
					n = 0
				} else if n < -254 || n > 254 {
					v.at(pos, ExitConfigErrors, kw, "Track file %s init value %d is outside sensible range [%d, %d]", name, n, -254, 254)
				}
				s.InitValue = n
			case w == "overwrite":
				s.Init = TrackFileOverwrite
			default:
				v.at(pos, ExitConfigErrors, kw, "Unknown track file init option %s", w)
			}
		}
	}
	if !tf.IsSet("file") {
		// track_file_end_handler
		v.at(endPos(&tf.Block), ExitConfigErrors, tf.Keyword, "No file set for track_file %s - ignoring", name)
		return nil
	}
	return s
}

// trackProcess is vrrp_tprocess_handler and its keyword handlers, in the
// order the keywords were written.
func (v *validator) trackProcess(tp *TrackProcess) *TrackProcessSpec {
	name := firstArg(tp.Args)
	s := &TrackProcessSpec{Name: name, Pos: tp.Pos, Quorum: 1, QuorumMax: TrackProcessNoQuorumMax}
	for _, kw := range inLineOrder(&tp.Block, "process", "param_match", "weight", "quorum", "quorum_max",
		"delay", "terminate_delay", "fork_delay", "full_command") {
		pos := tp.PosOf(kw)
		bad := func(format string, args ...any) { v.at(pos, ExitConfigErrors, kw, format, args...) }
		switch kw {
		case "process":
			s.Process = tp.Process[0]
			if len(tp.Process) > 1 {
				s.Params = tp.Process[1:]
				if s.ParamMatch == ParamMatchNone {
					s.ParamMatch = ParamMatchExact
				}
				s.FullCommand = true
			}
		case "param_match":
			switch {
			case len(tp.ParamMatch) == 0:
				s.ParamMatch = ParamMatchExact
			case tp.ParamMatch[0] == "initial":
				s.ParamMatch = ParamMatchInitial
			case tp.ParamMatch[0] == "partial":
				s.ParamMatch = ParamMatchPartial
			default:
				bad("Invalid param_match type %s - ignoring", tp.ParamMatch[0])
				continue
			}
			s.FullCommand = true
		case "weight":
			w := tp.Weight
			n, msg := kaInt(w[0], -254, 254)
			if msg != "" {
				bad("%s", msg)
				bad("Weight (%s) for vrrp_track_process %s must be between [-254..254] inclusive. Ignoring...", w[0], name)
				continue
			}
			if len(w) > 1 {
				if w[1] == "reverse" {
					s.Reverse = true
				} else {
					bad("vrrp_track_process %s unknown weight option %s", name, w[1])
				}
			}
			s.Weight = n
		case "quorum":
			a := firstArg(tp.Raw(kw))
			q, msg := kaUnsigned(a, 1, 65535)
			switch {
			case msg != "":
				bad("%s", msg)
				bad("Quorum (%s) for vrrp_track_process %s must be between [1..65535] inclusive. Ignoring...", a, name)
			case int(q) > s.QuorumMax:
				bad("Quorum is greater than quorum_max - ignoring")
			default:
				s.Quorum = int(q)
			}
		case "quorum_max":
			a := firstArg(tp.Raw(kw))
			m, msg := kaUnsigned(a, 0, 65535)
			switch {
			case msg != "":
				bad("%s", msg)
				bad("quorum_max (%s) for vrrp_track_process %s must be between [0..65535] inclusive. Ignoring...", a, name)
			case (m != 0 || s.Quorum > 1) && int(m) < s.Quorum:
				// quorum_max 0 is allowed if quorum was not set above 1.
				bad("quorum_max is less than quorum - ignoring")
			default:
				s.QuorumMax = int(m)
				if m == 0 {
					s.Quorum = 0
				} else if s.Quorum == 0 {
					s.Quorum = 1
				}
			}
		case "delay", "terminate_delay", "fork_delay":
			// vrrp_tprocess_delay_general
			a := firstArg(tp.Raw(kw))
			us, ok, msgs := kaDecimal(a, 1, 3600*1e6, 6)
			for _, m := range msgs {
				bad("%s", m)
			}
			if !ok {
				bad("%s (%s) for vrrp_track_process %s must be between [0.000001..3600] inclusive. Ignoring...", kw, a, name)
				continue
			}
			d := time.Duration(us) * time.Microsecond
			if kw != "fork_delay" {
				s.TerminateDelay = d
			}
			if kw != "terminate_delay" {
				s.ForkDelay = d
			}
		case "full_command":
			s.FullCommand = true
		}
	}
	if s.Process == "" {
		// vrrp_tprocess_end_handler
		v.at(endPos(&tp.Block), ExitConfigErrors, tp.Keyword, "track process '%s' process name not specified", name)
		return nil
	}
	return s
}

// inLineOrder lists the keywords of kws written in block b, in the order
// of their lines (of a keyword written twice, the last is kept).
func inLineOrder(b *Block, kws ...string) []string {
	var set []string
	for _, kw := range kws {
		if b.IsSet(kw) {
			set = append(set, kw)
		}
	}
	sort.SliceStable(set, func(i, j int) bool {
		pi, pj := b.PosOf(set[i]), b.PosOf(set[j])
		return pi.File == pj.File && pi.Line < pj.Line
	})
	return set
}

// kaInt is keepalived's read_int_func in base 10 (lib/parser.c): C strtol,
// and the reader's message when s is not a number in [lo, hi].
func kaInt(s string, lo, hi int) (int, string) {
	n, used := strtol(s, 10)
	switch {
	case used != len(s):
		return int(n), fmt.Sprintf("invalid number '%s'", s)
	case n < math.MinInt32 || n > math.MaxInt32:
		return int(n), fmt.Sprintf("number '%s' outside integer range", s)
	case n < int64(lo) || n > int64(hi):
		return int(n), fmt.Sprintf("number '%s' outside range [%d, %d]", s, lo, hi)
	}
	return int(n), ""
}

// kaDecimal is keepalived's read_decimal_unsigned_long_func (lib/parser.c)
// for a decimal number with shift digits after the point, read as an
// integer of 10^-shift units: the reader's messages, and whether keepalived
// takes the value. Like keepalived it takes an invalid number whose leading
// digits are in range ("1e3" is 1 unit).
func kaDecimal(s string, lo, hi uint64, shift int) (uint64, bool, []string) {
	if strings.HasPrefix(s, "-") {
		return 0, false, []string{fmt.Sprintf("negative number '%s'", s)}
	}
	var msgs []string
	dp := strings.IndexByte(s, '.')
	numDP := 0
	if dp >= 0 {
		numDP = len(s) - dp - 1
	}
	roundUp := false
	if numDP > shift {
		msgs = append(msgs, fmt.Sprintf("number '%s' has too many decimal places", s))
		roundUp = s[dp+shift+1] >= '5'
		numDP = shift
	}
	digits := s
	if dp >= 0 {
		digits = s[:dp] + s[dp+1:dp+1+numDP]
	}
	digits += strings.Repeat("0", shift-numDP)
	val, valid, erange := cStrtoull(digits)
	if roundUp {
		val++
	}
	unit := uint64(math.Pow10(shift))
	switch {
	case !valid:
		msgs = append(msgs, fmt.Sprintf("invalid number '%s'", s))
	case erange:
		return val, false, append(msgs, fmt.Sprintf("number '%s' outside unsigned decimal range", s))
	case val < lo || val > hi:
		msgs = append(msgs, fmt.Sprintf("number '%s' outside range [%d.%0*d, %d.%0*d]", s, lo/unit, shift, lo%unit, hi/unit, shift, hi%unit))
	default:
		return val, true, msgs
	}
	return val, val >= lo && val <= hi, msgs
}

// cStrtoull is C strtoull(s, &end, 10): leading white space, a sign (a '-'
// negates modulo 2^64), digits. valid says the whole string was read;
// erange an overflow (the value is then the maximum).
func cStrtoull(s string) (val uint64, valid, erange bool) {
	i := 0
	for i < len(s) && strings.IndexByte(lexWhiteSpace, s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for ; i < len(s) && isDigit(s[i]); i++ {
		d := uint64(s[i] - '0')
		if val > (math.MaxUint64-d)/10 {
			erange = true
		}
		val = val*10 + d
	}
	if i == start {
		// No digits: nothing is read, end points at the start.
		return 0, s == "", false
	}
	if erange {
		val = math.MaxUint64
	} else if neg {
		val = -val
	}
	return val, i == len(s), erange
}
