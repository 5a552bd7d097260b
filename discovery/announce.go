package discovery

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Announcement timing and TTLs, as the library uses them (RFC 6762 sections 8.3 and 10).
const (
	announceRepeat = 2    // unsolicited responses per change, one second apart
	serviceTTL     = 3200 // PTR, SRV, TXT
	hostTTL        = 120  // A, AAAA
	cacheFlush     = uint16(1 << 15)
)

var (
	mdnsV4 = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}
	mdnsV6 = &net.UDPAddr{IP: net.ParseIP("ff02::fb"), Port: 5353}
)

// announce sends the records of both services with the interface's current addresses, the
// cache-flush bit set on the unique records so caches drop the old address. The library has no
// call for this: its own announcement happens only at registration.
func (a *Advertiser) announce(ctx context.Context, ifi net.Interface, addrs []netip.Addr) error {
	msg := a.announcement(addrs)
	buf, err := msg.Pack()
	if err != nil {
		return fmt.Errorf("pack announcement: %w", err)
	}
	for i := range announceRepeat {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
		if err := sendMulticast(ifi, buf); err != nil {
			return err
		}
	}
	return nil
}

// announcement builds the unsolicited response for both services.
func (a *Advertiser) announcement(addrs []netip.Addr) *dns.Msg {
	m := new(dns.Msg)
	m.Response = true
	m.Authoritative = true
	instance := escapeLabel(a.cfg.Instance)
	for _, svc := range []struct {
		typ  string
		text []string
	}{{ServiceType, a.jamdText()}, {HTTPServiceType, httpText()}} {
		service := svc.typ + "." + Domain
		name := instance + "." + service
		hdr := func(n string, t uint16, flush bool, ttl uint32) dns.RR_Header {
			class := uint16(dns.ClassINET)
			if flush {
				class |= cacheFlush
			}
			return dns.RR_Header{Name: n, Rrtype: t, Class: class, Ttl: ttl}
		}
		m.Answer = append(m.Answer,
			&dns.PTR{Hdr: hdr(service, dns.TypePTR, false, serviceTTL), Ptr: name},
			&dns.SRV{Hdr: hdr(name, dns.TypeSRV, true, serviceTTL), Port: uint16(a.cfg.Port), Target: a.host},
			&dns.TXT{Hdr: hdr(name, dns.TypeTXT, true, serviceTTL), Txt: svc.text},
		)
	}
	for _, ip := range addrs {
		if ip.Is4() {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: a.host, Rrtype: dns.TypeA, Class: dns.ClassINET | cacheFlush, Ttl: hostTTL}, A: ip.AsSlice()})
		} else {
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: dns.RR_Header{Name: a.host, Rrtype: dns.TypeAAAA, Class: dns.ClassINET | cacheFlush, Ttl: hostTTL}, AAAA: ip.AsSlice()})
		}
	}
	return m
}

// sendMulticast writes one mDNS packet to the group on one interface, from port 5353 as RFC 6762
// requires of responses (the socket shares the port, as the library's do), over IPv4 and, where
// the interface has it, IPv6.
func sendMulticast(ifi net.Interface, buf []byte) error {
	c4, err := net.ListenUDP("udp4", mdnsV4) // Go binds 0.0.0.0:5353 with SO_REUSEADDR for a group address
	if err != nil {
		return fmt.Errorf("open mDNS socket: %w", err)
	}
	defer c4.Close()
	p4 := ipv4.NewPacketConn(c4)
	_ = p4.SetMulticastTTL(255)
	if err := p4.SetMulticastInterface(&ifi); err != nil {
		return fmt.Errorf("select %s for multicast: %w", ifi.Name, err)
	}
	if _, err := p4.WriteTo(buf, nil, mdnsV4); err != nil {
		return fmt.Errorf("send announcement on %s: %w", ifi.Name, err)
	}
	if c6, err := net.ListenUDP("udp6", mdnsV6); err == nil { // best effort: IPv6 may be off
		defer c6.Close()
		p6 := ipv6.NewPacketConn(c6)
		_ = p6.SetMulticastHopLimit(255)
		if p6.SetMulticastInterface(&ifi) == nil {
			_, _ = p6.WriteTo(buf, nil, mdnsV6)
		}
	}
	return nil
}
