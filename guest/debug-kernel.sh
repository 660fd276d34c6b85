#!/bin/sh
# Builds the debug tier's kernel from Debian's linux-source-6.1 (KASAN,
# kmemleak, lockdep, DEBUG_ATOMIC_SLEEP, PROVE_RCU; config: x86_64
# defconfig + kvm_guest.config + guest/debug-kernel.config) and installs its
# modules into a private root.  Cached in build/debug-kernel/<key>/, key =
# the source tarball, the fragment and RECIPE below: a finished build only
# prints its directory, an interrupted one resumes where make stopped.
#
#   guest/debug-kernel.sh   -> prints build/debug-kernel/<key>
#   In it: src/ (the tree, KDIR for modules), root/boot/vmlinuz-<kver>,
#   root/lib/modules/<kver>/, kver, build.log, build-seconds.
# Needs gcc, make, flex, bison, bc, libelf-dev, libssl-dev (Makefile APT_PKGS).
set -eu
RECIPE=2        # bump when the steps below change what is built
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
tarball=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
frag=$here/debug-kernel.config
jobs=${JOBS:-$(nproc)}
lv=-nlfdebug

[ -r "$tarball" ] || { echo "debug-kernel: $tarball missing (apt-get install linux-source-6.1)" >&2; exit 2; }
key=$( { stat -c '%s %Y' "$tarball"; cat "$frag"; echo "$RECIPE"; } | sha256sum | cut -c1-16)
out=$top/build/debug-kernel/$key
if [ -e "$out/done" ]; then
	echo "$out"
	exit 0
fi
mkdir -p "$out"
start=$(date +%s)
# the build's output goes to build.log; a failure shows its tail
exec 4>&1 3>&2 >>"$out/build.log" 2>&1
# shellcheck disable=SC2154 # rc is set inside the trap
trap 'rc=$?; [ $rc = 0 ] || { echo "debug-kernel: build failed, see $out/build.log" >&3; tail -20 "$out/build.log" >&3; }' EXIT
if [ ! -e "$out/configured" ]; then
	echo "debug-kernel: extracting $tarball"
	rm -rf "$out/src"
	mkdir -p "$out/src"
	tar -xJf "$tarball" -C "$out/src" --strip-components=1
	cd "$out/src"
	make -s x86_64_defconfig
	make -s kvm_guest.config
	scripts/kconfig/merge_config.sh -m .config "$frag" >/dev/null
	make -s olddefconfig
	# every fragment line must have survived olddefconfig
	grep -E '^CONFIG_[A-Z0-9_]+=' "$frag" | while IFS= read -r l; do
		k=${l%%=*}
		if [ "${l#*=}" = n ]; then
			if grep -qE "^$k=" .config; then echo "debug-kernel: $k still set" >&2; exit 1; fi
		elif ! grep -qxF "$l" .config; then
			echo "debug-kernel: $l did not stick" >&2; exit 1
		fi
	done
	touch "$out/configured"
else
	echo "debug-kernel: resuming the build in $out/src"
fi
cd "$out/src"
make -j"$jobs" LOCALVERSION=$lv
kver=$(make -s LOCALVERSION=$lv kernelrelease)
rm -rf "$out/root"
make -s LOCALVERSION=$lv INSTALL_MOD_PATH="$out/root" modules_install
mkdir -p "$out/root/boot"
cp arch/x86/boot/bzImage "$out/root/boot/vmlinuz-$kver"
echo "$kver" > "$out/kver"
echo $(( $(date +%s) - start )) >> "$out/build-seconds"
touch "$out/done"
echo "$out" >&4
