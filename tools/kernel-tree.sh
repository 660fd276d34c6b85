#!/bin/sh
# The parts of a current kernel tree that the spec tests and benchmarks read:
# Documentation/netlink (the published YAML specs and their schemas) and
# tools/net/ynl (the kernel's own Python spec client, a comparison peer only).
# Taken from Debian's newest linux-source-N.tar.xz in /usr/src (apt-get
# install linux-source-6.12; the Makefile's deps do it), unpacked once into
# build/kernel-tree/<version>/.  Prints that directory.
#
#   NLFAST_KERNEL_SOURCE=/path/to/linux-source-X.tar.xz  picks another tarball.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
tarball=${NLFAST_KERNEL_SOURCE:-$(find /usr/src -maxdepth 1 -name "linux-source-*.tar.xz" | sort -V | tail -1)}
if [ -z "$tarball" ] || [ ! -r "$tarball" ]; then
	echo "kernel-tree: no /usr/src/linux-source-*.tar.xz (apt-get install linux-source-6.12)" >&2
	exit 2
fi
ver=$(basename "$tarball" .tar.xz)
out=$top/build/kernel-tree/$ver
if [ ! -e "$out/.done" ]; then
	rm -rf "$out"
	mkdir -p "$out"
	tar -xJf "$tarball" -C "$out" --strip-components=1 \
		"$ver/Documentation/netlink" "$ver/tools/net/ynl"
	if [ ! -d "$out/Documentation/netlink/specs" ]; then
		echo "kernel-tree: $tarball has no Documentation/netlink/specs" >&2
		exit 2
	fi
	touch "$out/.done"
fi
echo "$out"
