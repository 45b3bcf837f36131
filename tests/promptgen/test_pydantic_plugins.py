"""The stand-in for pydantic's plugin loader (promptgen/pydantic_plugins.py): builds never import
`importlib.metadata` when no pydantic plugin is installed, and an installed plugin is still loaded and
called by pydantic, as without the stand-in. Fresh interpreters: the loader is looked up once per
process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile

from promptgen import pydantic_plugins

PROBE = textwrap.dedent("""
    import json, sys
    import promptgen.documents  # installs the stand-in when it may
    from promptgen import warm
    warm.build_validators()  # every model of the package
    loader = sys.modules.get("pydantic.plugin._loader")
    print(json.dumps({"metadata": "importlib.metadata" in sys.modules,
                      "stand_in": "promptgen" in (getattr(loader, "__doc__", "") or ""),
                      "seen": sorted(set(getattr(sys.modules.get("fakeplug"), "SEEN", [])))}))
""")

FAKE_PLUGIN = textwrap.dedent("""
    SEEN = []

    class Plugin:
        def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind, config, settings):
            SEEN.append(schema_type.__name__)
            return None, None, None

    plugin = Plugin()
""")


def probe(extra_path: str | None = None, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    environ.update(env)
    if extra_path:
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [extra_path, environ.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=environ, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def fake_plugin(folder) -> str:
    (folder / "fakeplug.py").write_text(FAKE_PLUGIN)
    meta = folder / "fakeplug-1.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 1.0\n")
    (meta / "entry_points.txt").write_text("[pydantic]\nfake = fakeplug:plugin\n")
    return str(folder)


def test_without_plugins_no_build_imports_importlib_metadata():
    assert probe() == {"metadata": False, "stand_in": True, "seen": []}


def test_an_installed_plugin_is_loaded_and_called_by_pydantic(tmp_path):
    got = probe(fake_plugin(tmp_path))
    assert got["metadata"] is True and got["stand_in"] is False
    assert {"ExecutionDoc", "PlanStatus"} <= set(got["seen"])  # our models went through the plugin


def test_plugins_disabled_by_pydantics_switch_need_no_scan(tmp_path):
    got = probe(fake_plugin(tmp_path), PYDANTIC_DISABLE_PLUGINS="__all__")
    assert got == {"metadata": False, "stand_in": True, "seen": []}


def test_what_cannot_be_read_here_leaves_the_loader_to_pydantic(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", [str(tmp_path / "missing"), str(tmp_path)])
    assert pydantic_plugins.no_plugins_declared()
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("placeholder.txt", "")
    monkeypatch.setattr(sys, "path", [str(tmp_path), str(archive)])
    assert not pydantic_plugins.no_plugins_declared()  # distributions inside a zip: not read here
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [fake_plugin(site)])
    assert not pydantic_plugins.no_plugins_declared()  # a declared plugin
