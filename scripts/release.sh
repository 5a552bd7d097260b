#!/usr/bin/env bash
# Build the release into dist/: static, version-stamped jamd binaries for every Pi and for the
# laptops, .deb packages for arm64, armhf and amd64, and SHA256SUMS.
#
#   scripts/release.sh [VERSION]          VERSION defaults to $VERSION, else `git describe`, else dev
#
# Environment: DIST (default dist), TARGETS (os/arch[/goarm] list, default all five below),
# DEBS (default "arm64 armhf amd64"; empty for none), NFPM (default: nfpm v2.45.2 run as a Go tool,
# not a dependency in go.mod).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${1:-${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}}
DIST=${DIST:-dist}
TARGETS=${TARGETS:-linux/arm64 linux/arm/6 linux/arm/7 linux/amd64 darwin/arm64}
DEBS=${DEBS-arm64 armhf amd64}
NFPM=${NFPM:-go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2}

mkdir -p "$DIST"
rm -f "$DIST"/jamd_* "$DIST"/SHA256SUMS

binary() { # os arch [goarm] -> file name in $DIST
	echo "jamd_${VERSION}_$1_$2${3:+v$3}"
}

for t in $TARGETS; do
	IFS=/ read -r os arch arm <<<"$t"
	out="$DIST/$(binary "$os" "$arch" "$arm")"
	echo "build $out"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=$arm \
		go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$out" ./cmd/jamd
done

if [ -n "$DEBS" ]; then
	# Debian versions must start with a digit: v1.2.3 -> 1.2.3, a bare commit -> 0.0.0~g<commit>.
	deb_version=${VERSION#v}
	case $deb_version in [0-9]*) ;; *) deb_version="0.0.0~g$deb_version" ;; esac
	deb_version=${deb_version//-/\~}
	stage=$(mktemp -d)
	trap 'rm -rf "$stage"' EXIT
	# The package puts jamd in /usr/bin; the unit in the repo points at /usr/local/bin (install.sh).
	sed 's#^ExecStart=/usr/local/bin/jamd#ExecStart=/usr/bin/jamd#' systemd/jamd.service >"$stage/jamd.service"
	for deb_arch in $DEBS; do
		case $deb_arch in
		arm64) bin=$(binary linux arm64) ;;
		armhf) bin=$(binary linux arm 6) ;; # Raspberry Pi OS armhf runs ARMv6 code (Pi Zero/1 too)
		amd64) bin=$(binary linux amd64) ;;
		*) echo "release.sh: no binary for deb arch $deb_arch" >&2; exit 1 ;;
		esac
		[ -f "$DIST/$bin" ] || { echo "release.sh: $DIST/$bin was not built (TARGETS)" >&2; exit 1; }
		echo "package $deb_arch"
		# nfpm expands ${VAR} in version and arch but not in contents' paths: fill those in here.
		sed -e "s#\${JAMD_BIN}#$DIST/$bin#" -e "s#\${JAMD_UNIT}#$stage/jamd.service#" scripts/nfpm.yaml >"$stage/nfpm.yaml"
		DEB_VERSION="$deb_version" DEB_ARCH="$deb_arch" \
			$NFPM package --config "$stage/nfpm.yaml" --packager deb --target "$DIST/"
	done
fi

(cd "$DIST" && sha256sum jamd_* >SHA256SUMS)
echo "release $VERSION in $DIST/:"
ls -l "$DIST"
