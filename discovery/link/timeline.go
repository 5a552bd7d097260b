package link

import "time"

// Timeline is a snapshot of the Link session as this peer's host clock sees it: the tempo, the
// beat at any host time (whose phase, for any quantum, agrees with every peer's), and the
// start/stop state. Get one from Peer.Timeline, change it with its Set/Request/Force methods,
// and hand it to Peer.Commit to publish the changes. A Timeline is a value: copies are
// independent, and nothing changes it but its own methods.
//
// Beat numbers are this peer's own: another peer's beat at the same instant differs by a
// multiple of the quantum (Link agrees on phase, not on bar numbers).
type Timeline struct {
	tl        timeline // host µs; tl.timeOrigin is the host time of the session's beat 0
	playing   bool
	playingAt int64 // host µs at which playing took effect
	connected bool  // peers > 0 when captured: RequestBeatAtTime then keeps the phase
	// What the snapshot was when captured, so Commit sends only what its caller changed.
	orig struct {
		tl        timeline
		playing   bool
		playingAt int64
	}
}

func micros(d time.Duration) int64    { return d.Microseconds() }
func duration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

func quantumBeats(q float64) beats {
	if q < 0 {
		return 0
	}
	return beatsOf(q)
}

// Tempo returns the tempo in BPM.
func (t Timeline) Tempo() float64 { return float64(t.tl.tempo) }

// Playing reports whether the session's transport is playing.
func (t Timeline) Playing() bool { return t.playing }

// PlayingAt returns the host time at which the current start or stop took effect.
func (t Timeline) PlayingAt() time.Duration { return duration(t.playingAt) }

// BeatAt returns the beat at host time at. For a quantum q > 0 its phase, BeatAt mod q, is the
// session's: with q = 4, whole multiples of 4 fall on every peer's bar lines. A quantum of 0
// gives the beat without phase alignment.
func (t Timeline) BeatAt(at time.Duration, quantum float64) float64 {
	return phaseBeatAt(t.tl, micros(at), quantumBeats(quantum)).float()
}

// PhaseAt returns BeatAt(at, quantum) modulo quantum, in [0, quantum).
func (t Timeline) PhaseAt(at time.Duration, quantum float64) float64 {
	q := quantumBeats(quantum)
	return phase(phaseBeatAt(t.tl, micros(at), q), q).float()
}

// TimeAt returns the host time of beat b: the inverse of BeatAt at this tempo.
func (t Timeline) TimeAt(b float64, quantum float64) time.Duration {
	return duration(phaseTimeAt(t.tl, beatsOf(b), quantumBeats(quantum)))
}

// NextBar returns the host time of the first bar line (phase 0 for quantum) at or after at.
func (t Timeline) NextBar(at time.Duration, quantum float64) time.Duration {
	q := quantumBeats(quantum)
	b := nextPhaseMatch(phaseBeatAt(t.tl, micros(at), q), 0, q)
	return duration(phaseTimeAt(t.tl, b, q))
}

// SetTempo changes the tempo from host time at on, keeping the beat at that time; bpm is
// clamped to [MinTempo, MaxTempo].
func (t *Timeline) SetTempo(bpm float64, at time.Duration) {
	us := micros(at)
	next := timeline{tempo: tempo(bpm).clamp(), beatOrigin: t.tl.toBeats(us), timeOrigin: us}
	t.tl.tempo = next.tempo
	t.tl.timeOrigin = next.fromBeats(t.tl.beatOrigin)
}

// RequestBeatAtTime asks for beat b at host time at. Alone in the session, it is
// ForceBeatAtTime. With peers it keeps the session's phase: b lands on the first time at or
// after at whose phase matches b's, and only the beat numbering changes.
func (t *Timeline) RequestBeatAtTime(b float64, at time.Duration, quantum float64) {
	if t.connected {
		q := quantumBeats(quantum)
		match := nextPhaseMatch(phaseBeatAt(t.tl, micros(at), q), beatsOf(b), q)
		at = duration(phaseTimeAt(t.tl, match, q))
	}
	t.ForceBeatAtTime(b, at, quantum)
}

// ForceBeatAtTime makes beat b fall at host time at, shifting the whole session's phase if
// need be. Use it sparingly: every peer's beat jumps.
func (t *Timeline) ForceBeatAtTime(b float64, at time.Duration, quantum float64) {
	q, want, us := quantumBeats(quantum), beatsOf(b), micros(at)
	cur := phaseBeatAt(t.tl, us, q)
	closest := closestPhaseMatch(cur, want, q)
	// Shift the phase: the timeline slides so that closest falls at us...
	shift := t.tl.fromBeats(closest-cur) - t.tl.fromBeats(0)
	t.tl.timeOrigin -= shift
	// ...then renumber the beats, which moves no one's phase.
	t.tl.beatOrigin += want - closest
}

// SetPlaying starts or stops the transport at host time at.
func (t *Timeline) SetPlaying(playing bool, at time.Duration) {
	t.playing, t.playingAt = playing, micros(at)
}
