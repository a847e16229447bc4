package config

import (
	"strconv"
	"strings"
)

// lexSeq is one ~SEQ or ~LST: the rest of its line (text) is read once per
// value with the variable(s) defined.
type lexSeq struct {
	text string
	// ~SEQ
	name             string
	next, step, last int64
	hex              bool
	// ~LST
	params []string
	values [][]string // each set has len(params) values
	vi     int
}

// addSequence handles a line starting ~SEQ or ~LST.
func (l *lexer) addSequence(buf string) {
	if buf[1] == 'S' {
		if !l.addSeq(buf) {
			l.configError("Invalid ~SEQ specification '%s'", buf)
		}
		return
	}
	if !l.addLst(buf) {
		l.configError("Invalid ~LST specification '%s'", buf)
	}
}

// nextSeqLine returns the next repetition of the innermost sequence; nested
// sequences are started by the text itself and so run inside the outer one.
func (l *lexer) nextSeqLine() string {
	s := l.seqs[len(l.seqs)-1]
	done := false
	if s.params == nil {
		if s.hex {
			l.setDefinition(s.name, strconv.FormatUint(uint64(s.next), 16))
		} else {
			l.setDefinition(s.name, strconv.FormatInt(s.next, 10))
		}
		n := s.next + s.step
		// keepalived overflows here; stopping is what the user meant.
		overflow := (s.step > 0 && n < s.next) || (s.step < 0 && n > s.next)
		s.next = n
		done = overflow || (s.step > 0 && n > s.last) || (s.step < 0 && n < s.last)
	} else {
		for i, p := range s.params {
			l.setDefinition(p, s.values[s.vi][i])
		}
		s.vi++
		done = s.vi >= len(s.values)
	}
	if done {
		l.seqs = l.seqs[:len(l.seqs)-1]
	}
	return s.text
}

// at returns s[i], or 0 past the end as a C string would.
func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// spanBlank returns the index after any blanks (strspn(" \t")) from i.
func spanBlank(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// spanNot returns the index of the first byte of set at or after i
// (strcspn), or len(s).
func spanNot(s string, i int, set string) int {
	if j := strings.IndexAny(s[i:], set); j >= 0 {
		return i + j
	}
	return len(s)
}

// addSeq parses "~SEQ(var, [start,] [step,] end) text" (add_seq()).
// Parameters may use definitions; numbers are C strtol base 0.
func (l *lexer) addSeq(buf string) bool {
	p := 4
	hex := at(buf, p) == 'x'
	if hex {
		p++
	}
	p = spanBlank(buf, p)
	if at(buf, p) != '(' {
		return false
	}
	p = spanBlank(buf, p+1)
	v := p
	p = spanNot(buf, p, " \t,)")
	name := buf[v:p]
	p = spanBlank(buf, p)
	if p >= len(buf) || buf[p] == ')' || name == "" {
		l.configError("Invalid ~SEQ definition '%s'", buf)
		return false
	}
	p = spanBlank(buf, p+1) // skip the separator, whatever it is, as keepalived does
	end := strings.IndexByte(buf[p:], ')')
	if end < 0 {
		l.configError("Invalid ~SEQ definition '%s'", buf)
		return false
	}
	end += p
	if end+1-p+1 > 3*20+3+1 {
		l.configError("~SEQ parameter strings too long '%s'", buf)
		return false
	}
	var ml mlPtr
	args, _ := l.replaceParams(buf[p:end+1], 3*20+3+1, &ml)
	if ml.active {
		l.configError("~SEQ parameter is multiline definition '%s'", buf)
		return false
	}
	start, step, last, ok := l.seqValues(args, buf)
	if !ok {
		return false
	}
	if hex && (start < 0 || last < 0) {
		l.configError("~SEQx is only valid for positive numbers '%s'", buf)
		return false
	}
	text := buf[spanBlank(buf, end+1):]
	l.seqs = append(l.seqs, &lexSeq{text: text, name: name, next: start, step: step, last: last, hex: hex})
	return true
}

// seqValues parses "[start,] [step,] end)" with keepalived's defaults: start
// 1 (or -1 if end < 0) and step 1 or -1 towards end.
func (l *lexer) seqValues(args, buf string) (start, step, last int64, ok bool) {
	var nums []int64
	p := 0
	for {
		n, used := strtol(args[p:], 0)
		nums = append(nums, n)
		p = spanBlank(args, p+used)
		if at(args, p) == ')' {
			break
		}
		if at(args, p) != ',' || len(nums) == 3 {
			l.configError("Invalid ~SEQ definition '%s'", buf)
			return 0, 0, 0, false
		}
		p++
	}
	switch len(nums) {
	case 1:
		last = nums[0]
		start, step = 1, 1
		if last < 0 {
			start = -1
		}
		if last < 1 {
			step = -1
		}
	case 2:
		start, last, step = nums[0], nums[1], 1
		if start > last {
			step = -1
		}
	default:
		start, step, last = nums[0], nums[1], nums[2]
		if step == 0 || (start < last && step < 0) || (start > last && step > 0) {
			l.configError("Invalid ~SEQ values '%s'", buf)
			return 0, 0, 0, false
		}
	}
	return start, step, last, true
}

// addLst parses "~LST(var, v1, v2, ...) text" or
// "~LST({a,b}, {1,2}, {3,4}, ...) text" (add_lst()). Missing values in a
// set are empty; values cannot contain blanks.
func (l *lexer) addLst(buf string) bool {
	p := spanBlank(buf, 4)
	if at(buf, p) != '(' {
		return false
	}
	params, p, ok := lstList(buf, spanBlank(buf, p+1), " \t,}", false)
	if !ok {
		return false
	}
	if at(buf, p) != ',' {
		return false
	}
	p = spanBlank(buf, p+1)
	seq := &lexSeq{params: params}
	for {
		vals, q, ok := lstList(buf, p, " \t,})", true)
		if !ok {
			return false
		}
		if len(vals) > len(params) {
			l.configError("~LST specification has too many values '%s'", buf)
			return false
		}
		for len(vals) < len(params) {
			vals = append(vals, "")
		}
		seq.values = append(seq.values, vals)
		if p = q; at(buf, p) == ')' {
			break
		}
		if at(buf, p) != ',' {
			return false
		}
		p = spanBlank(buf, p+1)
	}
	seq.text = buf[spanBlank(buf, p+1):]
	l.seqs = append(l.seqs, seq)
	return true
}

// lstList reads one ~LST element: a single word, or a {a,b,...} group. It
// returns the words and the index after the element (and any blanks after
// a closing '}').
func lstList(buf string, p int, stop string, values bool) ([]string, int, bool) {
	endChar := byte(',')
	if at(buf, p) == '{' {
		endChar = '}'
		p = spanBlank(buf, p+1)
	}
	var words []string
	for {
		q := spanNot(buf, p, stop)
		words = append(words, buf[p:q])
		p = spanBlank(buf, q)
		c := at(buf, p)
		if c == endChar || (values && c == ')' && endChar == ',') {
			break
		}
		if c != ',' {
			return nil, p, false
		}
		p = spanBlank(buf, p+1)
	}
	if endChar == '}' {
		p = spanBlank(buf, p+1)
	}
	return words, p, true
}
