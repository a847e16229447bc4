package config

import (
	"fmt"
	"iter"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The parser binds keywords to fields of the model by struct tags, so that
// adding a keyword is adding a field:
//
//	Priority int `kw:"priority" range:"1,255"`
//
// Tags:
//
//	kw:"a,b"        the keyword and its synonyms
//	range:"lo,hi"   accepted range of an int field (inclusive)
//	code:"N"        the -t exit code of a bad value (default 5, keepalived's "config errors")
//	deprecated:"x"  log that the keyword is deprecated, with x as the advice
//	noarg:"msg"     keepalived's handler checks for a missing value itself:
//	                a bare keyword is reported as msg (exit 5, "{name}" is
//	                the block's name; "-" says nothing) and ignored, rather
//	                than a missing parameter (exit 2)
//	raw:"1"         keep the words for Block.Raw; a bad number is not
//	                reported by the parser (validation reads it as
//	                keepalived's handler does)
//	flag:"1"        (bool) keepalived's handler reads no value: the keyword
//	                sets the flag whatever word follows it ("nopreempt
//	                off" sets nopreempt), which a hint points out
//
// The field's Go type decides how its arguments are read:
//
//	string          one word
//	int             one integer (range checked)
//	bool            optionally followed by true|on|yes or false|off|no, as
//	                keepalived's check_true_false reads it (case matters);
//	                another word is reported and leaves the field as it was
//	                (not set), as its handlers return before they assign
//	Timer           decimal seconds, microsecond resolution
//	[]string        all the words after the keyword (at least one)
//	Script          a command line re-parsed with shell-like quoting, then user [group]
//	*T (T a block)  a nested block: keyword, then { ... }
//	[]*T            a repeated block; the words after the keyword are its Args
//	[]T (T a line)  a value block: every line between { and } is handed to T.parseLine
//
// A struct is a block if it embeds Block.

// Pos is where a keyword was written.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (p Pos) String() string { return fmt.Sprintf("(%s: Line %d)", p.File, p.Line) }

// Block is embedded by every block of the model: where it starts, the words
// that followed its keyword, and where each of its keywords was set.
type Block struct {
	Pos     Pos        `json:"pos"`
	Keyword string     `json:"keyword,omitempty"`
	Args    []string   `json:"args,omitempty"`
	Set     KeywordSet `json:"-"`
	End     Pos        `json:"-"` // the closing brace, cited by keepalived's end-of-block checks
	// aside holds what few blocks have (nil for most): one pointer, so
	// that blocks keep their size class (a Checker is 640 bytes, the
	// most its class holds).
	aside *blockAside
}

// blockAside is the rarely needed part of a Block.
type blockAside struct {
	// synonyms records keywords written under a synonym (unicast_src_ip
	// for mcast_src_ip): Set holds the canonical keyword only, but a few
	// of keepalived's rules depend on the spelling.
	synonyms map[string]Pos
	// raw holds the words after the keyword of the fields tagged raw, as
	// written.
	raw map[string][]string
}

func (b *Block) setAside() *blockAside {
	if b.aside == nil {
		b.aside = &blockAside{}
	}
	return b.aside
}

// Wrote tells whether kw was written in this block, under that spelling
// or, when kw is canonical, under any.
func (b *Block) Wrote(kw string) bool {
	if b.aside != nil {
		if _, ok := b.aside.synonyms[kw]; ok {
			return true
		}
	}
	return b.IsSet(kw)
}

// Raw returns the words after keyword kw, as written, for a field tagged
// raw (nil if kw was not written, or is not such a field).
func (b *Block) Raw(kw string) []string {
	if b.aside == nil {
		return nil
	}
	return b.aside.raw[kw]
}

// IsSet tells whether keyword kw was written in this block.
func (b *Block) IsSet(kw string) bool { _, ok := b.Set.Lookup(kw); return ok }

// PosOf returns where keyword kw was written, or the block's own position.
func (b *Block) PosOf(kw string) Pos {
	if p, ok := b.Set.Lookup(kw); ok {
		return p
	}
	return b.Pos
}

// KeywordSet is the keywords written in a block (canonical spellings), each
// once, with where it was last written, in the order first written; the
// zero KeywordSet is empty. A block writes a handful of keywords: a list is
// smaller and quicker than a map, and the set is one pointer, as a map was,
// so that blocks keep their size.
type KeywordSet struct{ list *[]keywordAt }

// keywordAt is one keyword of a set. The keyword and file name are shared
// (the field's canonical keyword, one string per file), which makes an
// entry 24 bytes rather than 40.
type keywordAt struct {
	kw   *string
	file *string
	line int
}

func (k keywordAt) pos() Pos { return Pos{File: *k.file, Line: k.line} }

// Lookup returns where kw was written, if it was.
func (s KeywordSet) Lookup(kw string) (Pos, bool) {
	if s.list != nil {
		for _, k := range *s.list {
			if *k.kw == kw {
				return k.pos(), true
			}
		}
	}
	return Pos{}, false
}

// Len is the number of keywords written.
func (s KeywordSet) Len() int {
	if s.list == nil {
		return 0
	}
	return len(*s.list)
}

// All yields each keyword written and where, in the order first written.
func (s KeywordSet) All() iter.Seq2[string, Pos] {
	return func(yield func(string, Pos) bool) {
		if s.list == nil {
			return
		}
		for _, k := range *s.list {
			if !yield(*k.kw, k.pos()) {
				return
			}
		}
	}
}

// Delete forgets kw.
func (s KeywordSet) Delete(kw string) {
	if s.list != nil {
		*s.list = slices.DeleteFunc(*s.list, func(k keywordAt) bool { return *k.kw == kw })
	}
}

func (b *Block) block() *Block { return b }

type blockish interface{ block() *Block }

// Timer is a duration written in decimal seconds, as keepalived's <TIMER>.
type Timer time.Duration

func (t Timer) Duration() time.Duration { return time.Duration(t) }

func (t Timer) String() string {
	return strconv.FormatFloat(time.Duration(t).Seconds(), 'f', -1, 64)
}

// MarshalText writes the timer as keepalived does: seconds.
func (t Timer) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// lineValue is implemented by the element type of a value block.
type lineValue interface {
	parseLine(p *parser, l Line) bool
}

// bodyParser is implemented by blocks whose body is not keywords.
type bodyParser interface {
	parseBody(p *parser, opener Line)
}

// keywordValue is implemented by types that read their own arguments.
type keywordValue interface {
	parseKeyword(p *parser, l Line) bool
}

var (
	timerType      = reflect.TypeOf(Timer(0))
	stringsType    = reflect.TypeOf([]string(nil))
	lineValueType  = reflect.TypeOf((*lineValue)(nil)).Elem()
	keywordType    = reflect.TypeOf((*keywordValue)(nil)).Elem()
	bodyParserType = reflect.TypeOf((*bodyParser)(nil)).Elem()
)

// fieldKind says how a field reads its arguments (see the table above),
// decided once per type rather than by reflection on every line.
type fieldKind uint8

const (
	kindNone    fieldKind = iota // no reader: a bug in the model
	kindKeyword                  // the type reads its own arguments (keywordValue)
	kindTimer
	kindString
	kindInt
	kindBool
	kindWords  // []string
	kindBlock  // *T
	kindBlocks // []*T
	kindValues // []T, T a lineValue
	// A raw Timer or int (tag raw) is read quietly: validation reads
	// Block.Raw as keepalived's handler does.
	kindRawTimer
	kindRawInt
)

func kindOf(t reflect.Type) fieldKind {
	switch {
	case reflect.PointerTo(t).Implements(keywordType):
		return kindKeyword
	case t == timerType:
		return kindTimer
	case t.Kind() == reflect.String:
		return kindString
	case t.Kind() == reflect.Int:
		return kindInt
	case t.Kind() == reflect.Bool:
		return kindBool
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return kindWords
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		return kindBlock
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Pointer:
		return kindBlocks
	case t.Kind() == reflect.Slice && reflect.PointerTo(t.Elem()).Implements(lineValueType):
		return kindValues
	}
	return kindNone
}

// field is one keyword of a block, resolved from struct tags once per type.
type field struct {
	keyword    string // canonical keyword (first in the tag)
	index      []int
	typ        reflect.Type
	kind       fieldKind
	lo, hi     float64 // inclusive; seconds for a Timer
	hasRange   bool
	code       int
	deprecated string
	noarg      string // the handler's own message for a missing value
	flag       bool   // a bool whose handler reads no value
	raw        bool   // keep the words for Block.Raw, read numbers quietly
	// first is the handler's message when the keyword is written again
	// in the block: the first one holds ({name}: the block's name,
	// {arg}: the word ignored).
	first string
	// elem is the spec of the block a kindBlock or kindBlocks field holds,
	// found on first use (a block type may hold itself).
	elem atomic.Pointer[blockSpec]
}

// elemSpec returns the spec of the block type f holds.
func (f *field) elemSpec() *blockSpec {
	if s := f.elem.Load(); s != nil {
		return s
	}
	t := f.typ.Elem() // T of *T, or *T of []*T
	if f.kind == kindBlocks {
		t = t.Elem()
	}
	s := specOf(t)
	f.elem.Store(s)
	return s
}

type blockSpec struct {
	typ      reflect.Type
	fields   map[string]*field
	keywords []string // canonical, for "did you mean"
	body     bool     // the block reads its own body (bodyParser)
}

var specCache sync.Map // reflect.Type -> *blockSpec

func specOf(t reflect.Type) *blockSpec {
	if s, ok := specCache.Load(t); ok {
		return s.(*blockSpec)
	}
	s := &blockSpec{typ: t, fields: map[string]*field{}, body: reflect.PointerTo(t).Implements(bodyParserType)}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("kw")
		if tag == "" {
			continue
		}
		f := &field{index: sf.Index, typ: sf.Type, kind: kindOf(sf.Type), code: ExitConfigErrors, deprecated: sf.Tag.Get("deprecated"),
			noarg: sf.Tag.Get("noarg"), raw: sf.Tag.Get("raw") != "", flag: sf.Tag.Get("flag") != "", first: sf.Tag.Get("first")}
		if f.raw && f.kind == kindTimer {
			f.kind = kindRawTimer
		} else if f.raw && f.kind == kindInt {
			f.kind = kindRawInt
		}
		if r := sf.Tag.Get("range"); r != "" {
			lo, hi, _ := strings.Cut(r, ",")
			f.lo, _ = strconv.ParseFloat(lo, 64)
			f.hi, _ = strconv.ParseFloat(hi, 64)
			f.hasRange = true
		}
		if c := sf.Tag.Get("code"); c != "" {
			f.code, _ = strconv.Atoi(c)
		}
		names := strings.Split(tag, ",")
		f.keyword = names[0]
		for _, n := range names {
			s.fields[n] = f
			s.keywords = append(s.keywords, n)
		}
	}
	specCache.Store(t, s)
	return s
}

// parser walks the preprocessed lines: those of a slice (Parse), or those
// the lexer makes as they are asked for (Load), never holding them all.
type parser struct {
	lines []Line
	next  int
	lex   *lexer
	// ahead is the line read but not yet taken (hasAhead).
	ahead    Line
	hasAhead bool
	diags    Diagnostics
	// area is the subsystem owning the root block being read ("" at the
	// root). keepalived reads each area in its own child process, and a
	// missing parameter ends that child: nothing more is reported for a
	// stopped area, while root-level findings go on.
	area    string
	stopped map[string]bool
	// depth is how many blocks are open; lastClose is the last '}' that
	// ended a block, for the misplaced-brace hint.
	depth        int
	lastClose    Pos
	hasLastClose bool
	// kws holds the keywords written in the blocks being read, innermost
	// last; a block's part moves into its Set, sized to fit, when the
	// block ends. kwArena, listArena and strArena are where the Sets and
	// the blocks' Args are allocated, many at a time.
	kws       []keywordAt
	kwArena   []keywordAt
	listArena [][]keywordAt
	strArena  []string
	file      *string // the file of the last keyword, shared by its Sets
	// missingOpen counts the blocks opened without their '{'.
	missingOpen int
	// skip follows the lines of the root block being read as the
	// processes that skip it see them (see skippedView).
	skip skipWatch
}

// areaOf maps a root keyword to the keepalived process that reads it.
func areaOf(rootKeyword string) string {
	switch rootKeyword {
	case "global_defs":
		return "global"
	case "virtual_server", "virtual_server_group", "SSL":
		return "check"
	case "bfd_instance":
		return "bfd"
	}
	return "vrrp"
}

// more tells whether a line is left, reading it ahead.
func (p *parser) more() bool {
	if p.hasAhead {
		return true
	}
	if p.lex != nil {
		p.ahead, p.hasAhead = p.lex.next()
	} else if p.next < len(p.lines) {
		p.ahead, p.hasAhead = p.lines[p.next], true
		p.next++
	}
	return p.hasAhead
}

// take returns the next line; more() must have said there is one.
func (p *parser) take() Line {
	p.hasAhead = false
	// Within the skipped part only a line of one word (a brace) counts.
	if p.skip.on && (p.skip.depth == 0 || len(p.ahead.Tokens) == 1) {
		p.skip.see(p.ahead)
	}
	return p.ahead
}

func (p *parser) peekIs(text string) bool {
	return p.more() && isBrace(p.ahead, text)
}

func isBrace(l Line, brace string) bool {
	return len(l.Tokens) == 1 && l.Tokens[0].Text == brace && !l.Tokens[0].Quoted
}

// report records a finding at line l.
func (p *parser) report(code int, l Line, kw, format string, args ...any) {
	if p.stopped[p.area] {
		return
	}
	sev := Error
	if code == ExitOK {
		sev = Warning
	}
	p.diags = append(p.diags, Diagnostic{Severity: sev, Code: code, File: l.File, Line: l.Num, Keyword: kw, Msg: fmt.Sprintf(format, args...)})
}

// hint records one of our own findings (keepalived does not report it).
func (p *parser) hint(l Line, kw, hint, format string, args ...any) {
	if p.stopped[p.area] {
		return
	}
	p.diags = append(p.diags, Diagnostic{Severity: Warning, File: l.File, Line: l.Num, Keyword: kw, Msg: fmt.Sprintf(format, args...), Hint: hint, Extra: true})
}

// parseBlock reads keyword lines into the block v (a pointer to a struct
// embedding Block) until the closing brace, which it consumes, or the end.
// It returns false if the input ended before the block was closed.
func (p *parser) parseBlock(v reflect.Value, spec *blockSpec, closeWithBrace bool) bool {
	b := v.Interface().(blockish).block()
	mark := len(p.kws)
	if b.Set.list != nil {
		p.kws = append(p.kws, *b.Set.list...)
	}
	closed := p.readKeywords(v, spec, b, mark, closeWithBrace)
	b.Set = p.popKeywords(mark)
	return closed
}

func (p *parser) readKeywords(v reflect.Value, spec *blockSpec, b *Block, mark int, closeWithBrace bool) bool {
	for p.more() {
		l := p.take()
		if len(l.Tokens) == 0 || isBrace(l, "{") {
			continue // keepalived ignores a stray opening brace
		}
		if isBrace(l, "}") {
			if closeWithBrace {
				b.End = Pos{l.File, l.Num}
				p.lastClose, p.hasLastClose = Pos{l.File, l.Num}, true
				return true
			}
			// The lexer has said "Extra '}' found"; keepalived then
			// also calls the brace an unknown keyword.
			p.report(ExitConfigErrors, l, "}", "Unknown keyword '}'")
			continue
		}
		f := spec.fields[l.Tokens[0].Text]
		if f == nil {
			p.unknownKeyword(spec, l)
			continue
		}
		if !closeWithBrace {
			p.area = areaOf(l.Tokens[0].Text)
		}
		if !closeWithBrace {
			p.skip.start(spec)
		}
		missing := p.missingOpen
		p.parseKeywordLine(v, b, mark, f, l)
		if !closeWithBrace {
			p.area = ""
			p.skip.on = false
			if p.missingOpen != missing {
				p.skippedView()
			}
		}
	}
	return !closeWithBrace
}

// popKeywords moves the keywords written since mark into a KeywordSet.
func (p *parser) popKeywords(mark int) KeywordSet {
	n := len(p.kws) - mark
	if n == 0 {
		return KeywordSet{}
	}
	if cap(p.kwArena)-len(p.kwArena) < n {
		p.kwArena = make([]keywordAt, 0, max(256, n))
	}
	if len(p.listArena) == cap(p.listArena) {
		p.listArena = make([][]keywordAt, 0, 256)
	}
	start := len(p.kwArena)
	p.kwArena = append(p.kwArena, p.kws[mark:]...)
	clear(p.kws[mark:])
	p.kws = p.kws[:mark]
	p.listArena = append(p.listArena, p.kwArena[start:len(p.kwArena):len(p.kwArena)])
	return KeywordSet{&p.listArena[len(p.listArena)-1]}
}

func (p *parser) parseKeywordLine(v reflect.Value, b *Block, mark int, f *field, l Line) {
	kw := l.Tokens[0].Text
	if f.kind == kindBool && !f.flag && len(l.Tokens) > 1 {
		if _, ok := trueFalse(l.Tokens[1].Text); !ok {
			// keepalived's handlers report the word and return before
			// they assign: the keyword counts as not written here.
			p.report(ExitConfigErrors, l, kw, "%s: invalid boolean '%s' (true, on, yes, false, off or no) - ignoring", kw, l.Tokens[1].Text)
			return
		}
	}
	if f.first != "" && p.wrote(mark, f.keyword) {
		msg := strings.ReplaceAll(f.first, "{name}", firstArg(b.Args))
		p.report(ExitConfigErrors, l, kw, "%s", strings.ReplaceAll(msg, "{arg}", firstArg(p.texts(l.Tokens[1:]))))
		return
	}
	p.setKeyword(mark, &f.keyword, l)
	if kw != f.keyword {
		a := b.setAside()
		if a.synonyms == nil {
			a.synonyms = map[string]Pos{}
		}
		a.synonyms[kw] = Pos{l.File, l.Num}
	}
	if f.deprecated != "" {
		p.hint(l, kw, f.deprecated, "keyword '%s' is deprecated", kw)
	}
	if f.noarg != "" && len(l.Tokens) == 1 {
		// An unterminated quote leaves the keyword bare too.
		if f.noarg != "-" {
			p.report(ExitConfigErrors, l, kw, "%s", strings.ReplaceAll(f.noarg, "{name}", firstArg(b.Args)))
		}
		p.unsetKeyword(mark, f.keyword)
		return
	}
	if f.raw {
		a := b.setAside()
		if a.raw == nil {
			a.raw = map[string][]string{}
		}
		a.raw[f.keyword] = p.texts(l.Tokens[1:])
	}
	p.assign(v.Elem().FieldByIndex(f.index), f, l)
}

// setKeyword records that the block whose keywords start at mark wrote kw
// at line l (the last time counts, as in a map).
func (p *parser) setKeyword(mark int, kw *string, l Line) {
	if p.file == nil || *p.file != l.File {
		file := l.File
		p.file = &file
	}
	for i := mark; i < len(p.kws); i++ {
		if *p.kws[i].kw == *kw {
			p.kws[i].file, p.kws[i].line = p.file, l.Num
			return
		}
	}
	p.kws = append(p.kws, keywordAt{kw: kw, file: p.file, line: l.Num})
}

// wrote tells whether the block whose keywords start at mark wrote kw.
func (p *parser) wrote(mark int, kw string) bool {
	for i := mark; i < len(p.kws); i++ {
		if *p.kws[i].kw == kw {
			return true
		}
	}
	return false
}

// unsetKeyword forgets that the block whose keywords start at mark wrote
// kw, as if it had not.
func (p *parser) unsetKeyword(mark int, kw string) {
	for i := mark; i < len(p.kws); i++ {
		if *p.kws[i].kw == kw {
			p.kws = slices.Delete(p.kws, i, i+1)
			return
		}
	}
}

func (p *parser) unknownKeyword(spec *blockSpec, l Line) {
	kw := l.Tokens[0].Text
	p.report(ExitConfigErrors, l, kw, "Unknown keyword '%s'", kw)
	if s := closest(kw, spec.keywords); s != "" {
		p.hint(l, kw, "did you mean '"+s+"'?", "'%s' is not a keyword here", kw)
	} else if owner := blockOwning(kw); p.depth == 0 && owner != "" && p.hasLastClose {
		p.hint(l, kw, fmt.Sprintf("'%s' belongs in a %s block: the '}' at %s line %d may close a block too early", kw, owner, p.lastClose.File, p.lastClose.Line),
			"'%s' is not a keyword at the top level", kw)
	}
	// keepalived does not skip an unknown keyword's block: its lines are
	// read as keywords of the enclosing block and its '}' closes the
	// enclosing block. We do the same, so that verdicts agree, and say so.
	if p.peekIs("{") {
		open := p.take()
		p.report(ExitConfigErrors, open, kw, "Unexpected '{' - ignoring")
		p.hint(l, kw, "its lines are read as part of the enclosing block and its '}' closes the enclosing block, as keepalived does", "block of unknown keyword '%s'", kw)
	}
}

// assign reads the arguments of keyword line l into dst according to f.
func (p *parser) assign(dst reflect.Value, f *field, l Line) {
	args := l.Tokens[1:]
	switch f.kind {
	case kindKeyword:
		dst.Addr().Interface().(keywordValue).parseKeyword(p, l)
	case kindRawTimer:
		// Validation reads Block.Raw as keepalived's handler reads it.
		if a, ok := p.needArg(l, args); ok {
			if secs, err := strconv.ParseFloat(a, 64); err == nil && secs >= 0 && secs <= 1e9 {
				dst.SetInt(int64(time.Duration(secs*1e6+0.5) * time.Microsecond))
			}
		}
	case kindRawInt:
		if a, ok := p.needArg(l, args); ok {
			if n, err := strconv.Atoi(a); err == nil {
				dst.SetInt(int64(n))
			}
		}
	case kindTimer:
		if a, ok := p.needArg(l, args); ok {
			if t, ok := p.readTimer(l, f, a); ok {
				dst.SetInt(int64(t))
			}
		}
	case kindString:
		if a, ok := p.needArg(l, args); ok {
			dst.SetString(a)
		}
	case kindInt:
		if a, ok := p.needArg(l, args); ok {
			if n, ok := p.readInt(l, f, a); ok {
				dst.SetInt(int64(n))
			}
		}
	case kindBool:
		dst.SetBool(p.readBool(l, f, args))
	case kindWords:
		if _, ok := p.needArg(l, args); ok {
			if f.typ == stringsType {
				*dst.Addr().Interface().(*[]string) = p.texts(args)
			} else {
				dst.Set(reflect.ValueOf(tokenTexts(args)))
			}
		}
	case kindBlock:
		dst.Set(p.readBlock(f.elemSpec(), l))
	case kindBlocks:
		appendValue(dst, p.readBlock(f.elemSpec(), l))
	case kindValues:
		p.readValueBlock(dst, l)
	default:
		panic("config: no reader for field type " + f.typ.String())
	}
}

// texts is tokenTexts with the strings allocated many lines at a time.
func (p *parser) texts(ts []Token) []string {
	if len(ts) == 0 {
		return nil
	}
	if cap(p.strArena)-len(p.strArena) < len(ts) {
		p.strArena = make([]string, 0, max(1024, len(ts)))
	}
	start := len(p.strArena)
	for _, t := range ts {
		p.strArena = append(p.strArena, t.Text)
	}
	return p.strArena[start:len(p.strArena):len(p.strArena)]
}

// needArg returns the first argument, or reports keepalived's fatal
// "missing parameter" (exit 2) when there is none.
// An unterminated quote is the same: the lexer drops the quoted word, as
// keepalived's alloc_strvec does, so the handler sees no value (keywords
// whose handlers check for that themselves are tagged noarg).
func (p *parser) needArg(l Line, args []Token) (string, bool) {
	if len(args) == 0 {
		p.missingParameter(l)
		return "", false
	}
	return args[0].Text, true
}

// unterminatedQuote tells whether raw has an odd number of double quotes.
func unterminatedQuote(raw string) bool { return strings.Count(raw, `"`)%2 == 1 }

// missingParameter reports keepalived's "missing a parameter" (exit 2) and
// stops the current area, as the keepalived child reading it exits there.
func (p *parser) missingParameter(l Line) {
	kw := l.Tokens[0].Text
	p.report(ExitMissingParam, l, kw, "*** Configuration line starting `%s` is missing a parameter after keyword `%s` at word position %d", kw, kw, len(l.Tokens)+1)
	if p.stopped == nil {
		p.stopped = map[string]bool{}
	}
	if p.area == "global" {
		for _, a := range []string{"global", "vrrp", "check", "bfd"} {
			p.stopped[a] = true
		}
	}
	p.stopped[p.area] = true
}

func (p *parser) readInt(l Line, f *field, s string) (int, bool) {
	kw := l.Tokens[0].Text
	n, err := strconv.Atoi(s)
	if err != nil {
		p.report(f.code, l, kw, "%s: invalid number '%s'", kw, s)
		return 0, false
	}
	if f.hasRange && (float64(n) < f.lo || float64(n) > f.hi) {
		p.report(f.code, l, kw, "%s: number '%d' outside range [%g, %g]", kw, n, f.lo, f.hi)
		return 0, false
	}
	return n, true
}

func (p *parser) readTimer(l Line, f *field, s string) (time.Duration, bool) {
	kw := l.Tokens[0].Text
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || secs < 0 || secs > 1e9 {
		p.report(f.code, l, kw, "%s: invalid time '%s'", kw, s)
		return 0, false
	}
	if f.hasRange && (secs < f.lo || secs > f.hi) {
		p.report(f.code, l, kw, "%s: number '%s' outside range [%g, %g]", kw, s, f.lo, f.hi)
		return 0, false
	}
	return time.Duration(secs*1e6+0.5) * time.Microsecond, true
}

// readBool reads an optional boolean argument (parseKeywordLine has
// refused a bad one): none means true. A flag's handler reads no value:
// it is true whatever follows, as keepalived sets it.
func (p *parser) readBool(l Line, f *field, args []Token) bool {
	if len(args) == 0 {
		return true
	}
	v, ok := trueFalse(args[0].Text)
	if f.flag {
		if !ok || !v {
			kw := l.Tokens[0].Text
			p.hint(l, kw, fmt.Sprintf("'%s' takes no value: keepalived ignores '%s' and sets it; remove the keyword to leave it off", kw, args[0].Text),
				"'%s %s' sets %s", kw, args[0].Text, kw)
		}
		return true
	}
	return v
}

// trueFalse is keepalived's check_true_false (lib/parser.c): exact,
// lower-case words.
func trueFalse(s string) (v, ok bool) {
	switch s {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	return false, false
}

// readBlock allocates a block of spec's type opened by line l and reads it.
// Lines read from the lexer share the memory of their Tokens with lines
// read later (see lexer.reuseTokens): what a block needs of its opening
// line after reading its body is copied first.
func (p *parser) readBlock(spec *blockSpec, l Line) reflect.Value {
	p.depth++
	defer func() { p.depth-- }()
	v := reflect.New(spec.typ)
	b := v.Interface().(blockish).block()
	b.Pos = Pos{l.File, l.Num}
	b.Keyword = l.Tokens[0].Text
	b.Args = p.texts(l.Tokens[1:])
	if spec.body {
		v.Interface().(bodyParser).parseBody(p, l)
		return v
	}
	if p.more() && !p.peekIs("{") {
		// process_stream (lib/parser.c): the process reading the block
		// says so at the line after the keyword, then reads that line as
		// the block's first keyword.
		p.report(ExitConfigErrors, p.ahead, b.Keyword, "Missing '{' at beginning of configuration block")
		p.missingOpen++
	}
	if !p.parseBlock(v, spec, true) {
		p.missingBrace(b.Keyword, b.Pos)
	}
	return v
}

// skipWatch follows the lines of a root block, from the line after its
// keyword, as a keepalived process that does not read the block sees them:
// it skips the block by counting braces (process_stream's skip_sublevel),
// and reads the lines after the skipped part as top-level lines. The lines
// themselves are not kept (the lexer reuses their memory, and Load never
// holds them all); only what such a process would report on is, which is
// nothing unless a block inside lacks its '{'.
type skipWatch struct {
	on    bool
	root  *blockSpec // the top level's keywords
	seen  bool       // the first line after the root keyword has been seen
	depth int        // braces open, while skipping
	// lines are those read after the skipped part that the process
	// reports: each '{' unexpected, each keyword unknown at the top level.
	lines []skippedLine
}

// skippedLine is one line read after the skipped part: its '{' or keyword.
type skippedLine struct {
	pos Pos
	kw  string
}

// start follows a new root block; root is the top level's spec.
func (w *skipWatch) start(root *blockSpec) {
	*w = skipWatch{on: true, root: root, lines: w.lines[:0]}
}

// see follows one line of the root block as the parser takes it.
func (w *skipWatch) see(l Line) {
	if !w.seen {
		w.seen = true
		if isBrace(l, "{") {
			w.depth = 1
			return
		}
	}
	if w.depth > 0 {
		switch {
		case isBrace(l, "{"):
			w.depth++
		case isBrace(l, "}"):
			w.depth--
		}
		return
	}
	switch {
	case len(l.Tokens) == 0:
	case isBrace(l, "{"):
		w.lines = append(w.lines, skippedLine{Pos{l.File, l.Num}, "{"})
	case w.root.fields[l.Tokens[0].Text] == nil:
		w.lines = append(w.lines, skippedLine{Pos{l.File, l.Num}, l.Tokens[0].Text})
	}
}

// skippedView reports what keepalived's other processes say about a root
// block holding a block opened without its '{' (p.skip has followed the
// lines after the root keyword, up to its closing '}'). A process that
// does not read a block skips it by counting braces; the missing '{' ends
// its skipping early (at once if it is the root block's own), and it reads
// the rest of the block as top-level lines: each is an unknown keyword,
// each '{' unexpected.
func (p *parser) skippedView() {
	for _, s := range p.skip.lines {
		l := Line{File: s.pos.File, Num: s.pos.Line}
		if s.kw == "{" {
			p.report(ExitConfigErrors, l, "{", "Unexpected '{' - ignoring")
		} else {
			p.report(ExitConfigErrors, l, s.kw, "Unknown keyword '%s'", s.kw)
		}
	}
}

// missingBrace reports the block kw opened at pos that the input ended in.
func (p *parser) missingBrace(kw string, pos Pos) {
	p.diags = append(p.diags, Diagnostic{Severity: Error, Code: ExitConfigErrors, Keyword: kw,
		Msg:  fmt.Sprintf("missing '}' at end of configuration (block '%s' opened at %s: line %d)", kw, pos.File, pos.Line),
		Hint: "a '}' is missing: check the braces of this block and the ones inside it"})
}

// readValueBlock reads the lines between { and } into the slice dst, each
// parsed by the element type. Words after the keyword on the opening line,
// before the brace, are a value line too (keepalived accepts `group VI_1 {`).
func (p *parser) readValueBlock(dst reflect.Value, opener Line) {
	kw, at := opener.Tokens[0].Text, Pos{opener.File, opener.Num}
	rest := opener
	rest.Tokens = nil
	if len(opener.Tokens) > 1 {
		rest.Tokens = slices.Clone(opener.Tokens[1:]) // before reading on
	}
	add := func(l Line) {
		// The line is read into a new last element, dropped again if
		// the line is rejected.
		n := dst.Len()
		dst.Grow(1)
		dst.SetLen(n + 1)
		v := dst.Index(n)
		v.SetZero()
		if !v.Addr().Interface().(lineValue).parseLine(p, l) {
			v.SetZero()
			dst.SetLen(n)
		}
	}
	if p.peekIs("{") {
		p.take()
	} else if len(rest.Tokens) > 0 {
		add(rest)
		return
	}
	for p.more() {
		l := p.take()
		if isBrace(l, "}") {
			return
		}
		if len(l.Tokens) == 0 || isBrace(l, "{") {
			continue
		}
		add(l)
	}
	p.missingBrace(kw, at)
}

// appendValue appends x to the settable slice dst, as
// dst.Set(reflect.Append(dst, x)) without the slice header that
// reflect.Append allocates.
func appendValue(dst, x reflect.Value) {
	n := dst.Len()
	dst.Grow(1)
	dst.SetLen(n + 1)
	dst.Index(n).Set(x)
}

func reflectValueOf(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }

func tokenTexts(ts []Token) []string {
	if len(ts) == 0 {
		return nil
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Text
	}
	return out
}

var (
	ownersOnce sync.Once
	owners     map[string]string // keyword -> a block keyword it belongs to
)

// blockOwning names a block in which kw is a keyword ("" if none): a
// top-level line that is a keyword of, say, vrrp_instance usually means a
// '}' closed that block too early.
func blockOwning(kw string) string {
	ownersOnce.Do(func() {
		owners = map[string]string{}
		var walk func(t reflect.Type, name string)
		walk = func(t reflect.Type, name string) {
			spec := specOf(t)
			for _, k := range spec.keywords {
				f := spec.fields[k]
				if _, seen := owners[k]; !seen && name != "" {
					owners[k] = name
				}
				if inner := blockType(f.typ); inner != nil && inner != t {
					if _, seen := owners["\x00"+f.keyword]; !seen {
						owners["\x00"+f.keyword] = name
						walk(inner, f.keyword)
					}
				}
			}
		}
		walk(reflect.TypeOf(Config{}), "")
	})
	return owners[kw]
}

// blockType is the block struct type a field holds (*T or []*T), or nil.
func blockType(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && t.Implements(reflect.TypeOf((*blockish)(nil)).Elem()) {
		return t.Elem()
	}
	return nil
}

// closest returns the keyword nearest to kw by edit distance, if it is close
// enough to be a likely typo (at most a third of the word differs).
func closest(kw string, candidates []string) string {
	best, bestD := "", max(1, len(kw)/3)+1
	for _, c := range candidates {
		if d := editDistance(kw, c); d > 0 && d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
