"""How many CPUs this process may actually use: the default number of workers.

``os.cpu_count()`` counts the machine's CPUs, not the process's: under ``taskset``, a
container's cpuset or a cgroup CPU quota (Docker ``--cpus``, Kubernetes limits) it
over-counts, and every extra worker is one more pipeline in memory competing for the same
time slices. The count here is the smallest of

- the CPU affinity mask (``os.sched_getaffinity``: taskset, cpusets);
- the cgroup CPU quota, in CPUs rounded up: cgroup v2 ``cpu.max`` (``"<quota> <period>"`` or
  ``"max <period>"``) in this process's cgroup and its ancestors, or cgroup v1
  ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota ``-1``: none);

and ``os.cpu_count()`` when neither can be read (another OS). Never less than 1.
"""

from __future__ import annotations

import math
import os
from pathlib import Path, PurePosixPath

__all__ = ["cgroup_cpu_limit", "usable_cpus"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")


def _affinity() -> int:
    """CPUs in this process's affinity mask (all CPUs where the OS has no such mask)."""
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is not None:
        try:
            return len(getaffinity(0))
        except OSError:  # pragma: no cover - a kernel that refuses the call
            pass
    return os.cpu_count() or 1


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _quota(quota: str, period: str) -> float | None:
    """CPUs a quota and period allow (``None``: unlimited or unreadable)."""
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None  # "max": no limit
    return q / p if q > 0 and p > 0 else None


def _own_cgroups(self_cgroup: Path) -> dict[str, PurePosixPath]:
    """Controller name (``""`` for cgroup v2) -> this process's cgroup path."""
    found: dict[str, PurePosixPath] = {}
    text = _read(self_cgroup)
    for line in (text or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for name in controllers.split(",") if controllers else [""]:
            found[name] = PurePosixPath(path or "/")
    return found


def _candidates(mount: Path, path: PurePosixPath) -> list[Path]:
    """The cgroup folder and its ancestors up to the mount; the mount itself last.

    In a container the cgroup named in ``/proc/self/cgroup`` is often the mount itself
    (cgroup namespaces) or not visible at all, so the mount root is always tried.
    """
    relative = path.relative_to("/") if path.is_absolute() else path
    folders = [mount / relative, *[mount / parent for parent in relative.parents]]
    return list(dict.fromkeys(folders))


def _v2_limit(root: Path, path: PurePosixPath) -> float | None:
    limits = []
    for folder in _candidates(root, path):
        text = _read(folder / "cpu.max")
        if text:
            fields = text.split()
            if len(fields) == 2 and (cpus := _quota(fields[0], fields[1])) is not None:
                limits.append(cpus)
    return min(limits, default=None)


def _v1_limit(root: Path, path: PurePosixPath) -> float | None:
    limits = []
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        mount = root / name
        if not mount.is_dir():
            continue
        for folder in _candidates(mount, path):
            quota = _read(folder / "cpu.cfs_quota_us")
            period = _read(folder / "cpu.cfs_period_us")
            if quota and period and (cpus := _quota(quota, period)) is not None:
                limits.append(cpus)
        break  # the names are one mount under several spellings
    return min(limits, default=None)


def cgroup_cpu_limit(
    root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP
) -> float | None:
    """CPUs the cgroup quota allows this process (fractional), or ``None`` for no quota."""
    own = _own_cgroups(self_cgroup)
    limits = []
    if "" in own and (v2 := _v2_limit(root, own[""])) is not None:
        limits.append(v2)
    v1_path = own.get("cpu") or own.get("cpuacct")
    if v1_path is not None and (v1 := _v1_limit(root, v1_path)) is not None:
        limits.append(v1)
    return min(limits, default=None)


def usable_cpus(root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP) -> int:
    """CPUs this process may use: affinity, then any cgroup quota (rounded up); >= 1."""
    count = _affinity()
    limit = cgroup_cpu_limit(root, self_cgroup)
    if limit is not None:
        count = min(count, math.ceil(limit))
    return max(1, count)
