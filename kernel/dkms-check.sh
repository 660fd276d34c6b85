#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check that the nlfast_family module builds through DKMS for one kernel:
# copy this folder into a temporary DKMS source tree, then
#   dkms add; dkms build -k KERNELVER; dkms remove --all
# with a temporary DKMS tree too, so no real /usr/src or /var/lib/dkms entry
# is touched.  Everything is removed on exit, success or not.
#
# Usage: dkms-check.sh [KERNELVER]     (default: uname -r)
#   KDIR=/path/to/headers dkms-check.sh KERNELVER   to name the headers
# Needs: dkms, the kernel's headers (/lib/modules/KERNELVER/build), root for
# dkms's module signing key (it makes /var/lib/dkms/mok.* when missing;
# this script removes them again if it was the one that made them).
# Exit status: 0 when the module was built, non-zero otherwise.

set -euo pipefail

kver=${1:-$(uname -r)}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
conf="$here/dkms.conf"

die() {
	echo "dkms-check: $*" >&2
	exit 1
}

command -v dkms >/dev/null || die "dkms is not installed"
[[ -f $conf ]] || die "no $conf"

name=$(sed -n 's/^PACKAGE_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$conf")
version=$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$conf")
[[ $name && $version ]] || die "PACKAGE_NAME or PACKAGE_VERSION missing in $conf"

ksrc=${KDIR:-/lib/modules/$kver/build}
[[ -f $ksrc/Makefile ]] || die "no kernel headers for $kver at $ksrc"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nlfast-dkms.XXXXXX")
keys=()
for f in /var/lib/dkms/mok.key /var/lib/dkms/mok.pub; do
	[[ -e $f ]] || keys+=("$f")
done

dkms_opts=(--sourcetree "$tmp/src" --dkmstree "$tmp/dkms"
	   -m "$name" -v "$version")
[[ ${KDIR:-} ]] && dkms_opts+=(--kernelsourcedir "$KDIR")

added=
cleanup() {
	local rc=$?

	if [[ $added ]]; then
		dkms remove "${dkms_opts[@]}" --all >"$tmp/remove.log" 2>&1 || {
			echo "dkms-check: dkms remove failed:" >&2
			cat "$tmp/remove.log" >&2
			[[ $rc -ne 0 ]] || rc=1
		}
	fi
	# Signing key files that did not exist before this run.
	for f in "${keys[@]}"; do
		rm -f "$f"
	done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT

src="$tmp/src/$name-$version"
mkdir -p "$src" "$tmp/dkms"
cp "$here/Kbuild" "$here/Makefile" "$here/dkms.conf" "$src/"
cp "$here"/*.c "$here"/*.h "$src/"
cp -r "$here/uapi" "$src/"

echo "dkms-check: $name $version for $kver (headers $ksrc)"
dkms add "${dkms_opts[@]}"
added=1
if ! dkms build "${dkms_opts[@]}" -k "$kver"; then
	log=$(find "$tmp/dkms/$name" -name make.log | head -n 1)
	[[ $log ]] && cat "$log" >&2
	die "dkms build failed for $kver"
fi

ko=$(find "$tmp/dkms/$name/$version/$kver" -name 'nlfast_family.ko*' | head -n 1)
[[ $ko ]] || die "dkms build left no nlfast_family.ko"
echo "dkms-check: built $(basename "$ko") for $kver"

added=
dkms remove "${dkms_opts[@]}" --all
echo "dkms-check: ok"
