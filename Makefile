# nlfast: `make bench` runs the benchmark, `make test` runs every test.
# Both install what is missing first (Debian packages, a venv with extras).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# The guest's kernel: the newest with both an image and headers installed.
KVER    = $(shell for d in $$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V -r); do \
	    v=$$(basename $$d | sed 's/^linux-headers-//'); [ -e /boot/vmlinuz-$$v ] && echo $$v && break; done)
KDIR    = /usr/src/linux-headers-$(KVER)
KO     := $(CURDIR)/kernel/nlfast_family.ko
APT_PKGS := gcc make iproute2 util-linux kmod procps qemu-system-x86 busybox-static \
	linux-image-amd64 linux-headers-amd64 linux-source-6.1 dkms libasan8 time \
	flex bison bc libelf-dev libssl-dev

SOURCES := $(wildcard csrc/*.c csrc/*.h csrc/*.py nlfast/*.py nlfast/cli/*.py) kernel/uapi/nlfast_family.h \
	setup.py pyproject.toml

.PHONY: all deps venv test test-host test-guest test-guest-rt test-guest-debug lint module bench clean

all: venv

# Debian packages, installed only when missing (apt-get update once first).
deps:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.stamp: $(SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $@

venv: $(VENV)/.stamp

lint: venv
	$(VENV)/bin/ruff check nlfast tests tests_guest examples $(wildcard benchmarks)
	$(VENV)/bin/mypy

test-host: deps venv
	$(VENV)/bin/pytest -q tests

module: deps
	$(MAKE) -C kernel KDIR=$(KDIR) W=1

# Boots the guest kernel under QEMU with the module and runs pytest inside it;
# fails on any failed test and on any oops, BUG, WARNING or SLUB report.
test-guest: deps venv module
	$(PYTHON) guest/vm.py --kver $(KVER) --timeout 900 --module $(KO) \
	  --env NLFAST_KO=$(KO) --env PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 -- \
	  $(CURDIR)/$(VENV)/bin/pytest -q -p no:cacheprovider tests_guest

# The same suite on Debian's PREEMPT_RT kernel (unpacked, not installed, into
# build/rt-kernel/; part of `make test`), and on a 6.1 built here with KASAN,
# kmemleak, lockdep, PROVE_RCU and DEBUG_ATOMIC_SLEEP (cached in
# build/debug-kernel/; the first build takes hours on 2 busy cores, so it is
# not part of `make test`) followed by a kmemleak scan.  See guest/README.md.
test-guest-rt: deps venv
	guest/tier.sh rt

test-guest-debug: deps venv
	guest/tier.sh debug

test: lint test-host test-guest test-guest-rt

# The main job: nlfast beside the stdlib, pyroute2 and the C ceiling, on this
# kernel; tables and a plot go to results/ (bench.*).  Then the family
# workloads against the real module, inside the QEMU guest (emulated timings:
# only ratios within that boot mean anything): results/bench-guest.*, its plot
# drawn here afterwards.  BENCH_ARGS go to the host run, GUEST_BENCH_ARGS to
# the guest's (e.g. GUEST_BENCH_ARGS="--quick" or "-w fam-dump,fam-dump-rss").
# Fails if either run fails, a guest measurement fails, or the guest kernel
# log shows a problem.
bench: deps venv module
	$(MAKE) -C benchmarks/c
	$(PY) -m benchmarks.run $(BENCH_ARGS)
	$(PYTHON) guest/vm.py --kver $(KVER) --timeout 900 --module $(KO) -- \
	  $(CURDIR)/$(PY) -m benchmarks.run --guest --out $(CURDIR)/results $(GUEST_BENCH_ARGS)
	$(PY) -m benchmarks.report results/bench-guest.json

clean:
	rm -rf build dist *.egg-info nlfast/_nlfast_cffi* .pytest_cache
	-$(MAKE) -C kernel clean KDIR=$(KDIR)
