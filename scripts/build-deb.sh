#!/usr/bin/env bash
# Builds the Debian package keepalived-go_VERSION_ARCH.deb with dpkg-deb,
# from this repository and the Go toolchain only (no network beyond the Go
# module cache; nothing is installed). The files and why they are named so
# (installable beside or instead of Debian's keepalived): README, Packaging.
#
# Usage: scripts/build-deb.sh [OUTDIR]      (default: dist/out)
# Prints the path of the package on its last line. VERSION is
# dist/deb/changelog's, and must be the binary's (keepalived-go -v).
# GOARCH=arm64 (etc.) cross-builds; the package's architecture follows it.
set -euo pipefail
cd "$(dirname "$0")/.."
src=dist/deb
out=${1:-dist/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(sed -n '1s/^keepalived-go (\([^)]*\)).*/\1/p' "$src/changelog")
maintainer=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$src/changelog" | head -1)
[ -n "$version" ] && [ -n "$maintainer" ] || { echo "build-deb.sh: cannot read $src/changelog" >&2; exit 1; }
goarch=${GOARCH:-$(go env GOARCH)}
case $goarch in
  amd64 | arm64 | riscv64 | ppc64le | s390x) arch=$goarch ;;
  386) arch=i386 ;;
  arm) arch=armhf ;;
  *) echo "build-deb.sh: no Debian architecture for GOARCH=$goarch" >&2; exit 1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
install -d -m 755 "$root/DEBIAN" "$root/usr/sbin" "$root/usr/bin" \
  "$root/lib/systemd/system" "$root/etc/keepalived-go" "$root/etc/default" \
  "$root/usr/share/man/man8" "$root/usr/share/man/man1" "$root/usr/share/doc/keepalived-go" \
  "$root/usr/share/lintian/overrides"

# Static, stripped, reproducible binaries: no libc dependency to declare.
export CGO_ENABLED=0 GOARCH=$goarch
go build -trimpath -ldflags='-s -w -buildid=' -o "$root/usr/sbin/keepalived-go" ./cmd/keepalived-go
go build -trimpath -ldflags='-s -w -buildid=' -o "$root/usr/bin/keepalived-go-genhash" ./cmd/genhash
if [ "$goarch" = "$(go env GOHOSTARCH)" ]; then
  got=$("$root/usr/sbin/keepalived-go" -v 2>&1 | head -1)
  case $got in
    *" v$version "*) ;;
    *) echo "build-deb.sh: the binary says '$got', $src/changelog says $version" >&2; exit 1 ;;
  esac
fi

install -m 644 dist/keepalived-go.service "$root/lib/systemd/system/keepalived-go.service"
install -m 644 "$src/keepalived.conf" "$root/etc/keepalived-go/keepalived.conf"
install -m 644 "$src/default" "$root/etc/default/keepalived-go"
sed "s/@VERSION@/$version/" "$src/keepalived-go.8" | gzip -9n >"$root/usr/share/man/man8/keepalived-go.8.gz"
sed "s/@VERSION@/$version/" "$src/keepalived-go-genhash.1" | gzip -9n >"$root/usr/share/man/man1/keepalived-go-genhash.1.gz"
install -m 644 "$src/lintian-overrides" "$root/usr/share/lintian/overrides/keepalived-go"
gzip -9n <"$src/changelog" >"$root/usr/share/doc/keepalived-go/changelog.gz"

# The copyright file names the Go modules built into the binaries.
modules=$(go version -m "$root/usr/sbin/keepalived-go" "$root/usr/bin/keepalived-go-genhash" |
  awk '$1 == "dep" { print " " $2 " " $3 }' | sort -u)
{
  sed '/@MODULES@/,$d' "$src/copyright"
  echo "Files: (statically linked Go modules)"
  echo "Copyright: their authors"
  echo "License: various"
  echo " Each module's licence is in its LICENSE file. The modules:"
  if [ -n "$modules" ]; then echo "$modules"; else echo " (none)"; fi
} >"$root/usr/share/doc/keepalived-go/copyright"
chmod 644 "$root/usr/share/doc/keepalived-go/copyright"

for f in postinst prerm postrm; do install -m 755 "$src/$f" "$root/DEBIAN/$f"; done
printf '/etc/default/keepalived-go\n/etc/keepalived-go/keepalived.conf\n' >"$root/DEBIAN/conffiles"
chmod 644 "$root/DEBIAN/conffiles"
(cd "$root" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@MAINTAINER@/$maintainer/" \
  -e "s/@SIZE@/$size/" "$src/control" >"$root/DEBIAN/control"
chmod 644 "$root/DEBIAN/control"

deb=$out/keepalived-go_${version}_$arch.deb
# --root-owner-group: every file is root's without fakeroot.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)} \
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
