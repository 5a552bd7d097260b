#!/bin/sh
# jamd .deb: on purge only, delete the sessions and the system user. Plain removal keeps them.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" = purge ]; then
	rm -rf /var/lib/jamd
	if getent passwd jamd >/dev/null; then
		deluser --quiet --system jamd >/dev/null 2>&1 || true
	fi
fi
exit 0
