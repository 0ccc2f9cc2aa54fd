"""Start time and memory of the ranker node as installed: checkpoint with torch vs ONNX without.

    ROS env + python benchmarks/bench_node_start.py [--frames 5]

Starts the installed executable (``lib/foir360/ranker_node`` from the ament index, what
``ros2 run foir360 ranker_node`` runs) in its own process, once per configuration, one after
the other:

* ``checkpoint, torch``: ``model:=<shipped .safetensors>`` on ONNX Runtime, as before the
  default shipped an ONNX file (torch reads and exports the checkpoint; export cached);
* ``ONNX default, no torch``: ``model`` empty (the shipped ONNX default), with torch made
  unimportable (tests/ros/robot_install), as on a robot installed per the README.

Reported: seconds from process start to "ranking ... frames" in its log (model loaded, warm-up
done, subscribed), the resident memory then, and after ``--frames`` 2048x1024 frames from a
camera process (tests/ros/frame_sender.py), and whether the process imported torch. Wall
clock; the load average at the start is printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NO_TORCH = REPO / "tests" / "ros" / "robot_install"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _imports_torch(pid: int) -> bool:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return "libtorch" in maps


def run(label: str, parameters: list[str], env: dict[str, str], frames: int) -> dict:
    from ament_index_python.packages import get_package_prefix

    node = Path(get_package_prefix("foir360")) / "lib" / "foir360" / "ranker_node"
    args = [str(node), "--ros-args", "-p", "image_topic:=/start/image"]
    for parameter in parameters:
        args += ["-p", parameter]
    start = time.monotonic()
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    ready = None
    log = []
    for line in process.stdout:
        log.append(line)
        if "ranking Image frames" in line:
            ready = time.monotonic() - start
            break
    if ready is None:
        raise RuntimeError(f"{label}: the node did not start:\n{''.join(log[-20:])}")
    rss_ready = _rss_mb(process.pid)
    subprocess.run([sys.executable, "-m", "tests.ros.frame_sender", "/start/image", "--height",
                    "1024", "--rate", "2", "--count", str(frames)], env=env, cwd=REPO,
                   check=True, capture_output=True, timeout=300)
    rss_frames = _rss_mb(process.pid)
    torch = _imports_torch(process.pid)
    process.terminate()
    process.wait(timeout=30)
    return {"label": label, "ready_s": ready, "rss_ready": rss_ready, "rss_frames": rss_frames,
            "torch": torch}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=5)
    args = parser.parse_args()
    from foir360_core.models import default_model_path

    base = {**os.environ, "ROS_DOMAIN_ID": str(160 + os.getpid() % 30),
            "FASTDDS_DEFAULT_PROFILES_FILE": str(REPO / "config" / "fastdds_loopback.xml")}
    attempts = Path(tempfile.mkdtemp()) / "torch_attempts.txt"
    no_torch = {**base, "PYTHONPATH": f"{NO_TORCH}{os.pathsep}{base.get('PYTHONPATH', '')}",
                "FOIR360_BLOCKED_LOG": str(attempts)}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.frames} "
          "frames of 2048x1024 after start")
    rows = [
        run("checkpoint, torch", [f"model:={default_model_path()}", "backend:=onnxruntime"],
            base, args.frames),
        run("ONNX default, no torch", ["backend:=onnxruntime"], no_torch, args.frames),
    ]
    print(f"{'configuration':<24} {'ready s':>8} {'RSS ready MB':>13} {'RSS frames MB':>14} "
          f"{'torch loaded':>12}")
    for row in rows:
        print(f"{row['label']:<24} {row['ready_s']:>8.1f} {row['rss_ready']:>13.0f} "
              f"{row['rss_frames']:>14.0f} {row['torch']!s:>12}")
    ratio = rows[1]["rss_frames"] / rows[0]["rss_frames"]
    tried = attempts.read_text().split("\n") if attempts.exists() else []
    print(f"RSS ratio (no torch / torch) after frames: {ratio:.2f}; imports refused in the "
          f"no-torch run: {sorted({line.split()[-1] for line in tried if line})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
