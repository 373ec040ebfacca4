"""Finding and loading plugins, and the registry of what they provide.

Order (like pytest): the core's built-ins, then the ``assay`` entry-point group (unless
``ASSAY_DISABLE_PLUGIN_AUTOLOAD`` is set), then ``ASSAY_PLUGINS`` (comma-separated modules or
files), then ``--plugin`` arguments. A plugin that fails to import or whose hook raises is
reported in ``Registry.broken`` and skipped; the rest keep working. Set
``ASSAY_TRACE_PLUGINS=1`` to print every hook call.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata as md
import importlib.util
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from assay import hookspecs
from assay._plugins.sources import absolute_source  # noqa: F401 - re-exported
from assay.errors import UserError, unknown_name
from assay.kinds import SLOT_BASES, Component, Method

AUTOLOAD_ENV = "ASSAY_DISABLE_PLUGIN_AUTOLOAD"


@dataclass
class PluginInfo:
    name: str
    version: str
    source: str                       # "builtin", "entry-point", or the file/module given
    module: ModuleType | None = None


class Lookup:
    """Finding components by kind and name in ``components``/``owner``/``plugins``: shared by
    the full :class:`Registry` and the light one (``assay._plugins.light``)."""

    plugins: dict[str, PluginInfo]
    components: dict[str, dict[str, Any]]
    owner: dict[tuple[str, str], str]

    def get(self, kind: str, name: str, path: str = "") -> Any:
        table = self.components.get(kind, {})
        if name not in table:
            raise unknown_name(kind, name, table, path)
        return table[name]

    def names(self, kind: str) -> list[str]:
        return sorted(self.components.get(kind, {}))

    def version_of(self, kind: str, name: str) -> str:
        plugin = self.owner[(kind, name)]
        return f"{plugin}=={self.plugins[plugin].version}"


@dataclass
class Registry(Lookup):
    """Name -> class tables built from the registration hooks."""

    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)       # plugin -> error message
    components: dict[str, dict[str, type[Component]]] = field(default_factory=dict)
    owner: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, name) -> plugin
    claims: dict[str, Any] = field(default_factory=dict)
    sources: tuple[str, ...] = ()      # the --plugin / ASSAY_PLUGINS entries, for workers

    def get(self, kind: str, name: str, path: str = "") -> type[Component]:
        return super().get(kind, name, path)


def _load_source(source: str) -> ModuleType:
    """Import ``source``: a path to a .py file (like a conftest) or a dotted module name."""
    path = Path(source)
    if source.endswith(".py") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"plugin file not found: {source}")
        mod_name = "assay_local_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
        if mod_name in sys.modules:
            return sys.modules[mod_name]
        spec = importlib.util.spec_from_file_location(mod_name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[mod_name]
            raise
        return module
    return importlib.import_module(source)


def _file_version(module: ModuleType) -> str:
    """A local plugin's version is a hash of its source, so editing it changes run keys."""
    file = getattr(module, "__file__", None)
    if not file:
        return "0"
    return "local-" + hashlib.sha256(Path(file).read_bytes()).hexdigest()[:12]


def _short_error(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _candidates(extra: Sequence[str], autoload: bool) -> list[tuple[str, str, Any]]:
    """(name, source, loader) for every plugin to try, in load order."""
    out: list[tuple[str, str, Any]] = [("builtin", "builtin", lambda: _load_source("assay._builtin"))]
    if autoload:
        for ep in sorted(md.entry_points(group="assay"), key=lambda e: e.name):
            out.append((ep.name, "entry-point", ep))
    env = [s for s in os.environ.get("ASSAY_PLUGINS", "").split(",") if s.strip()]
    for source in [*env, *extra]:
        name = Path(source).stem if source.endswith(".py") else source
        out.append((name, source, lambda s=source: _load_source(s)))
    return out


def load_registry(extra: Sequence[str] = (), autoload: bool | None = None) -> Registry:
    """Load plugins and build the registry. Broken plugins are warned about and skipped."""
    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)
    pm = pluggy.PluginManager("assay")
    pm.add_hookspecs(hookspecs)
    if os.environ.get("ASSAY_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
        pm.enable_tracing()
    reg = Registry(sources=tuple(extra))
    for name, source, loader in _candidates(extra, autoload):
        if name in reg.plugins:
            continue
        try:
            is_ep = source == "entry-point"
            module = loader.load() if is_ep else loader()
            pm.register(module, name=name)
            pm.check_pending()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the rest
            if pm.get_plugin(name) is not None:
                pm.unregister(name=name)
            reg.broken[name] = _short_error(exc)
            warnings.warn(f"assay plugin {name!r} failed to load: {reg.broken[name]}",
                          stacklevel=2)
            continue
        version = (loader.dist.version if is_ep and getattr(loader, "dist", None)
                   else _file_version(module) if source.endswith(".py")
                   else _dist_version(module))
        reg.plugins[name] = PluginInfo(name, version, source, module)
    _collect(pm, reg)
    return reg


def _dist_version(module: ModuleType) -> str:
    if module.__name__.startswith("assay."):
        from assay._version import __version__
        return __version__
    try:
        return md.version(module.__name__.split(".")[0].replace("_", "-"))
    except md.PackageNotFoundError:
        return _file_version(module)


def _collect(pm: pluggy.PluginManager, reg: Registry) -> None:
    for kind, hook_name in hookspecs.HOOK_KINDS.items():
        table = reg.components.setdefault(kind, {})
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            for cls in _call(impl, reg) or []:
                _add(reg, table, kind, cls, impl.plugin_name)
    for impl in pm.hook.assay_register_claims.get_hookimpls():
        for claim in _call(impl, reg) or []:
            if claim.id in reg.claims:
                raise UserError(f"duplicate claim id {claim.id!r} (plugin {impl.plugin_name!r})")
            claim.plugin = impl.plugin_name
            reg.claims[claim.id] = claim
    reg.pm = pm  # type: ignore[attr-defined]


def _call(impl: Any, reg: Registry) -> list[Any] | None:
    try:
        return list(impl.function() or [])
    except Exception as exc:  # noqa: BLE001
        reg.broken[impl.plugin_name] = _short_error(exc)
        warnings.warn(f"assay plugin {impl.plugin_name!r}: {impl.function.__name__} raised "
                      f"{reg.broken[impl.plugin_name]}", stacklevel=3)
        return None


def _add(reg: Registry, table: dict[str, type[Component]], kind: str, cls: Any,
         plugin: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Component) and cls.kind == kind):
        raise UserError(f"plugin {plugin!r} registered {cls!r} as a {kind}, which it is not")
    if not cls.name or cls.name != cls.name.lower() or " " in cls.name:
        raise UserError(f"plugin {plugin!r}: {kind} {cls.__name__} needs a lowercase kebab "
                        f"`name`, got {cls.name!r}")
    if issubclass(cls, Method) and cls.slot not in SLOT_BASES:
        raise UserError(f"plugin {plugin!r}: method {cls.name!r} has unknown slot {cls.slot!r}")
    if cls.name in table and table[cls.name] is not cls:
        raise UserError(f"duplicate {kind} name {cls.name!r}: registered by plugin "
                        f"{reg.owner[(kind, cls.name)]!r} and by plugin {plugin!r}")
    table[cls.name] = cls
    reg.owner[(kind, cls.name)] = plugin


_CACHE: dict[tuple[tuple[str, ...], bool | None, str], Registry] = {}


def _key(extra: Sequence[str], autoload: bool | None) -> tuple[tuple[str, ...], bool | None, str]:
    return (tuple(extra), autoload, os.environ.get(AUTOLOAD_ENV, "") + "|" +
            os.environ.get("ASSAY_PLUGINS", ""))


def loaded(extra: Sequence[str] = (), autoload: bool | None = None) -> Registry | None:
    """The registry ``registry(extra, autoload)`` would return, if this process has it."""
    return _CACHE.get(_key(extra, autoload))


def registry(extra: Sequence[str] = (), autoload: bool | None = None) -> Registry:
    """The registry for this process and these extra plugins (cached; workers reuse it)."""
    key = _key(extra, autoload)
    if key not in _CACHE:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reg = load_registry(extra, autoload)
        reg.warnings = [str(w.message) for w in caught]  # type: ignore[attr-defined]
        _CACHE[key] = reg
    return _CACHE[key]
