#!/usr/bin/env bash
# Installs the real servers and tools the tests start (redis-server, chromium) from
# Debian's packages when they are missing and we are allowed to (root, apt-get).
# Tests that need one of them are skipped with a clear reason when it is absent.
set -u
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} from Debian's packages"
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || echo "warning: could not install ${need[*]}; tests that need them will be skipped"
else
  echo "note: ${need[*]} missing and not root; tests that need them will be skipped"
fi
exit 0
