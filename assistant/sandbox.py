"""Run untrusted code (generated samples, a repository's tests) with limits.

Patch validation and evaluation both execute code a model wrote, so one module
decides how that is contained.  Each run gets:

* a new session / process group, and a wall-clock timeout that kills the whole
  group (SIGTERM, a short grace, then SIGKILL), followed by a sweep that kills
  any process that escaped the group (``setsid``) — found by the run's private
  uid (root) or by a token in its environment (other users);
* rlimits set in the child before ``exec``: address space (``RLIMIT_AS``), CPU
  seconds, file size, no core files, and a process count;
* a scrubbed environment (``PATH``, ``HOME``/``TMPDIR`` in a fresh temp dir,
  ``LANG``, ``PYTHONHASHSEED``, ``PYTHONDONTWRITEBYTECODE`` and whatever the
  caller passes explicitly) — never the caller's environment, so API keys and
  tokens do not leak into model-written code;
* no network where the kernel allows a new network namespace (it then has only a
  loopback device that is down, so even ``127.0.0.1`` is unreachable);
* stdout/stderr capped (the head and the tail are kept, the middle is dropped,
  because a test runner's verdict is at the end).

Process limits and root.  ``RLIMIT_NPROC`` is ignored for uid 0, and user
namespaces do not help (a namespace created by root still counts as root).  So
when the caller is root, the child drops to a *private* unprivileged uid (one
per run, from a high range no account uses): the process limit then counts only
this run's processes, the child cannot signal anything else on the machine, and
every leftover process is found by its uid and killed.  The working directory is
lent to that uid for the run (ownership is restored afterwards; files the run
created are given to the directory's owner).  The child keeps one capability,
``CAP_DAC_READ_SEARCH``, so it can still read the interpreter and the code under
directories such as ``/root`` (mode 0700) — reads are not confined, exactly as
for a non-root user running the tests; writes are.  For a non-root caller the
child enters a new user + network namespace when the kernel allows it (process
counting is then per namespace on Linux ≥ 5.14); otherwise the process limit is
set to "the caller's current processes + max_processes".

Measured on the development machine (Linux 6.x, root in a container):
``unshare(CLONE_NEWNET)`` works, so ``network_isolated`` is True; private uids
bound a fork bomb at ``max_processes``.  ``SandboxResult.network_isolated`` says
what actually happened on every run, so callers can report it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from base.errors import SandboxError

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_PR_SET_KEEPCAPS = 8
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_RAISE = 2
_CAP_DAC_READ_SEARCH = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_UID_BASE = 1_900_000_000  # private uids for root runs; no account lives up here
_TOKEN_VAR = "REPO_ASSISTANT_SANDBOX_TOKEN"
_OMITTED = "\n[... {n} bytes of output omitted ...]\n"


@dataclass
class SandboxLimits:
    """What one sandboxed run may use.  ``None`` means "no limit" for that resource."""

    timeout_s: float = 10.0
    cpu_s: float | None = None
    memory_mb: int | None = 1024
    max_processes: int | None = 64
    max_file_mb: int | None = 64
    network: bool = False
    max_output_bytes: int = 1_000_000
    term_grace_s: float = 0.5  # between SIGTERM and SIGKILL when the timeout hits


@dataclass
class SandboxResult:
    """How a sandboxed run ended.

    ``killed_reason`` is ``None`` for a normal exit, else one of ``timeout``,
    ``memory`` (address-space limit: ``MemoryError`` or a failed allocation),
    ``cpu`` (``RLIMIT_CPU``), ``file_size`` (``RLIMIT_FSIZE``) or ``signal:NAME``.
    """

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float
    killed_reason: str | None
    network_isolated: bool
    output_truncated: bool = False


class _Libc:
    """The few libc calls the child needs, resolved once in the parent (never after fork)."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("c") or "libc.so.6"
        try:
            lib = ctypes.CDLL(name, use_errno=True)
            self.unshare: Callable[[int], int] | None = lib.unshare
            self.prctl: Callable[..., int] | None = lib.prctl
            self.capset: Callable[..., int] | None = lib.capset
        except (OSError, AttributeError):
            self.unshare = self.prctl = self.capset = None


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_libc: _Libc | None = None
_libc_lock = threading.Lock()
_uid_counter = itertools.count()
_probe_cache: dict[str, bool] = {}


def _get_libc() -> _Libc:
    global _libc
    with _libc_lock:
        if _libc is None:
            _libc = _Libc()
        return _libc


def _is_linux() -> bool:
    return sys.platform.startswith("linux")


def _pick_private_uid() -> int:
    """A uid no process uses right now, unique per run of this process."""
    for _ in range(64):
        uid = _UID_BASE + ((os.getpid() & 0xFFFF) << 12) + (next(_uid_counter) & 0xFFF)
        if not _pids_of_uid(uid):
            return uid
    raise SandboxError("no free private uid for the sandbox")


def _proc_pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _pids_of_uid(uid: int) -> list[int]:
    found = []
    for pid in _proc_pids():
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
                for line in handle:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            found.append(pid)
                        break
        except (OSError, ValueError, IndexError):
            continue
    return found


def _pids_with_token(token: str) -> list[int]:
    needle = f"{_TOKEN_VAR}={token}".encode()
    found = []
    me = os.getpid()
    for pid in _proc_pids():
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if needle in handle.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def _count_own_processes() -> int:
    return len(_pids_of_uid(os.getuid())) if _is_linux() else 0


def _sweep(find: Callable[[], list[int]]) -> None:
    """Kill every process ``find`` reports until none is left (a fork bomb keeps respawning)."""
    for _ in range(50):
        pids = find()
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def _net_namespace_available(as_root: bool) -> bool:
    """Whether the child can get its own network namespace (probed once per process)."""
    key = "root" if as_root else "user"
    if key in _probe_cache:
        return _probe_cache[key]
    ok = False
    libc = _get_libc()
    if _is_linux() and libc.unshare is not None:
        flags = _CLONE_NEWNET if as_root else (_CLONE_NEWUSER | _CLONE_NEWNET)

        def probe() -> None:
            if libc.unshare(flags) != 0:  # type: ignore[misc]
                raise OSError(ctypes.get_errno(), "unshare failed")

        try:
            ok = subprocess.run([sys.executable, "-S", "-c", "pass"], preexec_fn=probe, timeout=30,
                                stdin=subprocess.DEVNULL, capture_output=True, check=False).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
    _probe_cache[key] = ok
    return ok


def sandbox_capabilities() -> dict[str, object]:
    """What containment this machine offers (for ``doctor``-style reports and tests)."""
    as_root = _is_linux() and os.geteuid() == 0
    return {
        "platform": sys.platform,
        "root": as_root,
        "network_isolation": _net_namespace_available(as_root),
        "private_uid": as_root,
    }


def _scrubbed_env(home: Path, token: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    interpreter_dir = str(Path(sys.executable).parent)
    env = {
        "PATH": os.pathsep.join([interpreter_dir, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        _TOKEN_VAR: token,
    }
    if extra:
        env.update({str(k): str(v) for k, v in extra.items()})
    env[_TOKEN_VAR] = token
    return env


def _make_preexec(limits: SandboxLimits, *, private_uid: int | None, isolate_net: bool,
                  nproc_limit: int | None) -> Callable[[], None]:
    """The function the child runs between fork and exec (already in the new session and cwd).

    It only calls functions resolved in the parent and writes small files: no imports.
    """
    libc = _get_libc()
    caller_uid, caller_gid = os.getuid(), os.getgid()

    def set_limit(kind: int, value: int) -> None:
        _soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY and os.geteuid() != 0:
            value = min(value, hard)  # an unprivileged process can only lower its hard limit
        resource.setrlimit(kind, (value, value))

    def preexec() -> None:
        if isolate_net and libc.unshare is not None:
            if private_uid is not None:
                if libc.unshare(_CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")
            else:
                if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER|CLONE_NEWNET) failed")
                with open("/proc/self/setgroups", "w") as handle:
                    handle.write("deny")
                with open("/proc/self/uid_map", "w") as handle:
                    handle.write(f"{caller_uid} {caller_uid} 1")
                with open("/proc/self/gid_map", "w") as handle:
                    handle.write(f"{caller_gid} {caller_gid} 1")
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if limits.memory_mb is not None:
            set_limit(resource.RLIMIT_AS, int(limits.memory_mb) * 1024 * 1024)
        if limits.cpu_s is not None:
            seconds = max(1, int(limits.cpu_s + 0.999))
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
        if limits.max_file_mb is not None:
            set_limit(resource.RLIMIT_FSIZE, int(limits.max_file_mb) * 1024 * 1024)
        if nproc_limit is not None:
            set_limit(resource.RLIMIT_NPROC, nproc_limit)
        if private_uid is not None:
            _drop_to(private_uid, libc)

    return preexec


def _drop_to(uid: int, libc: _Libc) -> None:
    """Become ``uid`` keeping only CAP_DAC_READ_SEARCH (ambient, so it survives exec)."""
    keep = libc.prctl is not None and libc.capset is not None
    if keep:
        libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if not keep:
        return
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    bit = 1 << _CAP_DAC_READ_SEARCH
    data[0].effective = data[0].permitted = data[0].inheritable = bit
    if libc.capset(ctypes.byref(header), data) == 0:
        libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, _CAP_DAC_READ_SEARCH, 0, 0)
    libc.prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0)


class _Lent:
    """Lends a directory tree to a private uid for one run and gives it back afterwards."""

    def __init__(self, root: Path, uid: int) -> None:
        self.root = root
        self.uid = uid
        self.owners: dict[str, tuple[int, int]] = {}
        stat = root.stat()
        self.default_owner = (stat.st_uid, stat.st_gid)

    def _walk(self) -> list[str]:
        paths = [str(self.root)]
        for dirpath, dirnames, filenames in os.walk(self.root):
            paths.extend(os.path.join(dirpath, name) for name in (*dirnames, *filenames))
        return paths

    def lend(self) -> None:
        for path in self._walk():
            try:
                stat = os.lstat(path)
                self.owners[path] = (stat.st_uid, stat.st_gid)
                os.lchown(path, self.uid, self.uid)
            except OSError:
                continue

    def give_back(self) -> None:
        for path in self._walk():
            with contextlib.suppress(OSError):
                # Only what the run's uid owns: a hard link the sample made to someone else's file stays theirs.
                if os.lstat(path).st_uid == self.uid:
                    os.lchown(path, *self.owners.get(path, self.default_owner))


class _Capture:
    """Reads one pipe to the end, keeping at most ``limit`` bytes (head and tail)."""

    def __init__(self, stream: object, limit: int) -> None:
        self.stream = stream
        self.head_limit = max(0, limit // 2)
        self.tail_limit = max(0, limit - self.head_limit)
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        fd = self.stream.fileno()  # type: ignore[attr-defined]
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            room = self.head_limit - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail += chunk
                excess = len(self.tail) - self.tail_limit
                if excess > 0:
                    del self.tail[:excess]
                    self.dropped += excess

    def text(self) -> str:
        data = bytes(self.head)
        if self.dropped:
            data += _OMITTED.format(n=self.dropped).encode()
        data += bytes(self.tail)
        return data.decode("utf-8", errors="replace")


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, sig)


def _classify(returncode: int, stderr: str, timed_out: bool) -> str | None:
    if timed_out:
        return "timeout"
    if returncode < 0:
        sig = -returncode
        if sig == signal.SIGXCPU:
            return "cpu"
        if sig == signal.SIGXFSZ:
            return "file_size"
        try:
            return f"signal:{signal.Signals(sig).name}"
        except ValueError:
            return f"signal:{sig}"
    if returncode != 0:
        tail = stderr[-4000:]
        if "MemoryError" in tail or "Cannot allocate memory" in tail or "std::bad_alloc" in tail:
            return "memory"
        if "File too large" in tail:  # Python ignores SIGXFSZ, so the write fails with EFBIG
            return "file_size"
    return None


def run_sandboxed(argv: list[str], cwd: Path, limits: SandboxLimits, env: Mapping[str, str] | None = None,
                  stdin: str | None = None) -> SandboxResult:
    """Run ``argv`` in ``cwd`` under ``limits`` and report how it ended.

    Never raises for anything the program does (crash, timeout, limit): that is
    the result.  Raises :class:`SandboxError` only when the run cannot be set up
    (missing directory, unknown executable, platform without process control).
    """
    if os.name != "posix":
        raise SandboxError("sandboxed execution needs a POSIX system", hint="run on Linux or macOS")
    if not argv:
        raise SandboxError("nothing to run: empty command")
    cwd = Path(cwd)
    if not cwd.is_dir():
        raise SandboxError(f"sandbox working directory does not exist: {cwd}")
    as_root = _is_linux() and os.geteuid() == 0
    private_uid = _pick_private_uid() if as_root else None
    isolate_net = not limits.network and _net_namespace_available(as_root)
    nproc_limit: int | None = None
    if limits.max_processes is not None:
        if as_root or isolate_net:
            nproc_limit = int(limits.max_processes)
        else:  # RLIMIT_NPROC counts all of the caller's processes here
            nproc_limit = _count_own_processes() + int(limits.max_processes)
    token = secrets.token_hex(8)
    home = Path(tempfile.mkdtemp(prefix="ra-sandbox-home-"))
    lent: _Lent | None = None
    try:
        if private_uid is not None:
            os.chown(home, private_uid, private_uid)
            lent = _Lent(cwd.resolve(), private_uid)
            lent.lend()
        full_env = _scrubbed_env(home, token, env)
        preexec = _make_preexec(limits, private_uid=private_uid, isolate_net=isolate_net,
                                nproc_limit=nproc_limit)
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv, cwd=str(cwd), env=full_env, start_new_session=True, preexec_fn=preexec,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
            )
        except FileNotFoundError as exc:
            raise SandboxError(f"cannot run {argv[0]}: not found") from exc
        except PermissionError as exc:
            raise SandboxError(f"cannot run {argv[0]}: permission denied") from exc
        except subprocess.SubprocessError as exc:
            raise SandboxError(f"sandbox set-up failed in the child: {exc}") from exc
        out = _Capture(proc.stdout, limits.max_output_bytes)
        err = _Capture(proc.stderr, limits.max_output_bytes)
        if stdin is not None:
            threading.Thread(target=_feed, args=(proc, stdin), daemon=True).start()
        timed_out = False
        try:
            returncode = proc.wait(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                returncode = proc.wait(timeout=max(0.0, limits.term_grace_s))
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                returncode = proc.wait()
        except BaseException:  # Ctrl+C in the caller: never leave the sample running
            _signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.wait(timeout=5)
            raise
        finally:
            duration = time.monotonic() - start
            # The leader is gone; take down everything it left behind.
            _signal_group(proc.pid, signal.SIGKILL)
            if private_uid is not None:
                _sweep(lambda: _pids_of_uid(private_uid))
            elif _is_linux():
                _sweep(lambda: _pids_with_token(token))
        out.thread.join(timeout=5)
        err.thread.join(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]
        stdout, stderr = out.text(), err.text()
        return SandboxResult(
            returncode=returncode, stdout=stdout, stderr=stderr, timed_out=timed_out,
            duration_s=round(duration, 4), killed_reason=_classify(returncode, stderr, timed_out),
            network_isolated=isolate_net, output_truncated=bool(out.dropped or err.dropped),
        )
    finally:
        if lent is not None:
            lent.give_back()
        shutil.rmtree(home, ignore_errors=True)


def _feed(proc: subprocess.Popen[bytes], text: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        assert proc.stdin is not None
        proc.stdin.write(text.encode("utf-8"))
        proc.stdin.close()
