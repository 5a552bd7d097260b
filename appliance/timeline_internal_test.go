package appliance

import (
	"math"
	"testing"
)

// The boundary rule: every change of a running timeline lands ahead of time on a boundary, and
// the beat count is the same on both sides of it.
func TestTimelineChangesLandOnBoundaries(t *testing.T) {
	const p = 1_800_000_000_000.0 // the play anchor's server time
	lead := float64(ChangeLead.Milliseconds())
	st := State{Tempo: 120}
	st.setPlaying(true, p-lead)
	if st.Anchor != (Anchor{ServerTime: p, Beat: 0}) {
		t.Fatalf("play anchored at %+v, want beat 0 at %v", st.Anchor, p)
	}

	steps := []struct {
		what      string
		apply     func()
		want      Anchor
		wantTempo float64
	}{
		{"tempo during the count-in, a lead away: the anchor stays", func() { st.setTempo(100, p-lead) },
			Anchor{ServerTime: p, Beat: 0}, 100},
		{"back to 120 for round numbers", func() { st.setTempo(120, p-lead) }, Anchor{ServerTime: p, Beat: 0}, 120},
		// At p+1100 (beat 2.2) the lead reaches beat 2.8: the change lands on beat 3.
		{"tempo while playing lands on the next beat a lead away", func() { st.setTempo(60, p+1100) },
			Anchor{ServerTime: p + 1500, Beat: 3, TempoBefore: 120}, 60},
		{"another change before that beat, still a lead away, joins it", func() { st.setTempo(90, p+1200) },
			Anchor{ServerTime: p + 1500, Beat: 3, TempoBefore: 120}, 90},
		// At p+1300 the lead reaches p+1600, past the pending beat 3: beat 3.15 at 90 BPM, so beat 4.
		{"a change past a pending one lands on the following beat", func() { st.setTempo(90.5, p+1300) },
			Anchor{ServerTime: p + 1500 + 60000.0/90, Beat: 4, TempoBefore: 90}, 90.5},
		{"the same tempo again changes nothing", func() { st.setTempo(90.5, p+1300) },
			Anchor{ServerTime: p + 1500 + 60000.0/90, Beat: 4, TempoBefore: 90}, 90.5},
		// Still at p+1300: beat 3.15 a lead away, so the stop lands on step 3.25, in the 90 BPM stretch.
		{"stop lands on the next step a lead away", func() { st.setPlaying(false, p+1300) },
			Anchor{ServerTime: p + 1500 + 15000.0/90, Beat: 3.25, TempoBefore: 90}, 90.5},
		{"stop while stopped changes nothing", func() { st.setPlaying(false, p+1400) },
			Anchor{ServerTime: p + 1500 + 15000.0/90, Beat: 3.25, TempoBefore: 90}, 90.5},
		{"tempo while stopped leaves the stop's beats alone", func() { st.setTempo(70, p+1400) },
			Anchor{ServerTime: p + 1500 + 15000.0/90, Beat: 3.25, TempoBefore: 90}, 70},
		{"play starts a fresh count-in", func() { st.setPlaying(true, p+5000) },
			Anchor{ServerTime: p + 5000 + lead, Beat: 0}, 70},
		// Stop during the count-in lands on beat 0 at the latest: nothing sounds.
		{"stop in the count-in", func() { st.setPlaying(false, p+5000) },
			Anchor{ServerTime: p + 5000 + lead, Beat: 0, TempoBefore: 70}, 70},
	}
	for _, s := range steps {
		s.apply()
		if !anchorNear(st.Anchor, s.want) || st.Tempo != s.wantTempo {
			t.Errorf("%s: anchor %+v tempo %v, want %+v tempo %v", s.what, st.Anchor, st.Tempo, s.want, s.wantTempo)
		}
	}
}

// Whatever the moment of a change, the beat count is continuous at its anchor, the anchor is a
// lead or more away and on a boundary, and the beats before it keep their old times.
func TestTimelineChangeKeepsTheBeat(t *testing.T) {
	lead := float64(ChangeLead.Milliseconds())
	for _, now := range []float64{0, 1, 99.5, 250, 299.999, 300, 301, 777.3, 1234.567, 5000} {
		for _, tempo := range []float64{20, 60, 97.3, 300} {
			st := State{Tempo: 120}
			st.setPlaying(true, -lead)
			before := st
			st.setTempo(tempo, now)
			a := st.Anchor
			if a.ServerTime < now+lead-1e-6 {
				t.Errorf("now %v → %v BPM: lands at %v, less than a lead away", now, tempo, a.ServerTime)
			}
			if a.Beat != math.Round(a.Beat) {
				t.Errorf("now %v → %v BPM: lands on beat %v, not a whole beat", now, tempo, a.Beat)
			}
			for _, t0 := range []float64{now, (now + a.ServerTime) / 2, a.ServerTime} {
				if d := st.beatAt(t0) - before.beatAt(t0); math.Abs(d) > 1e-9 {
					t.Errorf("now %v → %v BPM: the beat at %v moved by %v", now, tempo, t0, d)
				}
			}

			st = before
			st.setPlaying(false, now)
			if a := st.Anchor; a.ServerTime < now+lead-1e-6 || a.Beat*4 != math.Round(a.Beat*4) ||
				math.Abs(before.beatAt(a.ServerTime)-a.Beat) > 1e-9 {
				t.Errorf("stop at %v: anchor %+v is not a step a lead away on the old beat", now, a)
			}
			if st.sounding(st.Anchor.ServerTime) || !st.sounding(st.Anchor.ServerTime-1) && st.Anchor.Beat > 0.25 {
				t.Errorf("stop at %v: sounding is wrong around the stop at %+v", now, st.Anchor)
			}
		}
	}
}

func TestServerTimeKeepsMicroseconds(t *testing.T) {
	now := steadyClock()()
	if got, want := serverMs(now), float64(now.UnixMicro())/1000; got != want || got == math.Floor(got) && now.Nanosecond()%1e6 >= 1e3 {
		t.Errorf("serverMs = %v, want %v", got, want)
	}
	frame := pongFrame("", []byte("1"), 1795665000000.123)
	if want := `{"type":"clock:pong","data":{"t0":1,"serverTime":1795665000000.123}}`; string(frame) != want {
		t.Errorf("pong = %s, want %s", frame, want)
	}
}

func anchorNear(a, b Anchor) bool {
	return math.Abs(a.ServerTime-b.ServerTime) < 1e-6 && math.Abs(a.Beat-b.Beat) < 1e-9 && a.TempoBefore == b.TempoBefore
}
