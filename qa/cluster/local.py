"""A real two-node Ray cluster on this machine, over loopback only (tests, benchmarks, demos).

Ray replaces a node IP of 127.0.0.1 with the machine's external address, so the head uses
127.0.0.2 and the worker 127.0.0.3; all cluster traffic stays on 127.0.0.0/8. Each node gets
``cpus`` CPUs and a small object store; everything lives in its own temp dir and
:meth:`LocalCluster.stop` (``ray stop``) ends it.
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
        steps = [("head", ["start", "--head", f"--node-ip-address={HEAD_IP}", f"--port={self.port}",
                           "--include-dashboard=false", *common]),
                 ("worker", ["start", f"--address={self.address}", f"--node-ip-address={WORKER_IP}", *common])]
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
        self._ray("stop", "--force")
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
