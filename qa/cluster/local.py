"""A real two-node Ray cluster on this machine, over loopback only (tests, benchmarks, demos).

Ray replaces a node IP of 127.0.0.1 with the machine's external address, so the head uses
127.0.0.2 and the worker 127.0.0.3; all cluster traffic stays on 127.0.0.0/8. Each node gets
``cpus`` CPUs and a small object store; everything lives in its own temp dir and
:meth:`LocalCluster.stop` ends it. Unlike ``ray stop``, which ends every Ray process of the
machine (another cluster's too), ``stop`` ends only the processes of THIS cluster: those whose
command line names its temp dir (GCS, raylets, their agents and workers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import QAError

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"


@dataclass
class LocalCluster:
    port: int = 6380
    cpus: int = 1
    object_store_bytes: int = 200_000_000
    temp_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="qa-ray-", dir="/tmp"))

    @property
    def address(self) -> str:
        return f"{HEAD_IP}:{self.port}"

    def _ray(self, *args: str) -> subprocess.CompletedProcess:
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
               "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        exe = str(Path(sys.executable).parent / "ray")
        return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=300, check=False)

    def start(self) -> "LocalCluster":
        common = [f"--num-cpus={self.cpus}", "--disable-usage-stats", f"--object-store-memory={self.object_store_bytes}",
                  f"--temp-dir={self.temp_dir}"]
        # fixed ports derived from --port (PORT+1..PORT+4), not Ray's defaults (10001, 8265, 52365):
        # another cluster on this machine (another test run) then does not collide with this one
        p = self.port
        steps = [("head", ["start", "--head", f"--node-ip-address={HEAD_IP}", f"--port={p}",
                           "--include-dashboard=false", f"--ray-client-server-port={p + 1}", f"--dashboard-port={p + 2}",
                           f"--dashboard-agent-listen-port={p + 3}", *common]),
                 ("worker", ["start", f"--address={self.address}", f"--node-ip-address={WORKER_IP}",
                             f"--dashboard-agent-listen-port={p + 4}", *common])]
        for name, args in steps:
            done = self._ray(*args)
            if done.returncode != 0:
                self.stop()
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise QAError(f"cannot start the Ray {name} node: {last}")
        return self

    def stop(self) -> None:
        try:
            import ray

            if ray.is_initialized():
                ray.shutdown()
        except ImportError:
            pass
        self._kill_own_processes()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def _own_pids(self) -> list[int]:
        """This cluster's processes: those naming its temp dir, and their descendants (workers
        and agents rename themselves to ``ray::…``, so they are found through their raylet)."""
        named, parent = set(), {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if self.temp_dir.encode() in fh.read():
                        named.add(int(entry))
                with open(f"/proc/{entry}/stat") as fh:
                    parent[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # gone meanwhile, or not ours to read
                pass
        mine, grew = set(named), True
        while grew:
            more = {pid for pid, ppid in parent.items() if ppid in mine and pid not in mine and pid != os.getpid()}
            mine |= more
            grew = bool(more)
        return sorted(mine)

    def _kill_own_processes(self, grace_s: float = 3.0) -> None:
        import signal
        import time

        if not os.path.isdir("/proc"):  # not Linux: fall back to Ray's own (machine-wide) stop
            self._ray("stop", "--force")
            return
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 2.0)):
            pids = self._own_pids()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + wait
            while pids and time.monotonic() < deadline:
                time.sleep(0.1)
                pids = [p for p in pids if os.path.exists(f"/proc/{p}") and not _zombie(p)]
            if not pids:
                return

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
