#!/bin/sh
# jamd .deb: create the system user, enable the service as debhelper would (deb-systemd-helper:
# enabled on first install, even in a chroot building a Pi image; left disabled on upgrade when the
# admin disabled it), and (re)start it when systemd is running.
set -e
if [ "$1" != configure ] && [ "$1" != abort-upgrade ] && [ "$1" != abort-deconfigure ] && [ "$1" != abort-remove ]; then
	exit 0
fi
if ! getent passwd jamd >/dev/null; then
	adduser --system --group --home /var/lib/jamd --no-create-home --disabled-login --quiet jamd
fi
# Settings may hold secrets one day: root writes them, jamd reads them, nobody else.
chown root:jamd /etc/default/jamd && chmod 0640 /etc/default/jamd

if command -v deb-systemd-helper >/dev/null; then
	# Removes only the mask deb-systemd-helper set when the package was removed.
	deb-systemd-helper unmask jamd.service >/dev/null || true
	# was-enabled is true on first install, and on upgrade only if the service was enabled.
	if deb-systemd-helper --quiet was-enabled jamd.service; then
		deb-systemd-helper enable jamd.service >/dev/null || echo "jamd: could not enable jamd.service; run: systemctl enable jamd.service" >&2
	else
		deb-systemd-helper update-state jamd.service >/dev/null || true
	fi
elif [ -z "$2" ]; then
	# No deb-systemd-helper (not Debian's init-system-helpers): enable on first install only.
	# systemctl enable works without a running systemd, e.g. in an image-building chroot.
	systemctl enable jamd.service >/dev/null || echo "jamd: could not enable jamd.service; run: systemctl enable jamd.service" >&2
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	if systemctl is-enabled --quiet jamd.service; then
		if [ -n "$2" ]; then action=restart; else action=start; fi
		if command -v deb-systemd-invoke >/dev/null; then
			invoke="deb-systemd-invoke $action jamd.service"
		else
			invoke="systemctl $action jamd.service"
		fi
		if $invoke; then
			echo "jamd is running; see its join URL with: jamd qr"
		else
			echo "jamd: the service did not $action; see: systemctl status jamd.service; journalctl -u jamd" >&2
		fi
	else
		# Disabled by the admin: leave it so, but a copy they started by hand runs the new binary.
		systemctl try-restart jamd.service || echo "jamd: the service did not restart; see: systemctl status jamd.service" >&2
		echo "jamd.service is disabled, so it does not start at boot (systemctl enable --now jamd.service)"
	fi
fi
exit 0
