// refpeer: a tiny Ableton Link peer built from Debian's ableton-link-dev headers, driven over
// stdin/stdout by the tests of discovery/link and cmd/jamd through ../linktest.go. Its line
// protocol is the one discovery/link's Go helper speaks too, so one driver handles both:
//
//   in:  tempo <bpm> | play | stop | status [<host µs>] | quit
//   out: set <host µs>                                  (after a command committed)
//        status <peers> <bpm> <playing 0|1> <host µs> <beat at that time, quantum 4>
//        event peers|tempo|playing <value> <host µs>    (Link's callbacks)
//
// Host time is Link's own clock (on Linux, CLOCK_MONOTONIC_RAW in µs).
#include <ableton/Link.hpp>

#include <cstdio>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

int main()
{
  ableton::Link link(120.0);
  link.enableStartStopSync(true);
  std::mutex out;
  auto now = [&link] { return link.clock().micros().count(); };
  auto print = [&out](const std::string& line) {
    std::lock_guard<std::mutex> lock(out);
    std::cout << line << std::endl;
  };
  auto event = [&](const char* what, double value) {
    std::ostringstream s;
    s.precision(10);
    s << "event " << what << " " << value << " " << now();
    print(s.str());
  };
  link.setNumPeersCallback([&](std::size_t n) { event("peers", static_cast<double>(n)); });
  link.setTempoCallback([&](double bpm) { event("tempo", bpm); });
  link.setStartStopCallback([&](bool playing) { event("playing", playing ? 1 : 0); });
  link.enable(true);
  print("ready");

  std::string line;
  while (std::getline(std::cin, line))
  {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "quit")
    {
      break;
    }
    auto state = link.captureAppSessionState();
    const auto t = link.clock().micros();
    if (cmd == "tempo")
    {
      double bpm = 0;
      in >> bpm;
      state.setTempo(bpm, t);
    }
    else if (cmd == "play" || cmd == "stop")
    {
      state.setIsPlaying(cmd == "play", t);
    }
    else if (cmd == "status")
    {
      long long at = t.count();
      in >> at;
      std::ostringstream s;
      s.precision(12);
      s << "status " << link.numPeers() << " " << state.tempo() << " "
        << (state.isPlaying() ? 1 : 0) << " " << at << " "
        << state.beatAtTime(std::chrono::microseconds(at), 4.0);
      print(s.str());
      continue;
    }
    else
    {
      print("error unknown command " + cmd);
      continue;
    }
    link.commitAppSessionState(state);
    print("set " + std::to_string(t.count()));
  }
  link.enable(false);
  print("bye");
  return 0;
}
