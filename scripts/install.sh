#!/usr/bin/env bash
# Install jamd as a systemd service on a Raspberry Pi or any systemd Linux, enable and start it,
# and print its join URL and QR code. Running it again upgrades in place (idempotent).
#
#   sudo scripts/install.sh [--binary PATH]      install (binary: PATH, else dist/ for this CPU, else go build)
#   sudo scripts/install.sh --uninstall          remove the service, unit and binary; keep sessions and config
#   sudo scripts/install.sh --uninstall --purge  also delete /var/lib/jamd, /etc/default/jamd and the jamd user
set -euo pipefail

BIN_DST=/usr/local/bin/jamd
UNIT_DST=/etc/systemd/system/jamd.service
ENV_DST=/etc/default/jamd
DATA=/var/lib/jamd
here=$(cd "$(dirname "$0")/.." && pwd)

mode=install purge=0 binary=
while [ $# -gt 0 ]; do
	case $1 in
	--uninstall) mode=uninstall ;;
	--purge) purge=1 ;;
	--binary) binary=${2:?--binary needs a path}; shift ;;
	-h | --help) sed -n '2,8p' "$0"; exit 0 ;;
	*) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done
if [ "$purge" = 1 ] && [ "$mode" != uninstall ]; then
	echo "install.sh: --purge goes with --uninstall" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "install.sh: run as root (sudo $0 $*)" >&2
	exit 1
fi
have_systemd() { [ -d /run/systemd/system ]; }

# read_env_file exports the JAMD_* settings of a systemd EnvironmentFile without running it as
# shell (a value such as "Jam in the rehearsal room" is not a command): KEY=VALUE lines, # and ;
# comments, blanks around KEY and VALUE ignored, one pair of surrounding quotes removed.
read_env_file() {
	local line key val
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line#"${line%%[![:space:]]*}"}
		case $line in '' | '#'* | ';'*) continue ;; esac
		[[ $line == *=* ]] || continue
		key=${line%%=*} val=${line#*=}
		key=${key%"${key##*[![:space:]]}"}
		val=${val#"${val%%[![:space:]]*}"}
		val=${val%"${val##*[![:space:]]}"}
		[[ $key =~ ^JAMD_[A-Za-z0-9_]*$ ]] || continue
		if [ ${#val} -ge 2 ] && { [[ $val == \"*\" ]] || [[ $val == \'*\' ]]; }; then
			val=${val:1:${#val}-2}
		fi
		export "$key=$val"
	done <"$1"
}

if [ "$mode" = uninstall ]; then
	if have_systemd; then
		systemctl disable --now jamd.service >/dev/null 2>&1 || true
	else
		systemctl disable jamd.service >/dev/null 2>&1 || true
	fi
	rm -f "$UNIT_DST" "$BIN_DST"
	have_systemd && systemctl daemon-reload
	if [ "$purge" = 1 ]; then
		rm -rf "$DATA" "$ENV_DST"
		if getent passwd jamd >/dev/null; then userdel jamd 2>/dev/null || true; fi
		echo "jamd removed, with its sessions, settings and user."
	else
		echo "jamd removed. Sessions in $DATA and settings in $ENV_DST are kept (--purge deletes them)."
	fi
	exit 0
fi

# Which binary: --binary, else a release build for this CPU, else build from source.
if [ -z "$binary" ]; then
	case $(uname -m) in
	aarch64 | arm64) arch=linux_arm64 ;;
	armv6l) arch=linux_armv6 ;;
	armv7l | armv8l) arch=linux_armv7 ;;
	x86_64) arch=linux_amd64 ;;
	*) arch= ;;
	esac
	if [ -n "$arch" ]; then
		binary=$(ls -t "$here"/dist/jamd_*_"$arch" 2>/dev/null | head -n1 || true)
	fi
	if [ -z "$binary" ]; then
		if ! command -v go >/dev/null; then
			echo "install.sh: no dist/ binary for $(uname -m), and go is not on PATH to build one (sudo resets PATH)." >&2
			echo "  Build first as yourself, then pass the binary:  go build -o jamd ./cmd/jamd && sudo $0 --binary ./jamd" >&2
			echo "  (or make release, which puts one for each Pi in dist/)" >&2
			exit 1
		fi
		binary=$(mktemp)
		trap 'rm -f "$binary"' EXIT
		version=$(git -C "$here" describe --tags --always --dirty 2>/dev/null || echo dev)
		(cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$version" -o "$binary" ./cmd/jamd)
	fi
fi
"$binary" version >/dev/null || { echo "install.sh: $binary does not run here" >&2; exit 1; }

if ! getent passwd jamd >/dev/null; then
	useradd --system --user-group --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin jamd
fi
install -m 0755 "$binary" "$BIN_DST.new" && mv -f "$BIN_DST.new" "$BIN_DST"
install -m 0644 "$here/systemd/jamd.service" "$UNIT_DST"
if [ ! -e "$ENV_DST" ]; then
	install -m 0640 -g jamd "$here/systemd/jamd.env" "$ENV_DST" # never overwrite the operator's settings
fi
chown root:jamd "$ENV_DST" && chmod 0640 "$ENV_DST" # root writes, jamd reads, nobody else
echo "installed $("$BIN_DST" version) to $BIN_DST, the unit to $UNIT_DST, settings in $ENV_DST"

# Enabled even without a running systemd (a chroot building a Pi image), so it starts at boot.
have_systemd && systemctl daemon-reload
systemctl enable jamd.service >/dev/null
if ! have_systemd; then
	echo "jamd.service is enabled and starts at the next boot (systemd is not running here; to try it now: $BIN_DST serve)"
	exit 0
fi
systemctl restart jamd.service
for _ in $(seq 20); do
	systemctl is-active --quiet jamd.service && break
	sleep 0.5
done
systemctl is-active --quiet jamd.service || { systemctl status --no-pager jamd.service >&2 || true; exit 1; }
# The join URL and its QR code, from the running service (its address comes from $ENV_DST).
for _ in $(seq 10); do
	if (read_env_file "$ENV_DST"; "$BIN_DST" qr) 2>/dev/null; then
		exit 0
	fi
	sleep 0.5
done
echo "jamd is running; see its join URL with: journalctl -u jamd, or jamd qr"
