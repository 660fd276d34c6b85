#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
N=; CO=; CACHE=loose; MSIZE=262144; DBG=
# shellcheck disable=SC2013 # the command line is words, split on purpose
for a in $(cat /proc/cmdline); do
  case "$a" in
    nlfast.run=*) N=${a#*=} ;;
    nlfast.co=*) CO=${a#*=} ;;
    nlfast.cocache=*) CACHE=${a#*=} ;;
    nlfast.debug) DBG=1 ;;
  esac
done
M="@@NLFAST:$N"
say() { echo "$M:$*" > /dev/ttyS0; }
tick() { [ -z "$DBG" ] || say "T-$1:$(cat /proc/uptime)"; }
bye() { sync; reboot -f; }
fail() { say "INITFAIL:$*"; bye; }
say BOOTED
tick init
for m in /mods/*.ko; do
  [ -e "$m" ] || continue  # none when the kernel has them built in
  insmod "$m" || fail "insmod $m"; tick "${m#/mods/}"
done
mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose,msize=$MSIZE hostroot /lower || fail "mount hostroot"
tick 9p-root
mount -t tmpfs -o mode=0755 upper /upper || fail "mount upper"
mkdir -p /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /newroot || fail "mount overlay"
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,gid=5,mode=620 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 shm $R/dev/shm
mount -t tmpfs -o mode=1777 tmp $R/tmp
mount -t tmpfs -o mode=0755 run $R/run
mkdir -p $R/run/lock $R/run/netns
# the checkout last: it may live under /tmp or /run (a CI clone), which the
# tmpfs mounts above would hide
mkdir -p "$R$CO" || fail "mkdir $CO"
mount -t 9p -o trans=virtio,version=9p2000.L,cache="$CACHE",msize="$MSIZE" checkout "$R$CO" || fail "mount checkout $CO"
tick 9p-checkout
ip link set lo up
hostname guest
stty -F /dev/ttyS1 raw -echo -hupcl clocal 2>/dev/null
echo 8 > /proc/sys/kernel/printk
RUN=$CO/build/guest/runs/$N
[ -f "$R$RUN/cmd.sh" ] || fail "no $RUN/cmd.sh in the guest"
# Each step runs in a mount namespace of its own, where the overlay is moved
# over / and entered (what switch_root does; pivot_root refuses an initramfs
# root).  Unlike a plain chroot, this is a real root: the kernel lets the
# command create user namespaces (unshare -U), which it refuses to a
# chrooted caller.  This script's own namespace keeps the initramfs.
runc() {
  # shellcheck disable=SC2016 # expanded by the inner shell
  env -i PATH=__PATH__ HOME=/root LANG=C.UTF-8 TERM=dumb USER=root LOGNAME=root \
    /bin/unshare -m --propagation private /bin/sh -c \
    'cd "$1" && /bin/mount -o move . / && exec /bin/chroot . /bin/sh "$2"' \
    runc "$R" "$RUN/$1" </dev/null >/dev/ttyS1 2>&1
}
say SETUP
tick setup
rc=0
[ ! -s "$R$RUN/pre.sh" ] || { runc pre.sh; rc=$?; }
say "PRE:$rc"
if [ $rc = 0 ]; then
  runc cmd.sh; rc=$?
  say "STATUS:$rc"
  tick cmd
  rc=0
  [ ! -s "$R$RUN/post.sh" ] || { runc post.sh; rc=$?; }
  say "POST:$rc"
fi
say "TAINTED:$(cat /proc/sys/kernel/tainted)"
echo 1 > /proc/sys/kernel/printk
dmesg > "$R$RUN/dmesg"
say DONE
bye
