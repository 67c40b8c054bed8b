#!/usr/bin/env bash
# with-haproxy.sh COMMAND...: runs COMMAND with PULSEGRID_TEST_HAPROXY
# naming Debian's haproxy binary and PULSEGRID_TEST_CHROMIUM naming
# Debian's chromium, installing either package when it is missing. The
# failover test (cmd/pulsegrid/failover_test.go) starts HAProxy itself on
# 127.0.0.1 with a configuration made from deploy/haproxy.cfg, and opens
# /donate in Chromium through it; nothing is started here, and nothing of
# the system's haproxy service is touched.
#
# Existing PULSEGRID_TEST_HAPROXY / PULSEGRID_TEST_CHROMIUM are kept.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
updated=""
need() { # need BINARY PACKAGE
  if [ ! -x "$1" ]; then
    echo "with-haproxy: installing Debian $2"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$updated" ]; then
      apt-get update -qq
      updated=1
    fi
    # The package's own service is not wanted here (policy-rc.d 101: do
    # not start it); the test runs its own process.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d.pulsegrid
    chmod +x /usr/sbin/policy-rc.d.pulsegrid
    [ -e /usr/sbin/policy-rc.d ] || ln -s /usr/sbin/policy-rc.d.pulsegrid /usr/sbin/policy-rc.d
    apt-get install -y -qq "$2" >/dev/null
    [ "$(readlink /usr/sbin/policy-rc.d 2>/dev/null)" != /usr/sbin/policy-rc.d.pulsegrid ] || rm -f /usr/sbin/policy-rc.d
    rm -f /usr/sbin/policy-rc.d.pulsegrid
  fi
  if [ ! -x "$1" ]; then
    echo "with-haproxy: no $1 after installing $2" >&2
    exit 1
  fi
}
if [ -z "${PULSEGRID_TEST_HAPROXY:-}" ]; then
  need /usr/sbin/haproxy haproxy
  export PULSEGRID_TEST_HAPROXY=/usr/sbin/haproxy
fi
if [ -z "${PULSEGRID_TEST_CHROMIUM:-}" ]; then
  need /usr/bin/chromium chromium
  export PULSEGRID_TEST_CHROMIUM=/usr/bin/chromium
fi
echo "with-haproxy: $("$PULSEGRID_TEST_HAPROXY" -v | head -1) (PULSEGRID_TEST_HAPROXY), chromium $PULSEGRID_TEST_CHROMIUM (PULSEGRID_TEST_CHROMIUM)"
exec "$@"
