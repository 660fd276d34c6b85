#!/bin/sh
# Builds the debug tier's kernel from Debian's linux-source-6.1 (KASAN,
# kmemleak, lockdep, DEBUG_ATOMIC_SLEEP, PROVE_RCU; config: defconfig +
# kvm_guest.config + guest/debug-kernel.config) and installs its modules
# into a private directory.  Cached: build/debug-kernel/<key>/ where key
# hashes the source tarball, the fragment and this script; a second run
# only prints the directory.
#
#   guest/debug-kernel.sh        -> prints build/debug-kernel/<key>
#   In it: src/ (the tree, usable as KDIR), src/arch/x86/boot/bzImage,
#   mods/lib/modules/<kver>/, kver (the version string), build.log, build-seconds
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
tarball=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
frag=$here/debug-kernel.config
jobs=${JOBS:-$(nproc)}

[ -r "$tarball" ] || { echo "debug-kernel: $tarball missing (apt-get install linux-source-6.1)" >&2; exit 2; }
key=$( { stat -c '%s %Y' "$tarball"; cat "$frag" "$0"; } | sha256sum | cut -c1-16)
out=$top/build/debug-kernel/$key
if [ -e "$out/done" ]; then
	echo "$out"
	exit 0
fi
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)
{
	echo "debug-kernel: extracting $tarball"
	mkdir -p "$out/src"
	tar -xJf "$tarball" -C "$out/src" --strip-components=1
	cd "$out/src"
	make -s x86_64_defconfig
	make -s kvm_guest.config
	scripts/kconfig/merge_config.sh -m .config "$frag" >/dev/null
	make -s olddefconfig
	# every fragment line must have survived olddefconfig
	bad=0
	grep -E '^CONFIG_[A-Z0-9_]+=' "$frag" | while IFS= read -r l; do
		k=${l%%=*}; v=${l#*=}
		if [ "$v" = n ]; then
			grep -qE "^$k=" .config && { echo "debug-kernel: $k still set" >&2; exit 1; }
		else
			grep -qxF "$l" .config || { echo "debug-kernel: $l did not stick" >&2; exit 1; }
		fi
		:
	done || bad=1
	[ $bad = 0 ] || exit 1
	make -j"$jobs" LOCALVERSION=-nlfdebug
	make -s LOCALVERSION=-nlfdebug INSTALL_MOD_PATH="$out/mods" modules_install
	make -s LOCALVERSION=-nlfdebug kernelrelease > "$out/kver"
} > "$out/build.log" 2>&1 || { echo "debug-kernel: build failed, see $out/build.log" >&2; tail -20 "$out/build.log" >&2; exit 1; }
echo $(( $(date +%s) - start )) > "$out/build-seconds"
touch "$out/done"
echo "$out"
