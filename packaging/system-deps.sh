#!/usr/bin/env bash
# Make sure the Debian packages Keel needs are installed, and install only the
# missing ones.  Called first by `make run`, `make test` and `.ci/run`.
#
#   - Qt runtime libraries and a font (Qt offscreen; without fonts-dejavu-core
#     Qt silently draws every character as an empty box),
#   - Xvfb and the libxcb libraries (a real window on a machine with no display),
#   - poppler-utils (`pdftoppm`, to look at generated letters in tests),
#   - postgresql (server binaries; the test set-up starts its own throw-away
#     server, so the package's default cluster is switched off before install),
#   - make, and python3-venv when python3 is Debian's own.
#
# When everything is present this is one dpkg-query call (well under a second).
# On a system without dpkg/apt-get it prints what is needed and exits 0.
# Set KEEL_SKIP_SYSTEM_DEPS=1 to skip the check entirely.
set -euo pipefail

PACKAGES=(
    # Qt offscreen
    libglib2.0-0 libgl1 libegl1 libxkbcommon0 libfontconfig1 fonts-dejavu-core libdbus-1-3
    # a real window under Xvfb
    xvfb xauth libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0
    libxcb-image0 libxcb-render-util0 libxcb-randr0 libxcb-xfixes0 libxcb-sync1 libxcb-shm0
    libxcb-xkb1 libxcb-glx0 libxcb-util1 libx11-xcb1
    # PDF to PNG, PostgreSQL server binaries
    poppler-utils postgresql
)

if [[ ${KEEL_SKIP_SYSTEM_DEPS:-} == 1 ]]; then
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<EOF
system-deps: not a Debian-based system, so nothing is installed automatically.
  Python 3.11+ is required.  On Windows and macOS the Qt wheels bring their own
  libraries; PostgreSQL tests run only when PostgreSQL server binaries are installed.
  On other Linux systems install the equivalents of these Debian packages:
    ${PACKAGES[*]}
EOF
    exit 0
fi

# Tools the quick start itself needs (a bare Debian 12 has neither make nor venv).
command -v make >/dev/null 2>&1 || PACKAGES+=(make)
python3_path=$(command -v python3 2>/dev/null || true)
if [[ -z $python3_path ]]; then
    PACKAGES+=(python3 python3-venv)
elif [[ $(readlink -f "$python3_path") == /usr/bin/* ]]; then
    # Debian's python3 has no ensurepip, hence no `python3 -m venv`, without this.
    PACKAGES+=(python3-venv)
fi

declare -A installed=()
while read -r name status; do
    [[ $status == installed ]] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)

missing=()
for package in "${PACKAGES[@]}"; do
    [[ -n ${installed[$package]:-} ]] || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "system-deps: missing Debian packages: ${missing[*]}"
sudo=()
if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        cat >&2 <<EOF
system-deps: not root and sudo is not available; ask an administrator to run:
  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}
system-deps: continuing without them (Qt may fail to start; PostgreSQL tests will skip).
EOF
        exit 0
    fi
fi

for package in "${missing[@]}"; do
    if [[ $package == postgresql ]]; then
        # Before the package is installed: no default cluster (and no server
        # left running on port 5432); the tests start their own.
        "${sudo[@]}" mkdir -p /etc/postgresql-common/createcluster.d
        echo "create_main_cluster = false" |
            "${sudo[@]}" tee /etc/postgresql-common/createcluster.d/keel.conf >/dev/null
    fi
done

echo "system-deps: apt-get update && apt-get install ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "system-deps: done"
