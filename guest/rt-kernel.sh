#!/bin/sh
# Fetches Debian's PREEMPT_RT kernel (linux-image-rt-amd64 and its headers,
# the versions apt would install) and unpacks it into a private root,
# build/rt-kernel/<kver>/root, without installing it: the host's kernel
# packages, and which kernel the default guest tier picks, stay as they are.
#
#   guest/rt-kernel.sh    -> prints build/rt-kernel/<kver>
#   In it: root/boot/vmlinuz-<kver>, root/lib/modules/<kver>/ (depmod'ed),
#   kdir (the headers tree to build modules against), kver.
# Needs: apt-get (Debian bookworm sources), dpkg-deb, depmod, and the host's
# linux-kbuild-6.1 (installed with linux-headers-amd64).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
rtimage() {
	apt-cache depends linux-image-rt-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-.*-rt-amd64\)$/\1/p' | head -1
}
img=$(rtimage)
if [ -z "$img" ]; then          # a fresh machine has no package lists yet
	apt-get update -qq >/dev/null
	img=$(rtimage)
fi
[ -n "$img" ] || { echo "rt-kernel: apt knows no linux-image-rt-amd64 (apt-get update?)" >&2; exit 2; }
kver=${img#linux-image-}
out=$top/build/rt-kernel/$kver
if [ -e "$out/done" ]; then
	echo "$out"
	exit 0
fi
rm -rf "$out"
mkdir -p "$out/debs" "$out/root"
hdr=linux-headers-$kver
common=$(apt-cache depends "$hdr" | sed -n 's/^ *Depends: \(linux-headers-.*-common-rt\)$/\1/p' | head -1)
[ -n "$common" ] || { echo "rt-kernel: no common headers package for $hdr" >&2; exit 2; }
kbuild=$(apt-cache depends "$hdr" | sed -n 's/^ *Depends: \(linux-kbuild-[0-9.]*\)$/\1/p' | head -1)
[ -d "/usr/lib/$kbuild" ] || { echo "rt-kernel: /usr/lib/$kbuild missing (apt-get install $kbuild)" >&2; exit 2; }
# apt's _apt user must be able to write the download directory
chmod 0777 "$out/debs"
(cd "$out/debs" && apt-get download -q "$img" "$hdr" "$common" >/dev/null)
chmod 0755 "$out/debs"
for d in "$out"/debs/*.deb; do
	dpkg-deb -x "$d" "$out/root"
done
rm -rf "$out/debs"
# the headers' Makefile includes the common tree by absolute path, and
# scripts/ and tools/ are relative links into linux-kbuild
sed -i "s#^include /usr/src/#include $out/root/usr/src/#" "$out/root/usr/src/$hdr/Makefile"
mkdir -p "$out/root/usr/lib"
ln -sfn "/usr/lib/$kbuild" "$out/root/usr/lib/$kbuild"
depmod -b "$out/root" "$kver"
ln -sfn "root/usr/src/$hdr" "$out/kdir"
echo "$kver" > "$out/kver"
touch "$out/done"
echo "$out"
