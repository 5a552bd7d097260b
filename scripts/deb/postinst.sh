#!/bin/sh
# jamd .deb: create the system user, then enable and (re)start the service.
set -e
if ! getent passwd jamd >/dev/null; then
	adduser --system --group --home /var/lib/jamd --no-create-home --disabled-login --quiet jamd
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable jamd.service >/dev/null
	systemctl restart jamd.service || true
	echo "jamd is running; see its join URL with: jamd qr"
fi
exit 0
