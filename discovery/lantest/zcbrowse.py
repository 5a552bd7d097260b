"""Browse _jamd._tcp and _http._tcp with python3-zeroconf (a client nobody on jamd wrote) and print
one JSON object per event to stdout: added/updated (with addresses, port, TXT), removed. Runs until killed or argv[1]
seconds pass."""
import json
import sys
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

TYPES = ["_jamd._tcp.local.", "_http._tcp.local."]


def emit(ev):
    print(json.dumps(ev), flush=True)


def on_change(zeroconf, service_type, name, state_change):
    ev = {"event": state_change.name.lower(), "type": service_type, "name": name}
    if state_change is not ServiceStateChange.Removed:
        info = zeroconf.get_service_info(service_type, name, timeout=3000)
        if info is not None:
            ev.update(
                server=info.server,
                port=info.port,
                addresses=sorted(info.parsed_addresses(IPVersion.V4Only)),
                txt={k.decode(): (v or b"").decode() for k, v in info.properties.items()},
            )
    emit(ev)


zc = Zeroconf(ip_version=IPVersion.V4Only)
ServiceBrowser(zc, TYPES, handlers=[on_change])
emit({"event": "started"})
deadline = time.monotonic() + float(sys.argv[1] if len(sys.argv) > 1 else 60)
try:
    while time.monotonic() < deadline:
        time.sleep(0.2)
finally:
    zc.close()
