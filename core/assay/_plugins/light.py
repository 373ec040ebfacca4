"""A registry for validating experiments without importing the plugins (and so torch).

Validating an experiment (``build_run``: names, slots, each component's ``Config``, versions,
the concrete backend) needs nothing of a component but a few facts and its config class. The
full registry imports every plugin to find them, and every plugin imports torch: ~1 s before
a typo in a field name can be reported. ``LightRegistry`` answers the same questions from the
plugin-registry cache (``assay._plugins.cache``, valid only while nothing installed or edited
changed) and imports a component's ``Config`` on first use, from the module that defines it.

What that costs, per component named by the experiment:

- a config kept in a torch-free module (the core's ``assay._builtin.configs`` and
  ``assay.lib.configs``; every plugin's ``config.py``, as the scaffold writes it) costs
  pydantic only (the plugin package's ``__init__`` must stay light too: its hooks import the
  training code when called);
- a config defined beside the plugin's torch code imports that module, torch included: the
  same answer, only no faster. Moving the config into its own module gives the fast path;
- a config the light registry cannot import (defined in a plugin file loaded by path, or in a
  function) and a backend whose ``concrete()`` it cannot answer raise ``NeedsFull``;
  ``build_run`` then starts again with the full registry.

The backend ``auto`` stands for ``cuda``, ``mps`` or ``cpu`` as torch sees the machine. The
light registry answers ``cpu`` only where that is torch's answer on every machine: the cache
recorded (with torch loaded) that the installed torch has neither CUDA nor MPS compiled in.
Otherwise ``auto`` goes to the full registry, which asks torch. Backends that keep
``Backend.concrete`` answer None, as they would.

The sweep driver (``assay sweep``) also tags its runs (papers) and asks each run's backend
for its Dask resources through it: a backend that keeps ``Backend.resources`` needs none;
any other (``cuda``) is asked through the full registry.

So the light path never gives another RunSpec than the full one: the names, slots, owners and
versions are the full registry's own (recorded by it), validation runs the same Config class,
and whatever it cannot answer exactly goes to the full registry. A cache miss, or
``ASSAY_NO_CACHE``, gives the full registry at once. Only validation and the sweep driver use
it: building or running components (``instantiate``, training, claims) takes the full
registry.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from assay._plugins import cache
from assay._plugins.registry import Lookup, PluginInfo, Registry, loaded, registry
from assay.kinds import Paper


class NeedsFull(Exception):  # a signal, not an error: it never reaches a user
    """The light registry cannot answer this exactly; ask the full registry."""


class LightComponent:
    """What validation reads of a component (its class stays unimported): ``name``, ``kind``,
    ``slot``, ``paper`` and ``Config`` (imported on first use)."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.kind: str = record["kind"]
        self.name: str = record["name"]
        self.slot: str = record["slot"]
        self.plugin: str = record["plugin"]
        self.concrete_rule: str = record["concrete"]
        self.resources_rule: str = record["resources"]
        self._paper = record["paper"]
        self._where: str | None = record["config"]
        self._config: Any = None

    @property
    def paper(self) -> Paper | None:
        return Paper(**self._paper) if self._paper is not None else None

    @property
    def Config(self) -> Any:  # the name components use
        if self._config is None:
            self._config = _import(self._where)
        return self._config

    def __repr__(self) -> str:
        return f"<light {self.kind} {self.name!r} of plugin {self.plugin!r}>"


def _import(where: str | None) -> Any:
    """The object at ``module:qualname``; NeedsFull when it cannot be imported from there."""
    if where is None:
        raise NeedsFull("config not importable by name")
    module, _, qualname = where.partition(":")
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception as exc:  # noqa: BLE001 - anything odd: the full registry decides
        raise NeedsFull(f"cannot import {where}: {exc}") from None
    return found


class LightRegistry(Lookup):
    """The part of :class:`Registry` that ``build_run`` uses, from the plugin cache."""

    def __init__(self, summary: Mapping[str, Any], extra: Sequence[str] = (),
                 autoload: bool | None = None) -> None:
        self.plugins = {p["name"]: PluginInfo(p["name"], p["version"], p["source"])
                        for p in summary["plugins"]}
        self.broken: dict[str, str] = dict(summary["broken"])
        self.components: dict[str, dict[str, LightComponent]] = {}
        self.owner: dict[tuple[str, str], str] = {}
        for record in summary["components"]:
            comp = LightComponent(record)
            self.components.setdefault(comp.kind, {})[comp.name] = comp
            self.owner[(comp.kind, comp.name)] = comp.plugin
        self.sources = tuple(extra)
        self.torch_cpu_only: bool | None = summary["torch_cpu_only"]
        self._autoload = autoload

    def get(self, kind: str, name: str, path: str = "") -> LightComponent:
        return super().get(kind, name, path)

    def concrete_backend(self, ref: Mapping[str, Any]) -> dict[str, Any] | None:
        """What ``instantiate(full, "backend", ref).concrete()`` returns, or NeedsFull."""
        comp = self.get("backend", ref["name"])
        if comp.concrete_rule == "none":
            return None
        if comp.concrete_rule == "auto" and self.torch_cpu_only is True:
            config = comp.Config.model_validate({k: v for k, v in ref.items() if k != "name"})
            return config.concrete("cpu")         # AutoConfig.concrete, as Auto.concrete calls
        raise NeedsFull(f"backend {comp.name!r}: concrete() needs torch")

    def backend_resources(self, ref: Mapping[str, Any]) -> dict[str, float]:
        """What ``instantiate(full, "backend", ref).resources()`` returns, or NeedsFull."""
        comp = self.get("backend", ref["name"])
        if comp.resources_rule == "none":
            return {}                             # Backend.resources: no Dask resources
        raise NeedsFull(f"backend {comp.name!r}: resources() needs its class")

    def full(self) -> Registry:
        """The full registry for the same plugin sources."""
        return registry(self.sources, self._autoload)


def validation_registry(extra: Sequence[str] = (), autoload: bool | None = None
                        ) -> Registry | LightRegistry:
    """What to validate experiments with: the full registry when this process has loaded it
    already or the cache has nothing valid (a miss fills the cache for the next command),
    else a :class:`LightRegistry`."""
    extra = tuple(extra)
    found = loaded(extra, autoload)
    if found is not None:
        return found
    summary = cache.cached(extra, autoload)
    if summary is None:
        cache.summary(extra, autoload)               # loads the plugins, writes the file
        return registry(extra, autoload)
    try:
        return LightRegistry(summary, extra, autoload)
    except (KeyError, TypeError, ValueError):      # a file of an unexpected shape: a miss
        return registry(extra, autoload)
