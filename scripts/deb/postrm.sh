#!/bin/sh
# jamd .deb: on removal, mask the service's leftover enable links (as debhelper does); on purge
# only, forget them and delete the sessions and the system user. Plain removal keeps them.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
if command -v deb-systemd-helper >/dev/null; then
	case $1 in
	remove) deb-systemd-helper mask jamd.service >/dev/null || true ;;
	purge)
		deb-systemd-helper purge jamd.service >/dev/null || true
		deb-systemd-helper unmask jamd.service >/dev/null || true
		;;
	esac
fi
if [ "$1" = purge ]; then
	rm -rf /var/lib/jamd
	if getent passwd jamd >/dev/null; then
		deluser --quiet --system jamd >/dev/null 2>&1 || true
	fi
fi
exit 0
