#!/bin/sh
# Runs the guest suite (tests_guest) on another kernel than the default tier's:
#   guest/tier.sh rt      Debian's PREEMPT_RT kernel (guest/rt-kernel.sh)
#   guest/tier.sh debug   6.1 built with KASAN, kmemleak, lockdep, PROVE_RCU,
#                         DEBUG_ATOMIC_SLEEP (guest/debug-kernel.sh), and a
#                         kmemleak scan after the suite and after rmmod
# Extra arguments go to pytest (e.g. -k oracle).  The module is built
# against that kernel in build/<tier>-module/, so kernel/nlfast_family.ko
# stays the default tier's.
set -eu
tier=${1:?usage: guest/tier.sh rt|debug [pytest args]}
shift
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
case $tier in
rt)
	dir=$(guest/rt-kernel.sh)
	root=$dir/root
	kdir=$(readlink -f "$dir/kdir")
	timeout=1800
	;;
debug)
	dir=$(guest/debug-kernel.sh)
	root=$dir/root
	kdir=$dir/src
	timeout=5400
	;;
*)
	echo "guest/tier.sh: unknown tier '$tier' (rt or debug)" >&2
	exit 2
	;;
esac
kver=$(cat "$dir/kver")
mod=$top/build/$tier-module
rm -rf "$mod"
mkdir -p "$mod"
cp -r kernel/Kbuild kernel/*.c kernel/*.h kernel/uapi "$mod/"
make -s -C "$kdir" M="$mod" W=1 modules
ko=$mod/nlfast_family.ko

pytest="$top/.venv/bin/pytest -q -p no:cacheprovider tests_guest $*"
if [ "$tier" = debug ]; then
	# the module stays loaded for the first scan (its symbols resolve),
	# then is removed and the memory scanned again
	inner="guest/kmemleak.py clear && $pytest && guest/kmemleak.py check && rmmod nlfast_family && guest/kmemleak.py check"
	norm=--no-rmmod
else
	inner=$pytest
	norm=
fi
start=$(date +%s)
rc=0
python3 guest/vm.py --kernel-root "$root" --kver "$kver" --timeout "$timeout" $norm \
	--module "$ko" --env NLFAST_KO="$ko" --env PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 \
	--log "$top/build/guest/last-$tier-dmesg.log" -- /bin/sh -c "$inner" || rc=$?
echo "guest/tier.sh: $tier tier ($kver): exit $rc in $(( $(date +%s) - start )) s"
exit $rc
