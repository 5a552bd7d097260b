package link

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"golang.org/x/net/ipv4"
)

// The discovery group, the same for every Link peer.
var (
	groupIP   = net.IPv4(224, 76, 78, 75)
	groupAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{224, 76, 78, 75}), 20808)
)

// gateway is our presence on one network interface: a unicast socket that multicasts our
// announcements and bye-bye and takes the responses, and the measurement endpoint that answers
// pings and runs our measurements. Multicast arrives on the Peer's one discovery socket.
type gateway struct {
	name  string
	index int
	addr  netip.Addr
	conn  *net.UDPConn
	ping  *net.UDPConn
}

// endpoint is the measurement endpoint we announce on this gateway.
func (gw *gateway) endpoint() netip.AddrPort {
	return netip.AddrPortFrom(gw.addr, uint16(gw.ping.LocalAddr().(*net.UDPAddr).Port))
}

func (gw *gateway) close() {
	_ = gw.conn.Close()
	_ = gw.ping.Close()
}

// iface is an interface we want a gateway on.
type iface struct {
	ifi  net.Interface
	addr netip.Addr
}

// wantedInterfaces lists the interfaces to speak Link on: those named, or else every one that
// is up, can multicast (or is loopback: apps on this machine hear us only there) and has an
// IPv4 address; the first such address is used.
func wantedInterfaces(names []string) (map[string]iface, error) {
	ifis, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	out := map[string]iface{}
	for _, ifi := range ifis {
		if len(names) > 0 && !slices.Contains(names, ifi.Name) {
			continue
		}
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&(net.FlagMulticast|net.FlagLoopback) == 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if ip, ok := netip.AddrFromSlice(ipn.IP.To4()); ok && ip.Is4() {
				out[ifi.Name] = iface{ifi: ifi, addr: ip}
				break
			}
		}
	}
	return out, nil
}

// listenDiscovery opens the socket every peer's announcements arrive on: the discovery port,
// shared with other Link apps on this machine, telling us the interface of each datagram.
func listenDiscovery(ctx context.Context) (*ipv4.PacketConn, error) {
	lc := net.ListenConfig{Control: reuseAddr}
	c, err := lc.ListenPacket(ctx, "udp4", fmt.Sprintf("0.0.0.0:%d", groupAddr.Port()))
	if err != nil {
		return nil, fmt.Errorf("listen on the Link discovery port: %w", err)
	}
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetControlMessage(ipv4.FlagInterface, true); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("ask for the interface of Link datagrams: %w", err)
	}
	return pc, nil
}

// openGateway opens a gateway's sockets and joins the discovery group on its interface.
func openGateway(mc *ipv4.PacketConn, w iface) (*gateway, error) {
	local := net.UDPAddrFromAddrPort(netip.AddrPortFrom(w.addr, 0))
	conn, err := net.ListenUDP("udp4", local)
	if err != nil {
		return nil, fmt.Errorf("open Link socket on %s: %w", w.ifi.Name, err)
	}
	ping, err := net.ListenUDP("udp4", local)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("open Link measurement socket on %s: %w", w.ifi.Name, err)
	}
	gw := &gateway{name: w.ifi.Name, index: w.ifi.Index, addr: w.addr, conn: conn, ping: ping}
	// Our multicasts leave through this interface, and are looped back to this machine only on
	// loopback: on a real interface, apps here would hear us twice.
	pc := ipv4.NewPacketConn(conn)
	loop := w.ifi.Flags&net.FlagLoopback != 0
	err = errors.Join(pc.SetMulticastInterface(&w.ifi), pc.SetMulticastLoopback(loop),
		mc.JoinGroup(&w.ifi, &net.UDPAddr{IP: groupIP}))
	if err != nil {
		gw.close()
		return nil, fmt.Errorf("join the Link group on %s: %w", w.ifi.Name, err)
	}
	return gw, nil
}
