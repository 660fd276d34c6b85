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
	linux-image-amd64 linux-headers-amd64 linux-source-6.1 linux-source-6.12 dkms libasan8 time \
	gcc-s390x-linux-gnu libc6-dev-s390x-cross qemu-user \
	flex bison bc libelf-dev libssl-dev shellcheck libcap2-bin

SOURCES := $(wildcard csrc/*.c csrc/*.h csrc/*.py nlfast/*.py nlfast/cli/*.py) kernel/uapi/nlfast_family.h \
	setup.py pyproject.toml

.PHONY: all deps venv test test-host test-pythons test-guest test-guest-rt test-guest-debug test-s390x mutation lint module bench clean dist wheel docs

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
	$(PY) -m pip install -q -e '.[test,bench,ci,docs]'
	touch $@

venv: $(VENV)/.stamp

lint: deps venv
	shellcheck -s sh guest/*.sh tools/*.sh
	shellcheck .ci/run
	$(VENV)/bin/ruff check nlfast tests tests_guest examples noxfile.py docs guest tools $(wildcard benchmarks)
	$(VENV)/bin/mypy

# NLFAST_KERNEL_TREE: the kernel's published specs and its Python spec client,
# from Debian's linux-source-6.12 (tools/kernel-tree.sh), for the tests and
# benchmark rows that load or compare against them.
KTREE := t=$$(tools/kernel-tree.sh) && NLFAST_KERNEL_TREE=$$t

test-host: deps venv
	$(KTREE) $(VENV)/bin/pytest -q tests

# The host tier on every supported CPython (3.9 to 3.13, pyenv's builds), each in
# a fresh venv built by nox (noxfile.py); a missing interpreter fails the run.
test-pythons: deps venv
	$(KTREE) $(VENV)/bin/nox --no-color -s tests

# dist/: the sdist, and the wheel python -m build makes from it; the wheel
# repaired by auditwheel to its manylinux tag in dist/wheelhouse/ (one abi3
# wheel for every supported CPython).  tests/test_wheel.py does the same in a
# temporary directory and installs the result without a compiler.
dist: venv
	rm -rf dist
	$(PY) -m build --outdir dist .
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m auditwheel repair -w dist/wheelhouse dist/nlfast-*.whl
	@ls dist/*.tar.gz dist/wheelhouse/*.whl

wheel: dist

# The API reference (Sphinx autodoc) in build/docs/; any warning fails.
docs: venv
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs build/docs
	@echo "build/docs/index.html"

module: deps
	$(MAKE) -C kernel KDIR=$(KDIR) W=1

# Boots the guest kernel under QEMU with the module and runs pytest inside it;
# fails on any failed test and on any oops, BUG, WARNING or SLUB report.
test-guest: deps venv module
	$(PYTHON) guest/vm.py --kver $(KVER) --timeout 1800 --module $(KO) \
	  --env NLFAST_KO=$(KO) --env PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 -- \
	  $(CURDIR)/$(VENV)/bin/pytest -q -p no:cacheprovider tests_guest

# The C unit test of framing and parsing (tests/c/), no Python in between:
# natively under ASan and UBSan, then built for big-endian s390x with
# Debian's cross compiler and run under qemu-user.
SHIM_C    := tests/c/test_shim.c csrc/nlf_tx.c csrc/nlf_parse.c
SHIM_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Icsrc -g -O1 \
	-Wl,--wrap=malloc,--wrap=calloc
test-s390x: deps
	mkdir -p build/c
	gcc $(SHIM_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all \
	  -o build/c/test_shim $(SHIM_C)
	build/c/test_shim
	s390x-linux-gnu-gcc $(SHIM_CFLAGS) -static -o build/c/test_shim-s390x $(SHIM_C)
	qemu-s390x build/c/test_shim-s390x

test: lint test-host test-pythons test-s390x docs test-guest test-guest-rt

# Mutation testing (not part of make test: it takes long on 2 cores).
# csrc/: universalmutator mutants of nlf_parse.c and nlf_tx.c, judged by the C
# unit test (ASan/UBSan) and then the shim's host tests against an ASan
# extension; MUTANTS valid, distinct mutants per file (0: all).  nlfast/:
# mutmut in a private copy, each mutant judged by the host test files listed
# in tests/mutation/mutate_py.py (TESTS) that cover its function
# (MUTMUT_ONLY="nlfast.attrs* nlfast.rtnl*" narrows it to those modules).
# Reports: build/mutation/report.json, and the survivors on stdout.
# mutmut runs on pyenv's CPython 3.12 in build/mutation/venv (on 3.11 it
# crashes the interpreter: see tests/mutation/mutate_py.py).
MUTANTS ?= 100
MUTMUT_ONLY ?=
MUT_VENV := build/mutation/venv
mutation: deps venv
	$(PY) -m pip install -q -e '.[mutation]'
	$(PY) tests/mutation/mutate_c.py --sample $(MUTANTS)
	test -x $(MUT_VENV)/bin/python || "$$(pyenv root)/versions/$$(pyenv versions --bare | grep '^3\.12\.' | tail -1)/bin/python" -m venv $(MUT_VENV)
	$(MUT_VENV)/bin/python -m pip install -q -e '.[mutation,test]'
	$(KTREE) $(MUT_VENV)/bin/python tests/mutation/mutate_py.py $(if $(MUTMUT_ONLY),--only '$(MUTMUT_ONLY)')

# The same suite on Debian's PREEMPT_RT kernel (unpacked, not installed, into
# build/rt-kernel/; part of `make test`), and on a 6.1 built here with KASAN,
# kmemleak, lockdep, PROVE_RCU and DEBUG_ATOMIC_SLEEP (cached in
# build/debug-kernel/; the first build took 37 min here and the tier 25 min, so
# it is not part of `make test`) followed by a kmemleak scan.  See guest/README.md.
test-guest-rt: deps venv
	guest/tier.sh rt

test-guest-debug: deps venv
	guest/tier.sh debug


# The main job: nlfast beside the stdlib, pyroute2 and the C ceiling, on this
# kernel (a progress line per workload; a table, JSON and a plot in results/
# bench.*).  Then the family workloads against the real module, inside the
# QEMU guest (emulated timings: only ratios within that boot mean anything):
# results/bench-guest.*, its plot drawn here afterwards.  Both plots are copied
# to docs/, where README.md shows them.  BENCH_ARGS go to the host run,
# GUEST_BENCH_ARGS to the guest's (e.g. "--quick" or "-w fam-dump,fam-echo").
# Fails if either run fails, a guest measurement fails, or the guest kernel
# log shows a problem.
bench: deps venv module
	$(MAKE) -C benchmarks/c
	$(KTREE) $(PY) -m benchmarks.run $(BENCH_ARGS)
	$(PYTHON) guest/vm.py --kver $(KVER) --timeout 900 --module $(KO) -- \
	  $(CURDIR)/$(PY) -m benchmarks.run --guest --out $(CURDIR)/results $(GUEST_BENCH_ARGS)
	$(PY) -m benchmarks.report results/bench-guest.json
	mkdir -p docs && cp results/bench.png results/bench-guest.png docs/
	@echo "plots: $(CURDIR)/docs/bench.png $(CURDIR)/docs/bench-guest.png"

clean:
	rm -rf build dist *.egg-info nlfast/_nlfast_cffi* .pytest_cache .nox
	-$(MAKE) -C kernel clean KDIR=$(KDIR)
