#!/usr/bin/env bash
# oracle-record.sh - record the real keepalived's `-t` verdicts for the config
# corpus into internal/config/testdata/oracle/verdicts.json.
#
# Usage (as root, with keepalived installed):
#   scripts/oracle-record.sh                 # every oracle/*.conf and samples/*
#   scripts/oracle-record.sh oracle/x.conf   # only these (paths relative to
#                                            # internal/config/testdata); their
#                                            # entries are replaced, others kept
#
# Each config is checked in a fresh network namespace of its own, named
# kaoracle-<pid>-<n>, holding lo (up) and the veth pairs eth0<->eth1 and
# eth2<->eth3, nothing else; nothing is created in the root namespace. The
# command is exactly
#   keepalived -t -f <file> -l -n -i testhost
# run from internal/config/testdata, so cited file names are "oracle/x.conf".
# Hand-written fields of an existing entry (expect_exit, expect_lines, note)
# are kept across re-recording.
set -euo pipefail

KEEPALIVED=${KEEPALIVED:-keepalived}
here=$(cd "$(dirname "$0")" && pwd)
testdata=$here/../internal/config/testdata
cd "$testdata"

if [[ $(id -u) != 0 ]]; then
	echo "oracle-record.sh: must run as root (network namespaces)" >&2
	exit 1
fi
command -v "$KEEPALIVED" >/dev/null || { echo "oracle-record.sh: $KEEPALIVED not found" >&2; exit 1; }

full=0
if (($# == 0)); then
	full=1
	set -- oracle/*.conf samples/*
fi

work=$(mktemp -d /tmp/kaoracle.XXXXXX)
ns=""
cleanup() {
	if [[ -n $ns ]]; then ip netns del "$ns" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Never leave core files in the testdata directory (2.2.7 segfaults on some
# inputs).
ulimit -c 0

mkns() {
	ns=$1
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add eth0 type veth peer name eth1
	ip -n "$ns" link add eth2 type veth peer name eth3
	local i
	for i in eth0 eth1 eth2 eth3; do ip -n "$ns" link set "$i" up; done
}

n=0
: >"$work/list"
for f in "$@"; do
	f=${f#./}
	[[ -f $f ]] || { echo "oracle-record.sh: no such file $f (paths are relative to internal/config/testdata)" >&2; exit 1; }
	n=$((n + 1))
	mkns "kaoracle-$$-$n"
	set +e
	ip netns exec "$ns" timeout 20 "$KEEPALIVED" -t -f "$f" -l -n -i testhost >"$work/$n.out" 2>&1 </dev/null
	rc=$?
	set -e
	ip netns del "$ns"
	ns=""
	printf '%s\t%s\t%s\n' "$f" "$rc" "$work/$n.out" >>"$work/list"
	printf '%-55s exit %s\n' "$f" "$rc"
done

python3 - "$work/list" oracle/verdicts.json "$full" <<'PY'
import json, os, re, sys

listfile, out, full = sys.argv[1], sys.argv[2], sys.argv[3] == "1"

# "(Line 12)" in the first pass, "(oracle/x.conf: Line 12)" later.
cite = re.compile(r"\((?:([^()]*?): )?Line (\d+)\)")
unknown = re.compile(r"Unknown keyword '([^']*)'")
# Syslog-style or console timestamps and pids, should a build print them.
stamp = re.compile(r"^(?:[A-Z][a-z]{2} [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d(?: \d{4})?:? |"
                   r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?:? )")
pid = re.compile(r"^(Keepalived(?:_[a-z]+)?)\[\d+\]:? ")

old = {}
if os.path.exists(out):
    with open(out) as fh:
        for v in json.load(fh):
            old[v["file"]] = v

new = {} if full else dict(old)
with open(listfile) as fh:
    for row in fh:
        f, rc, path = row.rstrip("\n").split("\t")
        with open(path, "rb") as o:
            text = o.read().decode("utf-8", "replace")
        lines, msgs, unk = set(), [], []
        for l in text.splitlines():
            l = pid.sub(r"\1: ", stamp.sub("", l)).rstrip()
            if not l:
                continue
            if l not in msgs:
                msgs.append(l)
            for m in cite.finditer(l):
                lines.add(int(m.group(2)))
            for m in unknown.finditer(l):
                if m.group(1) not in unk:
                    unk.append(m.group(1))
        v = {"file": f, "exit": int(rc), "lines": sorted(lines), "unknown": unk, "messages": msgs}
        for keep in ("expect_exit", "expect_lines", "note"):
            if keep in old.get(f, {}):
                v[keep] = old[f][keep]
        new[f] = v

def key(f):
    return (0 if f.startswith("oracle/") else 1, f)

res = [new[k] for k in sorted(new, key=key)]
with open(out + ".tmp", "w") as fh:
    json.dump(res, fh, indent=1)
    fh.write("\n")
os.replace(out + ".tmp", out)
print("wrote %s: %d verdicts" % (out, len(res)))
PY
