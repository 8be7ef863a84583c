"""usable_cpus(): affinity and cgroup quotas, read from fake cgroup trees and under taskset."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from docgap.engines import cpus
from docgap.engines.cpus import cgroup_cpu_limit, usable_cpus


def _tree(tmp_path: Path, self_cgroup: str, files: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    root.mkdir()
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="ascii")
    proc = tmp_path / "self_cgroup"
    proc.write_text(self_cgroup, encoding="ascii")
    return root, proc


@pytest.fixture
def eight_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the affinity mask holds 8 CPUs, so only the quota can lower the count."""
    monkeypatch.setattr(cpus, "_affinity", lambda: 8)


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000", 8), ("200000 100000", 2), ("150000 100000", 2), ("50000 100000", 1),
     ("100000 100000", 1), ("garbage", 8)],
)
def test_cgroup_v2_quota(tmp_path: Path, eight_cpus: None, cpu_max: str, expected: int) -> None:
    root, proc = _tree(tmp_path, "0::/docker/abc\n", {"docker/abc/cpu.max": cpu_max + "\n"})
    assert usable_cpus(root, proc) == expected


def test_cgroup_v2_an_ancestor_quota_applies(tmp_path: Path, eight_cpus: None) -> None:
    root, proc = _tree(tmp_path, "0::/kubepods/pod1/ctr\n", {
        "kubepods/pod1/cpu.max": "300000 100000",
        "kubepods/pod1/ctr/cpu.max": "max 100000",
    })
    assert cgroup_cpu_limit(root, proc) == pytest.approx(3.0)
    assert usable_cpus(root, proc) == 3


def test_cgroup_v2_namespaced_container_reads_the_mount_root(
    tmp_path: Path, eight_cpus: None
) -> None:
    # Inside a container with a cgroup namespace, /proc/self/cgroup says "/".
    root, proc = _tree(tmp_path, "0::/\n", {"cpu.max": "400000 100000"})
    assert usable_cpus(root, proc) == 4


@pytest.mark.parametrize("mount", ["cpu", "cpu,cpuacct"])
@pytest.mark.parametrize(
    ("quota", "period", "expected"),
    [("-1", "100000", 8), ("100000", "100000", 1), ("250000", "100000", 3)],
)
def test_cgroup_v1_quota(
    tmp_path: Path, eight_cpus: None, mount: str, quota: str, period: str, expected: int
) -> None:
    root, proc = _tree(tmp_path, f"4:memory:/x\n3:{mount}:/docker/abc\n", {
        f"{mount}/docker/abc/cpu.cfs_quota_us": quota,
        f"{mount}/docker/abc/cpu.cfs_period_us": period,
    })
    assert usable_cpus(root, proc) == expected


def test_no_cgroup_files_leaves_the_affinity_count(tmp_path: Path, eight_cpus: None) -> None:
    root, proc = _tree(tmp_path, "0::/user.slice\n", {})
    assert cgroup_cpu_limit(root, proc) is None
    assert usable_cpus(root, proc) == 8
    assert usable_cpus(tmp_path / "absent", tmp_path / "absent-too") == 8


def test_affinity_bounds_the_quota(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpus, "_affinity", lambda: 2)
    root, proc = _tree(tmp_path, "0::/\n", {"cpu.max": "800000 100000"})
    assert usable_cpus(root, proc) == 2


def test_without_sched_getaffinity_falls_back_to_cpu_count(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 5)
    assert usable_cpus(tmp_path / "none", tmp_path / "none") == 5
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert usable_cpus(tmp_path / "none", tmp_path / "none") == 1


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) not installed")
def test_taskset_one_core_gives_one() -> None:
    code = "from docgap.engines.cpus import usable_cpus; print(usable_cpus())"
    done = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code],
                          capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "1"
