#!/bin/sh
# jamd .deb: stop the service when the package is removed (not on upgrade). Whether it is enabled
# is kept by deb-systemd-helper (postrm masks it; purge forgets it), so a reinstall restores it.
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	if command -v deb-systemd-invoke >/dev/null; then
		deb-systemd-invoke stop jamd.service >/dev/null || true
	else
		systemctl disable --now jamd.service >/dev/null 2>&1 || true
	fi
fi
exit 0
