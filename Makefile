# jamd: `make test` installs what the tests need and runs them all; `make` builds the binary.
SHELL := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# A count, not a duration: Go 1.26's fuzz coordinator can report a spurious "context deadline
# exceeded" when a duration runs out on a busy machine (go.dev/issue/75804, fixed in 1.27).
FUZZTIME ?= 50000x

.PHONY: all build test deps go-deps web-deps test-tools go-test fuzz web-test web-dist e2e sync-lab sync-lab-short bench bench-load release clean

all: build

# A static binary that embeds the committed web app: no Node needed.
build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o jamd ./cmd/jamd

test: deps go-test fuzz web-test web-dist e2e sync-lab-short

deps: go-deps web-deps test-tools

go-deps:
	go mod download

web-deps:
	cd webui && npm ci --no-audit --no-fund

# Debian packages the tests use: chromium drives the end-to-end tests (nothing downloads a browser
# of its own), python3-zeroconf is the mDNS client nobody here wrote, ip makes the test network
# namespaces, systemd-analyze verifies the units, python3-prometheus-client parses /metrics as
# Prometheus would, g++ builds a reference Ableton Link peer from ableton-link-dev's headers for
# discovery/link's tests, and dnsmasq (what NetworkManager's hotspot runs), dig (bind9-dnsutils)
# and curl check jamd hotspot's DNS names and probe answers for real; zbarimg (zbar-tools) reads
# the rare QR code that gozxing's detector misses.
TEST_PACKAGES := chromium python3-zeroconf python3-prometheus-client iproute2 systemd ableton-link-dev g++ dnsmasq bind9-dnsutils curl zbar-tools
test-tools:
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
		echo "The tests need Debian's $$missing: run 'sudo apt-get install $$missing', then make test again." >&2; exit 1; \
	fi

# Ours only: an npm package under webui/node_modules may ship Go code of its own (flatted does).
GO_PACKAGES = $(shell go list ./... | grep -v /node_modules/)

go-test:
	go vet $(GO_PACKAGES)
	go test -race -count=1 $(GO_PACKAGES)

# A short run of every fuzz target on top of its seed corpus (which go-test already ran).
fuzz:
	go test -run '^$$' -fuzz '^FuzzDecodeRequest$$' -fuzztime $(FUZZTIME) ./appliance
	go test -run '^$$' -fuzz '^FuzzNormalize$$' -fuzztime $(FUZZTIME) ./appliance
	go test -run '^$$' -fuzz '^FuzzFrameReader$$' -fuzztime $(FUZZTIME) ./appliance
	go test -run '^$$' -fuzz '^FuzzHostAllowed$$' -fuzztime $(FUZZTIME) ./appliance
	go test -run '^$$' -fuzz '^FuzzDeviceKey$$' -fuzztime $(FUZZTIME) ./appliance
	go test -run '^$$' -fuzz '^FuzzWiFiQR$$' -fuzztime $(FUZZTIME) ./cmd/jamd
	go test -run '^$$' -fuzz '^FuzzSplitTerse$$' -fuzztime $(FUZZTIME) ./cmd/jamd
	go test -run '^$$' -fuzz '^FuzzDecodeDiscovery$$' -fuzztime $(FUZZTIME) ./discovery/link
	go test -run '^$$' -fuzz '^FuzzDecodeMeasure$$' -fuzztime $(FUZZTIME) ./discovery/link
	GOARCH=arm go vet ./discovery/link
	cd discovery/link && GOARCH=arm go test -c -o /dev/null .

web-test:
	cd webui && npm run typecheck && npm run lint && npm test

# The committed webui/dist must be what its sources build to, because go build embeds it.
web-dist:
	cd webui && npm run build
	@if [ -n "$$(git status --porcelain -- webui/dist)" ]; then \
		git status --short -- webui/dist; \
		echo "webui/dist differs from what webui/src builds: run 'cd webui && npm run build' and commit webui/dist." >&2; exit 1; \
	fi

e2e: build
	cd webui && JAMD_BIN=$(CURDIR)/jamd npm run e2e

# The sync lab: how close to the server's beat, and to each other, 4 pages of one session play
# (webui/e2e/synclab.mjs). The full lab rebuilds the web app first so the binary embeds what
# webui/src is now; figures go to stdout and webui/e2e-output/sync-lab-*.json.
sync-lab:
	cd webui && npm run build
	$(MAKE) build
	cd webui && JAMD_BIN=$(CURDIR)/jamd npm run sync-lab -- --jitter 0 --cycles 3
	cd webui && JAMD_BIN=$(CURDIR)/jamd npm run sync-lab -- --jitter 20,10 --cycles 3

# Half a minute of it for make test, under 20±10 ms of network jitter, with a loose bound that a
# busy 2-core CI machine still meets. make test has built the web app (web-dist) by now.
SYNC_LAB_MAX_P95 ?= 5
sync-lab-short: build
	cd webui && JAMD_BIN=$(CURDIR)/jamd npm run sync-lab -- --short --jitter 20,10 --max-p95 $(SYNC_LAB_MAX_P95)

# Figures for docs/benchmarks.md.
bench:
	go test ./cmd/jamd -run '^$$' -bench Seat50x10 -benchtime 1x

# Issue #12's figures (docs/benchmarks.md): the real jamd driven from a second process, 200 rooms
# x 10 sockets at 5 changes/s per host and 1,000 x 10 (10,000 sockets) at 1/s, with the data dir
# on disk (fsync) and on tmpfs. BENCH_LOADS overrides the loads (ROOMSxPER@RATE,SECONDS).
BENCH_LOADS ?= 200x10@5,10 1000x10@1,10
bench-load:
	go test -c -o /tmp/jamd-bench.test ./cmd/jamd
	cd cmd/jamd && for load in $(BENCH_LOADS); do for dir in "" /dev/shm; do \
		echo "== $$load, data dir on $${dir:-disk}"; \
		JAMD_LOAD=$$load JAMD_BENCH_DIR=$$dir /tmp/jamd-bench.test -test.run '^$$' -test.bench '^BenchmarkLoad$$' -test.benchtime 1x | grep 'load:' || exit 1; \
	done; done

# Static, version-stamped binaries for every Pi plus amd64 and darwin/arm64, SHA256SUMS and .debs, in dist/.
release:
	VERSION=$(VERSION) scripts/release.sh

clean:
	rm -rf jamd dist webui/e2e-output
