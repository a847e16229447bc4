package config

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// WriteJSON writes the model as indented JSON: the machine-readable dump.
func (c *Config) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// Format writes the model back in keepalived.conf syntax, as the parser
// understood it: includes followed, definitions substituted, sequences
// expanded, defaults not added. This is the human-readable dump (-d).
func (c *Config) Format(w io.Writer) {
	f := formatter{w: w}
	f.fields(reflect.ValueOf(c).Elem(), 0)
}

type formatter struct{ w io.Writer }

func (f formatter) line(depth int, text string) {
	fmt.Fprintf(f.w, "%s%s\n", strings.Repeat("    ", depth), text)
}

// fields writes every keyword that was set in the block v.
func (f formatter) fields(v reflect.Value, depth int) {
	set := v.FieldByName("Block").Interface().(Block).Set
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("kw")
		if tag == "" {
			continue
		}
		kw, _, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if _, ok := set.Lookup(kw); !ok && !(fv.Kind() == reflect.Slice && fv.Len() > 0) {
			continue
		}
		f.keyword(kw, fv, depth)
	}
	if g, ok := v.Addr().Interface().(*VirtualServerGroup); ok {
		for _, e := range g.Entries {
			f.line(depth, e.String())
		}
	}
}

func (f formatter) keyword(kw string, fv reflect.Value, depth int) {
	switch {
	// Validation may drop a block it has read, leaving its keyword set
	// but the pointer nil (vrrp_strict drops authentication): the dump
	// shows what is kept.
	case fv.Kind() == reflect.Pointer:
		if !fv.IsNil() {
			f.block(kw, fv.Elem(), depth)
		}
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Pointer:
		for j := 0; j < fv.Len(); j++ {
			if !fv.Index(j).IsNil() {
				f.block(kw, fv.Index(j).Elem(), depth)
			}
		}
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct:
		f.line(depth, kw+" {")
		for j := 0; j < fv.Len(); j++ {
			f.line(depth+1, fmt.Sprint(fv.Index(j).Addr().Interface()))
		}
		f.line(depth, "}")
	default:
		f.line(depth, strings.TrimRight(kw+" "+scalarText(fv), " "))
	}
}

func (f formatter) block(kw string, v reflect.Value, depth int) {
	b := v.FieldByName("Block").Interface().(Block)
	name := b.Keyword
	if name == "" {
		name = kw
	}
	f.line(depth, strings.Join(append([]string{name}, b.Args...), " ")+" {")
	f.fields(v, depth+1)
	f.line(depth, "}")
}

func scalarText(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case bool:
		if x {
			return ""
		}
		return "false"
	case int:
		return strconv.Itoa(x)
	case Timer:
		return x.String()
	case string:
		return quoteIfNeeded(x)
	case []string:
		return joinQuoted(x)
	case OptWords:
		return joinQuoted(x)
	case Script:
		return x.String()
	}
	return fmt.Sprint(v.Interface())
}

func joinQuoted(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = quoteIfNeeded(w)
	}
	return strings.Join(q, " ")
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t#!{}") {
		return `"` + s + `"`
	}
	return s
}

func (s Script) String() string {
	out := `"` + s.Cmd + `"`
	if s.User != "" {
		out += " " + s.User
		if s.Group != "" {
			out += " " + s.Group
		}
	}
	return out
}

func (w *Words) String() string { return joinQuoted(w.Words) }

func (a *IPAddress) String() string {
	parts := []string{a.Prefix.String()}
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k, v)
		}
	}
	add("dev", a.Dev)
	add("brd", a.Brd)
	add("scope", a.Scope)
	add("label", a.Label)
	add("peer", a.Peer)
	return strings.Join(append(parts, a.Options...), " ")
}

func (r *Route) String() string { return strings.Join(r.Words, " ") }

func (r *Rule) String() string { return strings.Join(r.Words, " ") }

func (t *TrackRef) String() string {
	s := t.Name
	if t.HasWeight {
		s += " weight " + strconv.Itoa(t.Weight)
	}
	if t.Reverse {
		s += " reverse"
	}
	return s
}

func (u *UnicastPeer) String() string {
	s := u.Addr.String()
	if u.MinTTL != 0 {
		s += " min_ttl " + strconv.Itoa(u.MinTTL)
	}
	if u.MaxTTL != 0 {
		s += " max_ttl " + strconv.Itoa(u.MaxTTL)
	}
	return s
}

func (e VSGEntry) String() string {
	if e.Range == "" {
		return strings.TrimSpace("fwmark " + strconv.Itoa(e.Fwmark) + " " + e.Family)
	}
	if e.Port == 0 {
		return e.Range
	}
	return e.Range + " " + strconv.Itoa(e.Port)
}
