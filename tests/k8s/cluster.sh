#!/usr/bin/env bash
# Test cluster for the Kubernetes integration tier of gslb (`gslb crd-sync`):
# a real kube-apiserver (built from Debian's `kubernetes` source package, cached
# outside the checkout) plus etcd, both on 127.0.0.1 with free ports.
#
# Usage: tests/k8s/cluster.sh <command> [DIR]
#   install-deps            apt-get install the build/run dependencies (root); adds a
#                           deb-src entry for the source package if none is configured
#   debsrc                  print that deb-src entry (deb822), derived from the apt sources
#   build                   build kube-apiserver once and cache it
#   path                    print the cached kube-apiserver binary path
#   start DIR               start etcd + kube-apiserver, state/logs under DIR
#   restart-apiserver DIR   restart kube-apiserver only (same flags and port)
#   stop-apiserver DIR      stop kube-apiserver only (etcd and its data stay)
#   start-apiserver DIR     start a stopped kube-apiserver again (same flags and port)
#   stop DIR                stop what `start` started (idempotent)
#   apply-crd DIR           apply deploy/crds/dnsendpoint.yaml, wait Established
#
# Environment:
#   GSLB_K8S_CACHE          cache dir (default ~/.cache/gslb-k8s)
#   GSLB_K8S_READY_TIMEOUT  seconds to wait for /readyz (default 60)
#   GSLB_K8S_STOP_TIMEOUT   seconds stop/restart wait after SIGTERM before SIGKILL
#                           (default 30; kube-apiserver 1.20 waits for open watches)
#   GSLB_K8S_AUTHORIZATION  --authorization-mode of kube-apiserver (default
#                           AlwaysAllow; RBAC makes the sync token's rights real)
#   GSLB_KUBE_APISERVER     use this kube-apiserver binary instead of the cache
#   ETCD                    etcd binary (default: etcd on PATH)
#   GSLB_K8S_SUITE          Debian suite of the kubernetes source package (default bookworm)
#   APT_CONFIG              read by apt-config: where the apt sources are (tests use it)
#   KUBECTL                 kubectl binary (default: kubectl on PATH)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE=${GSLB_K8S_CACHE:-${HOME:-/root}/.cache/gslb-k8s}
READY_TIMEOUT=${GSLB_K8S_READY_TIMEOUT:-60}
STOP_TIMEOUT=${GSLB_K8S_STOP_TIMEOUT:-30}
AUTHORIZATION=${GSLB_K8S_AUTHORIZATION:-AlwaysAllow}
# The user the sync token authenticates as: the ServiceAccount of deploy/.
SYNC_USER=system:serviceaccount:gslb:gslb-crd-sync
# The user the remote token authenticates as: the ServiceAccount other clusters'
# gslb instances use (deploy/multi-cluster/base/remote-access.yaml).
REMOTE_USER=system:serviceaccount:gslb:gslb-crd-sync-remote
KUBECTL=${KUBECTL:-kubectl}
ETCD=${ETCD:-etcd}
CRD_FILE="$REPO_ROOT/deploy/crds/dnsendpoint.yaml"
CRD_NAME=dnsendpoints.externaldns.k8s.io

APT_PACKAGES=(golang-go rsync jq etcd-server golang-github-modern-go-reflect2-dev
              openssl make dpkg-dev python3 ca-certificates)
DEBIAN_REFLECT2=/usr/share/gocode/src/github.com/modern-go/reflect2
# The suite whose `kubernetes` source package (1.20.2) the build is known to work with.
SUITE=${GSLB_K8S_SUITE:-bookworm}
# Where apt reads its sources (apt-config honours APT_CONFIG, so tests can point it at
# fixtures); the deb-src entry install-deps adds goes into SOURCEPARTS.
SOURCELIST=/etc/apt/sources.list
SOURCEPARTS=/etc/apt/sources.list.d/
if command -v apt-config >/dev/null; then
    eval "$(apt-config shell SOURCELIST Dir::Etc::sourcelist/f SOURCEPARTS Dir::Etc::sourceparts/d)"
fi
SOURCEPARTS=${SOURCEPARTS%/}
DEBSRC_FILE="$SOURCEPARTS/gslb-k8s-src.sources"

log()  { printf '[cluster.sh] %s\n' "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }
now()  { date +%s; }

# ---------------------------------------------------------------- install-deps

# The apt source files, one-line (sources.list, *.list) and deb822 (*.sources).
apt_source_files() {
    local f
    for f in "$SOURCELIST" "$SOURCEPARTS"/*.list "$SOURCEPARTS"/*.sources; do
        [ -f "$f" ] && printf '%s\n' "$f"
    done
    return 0
}

# Reads apt source files (one-line or deb822, told apart by the .sources
# suffix) and prints every enabled entry as "TYPES<TAB>URIS<TAB>SUITES<TAB>
# COMPONENTS<TAB>SIGNED-BY<TAB>TRUSTED" with lists space-separated; a
# multi-line Signed-By (an inline key) has its newlines as \n.
apt_entries() {
    awk '
        function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
        function emit(types, uris, suites, comps, signed, trusted) {
            gsub(/\t/, " ", signed)
            printf "%s\t%s\t%s\t%s\t%s\t%s\n", types, uris, suites, comps, signed, trusted
        }
        function oneline(line,    opts, n, words, i, o, kv, signed, trusted, comps) {
            sub(/#.*/, "", line)
            line = trim(line)
            if (line !~ /^deb(-src)?[ \t]/) return
            signed = ""; trusted = ""
            if (match(line, /\[[^]]*\]/)) {
                opts = substr(line, RSTART + 1, RLENGTH - 2)
                line = substr(line, 1, RSTART - 1) " " substr(line, RSTART + RLENGTH)
                o = split(opts, kv, /[ \t]+/)
                for (i = 1; i <= o; i++) {
                    if (kv[i] ~ /^signed-by=/) { signed = substr(kv[i], 11); gsub(/,/, " ", signed) }
                    if (kv[i] ~ /^trusted=/) trusted = substr(kv[i], 9)
                }
            }
            n = split(line, words, /[ \t]+/)
            if (n < 3) return
            comps = ""
            for (i = 4; i <= n; i++) comps = comps (comps == "" ? "" : " ") words[i]
            emit(words[1], words[2], words[3], comps, signed, trusted)
        }
        function stanza(text,    n, lines, i, key, field, line) {
            delete field
            n = split(text, lines, "\n")
            key = ""
            for (i = 1; i <= n; i++) {
                line = lines[i]
                if (line ~ /^#/) continue
                if (line ~ /^[ \t]/ && key != "") {
                    field[key] = field[key] "\\n" trim(line)
                } else if (match(line, /^[A-Za-z0-9-]+:/)) {
                    key = tolower(substr(line, 1, RLENGTH - 1))
                    field[key] = trim(substr(line, RLENGTH + 1))
                }
            }
            if (!("types" in field) || !("uris" in field) || !("suites" in field)) return
            if (tolower(field["enabled"]) == "no") return
            emit(field["types"], field["uris"], field["suites"], field["components"],
                 field["signed-by"], tolower(field["trusted"]))
        }
        BEGIN { RS = "" }
        {
            if (FILENAME ~ /\.sources$/) { stanza($0); next }
            n = split($0, ls, "\n")
            for (j = 1; j <= n; j++) oneline(ls[j])
        }
    ' "$@"
}

has_word() { case " $1 " in *" $2 "*) return 0 ;; *) return 1 ;; esac; }

# Any enabled deb-src entry for $SUITE main.
have_debsrc() {
    local files types uris suites comps signed trusted
    mapfile -t files < <(apt_source_files)
    [ ${#files[@]} -gt 0 ] || return 1
    while IFS=$'\t' read -r types uris suites comps signed trusted; do
        has_word "$types" deb-src && has_word "$suites" "$SUITE" && has_word "$comps" main && return 0
    done < <(apt_entries "${files[@]}")
    return 1
}

# The deb-src entry (deb822) for $SUITE main on the mirrors this machine already
# uses: the URIs (and Signed-By, Trusted) of the enabled `deb` entries for the
# distribution's own release suite and `main`, so it works behind any mirror or
# proxy; apt also refuses an entry whose Signed-By differs from another entry's for
# the same URI and suite, which copying avoids. Release suite: the codename of
# /etc/os-release, or, when no entry names it, any suite without a "-" (not -updates,
# -security, -backports).
cmd_debsrc() {
    local codename files types uris suites comps signed trusted uri out="" seen=" "
    codename=$( (. /etc/os-release 2>/dev/null && printf '%s' "${VERSION_CODENAME:-}") || true)
    mapfile -t files < <(apt_source_files)
    [ ${#files[@]} -gt 0 ] || die "no apt source files ($SOURCELIST, $SOURCEPARTS/*.list, *.sources)"
    local pass
    for pass in codename plain; do
        while IFS=$'\t' read -r types uris suites comps signed trusted; do
            has_word "$types" deb && has_word "$comps" main || continue
            local s match=0
            for s in $suites; do
                if [ "$pass" = codename ]; then
                    [ -n "$codename" ] && [ "$s" = "$codename" ] && match=1
                else
                    case $s in *-*|*/*) ;; *) match=1 ;; esac
                fi
            done
            [ "$match" = 1 ] || continue
            for uri in $uris; do
                uri=${uri%/}
                case $seen in *" $uri "*) continue ;; esac
                seen="$seen$uri "
                out+="Types: deb-src"$'\n'"URIs: $uri"$'\n'"Suites: $SUITE"$'\n'"Components: main"$'\n'
                [ -z "$signed" ] || out+="Signed-By: ${signed//\\n/$'\n' }"$'\n'
                [ -z "$trusted" ] || out+="Trusted: $trusted"$'\n'
                out+=$'\n'
            done
        done < <(apt_entries "${files[@]}")
        [ -z "$out" ] || break
    done
    [ -n "$out" ] || die "no enabled 'deb' entry for the release suite ($codename) and main in ${files[*]}; add a deb-src entry for $SUITE main yourself"
    printf '# Added by gslb tests/k8s/cluster.sh install-deps: the kubernetes source package.\n%s' "$out"
}

cmd_install_deps() {
    [ "$(id -u)" = 0 ] || die "install-deps must run as root"
    export DEBIAN_FRONTEND=noninteractive
    local updated=0
    if ! have_debsrc; then
        local entry
        entry=$(cmd_debsrc)
        printf '%s\n' "$entry" > "$DEBSRC_FILE"
        if ! apt-get update -q; then
            rm -f "$DEBSRC_FILE"
            die "apt-get update failed with the deb-src entry derived from the apt sources:
$entry"
        fi
        log "added a deb-src entry for $SUITE main: $DEBSRC_FILE:"$'\n'"$entry"
        updated=1
    fi
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing: ${missing[*]}"
        [ "$updated" = 1 ] || apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
        log "all packages already installed"
    fi
    if ! apt-cache showsrc kubernetes >/dev/null 2>&1 || [ -z "$(source_version)" ]; then
        [ "$updated" = 1 ] || apt-get update -q
    fi
    [ -n "$(source_version)" ] || die "apt does not know the kubernetes source package (deb-src missing?)"
    command -v "$KUBECTL" >/dev/null || log "WARNING: kubectl not found on PATH (needed by start/apply-crd)"
}

# ----------------------------------------------------------------------- build

source_version() {
    # Newest version of the `kubernetes` source package apt knows, or nothing.
    apt-cache showsrc kubernetes 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n1
}

cache_key() { printf '%s' "$1" | tr ':/' '__'; }

runs_ok() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

# Path of the cached binary: the one for the current apt source version if apt
# knows it, else the newest cached one. Prints nothing if there is none.
cached_binary() {
    if [ -n "${GSLB_KUBE_APISERVER:-}" ]; then echo "$GSLB_KUBE_APISERVER"; return; fi
    local v
    v=$(source_version)
    if [ -n "$v" ] && [ -e "$CACHE/kube-apiserver-$(cache_key "$v")" ]; then
        echo "$CACHE/kube-apiserver-$(cache_key "$v")"; return
    fi
    ls -1 "$CACHE"/kube-apiserver-* 2>/dev/null | grep -v '\.tmp$' | sort -V | tail -n1 || true
}

cmd_path() {
    local b; b=$(cached_binary)
    [ -n "$b" ] && runs_ok "$b" || die "no usable kube-apiserver cached in $CACHE (run: $0 build)"
    echo "$b"
}

cmd_build() {
    local version key bin
    version=$(source_version)
    if [ -z "$version" ]; then
        # No deb-src configured: a previously cached binary is still fine.
        bin=$(cached_binary)
        if [ -n "$bin" ] && runs_ok "$bin"; then log "cached: $bin"; echo "$bin"; return 0; fi
        die "apt does not know the kubernetes source package; run: $0 install-deps"
    fi
    key=$(cache_key "$version")
    bin="$CACHE/kube-apiserver-$key"
    if runs_ok "$bin"; then
        log "cached: $bin ($("$bin" --version))"
        echo "$bin"
        return 0
    fi
    command -v go >/dev/null || die "go not found; run: $0 install-deps"
    [ -d "$DEBIAN_REFLECT2" ] || die "$DEBIAN_REFLECT2 missing; run: $0 install-deps"

    mkdir -p "$CACHE"
    local buildlog="$CACHE/build-$key.log"
    local src="$CACHE/src-$key" dl="$CACHE/dl-$key" scratch="$CACHE/scratch"
    mkdir -p "$dl" "$scratch/home" "$scratch/gopath" "$scratch/gocache"
    log "building kube-apiserver $version (log: $buildlog); first build takes ~10 min"
    local t0; t0=$(now)
    if ! ( build_steps "$version" "$src" "$dl" "$scratch" "$bin" ) >"$buildlog" 2>&1; then
        log "build FAILED after $(( $(now) - t0 ))s; last 60 lines of $buildlog:"
        tail -n 60 "$buildlog" >&2
        exit 1
    fi
    log "built in $(( $(now) - t0 ))s: $bin ($("$bin" --version))"
    echo "$bin"
}

# Runs in a subshell with output to the build log.
build_steps() {
    local version=$1 src=$2 dl=$3 scratch=$4 bin=$5
    set -euo pipefail
    set -x
    if [ ! -f "$src/.gslb-prepared" ]; then
        rm -rf "$src"
        ( cd "$dl" && apt-get source --download-only "kubernetes=$version" )
        local dsc
        dsc=$(ls -1 "$dl"/kubernetes_*.dsc | head -n1)
        dpkg-source -x --no-check "$dsc" "$src"
        # dpkg-source leaves a copy of the orig tarball next to the tree; drop it.
        rm -f "$(dirname "$src")"/kubernetes_*.orig.tar.*
        # Vendored reflect2 1.0.1 crashes under Go >= 1.18 (fault in UnsafeIterate on
        # the first custom-resource create); use Debian's 1.0.2 instead.
        local vr="$src/vendor/github.com/modern-go/reflect2"
        [ -d "$vr" ] || { echo "no vendored reflect2 at $vr"; exit 1; }
        find "$vr" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) ! -name '*_test.go' -delete
        find "$DEBIAN_REFLECT2" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) ! -name '*_test.go' \
            -exec cp {} "$vr/" \;
        touch "$src/.gslb-prepared"
    fi
    cd "$src"
    # Version stamp: the tarball has no .git, so tell hack/lib/version.sh directly.
    local upstream=${version#*:}; upstream=${upstream%%-*}; upstream=${upstream##*really}
    export KUBE_GIT_VERSION="v${upstream%%+*}" KUBE_GIT_TREE_STATE=clean KUBE_GIT_COMMIT=debian
    export HOME="$scratch/home" GOPATH="$scratch/gopath" GOCACHE="$scratch/gocache"
    unset GOFLAGS GO111MODULE GOBIN
    go version
    make WHAT=cmd/kube-apiserver
    install -m 0755 _output/bin/kube-apiserver "$bin.tmp"
    "$bin.tmp" --version
    mv -f "$bin.tmp" "$bin"
}

# ------------------------------------------------------------------ processes

pid_alive() {
    # pid_alive PIDFILE NAME: the pid in PIDFILE runs and is NAME (guards against reuse).
    local pf=$1 name=$2 pid cmd _
    [ -s "$pf" ] || return 1
    pid=$(cat "$pf")
    [ -n "$pid" ] || return 1
    # /proc/PID/cmdline reads empty while the process is inside execve (the
    # run script execs the server right after writing its pid), and for a
    # zombie: ask again for half a second before calling it gone.
    for _ in $(seq 1 10); do
        kill -0 "$pid" 2>/dev/null || return 1
        cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || true
        if [ -n "$cmd" ]; then
            [[ $cmd == *"$name"* ]]
            return
        fi
        sleep 0.05
    done
    return 1
}

# launch DIR NAME: run DIR/run-NAME.sh detached (own session, no inherited fds);
# it writes DIR/NAME.pid itself and execs the server.
launch() {
    local dir=$1 name=$2
    rm -f "$dir/$name.pid"
    setsid bash "$dir/run-$name.sh" </dev/null >>"$dir/$name.log" 2>&1 &
    local i
    for i in $(seq 1 50); do [ -s "$dir/$name.pid" ] && return 0; sleep 0.1; done
    die "$name did not start (see $dir/$name.log)"
}

# stop_proc DIR NAME: SIGTERM, wait up to STOP_TIMEOUT s, then SIGKILL. Idempotent.
stop_proc() {
    local dir=$1 name=$2 pf="$1/$2.pid" pid i
    if ! pid_alive "$pf" "$name"; then rm -f "$pf"; return 0; fi
    pid=$(cat "$pf")
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 $(( STOP_TIMEOUT * 10 ))); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pf"; return 0; }
        sleep 0.1
    done
    log "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pf"; return 0; }
        sleep 0.1
    done
    die "$name (pid $pid) does not exit"
}

free_ports() {
    # Print N distinct free TCP ports on 127.0.0.1 (held open together while picking).
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_env() {
    local dir=$1
    # shellcheck disable=SC1091
    source "$dir/ports"
    cat > "$dir/env" <<EOF
# Generated by tests/k8s/cluster.sh; source it.
export K8S_TEST_DIR=$(printf '%q' "$dir")
export KUBECONFIG=$(printf '%q' "$dir/kubeconfig")
export APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
export APISERVER_PORT=$APISERVER_PORT
export APISERVER_TOKEN=$(cat "$dir/token")
export SYNC_KUBECONFIG=$(printf '%q' "$dir/kubeconfig-sync")
export REMOTE_KUBECONFIG=$(printf '%q' "$dir/kubeconfig-remote")
export APISERVER_PID=$(cat "$dir/kube-apiserver.pid" 2>/dev/null || true)
export ETCD_URL=http://127.0.0.1:$ETCD_CLIENT_PORT
export ETCD_CLIENT_PORT=$ETCD_CLIENT_PORT
export ETCD_PEER_PORT=$ETCD_PEER_PORT
export ETCD_PID=$(cat "$dir/etcd.pid" 2>/dev/null || true)
EOF
}

kctl() { "$KUBECTL" --kubeconfig "$1/kubeconfig" --request-timeout=5s "${@:2}"; }

wait_ready() {
    local dir=$1 t0=$2 deadline=$(( $2 + READY_TIMEOUT ))
    while :; do
        if ! pid_alive "$dir/kube-apiserver.pid" kube-apiserver; then
            log "kube-apiserver exited; last 40 lines of $dir/kube-apiserver.log:"
            tail -n 40 "$dir/kube-apiserver.log" >&2
            return 1
        fi
        if [ "$(kctl "$dir" get --raw /readyz 2>/dev/null)" = ok ] &&
           kctl "$dir" get namespace default >/dev/null 2>&1; then
            return 0
        fi
        if [ "$(now)" -ge "$deadline" ]; then
            log "kube-apiserver not ready after ${READY_TIMEOUT}s; last 40 lines of $dir/kube-apiserver.log:"
            tail -n 40 "$dir/kube-apiserver.log" >&2
            log "last 10 lines of $dir/etcd.log:"
            tail -n 10 "$dir/etcd.log" >&2
            return 1
        fi
        sleep 0.5
    done
}

need_dir() { [ -n "${1:-}" ] || die "usage: $0 ${2} DIR"; }

cmd_start() {
    need_dir "${1:-}" start
    local dir; mkdir -p "$1"; dir=$(cd "$1" && pwd)
    if pid_alive "$dir/etcd.pid" etcd || pid_alive "$dir/kube-apiserver.pid" kube-apiserver; then
        die "a cluster is already running in $dir (run: $0 stop $dir)"
    fi
    local apiserver
    apiserver=$(cmd_path)
    command -v "$ETCD" >/dev/null || die "etcd not found; run: $0 install-deps"
    command -v "$KUBECTL" >/dev/null || die "kubectl not found"
    local t0; t0=$(now)

    # Fresh state every start.
    rm -rf "$dir/etcd-data" "$dir/certs"
    rm -f "$dir"/{sa.key,sa.pub,tokens.csv,token,sync-token,remote-token,kubeconfig,kubeconfig-sync,kubeconfig-remote,env,ports,etcd.log,kube-apiserver.log}
    mkdir -p "$dir/certs"

    local ports etcd_client etcd_peer api
    ports=$(free_ports 3)
    read -r etcd_client etcd_peer api <<<"$ports"
    printf 'ETCD_CLIENT_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\n' \
        "$etcd_client" "$etcd_peer" "$api" > "$dir/ports"

    openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
    openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
    local token; token=$(openssl rand -hex 16)
    echo "$token" > "$dir/token"
    local sync_token; sync_token=$(openssl rand -hex 16)
    echo "$sync_token" > "$dir/sync-token"
    local remote_token; remote_token=$(openssl rand -hex 16)
    echo "$remote_token" > "$dir/remote-token"
    {
        echo "$token,admin,admin,\"system:masters\""
        echo "$sync_token,$SYNC_USER,gslb-crd-sync,\"system:serviceaccounts,system:serviceaccounts:gslb\""
        echo "$remote_token,$REMOTE_USER,gslb-crd-sync-remote,\"system:serviceaccounts,system:serviceaccounts:gslb\""
    } > "$dir/tokens.csv"
    chmod 600 "$dir/sa.key" "$dir/token" "$dir/sync-token" "$dir/remote-token" "$dir/tokens.csv"

    umask 077
    cat > "$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gslb-test
  cluster:
    server: https://127.0.0.1:$api
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $token
contexts:
- name: gslb-test
  context:
    cluster: gslb-test
    user: admin
    namespace: default
current-context: gslb-test
EOF
    # The same cluster as $SYNC_USER (what deploy/rbac.yaml grants).
    sed -e "s/token: $token/token: $sync_token/" -e 's/name: admin/name: crd-sync/' \
        -e 's/user: admin/user: crd-sync/' "$dir/kubeconfig" > "$dir/kubeconfig-sync"
    # ... and as $REMOTE_USER (what another cluster's gslb is given).
    sed -e "s/token: $token/token: $remote_token/" -e 's/name: admin/name: crd-sync-remote/' \
        -e 's/user: admin/user: crd-sync-remote/' "$dir/kubeconfig" > "$dir/kubeconfig-remote"
    umask 022

    local q_etcd q_api
    q_etcd=$(printf '%q ' "$(command -v "$ETCD")" \
        --name default --data-dir "$dir/etcd-data" \
        --listen-client-urls "http://127.0.0.1:$etcd_client" \
        --advertise-client-urls "http://127.0.0.1:$etcd_client" \
        --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
        --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
        --initial-cluster "default=http://127.0.0.1:$etcd_peer" \
        --initial-cluster-state new)
    # MixedProtocolLBService (alpha in 1.20, GA in 1.26) lets deploy/service.yaml's
    # one LoadBalancer Service carry UDP and TCP 53, as on current clusters.
    q_api=$(printf '%q ' "$apiserver" \
        --etcd-servers="http://127.0.0.1:$etcd_client" \
        --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
        --secure-port="$api" --insecure-port=0 \
        --cert-dir="$dir/certs" \
        --service-account-key-file="$dir/sa.pub" \
        --service-account-signing-key-file="$dir/sa.key" \
        --service-account-issuer=https://kubernetes.default.svc \
        --authorization-mode="$AUTHORIZATION" \
        --token-auth-file="$dir/tokens.csv" \
        --service-cluster-ip-range=10.0.0.0/24 \
        --feature-gates=MixedProtocolLBService=true \
        --profiling=false)
    printf '#!/usr/bin/env bash\necho $$ > %q\nexec %s\n' "$dir/etcd.pid" "$q_etcd" > "$dir/run-etcd.sh"
    printf '#!/usr/bin/env bash\necho $$ > %q\nexec %s\n' "$dir/kube-apiserver.pid" "$q_api" > "$dir/run-kube-apiserver.sh"

    log "starting etcd (client 127.0.0.1:$etcd_client, peer :$etcd_peer)"
    launch "$dir" etcd
    local deadline=$(( $(now) + READY_TIMEOUT ))
    until port_open "$etcd_client"; do
        if ! pid_alive "$dir/etcd.pid" etcd || [ "$(now)" -ge "$deadline" ]; then
            log "etcd did not come up; last 40 lines of $dir/etcd.log:"
            tail -n 40 "$dir/etcd.log" >&2
            stop_proc "$dir" etcd
            exit 1
        fi
        sleep 0.2
    done

    log "starting kube-apiserver (https://127.0.0.1:$api)"
    launch "$dir" kube-apiserver
    write_env "$dir"
    if ! wait_ready "$dir" "$t0"; then
        stop_proc "$dir" kube-apiserver
        stop_proc "$dir" etcd
        exit 1
    fi
    write_env "$dir"
    log "ready in $(( $(now) - t0 ))s; source $dir/env"
}

cmd_restart_apiserver() {
    need_dir "${1:-}" restart-apiserver
    cmd_stop_apiserver "$1"
    cmd_start_apiserver "$1"
}

cmd_stop_apiserver() {
    need_dir "${1:-}" stop-apiserver
    local dir; dir=$(cd "$1" && pwd)
    [ -f "$dir/run-kube-apiserver.sh" ] || die "no cluster in $dir (run: $0 start $dir)"
    stop_proc "$dir" kube-apiserver
    write_env "$dir"
}

cmd_start_apiserver() {
    need_dir "${1:-}" start-apiserver
    local dir; dir=$(cd "$1" && pwd)
    [ -f "$dir/run-kube-apiserver.sh" ] || die "no cluster in $dir (run: $0 start $dir)"
    pid_alive "$dir/etcd.pid" etcd || die "etcd is not running in $dir"
    pid_alive "$dir/kube-apiserver.pid" kube-apiserver && die "kube-apiserver already runs in $dir"
    local t0; t0=$(now)
    log "starting kube-apiserver again"
    echo "---- restart $(date -u +%FT%TZ) ----" >> "$dir/kube-apiserver.log"
    launch "$dir" kube-apiserver
    write_env "$dir"
    wait_ready "$dir" "$t0" || exit 1
    log "ready again in $(( $(now) - t0 ))s (pid $(cat "$dir/kube-apiserver.pid"))"
}

cmd_stop() {
    need_dir "${1:-}" stop
    [ -d "$1" ] || return 0
    local dir; dir=$(cd "$1" && pwd)
    stop_proc "$dir" kube-apiserver
    stop_proc "$dir" etcd
    [ -f "$dir/ports" ] && write_env "$dir"
    return 0
}

cmd_apply_crd() {
    need_dir "${1:-}" apply-crd
    local dir; dir=$(cd "$1" && pwd)
    [ -f "$dir/kubeconfig" ] || die "no kubeconfig in $dir (run: $0 start $dir)"
    "$KUBECTL" --kubeconfig "$dir/kubeconfig" apply -f "$CRD_FILE"
    "$KUBECTL" --kubeconfig "$dir/kubeconfig" wait --for condition=established \
        --timeout=60s "crd/$CRD_NAME"
}

case "${1:-}" in
    install-deps)       cmd_install_deps ;;
    debsrc)             cmd_debsrc ;;
    build)              cmd_build ;;
    path)               cmd_path ;;
    start)              cmd_start "${2:-}" ;;
    restart-apiserver)  cmd_restart_apiserver "${2:-}" ;;
    stop-apiserver)     cmd_stop_apiserver "${2:-}" ;;
    start-apiserver)    cmd_start_apiserver "${2:-}" ;;
    stop)               cmd_stop "${2:-}" ;;
    apply-crd)          cmd_apply_crd "${2:-}" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
