package config

import "fmt"

// garpExtraIf checks garp_extra_if / vrrp_garp_extra_if (and their
// deprecated spellings) as keepalived's handlers read them
// (vrrp_parser.c vrrp_garp_extra_if_handler, global_parser.c
// vrrp_vmac_garp_extra_if_handler): "all" and a number of seconds in
// [lo, 86400], in any order; a bad word or no number ignores the keyword
// (the field is reset to nil, which the runtime reads as unset). prefix
// is "(NAME): " for an instance, "" for global_defs.
func (v *validator) garpExtraIf(b *Block, w *OptWords, kw, old, newKW, prefix string, lo int64) {
	if *w == nil {
		return
	}
	pos := b.PosOf(kw)
	name := kw
	if b.Wrote(old) {
		name = old
		v.at(pos, ExitConfigErrors, old, "Keyword \"%s\" is deprecated - please use \"%s\"", old, newKW)
	}
	delay := false
	for _, word := range *w {
		if word == "all" {
			continue
		}
		if _, msg := gdCheckInt(word, lo, 86400, true); msg != "" {
			v.at(pos, ExitConfigErrors, kw, "%s", msg)
			v.at(pos, ExitConfigErrors, kw, "%s%s '%s' invalid - ignoring", prefix, name, word)
			*w = nil
			return
		}
		delay = true
	}
	if !delay {
		v.at(pos, ExitConfigErrors, kw, "%s%s specified without time - ignoring", prefix, name)
		*w = nil
	}
}

// instancePrefix is keepalived's "(NAME): " before an instance's message.
func instancePrefix(vi *VRRPInstance) string { return fmt.Sprintf("(%s): ", vi.Name()) }
