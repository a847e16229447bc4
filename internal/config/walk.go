package config

import (
	"reflect"
	"sort"
)

// KeywordUse is a keyword written in the configuration and where.
type KeywordUse struct {
	Keyword string
	Block   string // the enclosing block's keyword ("" at the top level)
	Pos     Pos
}

// KeywordUses lists each distinct keyword (per enclosing block keyword) the
// configuration uses, at its first use, in file order. The daemon logs the
// ones it does not act on.
func (c *Config) KeywordUses() []KeywordUse {
	seen := map[[2]string]bool{}
	var uses []KeywordUse
	walkBlocks(reflect.ValueOf(c), func(b *Block) {
		for kw, pos := range b.Set.All() {
			key := [2]string{b.Keyword, kw}
			if !seen[key] {
				seen[key] = true
				uses = append(uses, KeywordUse{Keyword: kw, Block: b.Keyword, Pos: pos})
			}
		}
	})
	sort.Slice(uses, func(i, j int) bool {
		if uses[i].Pos.File != uses[j].Pos.File {
			return uses[i].Pos.File < uses[j].Pos.File
		}
		return uses[i].Pos.Line < uses[j].Pos.Line
	})
	return uses
}

// walkBlocks calls fn for the block v (a pointer to a block struct) and
// every block nested in it.
func walkBlocks(v reflect.Value, fn func(*Block)) {
	if v.IsNil() {
		return
	}
	fn(v.Interface().(blockish).block())
	e := v.Elem()
	for i := 0; i < e.NumField(); i++ {
		f := e.Field(i)
		switch {
		case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct && f.Type().Implements(reflect.TypeOf((*blockish)(nil)).Elem()):
			walkBlocks(f, fn)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Pointer:
			for j := 0; j < f.Len(); j++ {
				walkBlocks(f.Index(j), fn)
			}
		}
	}
}
