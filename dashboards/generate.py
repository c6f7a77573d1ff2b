#!/usr/bin/env python3
"""Write the Grafana (Graphite plain, Graphite tagged) and Datadog dashboards from the metric
catalogue `bpfpush --list-metrics` prints, so the dashboards follow the contract
(docs/metrics.md) by data: a metric added to the catalogue gets a panel on the next run.

    dashboards/generate.py [--agent build/bpfpush | --catalogue FILE] [--out dashboards]

Wire shapes (docs/metrics.md, "Wire formats"):
  graphite         PREFIX.<name with the tag values after its first segment (first two for
                   agent.*)>, `le` last as `le_N`; `unit` and `container` left out
  graphite-tagged  PREFIX.NAME;tag=value;...          (the host is inside PREFIX, not a tag)
  dogstatsd        bpfpush.NAME|#tag:value,...        (the Datadog agent adds `host`)
Counters are per-flush deltas: Graphite shows them with scaleToSeconds(..., 1), Datadog with
.as_rate(). Histograms are NAME.p50/.p95/.p99/.max gauges and NAME.bucket counters tagged `le`.
"""
import argparse
import json
import os
import subprocess
import sys

HISTOGRAM_GAUGES = ("p50", "p95", "p99", "max")
# Tags the plain path leaves out: they would rename a series once they become known.
PLAIN_PATH_DROPS = ("unit", "container")
# Tags with a dashboard variable; every other tag is a wildcard and a legend entry.
TAG_VARIABLES = ("app", "disk")

VIEWS = [
    # (file stem, title, first name segments it shows; None: every segment no other view takes)
    ("host-overview", "bpfpush: host overview", None),
    ("applications", "bpfpush: applications", ("apps",)),
    ("network-endpoints", "bpfpush: network endpoints", ("net",)),
    ("agent-health", "bpfpush: agent health", ("agent",)),
]
HOST_ORDER = ("process", "fd", "vfs", "sync", "mount", "shm", "socket", "cachestat", "dcstat",
              "swap", "hardirq", "softirq", "disk", "filesystem", "oomkill")
# Endpoints and apps come and go: show the busiest few so a panel stays readable.
TOP_N = {"net": 20}


class Metric:
    def __init__(self, name, kind, tags, module, meaning):
        self.name, self.kind, self.tags, self.module, self.meaning = name, kind, tags, module, meaning

    @property
    def area(self):
        return self.name.split(".")[0]


def parse_catalogue(text):
    metrics = []
    for line in text.splitlines():
        fields = line.split(None, 4)
        if len(fields) < 4 or fields[0] == "NAME":
            continue
        name, kind, tags, module = fields[:4]
        meaning = fields[4] if len(fields) > 4 else ""
        kind = kind.replace("(R)", "")
        if kind not in ("c", "g", "h"):
            raise SystemExit("unknown metric type %r in: %s" % (kind, line))
        metrics.append(Metric(name, kind, [] if tags == "-" else tags.split(","), module, meaning))
    if not metrics:
        raise SystemExit("no metrics in the catalogue")
    return metrics


def series_of(metric):
    """(series name, type, tags) as sent: a histogram becomes four gauges and a bucket counter."""
    if metric.kind != "h":
        return [(metric.name, metric.kind, metric.tags)]
    out = [(metric.name + "." + q, "g", metric.tags) for q in HISTOGRAM_GAUGES]
    out.append((metric.name + ".bucket", "c", metric.tags + ["le"]))
    return out


def unit_of(name, kind):
    if name.endswith("bytes"):
        return "Bps" if kind == "c" else "bytes"
    if name.endswith("_us") or any(name.endswith("." + q) for q in HISTOGRAM_GAUGES):
        return "µs"
    if name.endswith("ratio"):
        return "percent"
    if name.endswith("_ns"):
        return "short"
    return "cps" if kind == "c" else "short"


def breakdown(tags):
    return [t for t in tags if t not in PLAIN_PATH_DROPS and t != "le"]


# ------------------------------------------------------------------------ graphite (plain)

def plain_path(name, tags):
    """Relative plain path with a variable or `*` per tag value; returns (path, tag nodes)."""
    segs = name.split(".")
    at = 2 if segs[0] == "agent" else 1
    values = ["$" + t if t in TAG_VARIABLES else "*" for t in breakdown(tags)]
    path = segs[:at] + values + segs[at:]
    if "le" in tags:
        path.append("le_*")
    total = len(path)
    nodes = [i - total for i in range(at, at + len(values))]
    return ".".join(path), nodes


def label(expr, suffix):
    """A histogram's quantiles share a panel: their legend names end in the quantile."""
    return "aliasSub(%s, '$', ' %s')" % (expr, suffix) if suffix else expr


def plain_target(name, kind, tags, suffix=""):
    rel, nodes = plain_path(name, tags)
    expr = "$prefix.$host." + rel
    if kind == "c":
        expr = "scaleToSeconds(%s, 1)" % expr
    if nodes:
        expr = label("aliasByNode(%s, %s)" % (expr, ", ".join(str(n) for n in nodes)), suffix)
        top = TOP_N.get(name.split(".")[0])
        if top:
            expr = "highestAverage(%s, %d)" % (expr, top)
        return expr
    return "alias(%s, '%s')" % (expr, name)


def plain_heatmap_target(name, tags):
    rel, _ = plain_path(name, tags)
    expr = "groupByNode($prefix.$host.%s, -1, 'sumSeries')" % rel
    expr = "aliasByNode(scaleToSeconds(%s, 1), 0)" % expr
    return "aliasSub(aliasSub(%s, '^le_max$', '+Inf'), '^le_', '')" % expr


# ------------------------------------------------------------------------ graphite (tagged)

def tag_filters(name, tags):
    out = ["'name=$prefix.$host.%s'" % name]
    for t in tags:
        if t in TAG_VARIABLES:
            out.append("'%s=~^${%s:regex}$'" % (t, t))
    return "seriesByTag(%s)" % ", ".join(out)


def tagged_target(name, kind, tags, suffix=""):
    expr = tag_filters(name, tags)
    if kind == "c":
        expr = "scaleToSeconds(%s, 1)" % expr
    keys = breakdown(tags)
    if not keys:
        # Constant tags (global.tags, a sink's tags) could split a series: add them up.
        return "alias(sumSeries(%s), '%s')" % (expr, name)
    quoted = ", ".join("'%s'" % k for k in keys)
    agg = "sum" if kind == "c" else "max"
    expr = label("aliasByTags(groupByTags(%s, '%s', %s), %s)" % (expr, agg, quoted, quoted), suffix)
    top = TOP_N.get(name.split(".")[0])
    if top:
        expr = "highestAverage(%s, %d)" % (expr, top)
    return expr


def tagged_heatmap_target(name, tags):
    expr = "scaleToSeconds(%s, 1)" % tag_filters(name, tags)
    expr = "aliasByTags(groupByTags(%s, 'sum', 'le'), 'le')" % expr
    return "aliasSub(%s, '^max$', '+Inf')" % expr


# ------------------------------------------------------------------------ grafana

def variables(flavour, view_areas):
    ds = {"type": "graphite", "uid": "${DS_GRAPHITE}"}
    out = [{
        "type": "textbox", "name": "prefix", "label": "prefix",
        "query": "bpfpush", "current": {"text": "bpfpush", "value": "bpfpush"},
        "description": "the sink's prefix without {hostname} (default bpfpush.{hostname})",
    }]

    def query_var(name, query, regex="", multi=False):
        v = {"type": "query", "name": name, "label": name, "datasource": ds,
             "query": query, "definition": query, "refresh": 2, "sort": 1, "regex": regex,
             "multi": multi, "includeAll": multi}
        if multi:
            v["allValue"] = "*" if flavour == "plain" else ".*"
        return v

    if flavour == "plain":
        out.append(query_var("host", "$prefix.*"))
        if "apps" in view_areas:
            out.append(query_var("app", "$prefix.$host.apps.*", multi=True))
        if "host" in view_areas:
            out.append(query_var("disk", "$prefix.$host.disk.*", multi=True))
    else:
        out.append(query_var("host", "tag_values(name, name=~^$prefix\\.[^.]+\\.agent\\.rss_bytes$)",
                             regex="/^[^.]+\\.([^.]+)\\.agent\\.rss_bytes$/"))
        if "apps" in view_areas:
            out.append(query_var("app", "tag_values(app, name=$prefix.$host.apps.file_open)", multi=True))
        if "host" in view_areas:
            out.append(query_var("disk", "tag_values(disk, name=$prefix.$host.disk.latency.bucket)",
                                 multi=True))
    return out


class Layout:
    def __init__(self):
        self.panels, self.next_id, self.x, self.y = [], 1, 0, 0

    def row(self, title):
        if self.x:
            self.x, self.y = 0, self.y + 8
        self.panels.append({"type": "row", "id": self.next_id, "title": title, "collapsed": False,
                            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": []})
        self.next_id += 1
        self.y += 1

    def add(self, panel):
        if self.x + 8 > 24:
            self.x, self.y = 0, self.y + 8
        panel["id"] = self.next_id
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": 8, "h": 8}
        self.next_id += 1
        self.x += 8
        self.panels.append(panel)


def graph_panel(title, description, unit, targets, stack=False):
    return {
        "type": "timeseries", "title": title, "description": description,
        "datasource": {"type": "graphite", "uid": "${DS_GRAPHITE}"},
        "fieldConfig": {"defaults": {"unit": unit, "min": 0, "custom": {
            "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "spanNulls": False,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"}}}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom",
                               "calcs": ["mean", "max"]}, "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": [{"refId": chr(ord("A") + i), "target": t} for i, t in enumerate(targets)],
    }


def heatmap_panel(title, description, target):
    return {
        "type": "heatmap", "title": title, "description": description,
        "datasource": {"type": "graphite", "uid": "${DS_GRAPHITE}"},
        "options": {"calculate": False, "cellGap": 1, "color": {"mode": "scheme", "scheme": "Oranges",
                                                                 "exponent": 0.5, "fill": "dark-orange",
                                                                 "steps": 64},
                    "rowsFrame": {"layout": "le"}, "yAxis": {"axisPlacement": "left", "unit": "µs"},
                    "tooltip": {"show": True, "yHistogram": False}, "legend": {"show": True}},
        "fieldConfig": {"defaults": {}, "overrides": []},
        "targets": [{"refId": "A", "target": target}],
    }


def panels_for(metric, flavour):
    target = plain_target if flavour == "plain" else tagged_target
    heat = plain_heatmap_target if flavour == "plain" else tagged_heatmap_target
    if metric.kind == "h":
        gauges = [(n, k, t) for n, k, t in series_of(metric) if k == "g"]
        return [
            graph_panel(metric.name + " p50 / p95 / p99 / max", metric.meaning, "µs",
                        [target(n, k, t, n.rsplit(".", 1)[1]) for n, k, t in gauges]),
            heatmap_panel(metric.name + " buckets (events/s)",
                          "log2 buckets, upper bound in µs; " + metric.meaning,
                          heat(metric.name + ".bucket", metric.tags + ["le"])),
        ]
    suffix = " /s" if metric.kind == "c" else ""
    return [graph_panel(metric.name + suffix, metric.meaning, unit_of(metric.name, metric.kind),
                        [target(metric.name, metric.kind, metric.tags)])]


def grafana_dashboard(stem, title, metrics, flavour):
    layout = Layout()
    modules = []
    for m in metrics:
        if m.module not in modules:
            modules.append(m.module)
    for module in modules:
        layout.row(module)
        for m in metrics:
            if m.module == module:
                for p in panels_for(m, flavour):
                    layout.add(p)
    areas = {"host" if stem == "host-overview" else m.area for m in metrics}
    kind = "Graphite plain paths" if flavour == "plain" else "graphite-tagged"
    return {
        "__inputs": [{"name": "DS_GRAPHITE", "label": "Graphite", "description": "",
                      "type": "datasource", "pluginId": "graphite", "pluginName": "Graphite"}],
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.4.0"},
                       {"type": "datasource", "id": "graphite", "name": "Graphite", "version": "1.0.0"},
                       {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
                       {"type": "panel", "id": "heatmap", "name": "Heatmap", "version": ""}],
        "uid": "bpfpush-%s-%s" % ("g" if flavour == "plain" else "gt", stem),
        "title": "%s (%s)" % (title, kind),
        "description": "Generated by dashboards/generate.py from bpfpush --list-metrics; "
                       "counters are per-interval deltas shown per second.",
        "tags": ["bpfpush", "graphite" if flavour == "plain" else "graphite-tagged"],
        "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1,
        "time": {"from": "now-1h", "to": "now"}, "refresh": "1m", "timezone": "",
        "templating": {"list": variables(flavour, areas)},
        "annotations": {"list": []}, "links": [],
        "panels": layout.panels,
    }


# ------------------------------------------------------------------------ datadog

def dd_query(name, kind, tags):
    scope = ["$host"] + ["$" + t for t in tags if t in TAG_VARIABLES]
    keys = breakdown(tags)
    by = " by {%s}" % ",".join(keys) if keys else ""
    if kind == "c":
        return "sum:bpfpush.%s{%s}%s.as_rate()" % (name, ",".join(scope), by)
    agg = "max" if keys else "avg"
    return "%s:bpfpush.%s{%s}%s" % (agg, name, ",".join(scope), by)


def dd_timeseries(title, queries, display="line"):
    return {"definition": {
        "type": "timeseries", "title": title, "show_legend": True, "legend_layout": "auto",
        "requests": [{"q": q, "display_type": display} for q in queries]}}


def dd_widgets_for(metric):
    if metric.kind == "h":
        gauges = [(n, k, t) for n, k, t in series_of(metric) if k == "g"]
        bucket = [(n, k, t) for n, k, t in series_of(metric) if k == "c"][0]
        name, _, tags = bucket
        scope = ["$host"] + ["$" + t for t in tags if t in TAG_VARIABLES]
        return [dd_timeseries(metric.name + " p50 / p95 / p99 / max (µs)",
                              [dd_query(n, k, t) for n, k, t in gauges]),
                dd_timeseries(metric.name + " buckets by le (events/s)",
                              ["sum:bpfpush.%s{%s} by {le}.as_rate()" % (name, ",".join(scope))],
                              display="bars")]
    suffix = " /s" if metric.kind == "c" else ""
    return [dd_timeseries(metric.name + suffix, [dd_query(metric.name, metric.kind, metric.tags)])]


def datadog_dashboard(title, metrics):
    groups, modules = [], []
    for m in metrics:
        if m.module not in modules:
            modules.append(m.module)
    for module in modules:
        widgets = []
        for m in metrics:
            if m.module == module:
                widgets.extend(dd_widgets_for(m))
        groups.append({"definition": {"type": "group", "title": module, "layout_type": "ordered",
                                      "widgets": widgets}})
    tvars = [{"name": "host", "prefix": "host", "default": "*"}]
    tagset = {t for m in metrics for t in m.tags}
    tvars += [{"name": t, "prefix": t, "default": "*"} for t in TAG_VARIABLES if t in tagset]
    return {
        "title": title + " (DogStatsD)",
        "description": "Generated by dashboards/generate.py from bpfpush --list-metrics "
                       "(dogstatsd sink, prefix bpfpush); counters shown with .as_rate().",
        "layout_type": "ordered", "template_variables": tvars, "widgets": groups,
    }


# ------------------------------------------------------------------------ main

def split_views(metrics):
    taken = {a for _, _, areas in VIEWS if areas for a in areas}
    out = []
    for stem, title, areas in VIEWS:
        if areas is None:
            chosen = [m for m in metrics if m.area not in taken]
            rank = {a: i for i, a in enumerate(HOST_ORDER)}
            chosen.sort(key=lambda m: rank.get(m.module, len(HOST_ORDER)))  # stable: list order kept
        else:
            chosen = [m for m in metrics if m.area in areas]
        out.append((stem, title, chosen))
    return out


def render(metrics):
    """{relative path: file text} for every dashboard."""
    files = {}
    for stem, title, chosen in split_views(metrics):
        for folder, flavour in (("grafana-graphite", "plain"), ("grafana-graphite-tagged", "tagged")):
            files["%s/%s.json" % (folder, stem)] = grafana_dashboard(stem, title, chosen, flavour)
        files["datadog/%s.json" % stem] = datadog_dashboard(title, chosen)
    return {path: json.dumps(doc, indent=2, ensure_ascii=False) + "\n" for path, doc in files.items()}


def catalogue_text(args):
    if args.catalogue:
        with open(args.catalogue, encoding="utf-8") as f:
            return f.read()
    return subprocess.run([args.agent, "--list-metrics"], check=True, capture_output=True,
                          text=True).stdout


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agent", default=os.path.join(here, "..", "build", "bpfpush"))
    ap.add_argument("--catalogue", help="a saved --list-metrics output instead of running --agent")
    ap.add_argument("--out", default=here, help="directory to write the three sets into")
    args = ap.parse_args()
    files = render(parse_catalogue(catalogue_text(args)))
    for rel, text in sorted(files.items()):
        path = os.path.join(args.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    print("wrote %d dashboards under %s" % (len(files), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
