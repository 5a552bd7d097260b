#!/bin/sh
# jamd .deb: stop and disable the service when the package is removed (not on upgrade).
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	systemctl disable --now jamd.service >/dev/null 2>&1 || true
fi
exit 0
