package check

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"regexp/syntax"
	"strings"
)

// Regex is a url's regex with its options and offsets (check_http.c
// check_regex), run with Go's regexp (RE2) instead of PCRE2:
//
//   - PCRE-only syntax (backreferences, lookaround, atomic groups,
//     possessive quantifiers, \K, \R, \h) does not compile; the URL then
//     fails (keepalived's failed compile leaves it failing too);
//   - Go matches UTF-8 text: '.' and classes take a character, not a
//     byte; invalid UTF-8 reads as U+FFFD. PCRE2 without "utf" works on
//     bytes;
//   - options: caseless, multiline, dotall, ungreedy, extended,
//     dollar_endonly and firstline act as in PCRE2; the others (utf, ucp,
//     no_auto_capture, no_start_optimize, auto_callout, ...) change
//     nothing Go can express and are ignored;
//   - '$' without multiline matches at the end and before a final
//     newline, as PCRE2's does (Go's would match only at the end);
//   - regex_min_offset skips that many bytes: the match cannot look
//     behind them, and '^' (without multiline) matches at the offset;
//   - regex_stack sizes PCRE2's JIT stack and means nothing here.
//
// The body is searched as it streams, with memory bounded by the
// pattern, not the page.
type Regex struct {
	Pattern string
	// NoMatch is regex_no_match: a match fails the check.
	NoMatch bool
	// MinOffset is regex_min_offset; MaxOffset, if HasMax, is
	// regex_max_offset: the last offset at which a match may start.
	MinOffset int64
	MaxOffset int64
	HasMax    bool

	re        *regexp.Regexp
	firstLine bool
}

// regexFlags are the PCRE2 options Go can follow, as syntax flags.
var regexFlags = map[string]syntax.Flags{
	"caseless": syntax.FoldCase,
	"dotall":   syntax.DotNL,
	"ungreedy": syntax.NonGreedy,
}

// regexOptions are the options keepalived knows (check_http.c
// regex_options); an unknown word is ignored, as keepalived does.
var regexOptions = map[string]bool{
	"allow_empty_class": true, "alt_bsux": true, "auto_callout": true, "caseless": true,
	"dollar_endonly": true, "dotall": true, "dupnames": true, "extended": true, "firstline": true,
	"match_unset_backref": true, "multiline": true, "never_ucp": true, "never_utf": true,
	"no_auto_capture": true, "no_auto_possess": true, "no_dotstar_anchor": true,
	"no_start_optimize": true, "ucp": true, "ungreedy": true, "utf": true,
	"never_backslash_c": true, "alt_circumflex": true, "alt_verbnames": true, "use_offset_limit": true,
}

// CompileRegex compiles a url's regex with its regex_options.
func CompileRegex(pattern string, options []string) (*Regex, error) {
	flags := syntax.Perl
	multiline, dollarEndOnly, extended, firstLine := false, false, false, false
	for _, o := range options {
		if !regexOptions[o] {
			continue
		}
		flags |= regexFlags[o]
		switch o {
		case "multiline":
			multiline = true
		case "dollar_endonly":
			dollarEndOnly = true
		case "extended":
			extended = true
		case "firstline":
			firstLine = true
		}
	}
	if multiline {
		flags &^= syntax.OneLine
	}
	p := pattern
	if extended {
		p = stripExtended(p)
	}
	tree, err := syntax.Parse(p, flags)
	if err != nil {
		return nil, err
	}
	if !multiline && !dollarEndOnly {
		tree = pcreDollar(tree)
	}
	re, err := regexp.Compile(tree.String())
	if err != nil {
		return nil, fmt.Errorf("%q: %w", pattern, err)
	}
	return &Regex{Pattern: pattern, re: re, firstLine: firstLine}, nil
}

// pcreDollar makes each '$' of a one-line pattern match before a final
// newline too: \n?\z.
func pcreDollar(re *syntax.Regexp) *syntax.Regexp {
	if re.Op == syntax.OpEndText && re.Flags&syntax.WasDollar != 0 {
		nl := &syntax.Regexp{Op: syntax.OpLiteral, Rune: []rune{'\n'}}
		return &syntax.Regexp{Op: syntax.OpConcat, Sub: []*syntax.Regexp{
			{Op: syntax.OpQuest, Sub: []*syntax.Regexp{nl}},
			{Op: syntax.OpEndText},
		}}
	}
	for i, s := range re.Sub {
		re.Sub[i] = pcreDollar(s)
	}
	return re
}

// stripExtended removes what PCRE2_EXTENDED ignores: white space and
// #-comments outside character classes, unless escaped.
func stripExtended(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			b.WriteByte(c)
			i++
			b.WriteByte(p[i])
			continue
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is a literal.
			if i+1 < len(p) && p[i+1] == '^' {
				i++
				b.WriteByte('^')
			}
			if i+1 < len(p) && p[i+1] == ']' {
				i++
				b.WriteByte(']')
			}
			continue
		case strings.IndexByte(" \t\n\r\f\v", c) >= 0:
			continue
		case c == '#':
			for i+1 < len(p) && p[i+1] != '\n' {
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Matches tells whether the body b matches, within the offsets.
func (x *Regex) Matches(b []byte) bool { return x.match(bytes.NewReader(b)) }

// match searches the body read from r, which it may leave partly read.
func (x *Regex) match(r io.Reader) bool {
	if x.MinOffset > 0 {
		if n, _ := io.CopyN(io.Discard, r, x.MinOffset); n < x.MinOffset {
			return false
		}
	}
	nl := &newlineWatch{r: r, first: -1}
	loc := x.re.FindReaderIndex(bufio.NewReader(nl))
	switch {
	case loc == nil:
		return false
	case x.HasMax && x.MinOffset+int64(loc[0]) > x.MaxOffset:
		return false
	case x.firstLine && nl.first >= 0 && int64(loc[0]) > nl.first:
		return false
	}
	return true
}

// newlineWatch notes where the first newline is.
type newlineWatch struct {
	r     io.Reader
	off   int64
	first int64
}

func (w *newlineWatch) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if w.first < 0 {
		if i := bytes.IndexByte(p[:n], '\n'); i >= 0 {
			w.first = w.off + int64(i)
		}
	}
	w.off += int64(n)
	return n, err
}
