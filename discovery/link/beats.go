package link

import "math"

// Link's tempo range; timelines outside it are clamped, whoever sent them.
const (
	// MinTempo is the slowest tempo Link allows, in BPM.
	MinTempo = 20.0
	// MaxTempo is the fastest tempo Link allows, in BPM.
	MaxTempo = 999.0
)

// beats counts micro-beats, the wire's unit, so that sums and comparisons are exact.
type beats int64

func beatsOf(f float64) beats  { return beats(math.Round(f * 1e6)) }
func (b beats) float() float64 { return float64(b) / 1e6 }

// tempo is in BPM. The wire carries whole microseconds per beat, so a tempo that came over the
// wire is 60e6 divided by an integer, and every conversion between time and beats uses the
// rounded microseconds per beat, on both sides, so that peers compute the same beats.
type tempo float64

func tempoFromMicros(us int64) tempo { return tempo(60e6 / float64(us)) }

func (t tempo) microsPerBeat() int64 { return int64(math.Round(60e6 / float64(t))) }

func (t tempo) microsToBeats(us int64) beats {
	return beatsOf(float64(us) / float64(t.microsPerBeat()))
}

func (t tempo) beatsToMicros(b beats) int64 {
	return int64(math.Round(b.float() * float64(t.microsPerBeat())))
}

// clamp keeps a tempo inside Link's range; NaN (only the API could pass it) becomes MinTempo.
func (t tempo) clamp() tempo {
	if math.IsNaN(float64(t)) {
		return MinTempo
	}
	return tempo(min(max(float64(t), MinTempo), MaxTempo))
}

// timeline maps time to beats: beatOrigin falls at timeOrigin and beats advance at tempo. The
// session's timeline is on the ghost clock; a client's (Timeline's) on the host clock.
type timeline struct {
	tempo      tempo
	beatOrigin beats
	timeOrigin int64 // µs
}

func (tl timeline) toBeats(t int64) beats {
	return tl.beatOrigin + tl.tempo.microsToBeats(t-tl.timeOrigin)
}

func (tl timeline) fromBeats(b beats) int64 {
	return tl.timeOrigin + tl.tempo.beatsToMicros(b-tl.beatOrigin)
}

func (tl timeline) clamped() timeline { tl.tempo = tl.tempo.clamp(); return tl }

// startStop is the session's transport: playing or not from a beat on, decided at timestamp
// (ghost µs). The newest timestamp wins.
type startStop struct {
	playing   bool
	beats     beats
	timestamp int64
}

// phase returns b modulo q in [0, q), also for negative b; 0 when q is 0.
func phase(b, q beats) beats {
	if q <= 0 {
		return 0
	}
	m := b % q
	if m < 0 {
		m += q
	}
	return m
}

// nextPhaseMatch returns the smallest beat at or after x whose phase equals target's.
func nextPhaseMatch(x, target, q beats) beats {
	if q <= 0 {
		return x
	}
	return x + phase(phase(target, q)-phase(x, q), q)
}

// closestPhaseMatch returns the beat with target's phase nearest x, in [x-q/2, x+q/2).
func closestPhaseMatch(x, target, q beats) beats { return nextPhaseMatch(x-q/2, target, q) }

// phaseBeatAt is the beat a client sees at host time t: the beat of its own timeline there,
// moved by less than half a quantum so that its phase is the session's phase. A client
// timeline's beatOrigin sits at the session's beat 0, so the session's beat is b-beatOrigin.
func phaseBeatAt(tl timeline, t int64, q beats) beats {
	b := tl.toBeats(t)
	return closestPhaseMatch(b, b-tl.beatOrigin, q)
}

// phaseTimeAt inverts phaseBeatAt: the time at which the client sees beat b. The raw beat r of
// the timeline there satisfies r ≡ b+beatOrigin (mod q) and lies in (b-q/2, b+q/2]: it is the
// largest such value not above b+q/2.
func phaseTimeAt(tl timeline, b, q beats) int64 {
	top := b + q/2
	r := top - phase(top-(b+tl.beatOrigin), q)
	return tl.fromBeats(r)
}

// clientFromSession re-derives a client's host-time timeline after the session's changed: it
// keeps the client's beat at host time now (no jump in the beat count), takes the session's
// tempo, and re-anchors at the host time of the session's beat 0, so phases follow the session.
func clientFromSession(client, session timeline, now, offset int64) timeline {
	cont := timeline{tempo: session.tempo, beatOrigin: client.toBeats(now), timeOrigin: now}
	zero := session.fromBeats(0) - offset // ghost → host
	return timeline{tempo: session.tempo, beatOrigin: cont.toBeats(zero), timeOrigin: zero}
}

// sessionFromClient turns a client's change, committed at host time now, into the session's
// next timeline. Peers accept a timeline only if its beat origin is later than the one they
// have, so the new origin is the session's beat at now, and at least one µbeat past the old.
func sessionFromClient(session, client timeline, now, offset int64) timeline {
	zero := client.timeOrigin + offset // where the client wants the session's beat 0, ghost µs
	if session.toBeats(zero) == 0 && client.tempo == session.tempo {
		return session // nothing moved: an equal timeline with new anchors would still spread
	}
	origin := max(session.toBeats(now+offset), session.beatOrigin+1)
	next := timeline{tempo: client.tempo, beatOrigin: 0, timeOrigin: zero}
	return timeline{tempo: client.tempo, beatOrigin: origin, timeOrigin: next.fromBeats(origin)}
}
