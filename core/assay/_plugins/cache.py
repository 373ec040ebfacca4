"""What the installed plugins provide, answered without importing them when nothing changed.

Loading every plugin imports torch (each one subclasses its modules), so ``assay plugins``
took over a second to print a list that changes only when a plugin does. ``summary`` returns
the same facts as a loaded registry (plugins, versions, papers, components, claims, broken
plugins) from a JSON file in the user's cache folder (``$XDG_CACHE_HOME/assay``, else
``~/.cache/assay``) while it is still valid:

- the key names the interpreter, assay's version, the extra plugin sources, the autoload
  switch and ``ASSAY_PLUGINS``;
- the file records the installed distributions (every ``*.dist-info``/``*.egg-info``/``*.pth``
  on ``sys.path``: a name and a version each, so an install, upgrade or removal shows), and
  the modification times of every file and folder of the editable packages that provide
  plugins (the core included) and of local plugin files. Editing a plugin's source, adding a
  file, or reinstalling changes one of those, and the next call reloads and rewrites.

The summary also records, per component, what validating an experiment needs (kind, name,
slot, owner plugin, paper, where its Config class is defined, and how a backend resolves
``concrete()``), and whether the installed torch was built without CUDA and MPS: the light
registry (``assay._plugins.light``) validates experiments from it without importing torch.

``ASSAY_NO_CACHE=1`` bypasses the file (always load, never write). Anything odd about the
file (unreadable, another format) is a miss, never an error.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

TYPE_CHECKING = False           # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FORMAT = 2
NO_CACHE_ENV = "ASSAY_NO_CACHE"


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "assay"


def summary(extra: Sequence[str] = (), autoload: bool | None = None) -> dict[str, Any]:
    """``{"plugins": [...], "broken": {...}, "components": [...], "torch_cpu_only": ...}``
    for these plugin sources (see the module doc): from the file while it is valid, else
    from the loaded plugins (and then written)."""
    if os.environ.get(NO_CACHE_ENV):
        return _summarize(_load(extra, autoload))
    found = cached(extra, autoload)
    if found is not None:
        return found
    path = cache_dir() / f"plugins-{_key(extra, autoload)}.json"
    dists = distributions()
    reg = _load(extra, autoload)
    data = {"format": FORMAT, "distributions": dists, "watch": watch(reg),
            "summary": _summarize(reg)}
    write(path, data)
    return data["summary"]


def cached(extra: Sequence[str] = (), autoload: bool | None = None) -> dict[str, Any] | None:
    """The summary from the file when it is valid, else None (nothing is loaded or written)."""
    if os.environ.get(NO_CACHE_ENV):
        return None
    found = _read(cache_dir() / f"plugins-{_key(extra, autoload)}.json")
    return found["summary"] if found is not None else None


def _load(extra: Sequence[str], autoload: bool | None) -> Any:
    from assay._plugins.registry import registry

    return registry(tuple(extra), autoload)


def _summarize(reg: Any) -> dict[str, Any]:
    """The registry as plain data, in the registry's own order."""
    plugins = []
    for name, info in reg.plugins.items():
        mine = [(k, c) for (k, c), owner in reg.owner.items() if owner == name]
        components: dict[str, list[list[str]]] = {}
        for kind, comp in sorted(mine, key=lambda kc: kc[1]):
            slot = getattr(reg.get(kind, comp), "slot", "") if kind == "method" else ""
            components.setdefault(kind, []).append([comp, slot])
        plugins.append({
            "name": name, "version": info.version, "source": info.source,
            "papers": sorted({str(reg.get(k, c).paper) for k, c in mine if reg.get(k, c).paper}),
            "components": components,
            "claims": [c.id for c in reg.claims.values() if c.plugin == name],
        })
    components = [_component(reg, kind, name, cls) for kind, table in reg.components.items()
                  for name, cls in table.items()]
    return {"plugins": plugins, "broken": dict(reg.broken), "components": components,
            "torch_cpu_only": _torch_cpu_only()}


def _component(reg: Any, kind: str, name: str, cls: Any) -> dict[str, Any]:
    """What validation reads of one component (``assay._plugins.light``)."""
    return {"kind": kind, "name": name, "slot": getattr(cls, "slot", "") if kind == "method"
            else "", "plugin": reg.owner[(kind, name)],
            "paper": cls.paper.model_dump() if cls.paper is not None else None,
            "config": where(cls.Config),
            "concrete": _concrete_rule(cls) if kind == "backend" else "none",
            "resources": "none" if kind != "backend" or _keeps(cls, "resources") else "custom"}


def _keeps(cls: Any, method: str) -> bool:
    """``cls`` keeps Backend's ``method`` (not overridden)."""
    from assay.kinds import Backend

    return getattr(cls, method) is getattr(Backend, method)


def where(obj: Any) -> str | None:
    """``"module:qualname"`` from which a fresh process imports this very object, or None
    (a class made in a function, or in a plugin file loaded by path)."""
    module, qualname = getattr(obj, "__module__", ""), getattr(obj, "__qualname__", "")
    found: Any = sys.modules.get(module)
    if found is None or "<" in qualname or module.startswith("assay_local_"):
        return None
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return f"{module}:{qualname}" if found is obj else None


def _concrete_rule(cls: Any) -> str:
    """How the light registry may answer ``cls(...).concrete()``: "none" when the class
    keeps Backend's (always None); "auto" for the core's own ``auto`` (decided without torch
    only on a torch built without CUDA and MPS); "custom" otherwise (the full registry)."""
    if _keeps(cls, "concrete"):
        return "none"
    if where(cls) == "assay._builtin.backends:Auto":
        return "auto"
    return "custom"


def _torch_cpu_only() -> bool | None:
    """True when the installed torch has neither CUDA (or ROCm) nor MPS compiled in, so that
    ``torch.cuda.is_available()`` and ``torch.backends.mps.is_available()`` are False on any
    machine; None when torch is not imported (unknown). Installing another torch build
    changes the distributions, which invalidates the file."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    return not (torch.cuda._is_compiled() or torch.backends.cuda.is_built()
                or torch.backends.mps.is_built())


# --- validity ---------------------------------------------------------------------------------

def _key(extra: Sequence[str], autoload: bool | None) -> str:
    from assay._version import __version__

    env = os.environ.get("ASSAY_PLUGINS", "")
    parts = [sys.executable, __version__, repr(tuple(extra)), repr(autoload),
             os.environ.get("ASSAY_DISABLE_PLUGIN_AUTOLOAD", ""), env,
             os.getcwd() if env else ""]              # relative ASSAY_PLUGINS entries
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
        return data if data.get("format") == FORMAT and unchanged(data) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def unchanged(data: dict[str, Any]) -> bool:
    """The installed distributions and the watched plugin files are as ``data`` recorded."""
    return (data["distributions"] == distributions()
            and all(_mtime(p) == t for p, t in data["watch"]))


def write(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f"{path.name}.{os.getpid()}.part")
        part.write_text(json.dumps(data))
        os.replace(part, path)                      # atomic: readers never see half a file
    except OSError:
        pass                                        # no cache folder: just slower next time


def distributions() -> list[str]:
    """Every distribution on ``sys.path`` as its metadata folder's name (name-version)."""
    out = []
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        out += [f"{entry}/{n}" for n in sorted(names)
                if n.endswith((".dist-info", ".egg-info", ".pth"))]
    return out


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def watch(reg: Any) -> list[tuple[str, int]]:
    """(path, mtime) of every source file and folder the loaded plugins came from, when they
    are editable (not under site-packages, whose changes show in the distributions)."""
    roots: set[Path] = set()
    for info in reg.plugins.values():
        module = info.module
        if module is None:
            continue
        if info.source.endswith(".py"):
            roots.add(Path(module.__file__))
            continue
        top = module.__name__.split(".")[0]
        spec = importlib.util.find_spec(top)
        for loc in (spec.submodule_search_locations or []) if spec else []:
            roots.add(Path(loc))
    roots |= _broken_roots(reg)
    for source in reg.sources:
        if source.endswith(".py"):
            roots.add(Path(source))
    return [(str(p), _mtime(str(p))) for root in sorted(roots) if not _installed(root)
            for p in _files(root)]


def _broken_roots(reg: Any) -> set[Path]:
    """Where the broken entry-point plugins live: fixing one must show at once."""
    import importlib.metadata as md

    roots = set()
    for ep in md.entry_points(group="assay"):
        if ep.name in reg.broken and ep.name not in reg.plugins:
            try:
                spec = importlib.util.find_spec(ep.module.split(".")[0])
            except (ImportError, ValueError):
                continue
            roots |= {Path(p) for p in (spec.submodule_search_locations or [])} if spec else set()
    return roots


def _installed(path: Path) -> bool:
    return "site-packages" in path.parts or "dist-packages" in path.parts


def _files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        yield root
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        yield Path(folder)
        for f in files:
            if f.endswith(".py"):
                yield Path(folder) / f
