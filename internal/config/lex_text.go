package config

import (
	"bytes"
	"strings"
)

// nextChunk emulates fgets(buf, 1024) plus the end-of-line handling of
// read_line(): a line longer than 1023 bytes comes back in pieces, each
// processed as a line of its own, exactly as keepalived does. Line numbers
// are the physical ones; keepalived's first pass cites the previous line for
// the first piece (it counts '\n's), which we do not copy.
func (l *lexer) nextChunk(f *srcFile) (string, bool) {
	if f.off >= len(f.text) {
		return "", false
	}
	if f.off == 0 {
		f.hasNUL = strings.IndexByte(f.text, 0) >= 0
	}
	startOfLine := f.off == 0 || f.text[f.off-1] == '\n'
	rest := f.text[f.off:]
	end := strings.IndexByte(rest, '\n') // of the physical line
	if end < 0 {
		end = len(rest)
	}
	n := min(len(rest), lexMaxBuf-1)
	if end < n {
		n = end + 1
	}
	chunk := rest[:n]
	f.off += n
	if startOfLine {
		f.line = f.nl + 1
		l.checkLongLine(rest[:end])
	}
	if chunk[len(chunk)-1] == '\n' {
		f.nl++
	}
	if f.hasNUL {
		if i := strings.IndexByte(chunk, 0); i >= 0 {
			// strlen() stops at the NUL, so keepalived silently drops the rest.
			l.note("Line contains a NUL character - the rest of the line is ignored")
			chunk = chunk[:i]
		}
	}
	return trimEOL(chunk), true
}

// trimEOL is strings.TrimRight(s, "\r\n").
func trimEOL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// checkLongLine warns about a physical line (without its '\n') that
// keepalived will split.
func (l *lexer) checkLongLine(line string) {
	if len(line) <= lexMaxBuf-1 {
		return
	}
	if n := len(strings.TrimRight(line, "\r")); n > lexMaxBuf-1 {
		l.note("Line is %d bytes long; keepalived reads it as several lines of at most %d bytes", n, lexMaxBuf-1)
	}
}

// decomment is keepalived's decomment(): it strips leading and trailing
// blanks and the comment ('!' or '#' outside double quotes), turns "\#" and
// "\!" into literal characters outside quotes, and keeps a trailing '\'
// (moving it next to the text) so definitions can continue.
func (l *lexer) decomment(s string) string {
	b := trimBlanks(s)
	if !hasAny(b, &decommentSpecial) {
		// Nothing to strip or unescape: the result is the text itself.
		return b
	}
	b = strings.TrimLeft(s, " \t")
	out := make([]byte, 0, len(b)+1)
	quote, cont, skip := false, false, -1
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			if skip < 0 {
				quote = !quote
			}
			out = append(out, c)
		case c == '\\' && i+1 == len(b):
			cont = true
		case c == '\\':
			if quote || (b[i+1] != '#' && b[i+1] != '!') {
				out = append(out, c)
			}
			out = append(out, b[i+1])
			i++
		case (c == '!' || c == '#') && !quote && skip < 0:
			skip = len(out)
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	if quote {
		l.configError("Unterminated quote '%s'", out)
	}
	if skip >= 0 {
		out = out[:skip]
	}
	out = bytes.TrimRight(out, " \t")
	if cont {
		out = append(out, '\\')
	}
	return string(out)
}

// byteSet is a set of bytes, for scanning without building one per call
// as strings.IndexAny does.
type byteSet [256]bool

func newByteSet(chars string) (set byteSet) {
	for i := 0; i < len(chars); i++ {
		set[chars[i]] = true
	}
	return set
}

var (
	decommentSpecial = newByteSet("\"\\!#")
	braceOrQuote     = newByteSet("{}\"")
	lexSpaceSet      = newByteSet(lexWhiteSpace)
	wordEndSet       = newByteSet(lexWhiteSpace + "\"")
)

// hasAny tells whether s has a byte of set.
func hasAny(s string, set *byteSet) bool {
	for i := 0; i < len(s); i++ {
		if set[s[i]] {
			return true
		}
	}
	return false
}

// trimBlanks strips leading and trailing spaces and tabs.
func trimBlanks(s string) string { return trimRightBlanks(trimLeftBlanks(s)) }

// trimLeftBlanks is strings.TrimLeft(s, " \t").
func trimLeftBlanks(s string) string {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return s[i:]
}

// trimRightBlanks is strings.TrimRight(s, " \t").
func trimRightBlanks(s string) string {
	j := len(s)
	for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[:j]
}

// splitBrace splits a line at its first '{' or '}' outside double quotes, as
// the end of read_line() does. A line starting with a brace yields just the
// brace; otherwise the text before it. The remainder is processed as the
// next line.
func splitBrace(buf string) (head, rest string, hasRest bool) {
	p := 0
	if buf[0] != '{' && buf[0] != '}' {
		p = findBrace(buf)
	}
	if p >= 0 {
		skip := 0
		if p == 0 {
			skip = 1 + len(buf[1:]) - len(trimLeftBlanks(buf[1:]))
		}
		if p+skip < len(buf) {
			rest, hasRest = trimRightBlanks(buf[p+skip:]), true
			buf = buf[:p+skip]
		}
	}
	return trimRightBlanks(buf), rest, hasRest
}

// findBrace returns the index of the first brace outside "..." or -1; an
// unterminated quote hides everything after it.
func findBrace(buf string) int {
	p := 0
	for {
		for p < len(buf) && !braceOrQuote[buf[p]] {
			p++
		}
		if p == len(buf) {
			return -1
		}
		if buf[p] != '"' {
			return p
		}
		j := strings.IndexByte(buf[p+1:], '"')
		if j < 0 {
			return -1
		}
		p += j + 2
	}
}

const lexWhiteSpace = " \t\f\n\r\v"

// appendTokens is alloc_strvec_r(): it appends the words of s to toks.
// Words are split on white space, "..." is one word without its quotes and
// with no escapes, and a '"' ends a word. An unterminated quote drops the
// rest of the line.
func appendTokens(toks []Token, s string, p position) (_ []Token, unmatched bool) {
	i := 0
	for {
		for i < len(s) && lexSpaceSet[s[i]] {
			i++
		}
		if i >= len(s) {
			return toks, false
		}
		t := Token{File: p.file, Line: p.line}
		if s[i] == '"' {
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return toks, true
			}
			t.Text, t.Quoted = s[i+1:i+1+j], true
			i += j + 2
		} else {
			j := i
			for j < len(s) && !wordEndSet[s[j]] {
				j++
			}
			t.Text = s[i:j]
			i = j
		}
		toks = append(toks, t)
	}
}

// strtol mimics C strtol(s, &end, base) for base 0 or 10: leading blanks, a
// sign, "0x" for hex and a leading 0 for octal when base is 0. It returns
// the value (saturated on overflow) and the number of bytes consumed (0 if
// there was no number).
func strtol(s string, base int) (int64, int) {
	i := 0
	for i < len(s) && strings.IndexByte(lexWhiteSpace, s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 0 {
		base = 10
		if i+1 < len(s) && s[i] == '0' && (s[i+1]|0x20) == 'x' && i+2 < len(s) && hexDigit(s[i+2]) >= 0 {
			base, i = 16, i+2
		} else if i < len(s) && s[i] == '0' {
			base = 8
		}
	}
	start := i
	var v uint64
	overflow := false
	for ; i < len(s); i++ {
		d := hexDigit(s[i])
		if d < 0 || d >= base {
			break
		}
		if v > (1<<63)/uint64(base) {
			overflow = true
		}
		v = v*uint64(base) + uint64(d)
		if v > 1<<63 {
			overflow = true
		}
	}
	if i == start {
		return 0, 0
	}
	switch {
	case overflow && neg:
		return -1 << 63, i
	case overflow || (!neg && v == 1<<63):
		return 1<<63 - 1, i
	case neg:
		return -int64(v), i
	}
	return int64(v), i
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isNameChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '_'
}
