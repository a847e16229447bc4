package config

import (
	"fmt"
	"slices"
)

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

// garpGroups checks the garp_group blocks as keepalived's parser does
// (vrrp_parser.c garp_group_*_handler): an interface belongs to the first
// group that names it; a group with neither garp_interval nor
// gna_interval is removed (its interfaces are free again for later
// groups). A garp_interval of 0 is a delay: it keeps the group, and its
// interfaces then escape the global vrrp_garp_interval. keepalived cites
// the findings about an `interfaces` block's entries at the block's
// closing brace, which the model does not keep: those go unreported, and
// the runtime applies the same rule (internal/vrrpd garpPacer).
func (v *validator) garpGroups() {
	owned := map[string]bool{}
	aggregated := 0 // keepalived's aggregation group numbers, of the groups kept
	for _, gg := range v.cfg.GarpGroups {
		var mine []string
		if name := gg.Interface; name != "" {
			pos := gg.PosOf("interface")
			switch {
			case !v.opts.InterfaceExists(name):
				v.at(pos, ExitConfigErrors, "interface", "WARNING - interface %s specified for garp_group doesn't exist", name)
			case owned[name]:
				v.at(pos, ExitConfigErrors, "interface", "garp_group already specified for %s - ignoring", name)
			default:
				mine = append(mine, name)
			}
		}
		agg := 0
		if len(gg.Interfaces) > 0 {
			agg = aggregated + 1
		}
		for _, w := range gg.Interfaces {
			for _, name := range w.Words {
				if v.opts.InterfaceExists(name) && !owned[name] && !slices.Contains(mine, name) {
					mine = append(mine, name)
				}
			}
		}
		if !gg.IsSet("garp_interval") && !gg.IsSet("gna_interval") {
			v.at(gg.End, ExitConfigErrors, "garp_group", "garp group %d does not have any delay set - removing", agg)
			continue
		}
		if agg > 0 {
			aggregated = agg
		}
		for _, name := range mine {
			owned[name] = true
		}
	}
}
