#!/usr/bin/env bash
# Installs the real clients, reference servers and load tools used by NORA's
# e2e tests and benchmarks (Docker/OCI, npm, PyPI: twine, pip, poetry, pipenv, pdm; Maven: mvn,
# Gradle; benches).
#
#   sudo scripts/install-test-clients.sh          # idempotent; 2nd run ~ seconds
#
# - Debian packages (bookworm) via apt-get, --no-install-recommends, only the
#   missing ones; `apt-get update` only when something is missing and our last
#   update is older than NORA_APT_MAX_AGE_MIN minutes (default 360).
# - oras (helm substitute) from Debian trixie WITHOUT touching the system apt
#   config: private sources list + private state/cache dir, `apt-get download`,
#   `dpkg -x` into $NORA_TOOLS_DIR (default <repo>/.tools), symlinked to
#   $NORA_TOOLS_DIR/bin/oras.
# - npm-side clients (pnpm, yarn 1, yarn berry) and peers (verdaccio,
#   autocannon) into $NORA_TOOLS_DIR/npm-tools, bins in $NORA_TOOLS_DIR/bin.
#   Skip with NORA_SKIP_NPM_TOOLS=1.
#
# Prints one line per tool: name + version, or MISSING (reason). Exits 0 even
# when an optional tool could not be installed; exits 2 only if not root.
# Full apt/npm output goes to $NORA_TOOLS_DIR/logs/install-test-clients.log.
# No host name is written anywhere: the Debian mirror is taken from the system
# apt sources at run time, the npm registry from `npm config get registry`.

set -uo pipefail
exec </dev/null
export DEBIAN_FRONTEND=noninteractive
export CI="${CI:-true}"
export LC_ALL=C

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${NORA_TOOLS_DIR:-$REPO_ROOT/.tools}"
APT_MAX_AGE_MIN="${NORA_APT_MAX_AGE_MIN:-360}"
LOG_DIR="$TOOLS_DIR/logs"
LOG="$LOG_DIR/install-test-clients.log"
STATE_DIR="$TOOLS_DIR/state"

APT_PACKAGES=(
  # OCI clients / image builders / reference registry
  skopeo umoci podman buildah docker-registry
  # htpasswd (bcrypt) for the basic-auth upstream in test/e2e/oci-proxy/upstream-auth.test.ts
  apache2-utils
  # HTTP + benchmarks (nginx = static throughput peer and Maven WebDAV peer)
  curl nginx wrk hey hyperfine
  # Raw files: `wget -r -np` mirrors a folder listing (test/e2e/raw)
  wget
  # PyPI side
  twine python3-build python3-pip python3-setuptools python3-wheel python3-venv
  # PyPI clients for test/e2e/pypi (poetry brings poetry-core, pdm brings pdm-pep517: both
  # build offline) and Debian's real wheels (/usr/share/python-wheels) as upload input
  python3-poetry pipenv python3-pdm python3-pip-whl python3-setuptools-whl python3-wheel-whl
  # Go modules side (bookworm: Go 1.19)
  golang-go
  # Real module sources (/usr/share/gocode/src) published by test/e2e/go-hosted and zipped by
  # test/helpers/gotree; x/mod also holds the module/zip rules src/formats/go mirrors
  golang-golang-x-mod-dev golang-github-stretchr-testify-dev golang-github-pkg-errors-dev
  golang-golang-x-term-dev golang-gopkg-check.v1-dev golang-github-kr-pretty-dev openssl
  # The web UI's browser test (test/e2e/ui): Debian's chromium, driven by playwright-core
  # (executablePath /usr/bin/chromium; never a browser download)
  chromium
  # Maven side: Debian's Maven 3.8.7 and Gradle 4.4.1 (~100 MB with its libraries; runs on the
  # default JDK 17). Plugins come from the machine's local Maven repository (test/helpers/maven.ts).
  maven gradle
  # Cargo proxy e2e + bench/cargo: real crate sources (/usr/share/cargo/registry, ≥ 100 crates)
  librust-clap-dev librust-tokio-dev librust-serde-json-dev librust-regex-dev librust-anyhow-dev
  librust-thiserror-dev librust-itertools-dev
)
ORAS_SUITE="trixie"
# npm-side tools (versions measured on this machine; verdaccio 6.8.0 is the
# last one that runs on Node 20, the system node)
NPM_TOOLS=(verdaccio@6.8.0 pnpm@12.21.0 yarn@1.22.22 @yarnpkg/cli-dist@4.18.1 autocannon@9.0.0)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-clients: must run as root (apt-get install, dpkg -x)" >&2
  exit 2
fi

mkdir -p "$TOOLS_DIR/bin" "$LOG_DIR" "$STATE_DIR"
: >"$LOG"
START=$(date +%s)
say() { printf 'install-test-clients: %s\n' "$*"; }
log() { printf '\n### %s\n' "$*" >>"$LOG"; }

# ---------------------------------------------------------------- apt helpers
is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# true when the stamp file exists and is younger than APT_MAX_AGE_MIN minutes
stamp_fresh() {
  [ -f "$1" ] && [ -n "$(find "$1" -mmin "-$APT_MAX_AGE_MIN" -print -quit 2>/dev/null)" ]
}

debian_mirror() {
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  printf '%s' "$m"
}

# Never let a package's postinst start a daemon (nginx would bind 0.0.0.0:80).
# Most container images already ship a policy-rc.d that says "no"; if not,
# install one for the duration of this script only.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
cleanup() { if [ "$CREATED_POLICY" = 1 ]; then rm -f "$POLICY"; fi; }
trap cleanup EXIT

SYS_STAMP="$STATE_DIR/apt-update.stamp"
apt_update_system() {
  log "apt-get update"
  if apt-get -q -o DPkg::Lock::Timeout=300 update >>"$LOG" 2>&1; then
    touch "$SYS_STAMP"
    return 0
  fi
  return 1
}

declare -A APT_FAIL=()
install_apt_packages() {
  local missing=() p updated=0
  for p in "${APT_PACKAGES[@]}"; do is_installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then
    say "apt: all ${#APT_PACKAGES[@]} packages already installed"
    return 0
  fi
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY" && chmod 755 "$POLICY" && CREATED_POLICY=1
  fi
  if ! stamp_fresh "$SYS_STAMP"; then
    say "apt: updating package lists"
    apt_update_system && updated=1
  fi
  say "apt: installing ${#missing[@]} packages: ${missing[*]}"
  log "apt-get install ${missing[*]}"
  if apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1; then
    return 0
  fi
  if [ "$updated" = 0 ]; then
    say "apt: install failed with cached lists, updating and retrying"
    apt_update_system
    log "apt-get install (retry) ${missing[*]}"
    apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1 && return 0
  fi
  # one by one, so a single broken package does not block the others
  for p in "${missing[@]}"; do
    is_installed "$p" && continue
    log "apt-get install $p"
    apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$p" >>"$LOG" 2>&1 || APT_FAIL[$p]="apt-get install $p failed, see $LOG"
  done
}

# ---------------------------------------------------------------------- oras
# Private apt "root" for trixie: sources list, lists, cache and downloads all
# under $TOOLS_DIR/apt-trixie; the system's apt config and state are untouched.
TX_DIR="$TOOLS_DIR/apt-$ORAS_SUITE"
tx_apt_opts() {
  printf '%s\n' \
    -o "Dir::Etc::SourceList=$TX_DIR/sources.list" \
    -o "Dir::Etc::SourceParts=/nonexistent" \
    -o "Dir::State::Lists=$TX_DIR/lists" \
    -o "Dir::Cache=$TX_DIR/cache" \
    -o "APT::Sandbox::User=root"
}

# Downloads + unpacks one trixie binary package into $TOOLS_DIR/<dest>.
# Usage: fetch_trixie_deb PACKAGE DEST_DIR   (echoes the .deb path)
fetch_trixie_deb() {
  local pkg="$1" dest="$2" mirror opts deb
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || { echo "no Debian mirror found in system apt sources" >&2; return 1; }
  mkdir -p "$TX_DIR/lists/partial" "$TX_DIR/cache/archives/partial" "$TX_DIR/debs"
  echo "deb $mirror $ORAS_SUITE main" >"$TX_DIR/sources.list"
  mapfile -t opts < <(tx_apt_opts)
  if ! stamp_fresh "$TX_DIR/update.stamp"; then
    log "apt-get update ($ORAS_SUITE, private)"
    apt-get -q "${opts[@]}" update >>"$LOG" 2>&1 || { echo "apt-get update of $ORAS_SUITE failed" >&2; return 1; }
    touch "$TX_DIR/update.stamp"
  fi
  log "apt-get download $pkg ($ORAS_SUITE)"
  (cd "$TX_DIR/debs" && rm -f "${pkg}"_*.deb && apt-get -q "${opts[@]}" download "$pkg") >>"$LOG" 2>&1 ||
    { echo "apt-get download $pkg failed" >&2; return 1; }
  deb=$(ls -1 "$TX_DIR/debs/${pkg}"_*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] || { echo "downloaded $pkg .deb not found" >&2; return 1; }
  rm -rf "$dest" && mkdir -p "$dest" && dpkg -x "$deb" "$dest" || { echo "dpkg -x $deb failed" >&2; return 1; }
  echo "$deb"
}

ORAS_FAIL=""
install_oras() {
  if [ -x "$TOOLS_DIR/bin/oras" ] && "$TOOLS_DIR/bin/oras" version >/dev/null 2>&1; then
    say "oras: already present"
    return 0
  fi
  say "oras: fetching from Debian $ORAS_SUITE (private apt state under $TX_DIR)"
  local err
  if ! err=$(fetch_trixie_deb oras "$TOOLS_DIR/oras" 2>&1 >/dev/null); then
    ORAS_FAIL="${err:-unknown error}"
    return 0
  fi
  ln -sfn ../oras/usr/bin/oras "$TOOLS_DIR/bin/oras"
}

# ----------------------------------------------------------------- npm tools
NPM_FAIL=""
NPM_DIR="$TOOLS_DIR/npm-tools"
install_npm_tools() {
  if [ "${NORA_SKIP_NPM_TOOLS:-0}" = 1 ]; then
    NPM_FAIL="skipped (NORA_SKIP_NPM_TOOLS=1)"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    NPM_FAIL="npm not on PATH"
    return 0
  fi
  local want have
  want="$(printf '%s\n' "${NPM_TOOLS[@]}")"
  have="$(cat "$NPM_DIR/.installed" 2>/dev/null || true)"
  if [ "$want" = "$have" ] && [ -d "$NPM_DIR/node_modules/verdaccio" ]; then
    say "npm tools: already present"
  else
    say "npm tools: installing ${NPM_TOOLS[*]}"
    mkdir -p "$NPM_DIR"
    # verdaccio-audit wants node-fetch@cjs, a dist-tag the reachable registry
    # does not serve: pin it via overrides.
    cat >"$NPM_DIR/package.json" <<'JSON'
{
  "name": "nora-test-npm-tools",
  "private": true,
  "version": "0.0.0",
  "overrides": { "node-fetch": "2.7.0" }
}
JSON
    log "npm install ${NPM_TOOLS[*]}"
    if (cd "$NPM_DIR" && npm install --no-fund --no-audit --ignore-scripts --no-save --loglevel=error "${NPM_TOOLS[@]}") >>"$LOG" 2>&1; then
      printf '%s\n' "$want" >"$NPM_DIR/.installed"
    else
      NPM_FAIL="npm install failed, see $LOG"
      return 0
    fi
  fi
  ln -sfn ../npm-tools/node_modules/verdaccio/bin/verdaccio "$TOOLS_DIR/bin/verdaccio"
  ln -sfn ../npm-tools/node_modules/pnpm/pnpm "$TOOLS_DIR/bin/pnpm"
  ln -sfn ../npm-tools/node_modules/yarn/bin/yarn.js "$TOOLS_DIR/bin/yarn1"
  ln -sfn ../npm-tools/node_modules/@yarnpkg/cli-dist/bin/yarn.js "$TOOLS_DIR/bin/yarn-berry"
  ln -sfn ../npm-tools/node_modules/autocannon/autocannon.js "$TOOLS_DIR/bin/autocannon"
}

# -------------------------------------------------------------------- report
VERSION_RE='[0-9]+\.[0-9]+(\.[0-9]+)?([-+~][0-9A-Za-z.+~-]*)?'
MISSING_COUNT=0
line() { printf '  %-16s %s\n' "$1" "$2"; }
missing() {
  line "$1" "MISSING ($2)"
  MISSING_COUNT=$((MISSING_COUNT + 1))
}

# report NAME APT_PKG_OR_- BINARY [VERSION CMD...]
report() {
  local name="$1" pkg="$2" bin="$3" out ver
  shift 3
  if [ "$pkg" != - ] && [ -n "${APT_FAIL[$pkg]:-}" ]; then missing "$name" "${APT_FAIL[$pkg]}"; return; fi
  if [ "$pkg" != - ] && ! is_installed "$pkg"; then missing "$name" "apt package $pkg not installed"; return; fi
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "$bin" ]; then missing "$name" "$bin not found"; return; fi
  if [ $# -gt 0 ]; then
    out=$(timeout 20 "$@" 2>&1 | head -n 5)
    ver=$(printf '%s' "$out" | grep -oE "$VERSION_RE" | head -n1)
  fi
  if [ -z "${ver:-}" ] && [ "$pkg" != - ]; then
    ver="$(dpkg-query -W -f='${Version}' "$pkg") (Debian package)"
  fi
  if [ -z "${ver:-}" ]; then missing "$name" "$bin does not run: $(printf '%s' "$out" | head -n1)"; return; fi
  line "$name" "$ver"
}

report_tools() {
  local py=/usr/bin/python3 t="$TOOLS_DIR/bin"
  echo "test clients (tools dir: $TOOLS_DIR):"
  report skopeo skopeo skopeo skopeo --version
  report umoci umoci umoci umoci --version
  report podman podman podman podman --version
  report buildah buildah buildah buildah --version
  report docker-registry docker-registry docker-registry docker-registry --version
  report htpasswd apache2-utils htpasswd htpasswd -v
  if [ -n "$ORAS_FAIL" ]; then missing oras "$ORAS_FAIL"; else report oras - "$t/oras" "$t/oras" version; fi
  report curl curl curl curl --version
  report nginx nginx nginx nginx -v
  report wrk wrk wrk wrk -v
  report hey hey hey
  report hyperfine hyperfine hyperfine hyperfine --version
  report twine twine twine twine --version
  report python3-build python3-build "$py" "$py" -m build --version
  report pip python3-pip "$py" "$py" -m pip --version
  report setuptools python3-setuptools "$py" "$py" -c 'import setuptools; print(setuptools.__version__)'
  report wheel python3-wheel "$py" "$py" -c 'import wheel; print(wheel.__version__)'
  report venv python3-venv "$py" "$py" -c 'import ensurepip, venv, sys; print(sys.version.split()[0])'
  report poetry python3-poetry poetry poetry --version
  report poetry-core python3-poetry-core "$py" "$py" -c 'import poetry.core; print(poetry.core.__version__)'
  report pipenv pipenv pipenv pipenv --version
  report pdm python3-pdm pdm env PDM_CHECK_UPDATE=false pdm --version
  report pdm-pep517 python3-pdm-pep517 "$py" "$py" -c 'import pdm.pep517; print(pdm.pep517.__version__)'
  report pip-whl python3-pip-whl "$py" "$py" -c 'import glob, os; print(os.path.basename(glob.glob("/usr/share/python-wheels/pip-*.whl")[0]).split("-")[1])'
  report setuptools-whl python3-setuptools-whl "$py" "$py" -c 'import glob, os; print(os.path.basename(glob.glob("/usr/share/python-wheels/setuptools-*.whl")[0]).split("-")[1])'
  report wheel-whl python3-wheel-whl "$py" "$py" -c 'import glob, os; print(os.path.basename(glob.glob("/usr/share/python-wheels/wheel-*.whl")[0]).split("-")[1])'
  report go golang-go go go version
  report maven maven mvn mvn -v
  # `gradle --version` also prints the JDK's version first: keep Gradle's own line.
  report gradle gradle gradle sh -c 'gradle --version 2>/dev/null | grep "^Gradle"'
  if [ -n "$NPM_FAIL" ]; then
    for n in verdaccio pnpm yarn1 yarn-berry autocannon; do missing "$n" "$NPM_FAIL"; done
  else
    report verdaccio - "$t/verdaccio" "$t/verdaccio" --version
    report pnpm - "$t/pnpm" "$t/pnpm" --version
    report yarn1 - "$t/yarn1" "$t/yarn1" --version
    report yarn-berry - "$t/yarn-berry" "$t/yarn-berry" --version
    report autocannon - "$t/autocannon" "$t/autocannon" --version
  fi
}

timed() {
  local t0=$SECONDS
  "$@"
  PHASES+=("$1 $((SECONDS - t0))s")
}
PHASES=()
timed install_apt_packages
timed install_oras
timed install_npm_tools
timed report_tools
END=$(date +%s)
if [ "$MISSING_COUNT" -gt 0 ]; then
  say "done in $((END - START)) s (${PHASES[*]}); $MISSING_COUNT tool(s) MISSING (optional; see above and $LOG)"
else
  say "done in $((END - START)) s (${PHASES[*]}); all tools present. PATH hint: export PATH=\"$TOOLS_DIR/bin:\$PATH\""
fi
exit 0
