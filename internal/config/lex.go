package config

// The lexer/preprocessor turns keepalived configuration text into logical
// lines. It is a close port of read_line() and friends in keepalived 2.2.7's
// lib/parser.c, because users' configurations depend on its quirks (comment
// handling, lazy substitution, sequences, brace splitting). Where keepalived
// misbehaves (crashes, loops forever, corrupts its buffer) we do something
// sane instead and say so in a diagnostic.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// LexOptions controls preprocessing.
type LexOptions struct {
	ConfigID string              // for @ID / @^ID lines; the caller supplies the default (hostname up to first dot)
	Instance string              // value of ${_INSTANCE}; keepalived 2.2.7 uses the config id, so "" means ConfigID
	Env      func(string) string // for ${_ENV VAR}; nil means os.Getenv
	MaxLines int                 // cap on total produced lines (0 = default 1_000_000) so ~SEQ bombs cannot exhaust memory
}

const (
	// lexMaxBuf is keepalived's MAXBUF: fgets() reads at most 1023 bytes, and
	// parameter substitution may not grow a line to 1024 bytes or more.
	lexMaxBuf = 1024
	// exitNoConfig is KEEPALIVED_EXIT_NO_CONFIG: when an include check fails,
	// keepalived stops right after reading the configuration with this code.
	exitNoConfig = 6
	// maxIncludeDepth bounds nesting; keepalived only stops when it runs out
	// of file descriptors (about 1000 levels).
	maxIncludeDepth = 64
	// maxSubstitutions bounds the substitutions made on one line, because a
	// definition such as $A=$A makes keepalived loop forever.
	maxSubstitutions = 1000
	defaultMaxLines  = 1_000_000
)

// include_check bits (include_t in parser.c).
const (
	incR = 1 << iota // error if a match is a directory, unreadable, ...
	incM             // error if nothing matches, unless a wildcard is used
	incW             // error if nothing matches even with a wildcard
	incB             // every brace alternative must match
)

// lexer holds the state that keepalived keeps in static variables.
type lexer struct {
	opts  LexOptions
	env   func(string) string
	rng   *rand.Rand
	lines []Line
	diags Diagnostics

	defs       map[string]*lexDef
	seqs       []*lexSeq // ~SEQ/~LST being expanded; the last one is active
	ml         mlPtr     // rest of the multi-line definition being expanded
	mlStack    []mlEntry // outer multi-line expansions suspended by nested ones
	mlSeqDepth int       // sequences started before the current multi-line expansion
	curDef     *lexDef   // multi-line definition still collecting lines
	residue    string    // text after a brace, to be processed as the next line
	hasResidue bool

	stack        []*globState // include stack; the last entry is being read
	includeCheck int
	blockDepth   int
	work         int // source lines consumed, bounded to stop runaway expansions
	stopped      bool
	produced     int  // logical lines handed out, bounded by MaxLines
	done         bool // the end of the input has been reported

	// toks is where the words of lines are allocated, many lines' worth
	// at a time: each Line's Tokens is a full slice of its own part.
	toks []Token
	// reuseTokens is set when the lines go to a parser that keeps none
	// of their Tokens beyond the next few lines (Load): chunks of words
	// are then reused in turn (tokenRing), instead of new memory for
	// every word of a large configuration. A line's Tokens stay valid
	// until over a thousand more words have been made (a chunk less the
	// most words a line can have).
	reuseTokens bool
	tokenRing   [2][]Token
	ringNext    int
}

// Preprocess reads the config at path (which may be a glob, as keepalived -f
// allows) and everything it includes.
func Preprocess(path string, opts LexOptions) ([]Line, Diagnostics) {
	l := openLexer(path, opts)
	l.run()
	return l.lines, l.diags
}

// openLexer starts reading the config at path; Preprocess and Load then
// take its lines.
func openLexer(path string, opts LexOptions) *lexer {
	l := newLexer(opts)
	cwd, err := os.Getwd()
	if err != nil {
		cwd = "/"
	}
	if l.checkMainFile(cwd, path) {
		l.openGlob(cwd, path, incR|incM|incW, position{})
	}
	return l
}

// PreprocessBytes does the same on in-memory text named name; includes
// resolve relative to filepath.Dir(name).
func PreprocessBytes(name string, data []byte, opts LexOptions) ([]Line, Diagnostics) {
	l := bytesLexer(name, data, opts)
	l.run()
	return l.lines, l.diags
}

// bytesLexer starts reading in-memory text named name.
func bytesLexer(name string, data []byte, opts LexOptions) *lexer {
	l := newLexer(opts)
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		dir = filepath.Dir(name)
	}
	f := &srcFile{display: name, dir: physicalDir(dir), key: canonicalPath(filepath.Join(dir, filepath.Base(name))), text: string(data)}
	l.stack = append(l.stack, &globState{matches: []globMatch{{display: name}}, next: 1, file: f})
	return l
}

func newLexer(opts LexOptions) *lexer {
	if opts.MaxLines <= 0 {
		opts.MaxLines = defaultMaxLines
	}
	if opts.Instance == "" {
		opts.Instance = opts.ConfigID
	}
	l := &lexer{opts: opts, env: opts.Env, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	if l.env == nil {
		l.env = os.Getenv
	}
	l.setStdDefinitions()
	return l
}

// run reads every logical line, as process_stream() does, and records it.
func (l *lexer) run() {
	for {
		line, ok := l.next()
		if !ok {
			return
		}
		l.lines = append(l.lines, line)
	}
}

// next returns the next logical line; the parser reads them one by one as
// they are made, so that a large configuration's lines are never all held.
func (l *lexer) next() (Line, bool) {
	for !l.stopped {
		buf, ok := l.readLine()
		if !ok {
			break
		}
		if line, ok := l.emit(buf); ok {
			return line, true
		}
	}
	if !l.done {
		l.done = true
		// init_data() reports unbalanced braces once everything is read; by
		// then the include stack is empty, so keepalived gives no line number.
		if l.blockDepth > 0 && !l.stopped {
			l.diags = append(l.diags, Diagnostic{Severity: Error, Code: ExitConfigErrors,
				Msg: fmt.Sprintf("There are %d missing '}'s or extra '{'s", l.blockDepth)})
		}
	}
	return Line{}, false
}

// position is where the reader currently is, for Lines and Diagnostics.
type position struct {
	file string
	line int
}

// pos returns the position of the file being read (the innermost include).
func (l *lexer) pos() position {
	if len(l.stack) == 0 || l.stack[len(l.stack)-1].file == nil {
		return position{}
	}
	f := l.stack[len(l.stack)-1].file
	return position{file: f.display, line: f.line}
}

// report records a finding at the current position.
func (l *lexer) report(sev Severity, code int, format string, args ...any) {
	l.reportAt(l.pos(), sev, code, format, args...)
}

func (l *lexer) reportAt(p position, sev Severity, code int, format string, args ...any) {
	l.diags = append(l.diags, Diagnostic{Severity: sev, Code: code, File: p.file, Line: p.line, Msg: fmt.Sprintf(format, args...)})
}

// note records a finding of ours that keepalived does not print (the
// oracle comparison ignores it).
func (l *lexer) note(format string, args ...any) {
	p := l.pos()
	l.diags = append(l.diags, Diagnostic{Severity: Warning, File: p.file, Line: p.line, Msg: fmt.Sprintf(format, args...), Extra: true})
}

// configError is report_config_error() for errors that make -t exit 5.
func (l *lexer) configError(format string, args ...any) {
	l.report(Error, ExitConfigErrors, format, args...)
}

// stop aborts preprocessing after a runaway expansion.
func (l *lexer) stop(format string, args ...any) {
	if !l.stopped {
		l.report(Error, ExitFatal, format, args...)
	}
	l.stopped = true
}

// tokenChunk is how many words are allocated at once.
const tokenChunk = 2048

// tokenSpace returns an empty slice with room for at least need words.
func (l *lexer) tokenSpace(need int) []Token {
	if !l.reuseTokens || need > tokenChunk {
		return make([]Token, 0, max(tokenChunk, need))
	}
	i := l.ringNext
	l.ringNext = (i + 1) % len(l.tokenRing)
	if l.tokenRing[i] == nil {
		l.tokenRing[i] = make([]Token, 0, tokenChunk)
	}
	return l.tokenRing[i][:0]
}

// emit splits off braces and tokenizes one line returned by readLine; it
// reports false when the line has no words.
func (l *lexer) emit(buf string) (Line, bool) {
	head, rest, hasRest := splitBrace(buf)
	if hasRest {
		l.residue, l.hasResidue = rest, true
	}
	l.countBlocks(head)
	p := l.pos()
	// A line of n bytes has at most (n+1)/2 words.
	if need := (len(head)+1)/2 + 1; cap(l.toks)-len(l.toks) < need {
		l.toks = l.tokenSpace(need)
	}
	start := len(l.toks)
	var unmatched bool
	l.toks, unmatched = appendTokens(l.toks, head, p)
	toks := l.toks[start:len(l.toks):len(l.toks)]
	if unmatched {
		l.report(Error, ExitConfigErrors, "Unmatched quote: '%s'", head)
	}
	if len(toks) == 0 {
		return Line{}, false
	}
	if l.produced >= l.opts.MaxLines {
		l.stop("Configuration expands to more than %d lines - stopping", l.opts.MaxLines)
		return Line{}, false
	}
	l.produced++
	if toks[0].Text == "include_check" {
		// The parser applies include_check while reading in keepalived, so it
		// affects the includes that follow; we read ahead, so apply it here.
		l.setIncludeCheck(toks[1:])
	}
	return Line{File: p.file, Num: p.line, Raw: head, Tokens: toks}, true
}

// countBlocks tracks brace depth as read_line() does, to report extra '}'s.
func (l *lexer) countBlocks(head string) {
	switch head {
	case "{":
		l.blockDepth++
	case "}":
		l.blockDepth--
		if l.blockDepth < 0 {
			l.configError("Extra '}' found")
			l.blockDepth = 0
		}
	}
}

// setIncludeCheck is include_check_set(); errors in the words are left for
// the parser to report, which knows the keyword's context.
func (l *lexer) setIncludeCheck(args []Token) {
	if len(args) == 0 {
		l.includeCheck = incR | incM | incW | incB
		return
	}
	names := map[string]int{"read": incR, "match": incM, "wildcard_match": incW, "brace_match": incB}
	for i, a := range args {
		w, mode := a.Text, 0
		if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "+") {
			mode, w = map[byte]int{'-': -1, '+': 1}[w[0]], w[1:]
		} else if i == 0 {
			l.includeCheck = 0
		} else {
			continue
		}
		flag := names[w]
		switch {
		case flag == 0:
		case mode == 0:
			l.includeCheck = incR | flag
		case mode > 0:
			l.includeCheck |= flag
		default:
			l.includeCheck &^= flag
		}
	}
}
