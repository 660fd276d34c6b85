#!/usr/bin/env python3
"""Run a command as root inside a throw-away QEMU (TCG) guest booting the
host's Debian kernel, with the host root shared read-only (plus a RAM
overlay) and the checkout shared read-write at the same absolute path.

    python3 guest/vm.py [options] -- CMD ARGS...

Exit status: the command's status if it failed; otherwise 0 only if the
kernel log is clean and the taint mask has no bits other than O/E.
Special codes: 120 kernel log/taint problem (or kernel died), 121 --module
insmod/rmmod failed, 124 timeout, 125 infrastructure error (qemu/boot).

Python 3 standard library only.  See guest/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import inspect
import lzma
import os
import re
import secrets
import selectors
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import NoReturn

HERE = Path(__file__).resolve().parent

EXIT_KERNEL = 120
EXIT_MODULE = 121
EXIT_TIMEOUT = 124
EXIT_INFRA = 125

# Modules needed in the initramfs to mount the shares (dependencies are
# resolved from modules.dep, so this is just the roots).
INITRAMFS_MODULES = ["9p", "9pnet_virtio", "virtio_pci", "overlay"]

# Kernel command line.  `quiet` keeps the boot fast (fewer serial bytes);
# the init raises the console loglevel to 8 once it runs, so everything
# printed while the command runs lands in the console log, and the full
# ring buffer (including quiet boot messages) is dumped at the end.
BASE_CMDLINE = [
    "console=ttyS0",
    "slub_debug=FZPU",
    "panic_on_warn=1",
    "oops=panic",
    "panic=-1",
    "quiet",
    # boot-speed knobs that do not change what is being tested
    "8250.nr_uarts=2",
    "i8042.noaux",
    "i8042.nokbd",
    "i8042.nopnp",
    "tsc=reliable",
    "no_timer_check",
    "rootfstype=ramfs",
    "cryptomgr.notests",
    # ACPI costs ~1.5 s of AML interpretation under TCG (and on -machine pc
    # seconds more for PCI interrupt links); without it virtio-pci IRQs are
    # routed through the BIOS tables, and the guest exits with a reboot.
    "acpi=off",
    # less work per allocation / syscall under TCG; SLUB poisoning still
    # fills fresh slab objects, so uninitialised use stays visible
    "init_on_alloc=0",
    "audit=0",
    "lsm=capability,yama",
]

GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

TAINT_FLAGS = [
    # (bit, letter, meaning)
    (0, "P", "proprietary module loaded"),
    (1, "F", "module force-loaded"),
    (2, "S", "SMP unsafe / out of spec"),
    (3, "R", "module force-unloaded"),
    (4, "M", "machine check"),
    (5, "B", "bad page or slab corruption detected"),
    (6, "U", "taint requested by userspace"),
    (7, "D", "kernel died recently (OOPS or BUG)"),
    (8, "A", "ACPI table overridden"),
    (9, "W", "kernel issued a warning"),
    (10, "C", "staging driver loaded"),
    (11, "I", "platform firmware workaround"),
    (12, "O", "out-of-tree module loaded"),
    (13, "E", "unsigned module loaded"),
    (14, "L", "soft lockup occurred"),
    (15, "K", "kernel live patched"),
    (16, "X", "auxiliary taint"),
    (17, "T", "built with struct randomization"),
    (18, "N", "in-kernel test module loaded"),
]
TAINT_ALLOWED = (1 << 12) | (1 << 13)  # O, E

# Kernel log lines that mean trouble.  Matched against kernel messages
# only (the command's own output travels on a separate serial port).
BAD_PATTERNS = [
    r"\bBUG\b",
    r"WARNING:",
    r"Call Trace",
    r"general protection",
    r"\bOops\b",
    r"Kernel panic",
    r"KASAN",
    r"UBSAN",
    r"KFENCE",
    r"slab error",
    r"Redzone(?!\s+[0-9a-f]{8,}:)",  # not the hex dump lines
    r"Poison overwritten",
    r"Object padding",
    r"Padding overwritten",
    r"Freepointer corrupt",
    r"Freechain corrupt",
    r"Unable to handle",
    r"unable to handle",
    r"invalid opcode",
    r"stack-protector",
    r"stack segment",
    r"refcount_t:",
    r"list_(add|del) corruption",
    r"soft lockup",
    r"hard LOCKUP",
    r"rcu.*detected stall",
    r"blocked for more than",
    r"unreferenced object",
    r"possible circular locking",
    r"Memory leak",
    r"\bleaked\b",
]
BAD_RE = re.compile("|".join(BAD_PATTERNS))

# Lines that match BAD_RE but are known to be harmless (none so far: the
# boot log of this setup is clean).  Add regexes here if a kernel update
# brings boot noise.
BENIGN_PATTERNS: list[str] = []
BENIGN_RE = re.compile("|".join(BENIGN_PATTERNS) if BENIGN_PATTERNS else r"(?!)")


def die(msg: str, code: int = EXIT_INFRA) -> NoReturn:
    sys.stderr.write(f"vm.py: {msg}\n")
    sys.exit(code)


def log(msg: str) -> None:
    sys.stderr.write(f"vm.py: {msg}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Kernel selection and extraction


# Where the guest kernel's boot/vmlinuz-V and lib/modules/V live: the host
# root, or an unpacked or freshly built kernel (--kernel-root).
KROOT = Path("/")


def version_key(v: str):
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-+~_]", v)]


def find_kver() -> str:
    cands = []
    for d in (KROOT / "lib/modules").iterdir():
        v = d.name
        if (KROOT / f"boot/vmlinuz-{v}").is_file() and (
                Path("/") != KROOT or Path(f"/usr/src/linux-headers-{v}").is_dir()):
            cands.append(v)
    if not cands:
        die("no kernel version with /lib/modules/V, /boot/vmlinuz-V and /usr/src/linux-headers-V")
    return max(cands, key=version_key)


def decompress_stream(data: bytes, off: int, kind: str) -> bytes:
    if kind == "xz":
        d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        return d.decompress(data[off:])
    if kind == "lzma":
        d = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
        return d.decompress(data[off:])
    if kind == "gzip":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return d.decompress(data[off:])
    if kind == "zstd":
        # No zstd in the stdlib; use the zstd tool if present.
        if not shutil.which("zstd"):
            raise ValueError("zstd-compressed kernel and no zstd binary")
        p = subprocess.run(["zstd", "-dcq"], input=data[off:], capture_output=True)
        return p.stdout
    raise ValueError(kind)


def extract_vmlinux(bzimage: Path) -> bytes:
    """Like scripts/extract-vmlinux: find a compressed stream inside the
    bzImage that decompresses to an ELF image.  Debian 6.1 uses xz."""
    data = bzimage.read_bytes()
    magics = [
        (b"\xfd7zXZ\x00", "xz"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
        (b"\x1f\x8b\x08", "gzip"),
        (b"\x5d\x00\x00\x00", "lzma"),
    ]
    for magic, kind in magics:
        off = data.find(magic)
        while off != -1:
            try:
                out = decompress_stream(data, off, kind)
            except Exception:
                out = b""
            if out[:4] == b"\x7fELF":
                return out
            off = data.find(magic, off + 1)
    raise ValueError(f"no compressed ELF found in {bzimage}")


# --------------------------------------------------------------------------
# initramfs


class Cpio:
    """Minimal newc cpio writer."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.ino = 1000

    def _add(self, name: str, mode: int, data: bytes = b"", rdev=(0, 0)) -> None:
        self.ino += 1
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(
            f"{x:08X}"
            for x in (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0)
        )
        buf = hdr.encode() + nb
        buf += b"\0" * (-len(buf) % 4)
        buf += data
        buf += b"\0" * (-len(buf) % 4)
        self.parts.append(buf)

    def dir(self, name: str, perm: int = 0o755) -> None:
        self._add(name, stat.S_IFDIR | perm)

    def file(self, name: str, data: bytes, perm: int = 0o644) -> None:
        self._add(name, stat.S_IFREG | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self._add(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int, perm: int = 0o600) -> None:
        self._add(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def finish(self) -> bytes:
        self._add("TRAILER!!!", 0)
        out = b"".join(self.parts)
        return out + b"\0" * (-len(out) % 512)


def resolve_modules(kver: str, roots: list[str]) -> list[Path]:
    """Return module files for `roots` and their dependencies, in load order."""
    moddir = KROOT / "lib/modules" / kver
    deps: dict[str, list[str]] = {}
    byname: dict[str, str] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        if ":" not in line:
            continue
        mod, rest = line.split(":", 1)
        deps[mod] = rest.split()
        base = os.path.basename(mod)
        base = re.sub(r"\.ko(\.(xz|gz|zst))?$", "", base).replace("-", "_")
        byname[base] = mod
    order: list[str] = []

    def visit(mod: str) -> None:
        if mod in order:
            return
        # modules.dep lists all (transitive) deps; the last one has no deps
        # of its own among the list, so visit in reverse.
        for d in reversed(deps.get(mod, [])):
            visit(d)
        order.append(mod)

    for r in roots:
        if r not in byname:
            # built in?
            builtin = moddir / "modules.builtin"
            if builtin.exists() and re.search(
                rf"/{re.escape(r)}\.ko$", builtin.read_text().replace("-", "_"), re.M
            ):
                continue
            die(f"module {r} not found for kernel {kver}")
        visit(byname[r])
    return [moddir / m for m in order]


def read_module(p: Path) -> bytes:
    data = p.read_bytes()
    if p.name.endswith(".xz"):
        data = lzma.decompress(data)
    elif p.name.endswith(".gz"):
        data = gzip.decompress(data)
    elif p.name.endswith(".zst"):
        data = subprocess.run(["zstd", "-dcq", str(p)], check=True, capture_output=True).stdout
    return data


BUSYBOX_APPLETS = [
    "sh", "mount", "umount", "mkdir", "cat", "echo", "insmod", "chroot", "env", "unshare",
    "poweroff", "reboot", "dmesg", "ip", "sync", "stty", "sleep", "ls", "rm",
    "ln", "printf", "test", "[", "mknod", "true", "false",
]


def build_initramfs(kver: str, init_script: bytes) -> bytes:
    busybox = shutil.which("busybox") or "/bin/busybox"
    bb = Path(busybox).read_bytes()
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "mnt", "mods", "lower", "upper", "newroot"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3, 0o666)
    c.file("bin/busybox", bb, 0o755)
    for a in BUSYBOX_APPLETS:
        c.symlink(f"bin/{a}", "busybox")
    c.file("init", init_script, 0o755)
    for i, m in enumerate(resolve_modules(kver, INITRAMFS_MODULES)):
        name = re.sub(r"\.ko(\.(xz|gz|zst))?$", ".ko", m.name)
        c.file(f"mods/{i:02d}-{name}", read_module(m))
    return c.finish()


# The guest's /init (guest/init.sh), run by busybox sh from the initramfs.
INIT_SH = HERE / "init.sh"


def init_script() -> bytes:
    return INIT_SH.read_text().replace("__PATH__", GUEST_PATH).encode()


# --------------------------------------------------------------------------
# Cache


def checkout_dir() -> Path:
    try:
        out = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        if out:
            return Path(out).resolve()
    except Exception:
        pass
    return HERE.parent


def stamp_of(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def cached(path: Path, key: str, build) -> Path:
    keyfile = path.with_name(path.name + ".key")
    if path.exists() and keyfile.exists() and keyfile.read_text() == key:
        return path
    t = time.monotonic()
    atomic_write(path, build())
    atomic_write(keyfile, key.encode())
    log(f"built {path} ({time.monotonic() - t:.1f}s)")
    return path


def prepare(cache: Path, kver: str) -> tuple[Path, Path, Path]:
    bz = KROOT / f"boot/vmlinuz-{kver}"
    kdir = cache / kver
    # keyed on the bzImage and the extraction code (rebuilding takes ~1.5 s);
    # the initramfs (cheap) is keyed on this whole script
    code = "".join(inspect.getsource(f) for f in (extract_vmlinux, decompress_stream))
    vmlinux = cached(
        kdir / "vmlinux",
        "v1:" + hashlib.sha256(code.encode()).hexdigest() + stamp_of(bz),
        lambda: extract_vmlinux(bz),
    )
    moddir = KROOT / "lib/modules" / kver
    busybox = Path(shutil.which("busybox") or "/bin/busybox")
    script_hash = hashlib.sha256(Path(__file__).read_bytes() + INIT_SH.read_bytes()).hexdigest()
    initrd = cached(
        kdir / "initramfs.cpio",
        "v1:" + script_hash + stamp_of(moddir / "modules.dep", busybox),
        lambda: build_initramfs(kver, init_script()),
    )
    return bz, vmlinux, initrd


# --------------------------------------------------------------------------
# Log analysis


def decode_taint(val: int) -> str:
    parts = []
    for bit, letter, meaning in TAINT_FLAGS:
        if val & (1 << bit):
            ok = "" if (1 << bit) & TAINT_ALLOWED else " <-- problem"
            parts.append(f"{letter} (bit {bit}, {1 << bit}): {meaning}{ok}")
    rest = val & ~sum(1 << b for b, _, _ in TAINT_FLAGS)
    if rest:
        parts.append(f"unknown bits 0x{rest:x} <-- problem")
    return "; ".join(parts) if parts else "none"


def taint_problem(val: int) -> bool:
    return bool(val & ~TAINT_ALLOWED)


# --------------------------------------------------------------------------
# Running qemu


QBOOT = "/usr/share/qemu/qboot.rom"


def qemu_command(kernel: Path, initrd: Path, cmdline: str, co: Path, out_fifo: str,
                 args, safe: bool) -> list[str]:
    bios: list[str] = []
    if not safe:
        if args.bios == "auto":
            # qboot starts the kernel ~0.2 s sooner than SeaBIOS
            if os.path.exists(QBOOT):
                bios = ["-bios", QBOOT]
        elif args.bios != "default":
            bios = ["-bios", args.bios]
    q = [
        args.qemu,
        "-machine", f"{args.machine},accel=tcg",
        "-cpu", args.cpu,
        "-smp", str(args.smp),
        "-m", str(args.memory),
        "-nodefaults", "-no-user-config",
        "-display", "none", "-vga", "none",
        "-no-reboot",
        *bios,
        "-kernel", str(kernel),
        "-initrd", str(initrd),
        "-append", cmdline,
        "-chardev", "stdio,id=con,signal=off",
        "-serial", "chardev:con",
        "-chardev", f"pipe,id=out,path={out_fifo}",
        "-serial", "chardev:out",
        "-virtfs",
        "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        "-virtfs", f"local,path={co},mount_tag=checkout,security_model=none,multidevs=remap",
    ]
    return q + list(args.qemu_arg)


class Result:
    def __init__(self) -> None:
        self.console: list[str] = []
        self.markers: dict[str, str] = {}
        self.marker_times: dict[str, float] = {}
        self.timed_out = False
        self.qemu_rc: int | None = None
        self.qemu_stderr = b""
        self.elapsed = 0.0


def _die_with_parent() -> None:
    # qemu runs in its own session (so a terminal ^C reaches only vm.py, which
    # then kills it); PR_SET_PDEATHSIG makes sure it never outlives vm.py.
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run_qemu(cmd: list[str], nonce: str, out_fifo: str, timeout: float,
             echo_console: bool, boot_timeout: float | None) -> Result:
    res = Result()
    marker = f"@@NLFAST:{nonce}:"
    os.mkfifo(out_fifo + ".in")
    os.mkfifo(out_fifo + ".out")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True,
                         preexec_fn=_die_with_parent)
    # qemu opens both fifos O_RDWR, so this never blocks and never sees EOF
    ofd = os.open(out_fifo + ".out", os.O_RDONLY | os.O_NONBLOCK)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ, "con")
    sel.register(p.stderr, selectors.EVENT_READ, "err")
    sel.register(ofd, selectors.EVENT_READ, "out")
    conbuf = b""
    errbuf = b""
    open_streams = 2
    stdout_ok = True

    def emit(chunk: bytes) -> None:
        nonlocal stdout_ok
        if stdout_ok:
            try:
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
            except BrokenPipeError:  # e.g. `vm.py -- cmd | head`: keep running
                stdout_ok = False

    def handle_con_line(raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r\n").replace("\r", "")
        res.console.append(line)
        i = line.find(marker)
        if i >= 0:
            body = line[i + len(marker):]
            k, _, v = body.partition(":")
            res.markers[k] = v
            res.marker_times[k] = time.monotonic() - t0
        elif echo_console:
            sys.stderr.write(f"[console] {line}\n")
            sys.stderr.flush()

    try:
        while open_streams > 0:
            now = time.monotonic()
            remaining = t0 + timeout - now
            if boot_timeout is not None and "BOOTED" not in res.markers:
                remaining = min(remaining, t0 + boot_timeout - now)
            if "DONE" in res.markers:
                # the guest reboots (= qemu exits) right after DONE
                remaining = min(remaining, res.marker_times["DONE"] + 10 - (now - t0))
                if remaining <= 0:
                    break
            if remaining <= 0:
                res.timed_out = True
                break
            for key, _ in sel.select(timeout=min(remaining, 1.0)):
                if key.data == "out":
                    try:
                        chunk = os.read(ofd, 65536)
                    except BlockingIOError:
                        continue
                    if chunk:
                        emit(chunk)
                    continue
                chunk = os.read(key.fileobj.fileno(), 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                if key.data == "err":
                    errbuf += chunk
                    continue
                conbuf += chunk
                *lines, conbuf = conbuf.split(b"\n")
                for ln in lines:
                    handle_con_line(ln)
    finally:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        # drain whatever the guest wrote last on the command channel
        while True:
            try:
                chunk = os.read(ofd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            emit(chunk)
        os.close(ofd)
        if conbuf:
            handle_con_line(conbuf)
        res.qemu_rc = p.returncode
        res.qemu_stderr = errbuf
        res.elapsed = time.monotonic() - t0
        res.marker_times["EXIT"] = res.elapsed
        p.stdout.close()
        p.stderr.close()
    return res


# --------------------------------------------------------------------------
# Command line


class ModuleAction(argparse.Action):
    def __call__(self, parser, ns, value, option_string=None):
        mods = getattr(ns, "modules", None) or []
        if option_string == "--module":
            mods.append([value, []])
        else:
            if not mods:
                parser.error("--module-args must follow a --module")
            mods[-1][1].extend(shlex.split(value))
        ns.modules = mods


def parse_args(argv: list[str]):
    ap = argparse.ArgumentParser(
        prog="vm.py",
        description="Run CMD as root in a QEMU/TCG guest booting the host's Debian kernel.",
        epilog="Exit: command status; 120 kernel log/taint problem, 121 --module failed, "
               "124 timeout, 125 qemu/boot failure.",
    )
    ap.add_argument("--kver", help="kernel version (default: newest with vmlinuz+headers)")
    ap.add_argument("--kernel-root", metavar="DIR",
                    help="take boot/vmlinuz-V and lib/modules/V from DIR instead of / "
                         "(an unpacked or self-built kernel)")
    ap.add_argument("--module", action=ModuleAction, dest="modules", metavar="KO",
                    help="insmod this .ko before the command (repeatable); rmmod'ed afterwards")
    ap.add_argument("--module-args", action=ModuleAction, dest="modules", metavar="ARGS",
                    help='parameters for the preceding --module, e.g. "proto=30"')
    ap.add_argument("--no-rmmod", action="store_true",
                    help="do not rmmod the --module modules after the command")
    ap.add_argument("--env", action="append", default=[], metavar="K=V",
                    help="set an environment variable in the guest (K alone: copy host value)")
    ap.add_argument("--cwd", help="working directory in the guest (default: the checkout)")
    ap.add_argument("--timeout", type=float, default=600, help="hard timeout in seconds (600)")
    ap.add_argument("--smp", type=int, default=1, help="guest CPUs (1)")
    ap.add_argument("--memory", type=int, default=1024, help="guest RAM in MiB (1024)")
    ap.add_argument("--cpu", default="max", help="qemu -cpu (max)")
    ap.add_argument("--machine", default="pc", help="qemu -machine (pc)")
    ap.add_argument("--qemu", default="qemu-system-x86_64", help="qemu binary")
    ap.add_argument("--bios", default="auto",
                    help="firmware: 'auto' (qboot.rom if present, else qemu's default "
                         "SeaBIOS), 'default', or a path")
    ap.add_argument("--qemu-arg", action="append", default=[], metavar="ARG",
                    help="extra qemu argument (repeatable)")
    ap.add_argument("--bzimage", action="store_true",
                    help="boot the compressed bzImage instead of the extracted ELF vmlinux (PVH)")
    ap.add_argument("--append", action="append", default=[], metavar="ARG",
                    help="extra kernel command line argument (repeatable)")
    ap.add_argument("--checkout-cache", default="mmap", choices=["none", "loose", "mmap"],
                    help="9p cache mode of the read-write checkout share (mmap)")
    ap.add_argument("--console", action="store_true",
                    help="echo the kernel console to stderr while running")
    ap.add_argument("--show-dmesg", action="store_true", help="print the full dmesg at the end")
    ap.add_argument("--timing", action="store_true", help="print a boot/run timing breakdown")
    ap.add_argument("--log", metavar="FILE",
                    help="write the kernel log here (default build/guest/last-dmesg.log)")
    ap.add_argument("--keep", action="store_true", help="keep build/guest/runs/<id> afterwards")
    ap.add_argument("--scan-log", metavar="FILE",
                    help="only scan a kernel log file with the checker and exit (self-test)")
    ap.add_argument("command", nargs="*", help="command to run (after --)")
    args = ap.parse_args(argv)
    if args.modules is None:
        args.modules = []
    return args


def prune_runs(runs: Path) -> None:
    """Remove run dirs left behind by vm.py processes that were SIGKILLed."""
    if not runs.is_dir():
        return
    old = time.time() - 86400
    for d in runs.iterdir():
        try:
            if d.stat().st_mtime < old:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def write_run_files(rundir: Path, args, co: Path) -> None:
    q = shlex.quote
    rundir.mkdir(parents=True, exist_ok=True)
    pre = ["set -e"]
    rm = []
    for i, (path, margs) in enumerate(args.modules):
        src = os.path.abspath(path)
        if not os.path.isfile(src):
            die(f"--module {path}: no such file", EXIT_MODULE)
        name = re.sub(r"\.ko(\.(xz|gz|zst))?$", "", os.path.basename(src)).replace("-", "_")
        # copy into the run dir: host paths like /tmp are not visible in the guest
        ap = str(rundir / f"m{i}-{os.path.basename(src)}")
        shutil.copyfile(src, ap)
        shown = " ".join([src, *margs])
        pre.append(f"echo {q('vm: insmod ' + shown)} >&2")
        pre.append("/sbin/insmod " + " ".join(q(x) for x in [ap, *margs])
                   + f" || {{ echo {q('vm: insmod failed: ' + shown)} >&2; exit 1; }}")
        rm.append(
            f"n=$(/sbin/modinfo -F name {q(ap)} 2>/dev/null); n=${{n:-{name}}}\n"
            f"if [ -d /sys/module/$n ]; then echo \"vm: rmmod $n\" >&2; /sbin/rmmod $n || "
            f"{{ echo \"vm: rmmod $n failed\" >&2; rc=1; }}; fi")
    post = ["rc=0"] + ([] if args.no_rmmod else rm[::-1]) + ["exit $rc"]
    env_lines = []
    for e in args.env:
        k, eq, v = e.partition("=")
        if not eq:
            if k not in os.environ:
                continue
            v = os.environ[k]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
            die(f"bad --env name: {k!r}")
        env_lines.append(f"export {k}={q(v)}")
    cwd = os.path.abspath(args.cwd) if args.cwd else str(co)
    cmd = [
        f"cd {q(cwd)} || exit 126",
        *env_lines,
        "exec " + " ".join(q(c) for c in args.command),
    ]
    if not args.modules:
        pre, post = [], []
    (rundir / "pre.sh").write_text("\n".join(pre) + "\n" if pre else "")
    (rundir / "cmd.sh").write_text("\n".join(cmd) + "\n")
    (rundir / "post.sh").write_text("\n".join(post) + "\n" if post else "")


def _strip_ts(line: str) -> str:
    return re.sub(r"^\[\s*[\d.]+\]\s*", "", line)


def find_problems(*logs: list[str]) -> tuple[list[str], list[str]]:
    """Scan kernel logs; return (offending lines deduplicated across the logs,
    an excerpt of the first report with its context)."""
    seen: set[str] = set()
    bad: list[str] = []
    excerpt: list[str] = []
    for lines in logs:
        for i, ln in enumerate(lines):
            if "@@NLFAST:" in ln or not BAD_RE.search(ln) or BENIGN_RE.search(ln):
                continue
            key = _strip_ts(ln)
            if key in seen:
                continue
            seen.add(key)
            bad.append(ln)
            if not excerpt:
                end = i + 1
                while end < len(lines) and end < i + 45:
                    end += 1
                    if re.search(r"---\[ end |end Kernel panic|</TASK>", lines[end - 1]):
                        break
                excerpt = lines[max(0, i - 3):end]
    return bad, excerpt


def report_problems(bad: list[str], excerpt: list[str], taint: int | None) -> None:
    if bad:
        log(f"kernel log shows problems ({len(bad)} offending lines):")
        for ln in bad[:40]:
            sys.stderr.write(f"    {ln}\n")
        if len(bad) > 40:
            sys.stderr.write(f"    ... ({len(bad) - 40} more)\n")
        if excerpt:
            log("first report:")
            for ln in excerpt:
                sys.stderr.write(f"  | {ln}\n")
    if taint is not None and taint_problem(taint):
        log(f"kernel tainted = {taint}: {decode_taint(taint)}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    if args.scan_log:
        lines = Path(args.scan_log).read_text(errors="replace").splitlines()
        taint = None
        for ln in lines:
            m = re.search(r"TAINTED:(\d+)", ln)
            if m:
                taint = int(m.group(1))
        bad, excerpt = find_problems(lines)
        report_problems(bad, excerpt, taint)
        if bad or (taint is not None and taint_problem(taint)):
            return EXIT_KERNEL
        log("log is clean")
        return 0

    if not args.command:
        die("no command given (usage: vm.py [options] -- CMD ARGS...)", 2)

    co = checkout_dir()
    if re.search(r"\s", str(co)):
        die(f"checkout path must not contain whitespace: {co}")
    cache = co / "build" / "guest"
    global KROOT
    if args.kernel_root:
        KROOT = Path(args.kernel_root).resolve()
        if not (KROOT / "lib/modules").is_dir():
            die(f"--kernel-root {KROOT}: no lib/modules/ in it", 2)
    kver = args.kver or find_kver()
    if not (KROOT / f"boot/vmlinuz-{kver}").is_file():
        die(f"{KROOT / f'boot/vmlinuz-{kver}'} not found")
    if not (KROOT / "lib/modules" / kver).is_dir():
        die(f"{KROOT / 'lib/modules' / kver} not found")

    bz, vmlinux, initrd = prepare(cache, kver)
    # remembers that PVH boot failed for this particular vmlinux
    pvh_bad = cache / kver / "pvh-failed"
    vmlinux_key = vmlinux.with_name("vmlinux.key").read_text()
    use_bz = args.bzimage or (pvh_bad.exists() and pvh_bad.read_text() == vmlinux_key)

    nonce = secrets.token_hex(6)
    rundir = cache / "runs" / nonce
    prune_runs(cache / "runs")
    write_run_files(rundir, args, co)
    cmdline = " ".join(BASE_CMDLINE + args.append + [
        f"nlfast.run={nonce}", f"nlfast.co={co}", f"nlfast.cocache={args.checkout_cache}"])

    deadline = time.monotonic() + args.timeout
    tmpd = tempfile.mkdtemp(prefix="nlfast-vm-")
    try:
        retried = False
        while True:
            kernel = bz if use_bz else vmlinux
            fifo = os.path.join(tmpd, f"out{int(use_bz)}")
            cmd = qemu_command(kernel, initrd, cmdline, co, fifo, args, safe=use_bz)
            res = run_qemu(cmd, nonce, fifo, max(1.0, deadline - time.monotonic()),
                           args.console, boot_timeout=None if use_bz else 60.0)
            booted = "BOOTED" in res.markers
            if not booted and not use_bz and not find_problems(res.console)[0]:
                log("PVH boot of the ELF vmlinux failed; retrying with bzImage + SeaBIOS")
                if res.qemu_stderr:
                    sys.stderr.write(res.qemu_stderr.decode(errors="replace"))
                use_bz = retried = True
                continue
            if retried and booted:
                log(f"bzImage boot worked; will use it directly from now on ({pvh_bad})")
                atomic_write(pvh_bad, vmlinux_key.encode())
            break
        return finish(args, res, rundir, cache, kver)
    finally:
        shutil.rmtree(tmpd, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(rundir, ignore_errors=True)


def finish(args, res: Result, rundir: Path, cache: Path, kver: str) -> int:
    mk = res.markers
    dmesg_path = rundir / "dmesg"
    dmesg = dmesg_path.read_text(errors="replace").splitlines() if dmesg_path.exists() else []
    # console lines that are not our markers (kernel messages printed live)
    con = [ln for ln in res.console if "@@NLFAST:" not in ln]
    logtext = []
    logtext.append(f"# kernel {kver}, qemu rc {res.qemu_rc}, {res.elapsed:.2f}s, markers {mk}")
    logtext.append("# ---- dmesg (end of run) ----")
    logtext += dmesg
    logtext.append("# ---- serial console ----")
    logtext += res.console
    if res.qemu_stderr:
        logtext.append("# ---- qemu stderr ----")
        logtext += res.qemu_stderr.decode(errors="replace").splitlines()
    logfile = Path(args.log).resolve() if args.log else cache / "last-dmesg.log"
    atomic_write(logfile, ("\n".join(logtext) + "\n").encode())

    bad, excerpt = find_problems(dmesg, con)
    taint = int(mk["TAINTED"]) if mk.get("TAINTED", "").isdigit() else None
    tainted_bad = taint is not None and taint_problem(taint)

    if args.show_dmesg:
        sys.stderr.write("\n".join(dmesg) + "\n")
    if args.timing:
        log("timing: " + ", ".join(f"{k} {v:.2f}s" for k, v in res.marker_times.items()))

    def tail(n: int) -> None:
        for ln in con[-n:]:
            sys.stderr.write(f"  | {ln}\n")

    status = mk.get("STATUS")
    cmd_desc = f"command exit {status}" if status is not None else "command did not complete"
    summary = f"kernel {kver}, {res.elapsed:.1f}s; full log: {logfile}"
    if res.timed_out:
        report_problems(bad, excerpt, taint)
        if not bad:
            log("last console lines:")
            tail(20)
        stage = "command" if "SETUP" in mk else ("boot" if "BOOTED" not in mk else "guest setup")
        log(f"TIMEOUT after {args.timeout:.0f}s during {stage}; qemu killed ({summary})")
        return EXIT_TIMEOUT
    if "BOOTED" not in mk:
        sys.stderr.write(res.qemu_stderr.decode(errors="replace"))
        report_problems(bad, excerpt, taint)
        if not bad:
            tail(30)
        log(f"the guest did not boot (qemu exit {res.qemu_rc}; {summary})")
        return EXIT_KERNEL if bad else EXIT_INFRA
    if "INITFAIL" in mk:
        report_problems(bad, excerpt, taint)
        tail(30)
        log(f"guest init failed: {mk['INITFAIL']} ({summary})")
        return EXIT_INFRA

    if mk.get("PRE", "0") != "0":
        log("--module insmod failed (see its output above); command not run")
        rc = EXIT_MODULE
    elif status is None:
        log("the kernel died before the command finished")
        rc = EXIT_KERNEL if bad else EXIT_INFRA
        if not bad:
            tail(40)
    else:
        rc = int(status)
        if rc == 0 and mk.get("POST", "0") != "0":
            log("rmmod of a --module failed (see its output above)")
            rc = EXIT_MODULE
        elif status is not None and "DONE" not in mk:
            log("the kernel died after the command finished (during rmmod / final checks)")

    if bad or tainted_bad or "DONE" not in mk:
        report_problems(bad, excerpt, taint)
        if rc == 0:
            rc = EXIT_KERNEL
        log(f"KERNEL PROBLEM -> exit {rc} ({cmd_desc}; {summary})")
    else:
        tdesc = f", taint {taint} = {decode_taint(taint)}" if taint else ", not tainted"
        log(f"{cmd_desc}; kernel log clean{tdesc} ({summary})")
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt as e:
        sys.stderr.write(f"vm.py: interrupted ({e or 'SIGINT'}); qemu killed\n")
        sys.exit(130)
