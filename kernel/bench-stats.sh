#!/bin/sh
# Two builds of the module in one boot, loaded in turn: ECHO and SINK from
# one sender process per CPU, messages per second.  Used to compare the
# shared atomic64 counters with the per-CPU ones (kernel/README.md).
#
# In the guest, as root, from the checkout, with no nlfast_family loaded:
#   kernel/bench-stats.sh OLD.ko NEW.ko [SECONDS] [ROUNDS]
# e.g. python3 guest/vm.py --smp 4 --env PYTHON=$PWD/.venv/bin/python -- \
#        sh kernel/bench-stats.sh build/oldmod/kernel/nlfast_family.ko kernel/nlfast_family.ko
set -eu
old=$1
new=$2
secs=${3:-5}
rounds=${4:-2}
py=${PYTHON:-python3}
n=$(nproc)
echo "cpus $n, $secs s per run, $rounds rounds; rate = messages sent per second"
for r in $(seq "$rounds"); do
	for t in echo sink; do
		for ko in "$old" "$new"; do
			/sbin/insmod "$ko"
			res=$("$py" -m nlfast load --proto family --type "$t" --size 64 \
				--senders "$n" --duration "$secs" --json -q |
				"$py" -c 'import json, sys; d = json.load(sys.stdin); print(d["rate"], d["received_rate"], d["error_count"])')
			/sbin/rmmod nlfast_family
			echo "round $r $t $ko: rate received_rate errors = $res"
		done
	done
done
