#!/usr/bin/env bash
# Installs what DnsWarden needs on a fresh Debian/Ubuntu machine, then builds it.
#   scripts/setup.sh            runtime packages + build of `dnsw` into ./out
#   scripts/setup.sh --test     also the real servers, clients and capture tools the tests drive
# Idempotent: a package already present is not installed again.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "dnsw setup: installing packages needs root (run with sudo)" >&2
        exit 1
    fi
}

# package:command pairs — a package is installed only when its command is missing. clang and zlib1g-dev are
# the native (ahead-of-time) build's linker and its one library header: ./dnsw ships that build. clang also
# compiles the send-time attribution program (BPF) against libbpf-dev's headers; libbpf1 loads it at run time.
runtime_pkgs=(libpcap0.8:/usr/lib/x86_64-linux-gnu/libpcap.so.0.8 iproute2:ip nftables:nft
              publicsuffix:/usr/share/publicsuffix/public_suffix_list.dat
              clang:clang zlib1g-dev:/usr/include/zlib.h
              libbpf1:/usr/lib/x86_64-linux-gnu/libbpf.so.1 libbpf-dev:/usr/include/bpf/bpf_helpers.h)
test_pkgs=(tshark:tshark tcpdump:tcpdump dnsmasq-base:dnsmasq knot-dnsutils:kdig knot-resolver:kresd
           bind9-dnsutils:dig curl:curl unbound:unbound dnsperf:dnsperf ngtcp2-client:gtlsclient procps:ps iputils-ping:ping mmdb-bin:mmdblookup openssl:openssl wireshark-common:reordercap
           python3-prometheus-client:/usr/lib/python3/dist-packages/prometheus_client bpftool:bpftool stress-ng:stress-ng
           chromium:chromium
           clickhouse-client:clickhouse-client
           tzdata:/usr/share/zoneinfo/Asia/Kolkata systemd:systemd-analyze man-db:man bash-completion:/usr/share/bash-completion/bash_completion zsh:zsh fish:fish
           nodejs:node npm:npm
           nghttp2-server:nghttpd python3-h2:/usr/lib/python3/dist-packages/h2)

missing=()
check() {
    local pair pkg probe
    for pair in "$@"; do
        pkg=${pair%%:*}
        probe=${pair#*:}
        if [[ "$probe" == /* ]]; then
            [ -e "$probe" ] || ls /usr/lib/*/"$(basename "$probe")" >/dev/null 2>&1 || missing+=("$pkg")
        else
            command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg")
        fi
    done
}
check "${runtime_pkgs[@]}"
[ $want_test -eq 1 ] && check "${test_pkgs[@]}"

if ! command -v dotnet >/dev/null 2>&1 || ! dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
    missing+=(dotnet-sdk-10.0)
fi

if [ ${#missing[@]} -gt 0 ]; then
    need_root
    echo "dnsw setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# promtool (one test checks the Prometheus text with it) without the Prometheus server: Debian ships it only in the
# server's package, whose install adds a user and starts a service. The one binary is taken out of the package into
# .tools/bin (scripts/test.sh puts it on PATH); nothing else of the package is installed.
if [ $want_test -eq 1 ] && ! command -v promtool >/dev/null 2>&1 && [ ! -x .tools/bin/promtool ]; then
    need_root
    tmp="$(mktemp -d)"
    if ! (cd "$tmp" && apt-get download -q prometheus >/dev/null 2>&1); then
        apt-get update -q >/dev/null
        (cd "$tmp" && apt-get download -q prometheus >/dev/null)
    fi
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/pkg"
    install -D -m 0755 "$tmp/pkg/usr/bin/promtool" .tools/bin/promtool
    rm -rf "$tmp"
fi

# clickhouse-server (the export tests run one in a namespace) the same way: its package's install adds a user and
# enables and starts a service on 127.0.0.1:8123/9000. Its one program is taken into .tools/bin; it runs on the
# library that clickhouse-client's dependency clickhouse-common installs (no maintainer scripts there).
if [ $want_test -eq 1 ] && ! command -v clickhouse-server >/dev/null 2>&1 && [ ! -x .tools/bin/clickhouse-server ]; then
    need_root
    tmp="$(mktemp -d)"
    if ! (cd "$tmp" && apt-get download -q clickhouse-server >/dev/null 2>&1); then
        apt-get update -q >/dev/null
        (cd "$tmp" && apt-get download -q clickhouse-server >/dev/null)
    fi
    dpkg-deb -x "$tmp"/clickhouse-server_*.deb "$tmp/pkg"
    install -D -m 0755 "$tmp/pkg/usr/sbin/clickhouse-server" .tools/bin/clickhouse-server
    rm -rf "$tmp"
fi

# The Elastic Common Schema field definitions (Elastic's @elastic/ecs package, generated from the ECS repository): the
# ECS tests check every key dnsw writes against them. Pinned; unpacked into .tools/ecs, nothing installed.
ecs_version=8.11.5
if [ $want_test -eq 1 ] && [ ! -f .tools/ecs/$ecs_version/package/generated/ecs_flat.js ]; then
    tmp="$(mktemp -d)"
    # npm's cache goes with the temporary directory: nothing is left in the user's home.
    (cd "$tmp" && npm_config_cache="$tmp/.npm" npm_config_update_notifier=false npm pack --silent "@elastic/ecs@$ecs_version" >/dev/null)
    mkdir -p .tools/ecs/$ecs_version
    tar -xzf "$tmp"/elastic-ecs-$ecs_version.tgz -C .tools/ecs/$ecs_version
    rm -rf "$tmp"
fi

# knot-resolver ships a systemd unit; the tests start their own kresd inside namespaces.
if [ $want_test -eq 1 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now kresd@1.service >/dev/null 2>&1 || true
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet restore DnsWarden.slnx -v quiet >/dev/null
