#!/usr/bin/env python3
"""Keeps the copies inside the Helm charts in step with their sources.

    python3 scripts/sync-chart.py          # rewrite the copies
    python3 scripts/sync-chart.py --check  # exit 1 when a copy is stale

- charts/sidecar-exporter/values.yaml -> charts/sidecar-exporter/templates/_defaults.tpl
  (the library's defaults as a named template: a library chart's values.yaml is not what the
  including chart's templates see, so the templates merge these defaults themselves)
- charts/sidecar-exporter/schema/metricsSidecar.schema.json -> properties.metricsSidecar of
  charts/example-app/values.schema.json (an application chart's schema must hold the fragment)
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "charts" / "sidecar-exporter"
APP = ROOT / "charts" / "example-app"


def defaults_template():
    values = (LIBRARY / "values.yaml").read_text()
    if "`" in values:
        raise SystemExit("charts/sidecar-exporter/values.yaml must not contain backticks (it is embedded in a raw string)")
    return (
        "{{/* Generated from values.yaml by scripts/sync-chart.py: do not edit. */}}\n"
        '{{- define "sidecar-exporter.defaults" -}}\n'
        "{{ `" + values + "` }}\n"
        "{{- end -}}\n"
    )


def app_schema():
    fragment = json.loads((LIBRARY / "schema" / "metricsSidecar.schema.json").read_text())
    fragment.pop("$schema", None)
    path = APP / "values.schema.json"
    schema = json.loads(path.read_text())
    schema.setdefault("properties", {})["metricsSidecar"] = fragment
    return json.dumps(schema, indent=2) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    wanted = {
        LIBRARY / "templates" / "_defaults.tpl": defaults_template(),
    }
    if (APP / "values.schema.json").exists():
        wanted[APP / "values.schema.json"] = app_schema()
    stale = []
    for path, text in wanted.items():
        if path.exists() and path.read_text() == text:
            continue
        if check:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("stale (run python3 scripts/sync-chart.py): " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
