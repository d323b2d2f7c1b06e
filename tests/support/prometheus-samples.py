#!/usr/bin/python3
"""Parses a Prometheus text exposition (stdin) with the Prometheus project's own Python client
parser (Debian: python3-prometheus-client) and prints its samples as JSON:
  {"families": {"name": "type", ...},
   "samples": [{"name": ..., "labels": {...}, "value": ...}, ...]}
On top of what the parser refuses, it refuses (exit 1, the reason on stderr) what the format
says and the parser lets through: a family without a TYPE, a series given twice, a histogram
whose buckets are not cumulative or whose +Inf bucket differs from its _count."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def fail(why):
    print(why, file=sys.stderr)
    sys.exit(1)


def main():
    text = sys.stdin.read()
    families, samples, seen = {}, [], set()
    try:
        parsed = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's own refusal
        fail(f"not Prometheus text: {e}")
    for fam in parsed:
        if fam.type == "unknown":
            fail(f"family {fam.name} has no # TYPE line")
        families[fam.name] = fam.type
        buckets = {}
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in seen:
                fail(f"series {s.name}{s.labels} appears twice")
            seen.add(key)
            value = s.value
            samples.append({"name": s.name, "labels": s.labels,
                            "value": value if math.isfinite(value) else str(value)})
            if fam.type == "histogram" and s.name.endswith("_bucket"):
                rest = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                buckets.setdefault(rest, []).append((float(s.labels["le"]), value))
        for rest, bs in buckets.items():
            bs.sort()
            counts = [v for _, v in bs]
            if counts != sorted(counts):
                fail(f"histogram {fam.name}{dict(rest)}: buckets are not cumulative")
            count = [s.value for s in fam.samples if s.name == fam.name + "_count"
                     and tuple(sorted(s.labels.items())) == rest]
            if not bs or bs[-1][0] != math.inf or not count or count[0] != bs[-1][1]:
                fail(f"histogram {fam.name}{dict(rest)}: +Inf bucket and _count disagree")
    json.dump({"families": families, "samples": samples}, sys.stdout)


main()
