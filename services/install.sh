#!/usr/bin/env bash
# Installs the real local services OptiBid's tests and dev loop use, on Debian 12 or 13.
# Idempotent: every step checks whether its result is already there. Kafka jars are
# cached under $OPTIBID_HOME/cache (default .optibid/cache) so a second run downloads nothing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${OPTIBID_HOME:-$(cd "$here/.." && pwd)/.optibid}"
cache="$home/cache"
mkdir -p "$cache"

log() { printf '[install] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

. /etc/os-release
codename="${VERSION_CODENAME:-unknown}"
log "Debian release: ${VERSION_ID:-?} ($codename)"

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated = 0 ]; then log "apt-get update"; as_root apt-get update -qq; apt_updated=1; fi
  log "apt-get install ${missing[*]}"
  # Debian's maintainer scripts try to start services; we start them ourselves.
  printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
  as_root chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  as_root rm -f /usr/sbin/policy-rc.d
}

# The mirror this machine already uses for Debian, read from its apt sources.
debian_mirror() {
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  fi
  [ -n "$uri" ] || { log "cannot find the Debian mirror in /etc/apt"; exit 1; }
  echo "${uri%/}"
}

install_postgres() {
  case "$codename" in
    trixie|forky|sid)
      apt_install postgresql-17 postgresql-17-timescaledb ;;
    bookworm)
      apt_install postgresql-15 postgresql-server-dev-15 cmake make gcc dpkg-dev libssl-dev
      local pgconfig=/usr/lib/postgresql/15/bin/pg_config
      if [ -f "$($pgconfig --pkglibdir)/timescaledb.so" ]; then
        log "timescaledb already built"
      else
        local src_list=/etc/apt/sources.list.d/optibid-trixie-src.list
        if [ ! -f "$src_list" ]; then
          echo "deb-src $(debian_mirror) trixie main" | as_root tee "$src_list" >/dev/null
          as_root apt-get update -qq
        fi
        local build="$cache/timescaledb-src"
        rm -rf "$build"; mkdir -p "$build"
        log "building TimescaleDB (Apache edition) from Debian's source package"
        (cd "$build" && apt-get source -qq timescaledb >/dev/null 2>&1)
        local dir; dir=$(find "$build" -maxdepth 1 -mindepth 1 -type d -name 'timescaledb-*' | head -n1)
        (cd "$dir" && ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
            -DWARNINGS_AS_ERRORS=OFF -DPG_CONFIG="$pgconfig" >"$build/bootstrap.log" 2>&1 \
          && make -C build -j"$(nproc)" >"$build/make.log" 2>&1 \
          && as_root make -C build install >"$build/install.log" 2>&1) \
          || { log "TimescaleDB build failed; tail of logs:"; tail -n 30 "$build"/*.log >&2; exit 1; }
      fi ;;
    *) log "unsupported Debian release '$codename': install PostgreSQL + TimescaleDB yourself and set OPTIBID_PG_URL"; exit 1 ;;
  esac
}

install_clickhouse() {
  if command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/bin/clickhouse ]; then return 0; fi
  if apt-cache show clickhouse-server >/dev/null 2>&1 || [ $apt_updated = 0 ]; then
    apt_install clickhouse-server clickhouse-client
  else
    log "this Debian release has no clickhouse-server package; set OPTIBID_CLICKHOUSE_URL to a ClickHouse you run"
    exit 1
  fi
}

install_mosquitto() { apt_install mosquitto; }

install_kafka() {
  local version="${OPTIBID_KAFKA_VERSION:-4.1.1}"
  local libs="$cache/kafka-$version/libs"
  if [ -f "$libs/.complete" ]; then log "kafka $version jars cached"; return 0; fi
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
  mkdir -p "$libs"
  sed "s/@KAFKA_VERSION@/$version/" "$here/kafka/pom.xml" > "$cache/kafka-$version/pom.xml"
  log "fetching Apache Kafka $version jars from Maven Central"
  (cd "$cache/kafka-$version" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime) \
    || { log "maven failed"; exit 1; }
  touch "$libs/.complete"
}

what="${1:-all}"
case "$what" in
  all) install_kafka; install_postgres; install_clickhouse; install_mosquitto ;;
  kafka) install_kafka ;;
  postgres) install_postgres ;;
  clickhouse) install_clickhouse ;;
  mosquitto) install_mosquitto ;;
  *) echo "usage: install.sh [all|kafka|postgres|clickhouse|mosquitto]" >&2; exit 2 ;;
esac
log "done: $what"
