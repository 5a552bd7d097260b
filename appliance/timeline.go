package appliance

import (
	"math"
	"time"
)

// The timeline: where the beat is at any server time, and how a change of it lands.
//
// Every phone schedules its notes a little ahead of time, so a change that took effect "now" would
// reach them after some of the notes it should have moved were already playing. Instead every
// change of a running timeline lands ahead of time, at a musical boundary that everyone computes
// the same way from the anchor they are sent:
//
//   - Play starts beat 0 ChangeLead from now (the count-in);
//   - a tempo change lands on the first whole beat at least ChangeLead from now;
//   - a stop lands on the first step (16th note) at least ChangeLead from now.
//
// The old and the new timeline agree at the boundary, so the beat count never jumps, and the
// anchor's TempoBefore tells how the beats just before it run.

// ChangeLead is how far ahead of the request a change of the timeline lands. It covers a one-way
// trip over busy Wi-Fi (tens of ms) plus a phone's audio output latency (up to ~200 ms over
// Bluetooth): every phone hears of a change before it has to play the first note it moves.
const ChangeLead = 300 * time.Millisecond

// leadMs is ChangeLead in the wire's unit.
const leadMs = float64(ChangeLead / time.Millisecond)

// Anchor ties the beat count to the server clock. From ServerTime on, the beat at server time t
// (ms) is Beat + (t - ServerTime) * tempo / 60000 while playing, and Beat when stopped. Before
// ServerTime the beats run at TempoBefore (at the tempo itself when TempoBefore is 0). Beats
// below 0 are the count-in: nothing sounds there.
type Anchor struct {
	ServerTime  float64 `json:"serverTime"` // ms since the Unix epoch, to the microsecond
	Beat        float64 `json:"beat"`
	TempoBefore float64 `json:"tempoBefore,omitempty"` // set when a change lands ahead of time
}

// serverMs is t as the wire's server time: ms since the Unix epoch, to the microsecond. Whole
// milliseconds would bias every clock estimate by up to 1 ms.
func serverMs(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1000
}

// steadyClock returns the wall time at the moment it was made plus the monotonic time since: a
// clock that keeps the wall clock's epoch but never jumps when NTP steps the system clock, which
// would shift every phone's beat at once.
func steadyClock() func() time.Time {
	start := time.Now()
	return func() time.Time { return start.Add(time.Since(start)) }
}

// tempoBefore is the tempo of the beats before the anchor.
func (st *State) tempoBefore() float64 {
	if st.Anchor.TempoBefore > 0 {
		return st.Anchor.TempoBefore
	}
	return st.Tempo
}

// beatAt is the (fractional) beat count at server time t (ms).
func (st *State) beatAt(t float64) float64 {
	a := st.Anchor
	switch {
	case t < a.ServerTime:
		return a.Beat + (t-a.ServerTime)*st.tempoBefore()/60000
	case !st.IsPlaying:
		return a.Beat
	}
	return a.Beat + (t-a.ServerTime)*st.Tempo/60000
}

// timeOfBeat is the server time (ms) at which the running timeline reaches beat b.
func (st *State) timeOfBeat(b float64) float64 {
	a := st.Anchor
	if b < a.Beat {
		return a.ServerTime + (b-a.Beat)*60000/st.tempoBefore()
	}
	return a.ServerTime + (b-a.Beat)*60000/st.Tempo
}

// sounding reports whether notes play at server time t: while playing, or before a stop lands.
func (st *State) sounding(t float64) bool {
	return (st.IsPlaying || t < st.Anchor.ServerTime) && st.beatAt(t) >= 0
}

// stepAt is the 16th-note step (0–15) at server time t; 0 when nothing sounds.
func (st *State) stepAt(t float64) int {
	if !st.sounding(t) {
		return 0
	}
	return int(math.Floor(st.beatAt(t)*4+1e-9)) % Steps
}

// landAt re-anchors the running timeline on the first multiple of unit beats at least
// ChangeLead after now, keeping the tempo the beats before it run at.
func (st *State) landAt(now, unit float64) {
	b := math.Ceil(st.beatAt(now+leadMs)/unit-1e-9) * unit
	b = max(b, 0) // a change during the count-in lands on beat 0 at the latest
	t := st.timeOfBeat(b)
	before := st.Tempo
	if b <= st.Anchor.Beat {
		before = st.tempoBefore()
	}
	st.Anchor = Anchor{ServerTime: t, Beat: b, TempoBefore: before}
}

// setTempo changes the tempo. While playing, the change lands on the first beat at least
// ChangeLead away; when the anchor itself is that far away (the count-in, or a change already on
// its way), the new tempo simply applies from it.
func (st *State) setTempo(tempo, now float64) {
	if st.IsPlaying && tempo != st.Tempo && now+leadMs > st.Anchor.ServerTime {
		st.landAt(now, 1)
	}
	st.Tempo = tempo
}

// setPlaying starts beat 0 ChangeLead from now, or stops on the first step at least ChangeLead
// away. Asking for the state it is already in changes nothing.
func (st *State) setPlaying(playing bool, now float64) {
	switch {
	case playing && !st.IsPlaying:
		st.Anchor = Anchor{ServerTime: now + leadMs, Beat: 0}
	case !playing && st.IsPlaying:
		st.landAt(now, 0.25)
	}
	st.IsPlaying = playing
}

// playOnBar starts the timeline with beat 0 on the first Link bar line at least ChangeLead away:
// the count-in runs at the tempo, on Link's beats.
func (st *State) playOnBar(l LinkState, now float64) {
	_, at := l.next(now+leadMs, LinkQuantum)
	st.Anchor = Anchor{ServerTime: at, Beat: 0}
	st.IsPlaying = true
}

// followLink takes the Link session's tempo, clamped to the room's range, and while playing its
// phase. The running timeline is re-anchored on the first whole Link beat at least ChangeLead
// away, and the beat there is renumbered to the nearest beat of Link's phase (mod LinkQuantum),
// never below 0: the beat count jumps there by less than half a bar (by a few ms after a tempo
// change of Link's: how far the two ran apart until then), and from there on beat 0 of every bar
// is a Link bar line. During the count-in, beat 0 moves to the first Link bar line a lead away.
func (st *State) followLink(l LinkState, now float64) {
	tempo := clampTempo(l.Tempo)
	if !st.IsPlaying {
		st.Tempo = tempo
		return
	}
	if st.beatAt(max(now+leadMs, st.Anchor.ServerTime)) <= 0 {
		st.Tempo = tempo
		st.playOnBar(l, now)
		return
	}
	lb, at := l.next(now+leadMs, 1)
	nb := lb + LinkQuantum*math.Round((st.beatAt(at)-lb)/LinkQuantum)
	if nb < 0 {
		nb += LinkQuantum
	}
	before := st.Tempo
	if at < st.Anchor.ServerTime {
		before = st.tempoBefore()
	}
	st.Anchor = Anchor{ServerTime: at, Beat: nb, TempoBefore: before}
	st.Tempo = tempo
}
