"""Parses Prometheus text exposition from stdin with the official Python client's parser and
prints the families as JSON; a malformed exposition makes the parser raise (exit status 1)."""

import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def number(value):
    return None if math.isnan(value) else value


families = [
    {
        "name": family.name,
        "type": family.type,
        "samples": [
            {"name": s.name, "labels": s.labels, "value": number(s.value)}
            for s in family.samples
        ],
    }
    for family in text_string_to_metric_families(sys.stdin.read())
]
json.dump(families, sys.stdout)
