"""``hub doctor``: can this install work? One :class:`Check` per thing that matters, each ok, warn or error.

What is checked: Python; torch, transformers, peft, accelerate and bitsandbytes, each against the tested sets
(``locks/lock.txt``, the lock ``scripts/setup.sh`` installs, and ``locks/newest.txt``, the newest releases last
tested); the device and the dtypes it computes in; the registry, through :meth:`Registry.verify`; the chromium
of the browser tests; the remotes, listed and never contacted. A warning is something to know (a version no
tested set holds, an optional part missing); an error is something that cannot work: a core library that does
not import, a corrupt registry, or what the caller asked for (``quantize``, ``cuda``, ``browser``) missing.

Nothing here imports torch before :func:`diagnose` runs, and nothing reaches the network.

>>> from adapterhub import Registry
>>> from adapterhub.doctor import diagnose
>>> diagnose(Registry("registry"), cuda=True).ok  # doctest: +SKIP
False
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from adapterhub import version
from adapterhub.errors import AdapterHubError
from adapterhub.registry import Registry
from adapterhub.remote.config import load_remotes

Status = Literal["ok", "warn", "error"]
SCHEMA = 1  # version of :meth:`Report.to_dict`'s document
LOCKS_ENV = "ADAPTERHUB_LOCKS"
CHROMIUM_ENV = "ADAPTERHUB_CHROMIUM"
CORE = ("torch", "transformers", "peft", "accelerate")
QUANTIZE = "bitsandbytes"  # the optional `quantize` extra
INSTALL_LOCK = "bash scripts/setup.sh (installs the lock)"
NEWEST_HEADER = re.compile(r"#\s*the newest releases last tested:\s*(\d{4}-\d{2}-\d{2}),\s*(.+?)\s*$", re.IGNORECASE)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;\\#]+)")
FAILED = re.compile(r"\b(fail|failed|failures?|errors?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, its verdict, what was found and, when not ok, the fix."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    """Every check, in the order printed. ``ok`` is False when any check is an error."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return not self.count("error")

    def count(self, status: Status) -> int:
        return sum(check.status == status for check in self.checks)

    def get(self, name: str) -> Check:
        """The check called ``name``; KeyError when there is none."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_dict(self) -> dict[str, object]:
        summary = {status: self.count(status) for status in ("ok", "warn", "error")}
        return {"schema": SCHEMA, "ok": self.ok, "summary": summary, "checks": [c.to_dict() for c in self.checks]}


@dataclass(frozen=True)
class TestedSets:
    """The pins of ``lock.txt`` and ``newest.txt`` in ``folder``, by PEP 503 name (empty when a file is absent)."""

    folder: Path
    found: bool
    lock: Mapping[str, str] = field(default_factory=dict)
    newest: Mapping[str, str] = field(default_factory=dict)
    has_lock: bool = False
    has_newest: bool = False
    newest_tested: str | None = None  # "2026-12-01, 1412 passed": the date and result of the last test run

    @property
    def newest_passed(self) -> bool:
        return self.newest_tested is not None and not FAILED.search(self.newest_tested)


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Foo.Bar_baz`` -> ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(text: str) -> dict[str, str]:
    """``name==version`` lines by canonical name; comments, hash and ``# via`` lines skipped (uv's lock format)."""
    pins: dict[str, str] = {}
    for line in text.splitlines():
        if (found := PIN.match(line)) is not None:
            pins[canonical(found[1])] = found[2]
    return pins


def locks_folder() -> Path:
    """$ADAPTERHUB_LOCKS, else ``locks/`` of the source checkout adapterhub runs from (absent in a wheel install)."""
    if value := os.environ.get(LOCKS_ENV):
        return Path(value)
    return Path(version.__file__).resolve().parents[1] / "locks"


def read_tested_sets(folder: Path) -> TestedSets:
    """The tested sets kept in ``folder``; ``found`` False when it is not a directory."""
    if not folder.is_dir():
        return TestedSets(folder, found=False)
    lock_file, newest_file = folder / "lock.txt", folder / "newest.txt"
    lock = read_pins(lock_file.read_text()) if lock_file.is_file() else {}
    newest: dict[str, str] = {}
    tested: str | None = None
    if newest_file.is_file():
        text = newest_file.read_text()
        newest = read_pins(text)
        first = next((line for line in text.splitlines() if line.startswith("#")), "")
        if (header := NEWEST_HEADER.match(first)) is not None:
            tested = f"{header[1]}, {header[2]}"
    return TestedSets(folder, True, lock, newest, lock_file.is_file(), newest_file.is_file(), newest_tested=tested)


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, None when it is not installed (a test seam)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def import_error(module: str) -> str | None:
    """Why ``module`` does not import, in one line; None when it does (a test seam)."""
    try:
        importlib.import_module(module)
    except Exception as exc:  # a broken install raises anything: ImportError, OSError from a shared library...
        return _first_line(exc)
    return None


def find_chromium() -> tuple[str | None, str]:
    """The browser tests' chromium, as tests/ui finds it: (path or None, where it came from)."""
    if value := os.environ.get(CHROMIUM_ENV):
        return value, f"${CHROMIUM_ENV}"
    for program in ("chromium", "chromium-browser"):
        if found := shutil.which(program):
            return found, "PATH"
    return None, ""


def chromium_version(path: str) -> str:
    """``chromium --version``'s first line; OSError or RuntimeError when it does not run."""
    result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        said = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise RuntimeError(f"`{path} --version` failed: {said}")
    return lines[0].split(" built on ")[0].strip()  # Debian's: "Chromium 156.0.8078.129 built on Debian ..."


def diagnose(
    registry: Registry,
    *,
    quantize: bool = False,
    cuda: bool = False,
    browser: bool = False,
    locks: Path | None = None,
) -> Report:
    """Check this install. ``quantize``, ``cuda`` and ``browser`` say what the caller needs, so that bitsandbytes,
    a CUDA device and chromium missing become errors instead of warnings. ``locks`` is the folder of the tested
    sets [default: :func:`locks_folder`]."""
    sets = read_tested_sets(locks if locks is not None else locks_folder())
    checks = [_adapterhub(), _python(), _locks(sets)]
    checks += [_package(name, sets) for name in CORE]
    checks.append(_quantize(sets, asked=quantize))
    checks.append(_device(asked=cuda, torch_imports=not any(c.name == "torch" and c.status == "error" for c in checks)))
    checks.append(_registry(registry))
    checks.append(_chromium(asked=browser))
    checks += _remotes(registry)
    return Report(tuple(checks))


# ---------------------------------------------------------------- the checks


def _adapterhub() -> Check:
    return Check("adapterhub", "ok", f"{version.__version__} ({Path(version.__file__).resolve().parent})")


def _python() -> Check:
    needs = _requires_python()
    here = f"{platform.python_version()} ({sys.executable})"
    if needs is not None and sys.version_info[:2] < needs:
        wanted = ".".join(map(str, needs))
        return Check("python", "error", f"{here}; adapterhub needs {wanted} or later", f"use Python ≥ {wanted}")
    return Check("python", "ok", here)


def _requires_python() -> tuple[int, ...] | None:
    try:
        spec = importlib.metadata.metadata("adapterhub").get("Requires-Python") or ""
    except importlib.metadata.PackageNotFoundError:
        return None
    found = re.search(r">=\s*(\d+)\.(\d+)", spec)
    return (int(found[1]), int(found[2])) if found else None


def _locks(sets: TestedSets) -> Check:
    if not sets.found:
        return Check(
            "locks",
            "warn",
            f"no tested sets at {sets.folder} (an install from a wheel?): versions are not compared with them",
            f"run hub from a source checkout, or set {LOCKS_ENV} to its locks folder",
        )
    if not sets.has_lock:
        return Check("locks", "warn", f"{sets.folder} holds no lock.txt", "restore it: git checkout locks/lock.txt")
    newest = "no newest.txt yet"
    if sets.has_newest:
        newest = f"newest.txt ({len(sets.newest)} packages, {_tested(sets)})"
    return Check("locks", "ok", f"{sets.folder}: lock.txt ({len(sets.lock)} packages), {newest}")


def _tested(sets: TestedSets) -> str:
    return f"tested {sets.newest_tested}" if sets.newest_tested else "its date and result line is missing"


def _package(name: str, sets: TestedSets) -> Check:
    version = installed_version(name)
    if version is None:
        return Check(name, "error", "not installed: adapterhub cannot run without it", INSTALL_LOCK)
    if (error := import_error(name)) is not None:
        return Check(name, "error", f"{version} is installed but does not import: {error}", INSTALL_LOCK)
    return _versus_sets(name, version, sets)


def _quantize(sets: TestedSets, *, asked: bool) -> Check:
    version = installed_version(QUANTIZE)
    extra = "pip install 'adapterhub[quantize]'"
    if version is None:
        if asked:
            return Check(QUANTIZE, "error", "not installed, and --quantize needs it", extra)
        return Check(QUANTIZE, "warn", "not installed (optional: the quantize extra, only --quantize needs it)", extra)
    verdict = _versus_sets(QUANTIZE, version, sets)
    if not asked:
        return verdict
    if (problem := quantize_problem()) is not None:
        return Check(QUANTIZE, "error", f"{verdict.detail}; {problem}", f"reinstall it: {extra}")
    import torch  # torch: loaded on first use

    if not torch.cuda.is_available():
        return Check(
            QUANTIZE,
            "error",
            f"{verdict.detail}; it quantizes on the CPU, but --quantize loads the base onto a CUDA GPU and this "
            "machine has none",
            "run --quantize on a machine with a CUDA GPU (`hub doctor --cuda` checks one), or drop --quantize",
        )
    return Check(
        QUANTIZE, verdict.status, f"{verdict.detail}; quantizes on {torch.cuda.get_device_name(0)}", verdict.fix
    )


def quantize_problem() -> str | None:
    """Why bitsandbytes cannot quantize here (a 4-bit NF4 round trip on the GPU, else the CPU); None when it can."""
    try:
        import bitsandbytes.functional as bnb  # bitsandbytes: loaded on first use
        import torch  # torch: loaded on first use

        device = "cuda" if torch.cuda.is_available() else "cpu"
        weight = torch.linspace(-1, 1, 64 * 64, device=device).reshape(64, 64)
        packed, state = bnb.quantize_4bit(weight, quant_type="nf4")
        error = (bnb.dequantize_4bit(packed, state).float() - weight).abs().max().item()
    except Exception as exc:
        return f"it cannot quantize: {_first_line(exc)}"
    return None if error < 0.2 else f"its 4-bit round trip is off by {error:.3g}"


def _versus_sets(name: str, version: str, sets: TestedSets) -> Check:
    key = canonical(name)
    locked, newest = sets.lock.get(key), sets.newest.get(key)
    if not sets.found or not sets.has_lock:
        return Check(name, "ok", f"{version} (not compared: no tested sets, see locks)")
    if locked is not None and _same(version, locked):
        also = "; the newest tested too" if newest is not None and _same(version, newest) else ""
        return Check(name, "ok", f"{version} (locked{also})")
    if newest is not None and _same(version, newest):
        if sets.newest_passed:
            return Check(name, "ok", f"{version} (the newest tested: {sets.newest_tested})")
        return Check(
            name, "warn", f"{version} (the newest set, whose last test did not pass: {_tested(sets)})", INSTALL_LOCK
        )
    other = f"locked: {locked or 'not in the lock'}"
    if sets.has_newest:
        other += f", newest tested: {newest or 'not in the set'}"
    return Check(name, "warn", f"{version}, in no tested set ({other})", INSTALL_LOCK)


def _same(installed: str, pinned: str) -> bool:
    """PEP 440 ``==`` for the versions pins hold: exact, or equal once a local label (``+cpu``) the pin lacks is
    left out."""
    installed, pinned = installed.strip().lower(), pinned.strip().lower()
    return installed == pinned or ("+" not in pinned and installed.split("+", 1)[0] == pinned)


def _device(*, asked: bool, torch_imports: bool) -> Check:
    if not torch_imports:
        return Check("device", "error" if asked else "warn", "unknown: torch does not import", INSTALL_LOCK)
    import torch  # torch: loaded on first use

    if torch.cuda.is_available() and (count := torch.cuda.device_count()) > 0:
        names = sorted({torch.cuda.get_device_name(i) for i in range(count)})
        bf16 = "yes" if torch.cuda.is_bf16_supported() else "no"
        fp16 = "yes" if torch.cuda.get_device_capability(0) >= (5, 3) else "no"
        return Check(
            "device", "ok", f"CUDA {torch.version.cuda}: {count} × {', '.join(names)}; bf16 {bf16}, fp16 {fp16}"
        )
    bf16 = "yes" if _cpu_bf16() else "no"
    here = f"CPU ({torch.backends.cpu.get_cpu_capability()}), {torch.get_num_threads()} threads"
    detail = f"{here}; bf16 {bf16}, fp16 on CUDA only"
    if not asked:
        return Check("device", "ok", detail)
    if torch.version.cuda is None:
        why = f"torch {torch.__version__} is a CPU build"
        fix = "install torch's CUDA build for your driver (https://pytorch.org/get-started/locally/)"
    else:
        hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
        why = f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no CUDA device"
        why += f" (CUDA_VISIBLE_DEVICES={hidden!r})" if hidden is not None else ""
        fix = "check the GPU driver with nvidia-smi, and CUDA_VISIBLE_DEVICES"
    return Check("device", "error", f"{detail}; --cuda asked for a GPU: {why}", fix)


def _cpu_bf16() -> bool:
    import torch  # torch: loaded on first use

    try:
        ones = torch.ones(2, 2, dtype=torch.bfloat16)
        return bool((ones @ ones == 2).all())
    except RuntimeError:
        return False


def _registry(registry: Registry) -> Check:
    root = registry.root.absolute()
    fix = "`hub train` or `hub import` creates one; or point --registry (ADAPTERHUB_REGISTRY) at a registry"
    if not root.exists() and not root.is_symlink():
        return Check("registry", "warn", f"no registry at {root} yet", fix)
    if not root.is_dir():
        return Check("registry", "error", f"{root} is not a directory", fix)
    try:
        problems = registry.verify()
        names = registry.names()
        versions = sum(len(registry.versions(name)) for name in names)
    except (AdapterHubError, OSError) as exc:
        return Check("registry", "error", f"{root}: {exc}", "`hub registry verify` lists what is wrong")
    counts = f"{root}: {_plural(len(names), 'adapter')}, {_plural(versions, 'version')}"
    if not problems:
        return Check("registry", "ok", f"{counts}, no problems")
    first = problems[0]
    where = " ".join(part for part in (first.where, first.file) if part)
    detail = f"{counts}, {_plural(len(problems), 'problem')} (first: {where}: {first.problem})"
    return Check("registry", "error", detail, "`hub registry verify` lists every problem and its file")


def _chromium(*, asked: bool) -> Check:
    status: Status = "error" if asked else "warn"
    install = f"sudo apt-get install chromium (or bash scripts/browser.sh), or set {CHROMIUM_ENV} to a Chromium binary"
    path, source = find_chromium()
    if path is None:
        return Check("chromium", status, "not found (only the browser tests, tests/ui, need it)", install)
    try:
        return Check("chromium", "ok", f"{chromium_version(path)} ({path}, from {source})")
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        return Check("chromium", status, f"{path} (from {source}) does not run: {_first_line(exc)}", install)


def _remotes(registry: Registry) -> list[Check]:

    try:
        remotes = load_remotes(registry.root) if registry.root.is_dir() else {}
    except AdapterHubError as exc:
        return [Check("remotes", "error", str(exc), "fix the file, or remove it and `hub remote add` again")]
    if not remotes:
        return [Check("remotes", "ok", "none configured")]
    checks = []
    for name, remote in remotes.items():
        where = [public_url(remote.url)]
        if (endpoint := getattr(remote, "endpoint_url", None)) is not None:
            where.append(f"endpoint {public_url(endpoint)}")
        if (profile := getattr(remote, "profile", None)) is not None:
            where.append(f"profile {profile}")
        checks.append(Check(f"remote {name}", "ok", f"{', '.join(where)} (not contacted)"))
    return checks


def public_url(url: str) -> str:
    """``url`` without what may be a secret: a user and password, a query (signed URLs), a fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unreadable URL)"
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"***@{host}" if "@" in parts.netloc else host
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
