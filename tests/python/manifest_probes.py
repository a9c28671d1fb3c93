"""Prints the probes of every Deployment in the given manifests as JSON:
{"<file>/<deployment>/<container>": {"livenessProbe": {...}, ...}}."""

import json
import sys

import yaml

probes = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as handle:
        for document in yaml.safe_load_all(handle):
            if not document or document.get("kind") != "Deployment":
                continue
            name = document["metadata"]["name"]
            for container in document["spec"]["template"]["spec"]["containers"]:
                key = f"{path.rsplit('/', 1)[-1]}/{name}/{container['name']}"
                probes[key] = {
                    kind: container[kind]
                    for kind in ("startupProbe", "livenessProbe", "readinessProbe")
                    if kind in container
                }
print(json.dumps(probes))
