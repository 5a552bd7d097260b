package main

import (
	"context"
	"log/slog"
	"math"
	"net"
	"time"

	"jamd/appliance"
	"jamd/discovery"
	"jamd/discovery/link"
)

// linker runs discovery/link peers for the appliance's linked room: the adapter between the two,
// which import nothing of each other.
type linker struct {
	iface string // --interface: Link speaks on it and loopback; empty: as mDNS chooses
	log   *slog.Logger
}

var _ appliance.Linker = linker{}

// linkInterfaces names the interfaces Link speaks on: those mDNS advertises on, by the same
// rule (discovery.IsVirtual), plus loopback, where Link apps on this machine (Ableton Live on the
// laptop running jamd) are heard. Interfaces that are down now are named too: the peer looks
// again every few seconds, so Wi-Fi that comes up later is used.
func linkInterfaces(iface string) []string {
	names := []string{}
	if iface != "" {
		names = append(names, iface)
	} else if all, err := net.Interfaces(); err == nil {
		for _, ifi := range all {
			if ifi.Flags&net.FlagLoopback == 0 && !discovery.IsVirtual(ifi.Name) {
				names = append(names, ifi.Name)
			}
		}
	}
	if all, err := net.Interfaces(); err == nil {
		for _, ifi := range all {
			if ifi.Flags&net.FlagLoopback != 0 && ifi.Name != iface {
				names = append(names, ifi.Name)
			}
		}
	}
	return names
}

// Link starts a peer whose host clock is the appliance's server clock, so that Link's times are
// server times: ns since the Unix epoch, as a Duration.
func (l linker) Link(now func() time.Time, tempo float64, changed func()) (appliance.LinkPeer, error) {
	p, err := link.New(link.Config{
		Interfaces: linkInterfaces(l.iface),
		Now:        func() time.Duration { return time.Duration(now().UnixNano()) },
		Tempo:      min(max(tempo, link.MinTempo), link.MaxTempo),
		Log:        l.log,
		OnChange:   func(link.Timeline, int) { changed() },
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	lp := &linkPeer{p: p, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(lp.done)
		if err := p.Serve(ctx); err != nil {
			l.log.Error("Ableton Link stopped", "err", err)
		}
	}()
	l.log.Info("Ableton Link on", "interfaces", linkInterfaces(l.iface))
	return lp, nil
}

// linkPeer is a running peer as the appliance sees it: times in server ms.
type linkPeer struct {
	p      *link.Peer
	cancel context.CancelFunc
	done   chan struct{}
}

func fromMs(ms float64) time.Duration { return time.Duration(math.Round(ms * 1e6)) }
func toMs(d time.Duration) float64    { return float64(d) / 1e6 }

func (lp *linkPeer) State() appliance.LinkState {
	tl := lp.p.Timeline()
	return appliance.LinkState{Tempo: tl.Tempo(), Playing: tl.Playing(), Peers: lp.p.Peers(),
		Bar: toMs(tl.NextBar(lp.p.Now(), appliance.LinkQuantum))}
}

func (lp *linkPeer) SetTempo(bpm, at float64) { lp.p.SetTempo(bpm, fromMs(at)) }

func (lp *linkPeer) ForceBeat(beat, at float64) {
	tl := lp.p.Timeline()
	tl.ForceBeatAtTime(beat, fromMs(at), appliance.LinkQuantum)
	lp.p.Commit(tl)
}

func (lp *linkPeer) SetPlaying(playing bool, at float64) { lp.p.SetPlaying(playing, fromMs(at)) }

// Close stops the peer, which says goodbye on every interface first.
func (lp *linkPeer) Close() {
	lp.cancel()
	<-lp.done
}
