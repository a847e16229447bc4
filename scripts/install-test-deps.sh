#!/usr/bin/env bash
# Installs what the tests need on Debian: the real keepalived (the oracle and
# interop peer), tshark (dissects what we send), nftables and iproute2
# (namespaces). Run as root. The daemon itself needs none of these.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for cmd in keepalived:keepalived tshark:tshark nft:nftables ip:iproute2 ping:iputils-ping; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts the packaged keepalived; the tests run their own.
systemctl stop keepalived >/dev/null 2>&1 || true
systemctl disable keepalived >/dev/null 2>&1 || true
pkill -x keepalived || true
