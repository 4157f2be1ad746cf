"""The sandbox: a warm checker process inside bubblewrap, driven over a pipe.

Inside: no network or other namespaces shared, read-only /usr, interpreter, venv, harness and the exam's
task module (that one file, not the exam's folder), a private
tmpfs /tmp, a fresh /proc and /dev, an environment cleared to a whitelist, `--die-with-parent`,
`--new-session`. The rubric, the round, /work, the home directory and the host's environment are not
there. Answers run in forked runners under an unprivileged uid of their own with no capabilities
(as root: the checker keeps only setuid/setgid/kill/fowner/dac_override to drop them and clean up;
as a normal user: one user-namespace uid for all). rlimits are set per answer by the runner
(`harness/_limits.py`); the wall clock is held here and by the checker.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from executors._settings import ExecSettings
from executors.harness import _wire
from executors.harness._records import CheckRequest, CheckResult

HARNESS_DIR = Path(__file__).resolve().parent / "harness"
INSIDE_ROOT = "/opt/gradeflow"
INSIDE_HARNESS = "gf_harness"
INSIDE_VENV = f"{INSIDE_ROOT}/venv"
INSIDE_TASKS = f"{INSIDE_ROOT}/exam/code_tasks.py"
"""Where the exam's task module is bound, read-only."""
_STDERR_KEEP = 8192
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gradeflow-sandbox-spawner")
CHECKER_CAPABILITIES = ("setuid", "setgid", "kill", "fowner", "dac_override")
"""All the in-sandbox checker keeps (as root, bwrap without a user namespace): see bwrap_command."""


class SandboxUnavailable(Exception):
    """bubblewrap is missing or cannot start, and the unsafe development flag is off."""


class WorkerGone(Exception):
    """The worker died or stopped answering; `kind` is 'timeout' or 'killed'."""

    def __init__(self, kind: str, reason: str):
        self.kind, self.reason = kind, reason
        super().__init__(reason)


def _system_binds() -> list[str]:
    """/usr read-only, and /bin, /lib… as the host has them (symlinks on merged-/usr systems)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(top), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    return args


def _parents(target: str) -> list[str]:
    """Bwrap creates a bind's missing parents as 0700; the unprivileged uid must be able to traverse them."""
    parents = list(Path(target).parents)[:-1]
    return [
        arg
        for parent in reversed(parents)
        if not str(parent).startswith("/usr")
        for arg in ("--perms", "0755", "--dir", str(parent))
    ]


def _gpu_devices() -> list[Path]:
    return sorted(Path("/dev").glob("nvidia*"))


def _gpu_binds() -> list[str]:
    """NVIDIA device nodes, /sys read-only for NVML and the loader cache, only where a GPU is there.

    The cache because images may register the driver's libcuda only there.
    """
    devices = _gpu_devices()
    if not devices:
        return []
    binds = [arg for dev in devices for arg in ("--dev-bind", str(dev), str(dev))]
    return [*binds, "--ro-bind", "/sys", "/sys", "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]


def _gpu_env() -> dict[str, str]:
    """Where a GPU is there, the host's library path: images put the driver's libraries on it."""
    path = os.environ.get("LD_LIBRARY_PATH", "")
    return {"LD_LIBRARY_PATH": path} if path and _gpu_devices() else {}


SANDBOX_USER = "gradeflow"


def identity_files(directory: Path, uid: int) -> tuple[Path, Path]:
    """Write a minimal /etc/passwd and /etc/group for the sandbox: root, the runners' uids, nobody else.

    Libraries look the user up (getpass.getuser(), pwd.getpwuid(): torch._dynamo does, for its cache
    directory); without entries inside, they fail whatever the host's /etc holds.
    """
    users = [("root", 0), (SANDBOX_USER, uid), (f"{SANDBOX_USER}-reference", uid + 1)]
    passwd, group = directory / "passwd", directory / "group"
    passwd.write_text("".join(f"{n}:x:{i}:{i}:{n}:/tmp:/usr/sbin/nologin\n" for n, i in users), encoding="utf-8")
    group.write_text("".join(f"{n}:x:{i}:\n" for n, i in users), encoding="utf-8")
    return passwd, group


def sandbox_env() -> dict[str, str]:
    """Return the whole environment an answer sees: nothing from the host's.

    USER/LOGNAME and every cache directory (torch's inductor and triton, CUDA's kernel cache, XDG) are
    set and inside the private /tmp, so no library falls back to the host's user database or home.
    """
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "USER": SANDBOX_USER,
        "LOGNAME": SANDBOX_USER,
        "TMPDIR": "/tmp",
        "XDG_CACHE_HOME": "/tmp/.cache",
        "TORCHINDUCTOR_CACHE_DIR": "/tmp/.cache/torchinductor",
        "TRITON_CACHE_DIR": "/tmp/.cache/triton",
        "CUDA_CACHE_PATH": "/tmp/.cache/nv",
        "LANG": "C.UTF-8",
        "PYTHONPATH": INSIDE_ROOT,
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTORCH_NVML_BASED_CUDA_CHECK": "1",
        # Keep freed memory in the heap: otherwise every large tensor is a fresh mmap whose page faults
        # (kernel time, varying with the machine's state) swamp the timing of the kernel itself.
        "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
        "MALLOC_TRIM_THRESHOLD_": str(1 << 32),
    }


def bwrap_command(
    settings: ExecSettings,
    *,
    uid: int,
    torch: bool,
    task_module: Path,
    identity: tuple[Path, Path] | None = None,
) -> list[str]:
    """Build the bubblewrap command line of one worker; raises SandboxUnavailable without bwrap.

    `task_module`: the exam's code-task file, bound read-only at INSIDE_TASKS. `identity`: the passwd and
    group files (see identity_files) bound as /etc/passwd and /etc/group.
    """
    bwrap = shutil.which(settings.bwrap)
    if bwrap is None:
        raise SandboxUnavailable(
            f"bubblewrap ({settings.bwrap!r}) is not installed, so code answers are not run: install it "
            "(apt-get install bubblewrap; `make setup` does) or, for development only, set "
            "GRADEFLOW_EXEC_UNSAFE_NO_SANDBOX=1"
        )
    base = Path(sys.base_prefix).resolve()
    command = [bwrap, "--die-with-parent", "--new-session"]
    if os.geteuid() == 0:
        # As root, bwrap builds the namespaces without a user namespace, so runners can drop to real
        # unprivileged uids: RLIMIT_NPROC is not enforced for root, so the uid must be non-root outside too.
        command += [
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]
    else:
        command += ["--unshare-all", "--uid", str(uid), "--gid", str(uid)]
    command += _system_binds()
    binds = [
        (str(base), str(base)),
        (sys.prefix, INSIDE_VENV),
        (str(HARNESS_DIR), f"{INSIDE_ROOT}/{INSIDE_HARNESS}"),
        (str(Path(task_module).resolve()), INSIDE_TASKS),
    ]
    for _, target in binds:
        command += _parents(target)
    for source, target in binds:
        command += ["--ro-bind", source, target]
    if identity is not None:
        command += ["--ro-bind", str(identity[0]), "/etc/passwd", "--ro-bind", str(identity[1]), "/etc/group"]
    command += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        *_gpu_binds(),
        "--perms",
        "1777",
        "--size",
        str(settings.tmp_size_mb << 20),
        "--tmpfs",
        "/tmp",
        "--clearenv",
    ]
    for key, value in (sandbox_env() | _gpu_env()).items():
        command += ["--setenv", key, value]
    command += ["--chdir", "/tmp"]
    runner_uid: list[str] = []
    if os.geteuid() == 0:
        # The checker keeps only what it needs to drop each runner to its own uid, kill what that uid
        # leaves behind and wipe /tmp; runners get no capability at all.
        command += [
            shutil.which("setpriv") or "/usr/bin/setpriv",
            "--clear-groups",
            "--inh-caps=-all",
            f"--bounding-set=-all,{','.join('+' + cap for cap in CHECKER_CAPABILITIES)}",
            "--no-new-privs",
        ]
        runner_uid = ["--runner-uid", str(uid)]
    python = f"{INSIDE_VENV}/bin/python" if sys.prefix != sys.base_prefix else sys.executable
    command += [
        python,
        "-s",
        "-B",
        "-m",
        INSIDE_HARNESS,
        "--tasks",
        INSIDE_TASKS,
        "--sandboxed",
        *runner_uid,
        *(["--torch"] if torch else []),
    ]
    return command


def unsafe_command(*, torch: bool, task_module: Path) -> list[str]:
    """Development only: the same worker, unsandboxed."""
    return [
        sys.executable,
        "-s",
        "-B",
        "-m",
        "executors.harness",
        "--tasks",
        str(task_module),
        *(["--torch"] if torch else []),
    ]


class Worker:
    """One warm sandboxed checker for one exam's task module; `check` sends an answer and waits for its result."""

    def __init__(self, settings: ExecSettings, *, slot: int, torch: bool, task_module: Path):
        self.settings, self.slot, self.torch = settings, slot, torch
        self.task_module = task_module
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr_tail = b""
        self.device = "cpu"
        self.identity_dir: str | None = None
        self.hello: dict[str, Any] = {}
        """What the checker said when ready: device (and GPU name, or why CUDA does not work), torch version."""

    def start(self) -> None:
        """Start the sandbox and wait until the checker is ready; SandboxUnavailable when it cannot."""
        if self.settings.unsafe_no_sandbox:
            command = unsafe_command(torch=self.torch, task_module=self.task_module)
            env = {**sandbox_env(), "PYTHONPATH": str(HARNESS_DIR.parent.parent)}
        else:
            uid = self.settings.uid_base + 2 * (self.slot + 16 * (os.getpid() % 4096))
            self.identity_dir = tempfile.mkdtemp(prefix="gradeflow-identity-")
            identity = identity_files(Path(self.identity_dir), uid)
            command = bwrap_command(
                self.settings, uid=uid, torch=self.torch, task_module=self.task_module, identity=identity
            )
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        # bwrap's --die-with-parent is PR_SET_PDEATHSIG, which fires when the *thread* that started it ends:
        # start every sandbox from one thread that lives as long as this process.
        self.process = _SPAWNER.submit(
            subprocess.Popen,
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
            cwd="/",
        ).result()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        try:
            hello, _ = _wire.read_fd(
                self.process.stdout.fileno(),
                limit=1 << 20,
                deadline=time.monotonic() + self.settings.startup_timeout_s,
            )
        except _wire.WireError as error:
            self.close()
            detail = self.stderr_tail.decode("utf-8", "replace").strip()[-2000:]
            raise SandboxUnavailable(
                f"the sandbox did not start ({error}): {detail or 'no output'}"
            ) from None
        self.device = hello.get("device", "cpu")
        self.hello = hello

    def ensure_started(self) -> None:
        """(Re)start the sandbox when it is not running, e.g. after an answer killed it."""
        if self.process is None or self.process.poll() is not None:
            self.close()
            self.start()

    def _drain_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        stream = self.process.stderr
        for chunk in iter(lambda: stream.read1(4096), b""):
            self.stderr_tail = (self.stderr_tail + chunk)[-_STDERR_KEEP:]

    def check(self, request: CheckRequest) -> CheckResult:
        """One answer through the sandbox; WorkerGone when it dies or overruns the wall clock."""
        self.ensure_started()
        assert self.process is not None and self.process.stdin and self.process.stdout
        deadline = time.monotonic() + self.settings.wall_timeout_s
        try:
            _wire.write_fd(self.process.stdin.fileno(), request.to_wire(), deadline=deadline)
            reply, _ = _wire.read_fd(self.process.stdout.fileno(), limit=64 << 20, deadline=deadline)
        except _wire.Deadline:
            self.close()
            raise WorkerGone(
                "timeout",
                f"no result within the wall-clock limit of {self.settings.wall_timeout_s:g} s; "
                "the sandbox was killed",
            ) from None
        except (_wire.WireError, OSError) as error:
            time.sleep(0.05)  # let an exit status arrive
            status = self.process.poll()
            self.close()
            detail = self.stderr_tail.decode("utf-8", "replace").strip()[-500:]
            if status is not None:
                detail = f"exit status {status}" + (f", {detail}" if detail else "")
            raise WorkerGone(
                "killed",
                f"the sandboxed worker died during the run ({error})"
                + (f"; its last words: {detail}" if detail else ""),
            ) from None
        return CheckResult.from_wire(reply)

    def close(self) -> None:
        """Kill the sandbox's whole process group."""
        if self.identity_dir is not None:
            shutil.rmtree(self.identity_dir, ignore_errors=True)
            self.identity_dir = None
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream:
                stream.close()
        self.process = None
