#!/usr/bin/env bash
# Installs what the tests need on Debian: the real keepalived (the oracle and
# interop peer), tshark (dissects what we send), nftables and iproute2
# (namespaces), and for the IPVS tests in QEMU (test/qemu; the host kernel
# has no IPVS) QEMU, Debian's cloud kernel (its IPVS modules), a static
# busybox and ipvsadm, Chromium (headless, for the status page's test) and
# lintian (checks the Debian package that scripts/build-deb.sh builds).
# Run as root. The daemon itself needs none of these.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for cmd in keepalived:keepalived tshark:tshark nft:nftables ip:iproute2 ping:iputils-ping \
  qemu-system-x86_64:qemu-system-x86 ipvsadm:ipvsadm chromium:chromium lintian:lintian; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd#*:}")
done
# The guest's userland is busybox-static's /bin/busybox (a dynamic busybox
# cannot be copied alone into an initramfs).
if ! { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }; then
  need+=(busybox-static)
fi
# The guest's kernel: Debian's cloud kernel, whose IPVS is built as modules.
if ! ls /boot/vmlinuz-*-cloud-amd64 >/dev/null 2>&1; then
  need+=(linux-image-cloud-amd64)
fi
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts the packaged keepalived; the tests run their own.
systemctl stop keepalived >/dev/null 2>&1 || true
systemctl disable keepalived >/dev/null 2>&1 || true
pkill -x keepalived || true
