#!/usr/bin/python3
"""Corpus suite: run otsensor over every capture; no crash, and the PDUs agree with tshark.

What it is for (DESIGN.md, "Testing"): every capture listed in ../shared/pcaps/MANIFEST.tsv and
every *.pcap/*.pcapng under the repository's pcaps/ is replayed with
`otsensor replay --emit ...`, one process per capture, with a time limit.

  crash   fails on a signal, a timeout, an exit status other than 0 or 1 (1 is a runtime
          failure such as a truncated capture: what could be read was processed), a sanitizer
          report on stderr, or stdout that is not JSON Lines.
  tshark  does the same checks with `--emit pdus`, then compares every PDU record with
          tshark's dissection of the same capture (corpuslib.PROTOCOLS, DESIGN.md's table):
          PDUs are matched per frame on the table's fields, and every disagreement is
          printed as "capture:frame proto kind ours=... tshark=...". A protocol passes when at
          least 99% of the PDUs tshark reports match and every disagreement is listed in the
          known-differences file with its reason.

Which protocols fail the run: those named by --enforce (a protocol there with no record at all
fails as missing), and with --enforce-implemented every protocol we report at all, so the
suite tightens as dissectors land. A protocol we never report is "not implemented" and
skipped; one we report that is not enforced (or is named by --report-only) is compared and
shown, marked "report only".

tshark: run once per capture with a layer filter (-T json -J), from an empty configuration
directory (default preferences), its extracted PDUs cached under --cache-dir keyed by the
capture's sha256, tshark's version and the exact arguments. When we find a protocol on a port
tshark does not dissect it on by default, tshark is given `-d <transport>.port==N,<layer>` for
that port (see corpuslib.decode_as_args), so both look at the same bytes; the summary lists
those arguments.

What it must never do: pass when a capture directory is missing or empty, when tshark is
missing, or when a capture could not be checked. Exit status: 0 pass, 1 fail, 2 setup error.

Standard library only; run with /usr/bin/python3.
"""

import argparse
import concurrent.futures
import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpuslib as cl  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CACHE_VERSION = "1"
with open(cl.__file__, "rb") as _f:          # any change to the extraction empties the cache
    LIB_DIGEST = hashlib.sha256(_f.read()).hexdigest()

SANITIZER_MARKERS = re.compile(
    r"ERROR: (Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer"
    r"|WARNING: (Address|Memory|Thread)Sanitizer"
    r"|SUMMARY: \w+Sanitizer"
    r"|runtime error:")
SANITIZER_EXIT = 86          # exit status the sanitizers are told to use (see sensor_env)


class SetupError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Captures
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Capture:
    path: str                # absolute
    label: str               # path relative to the repository root, as printed
    sha256: str = ""         # from the manifest if there is one, else computed
    size: int = 0


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def label_for(path: str) -> str:
    return os.path.relpath(path, REPO)


def list_captures(dirs, required_nonempty) -> list:
    """Captures of each directory: its MANIFEST.tsv if it has one, else *.pcap and *.pcapng."""
    captures = []
    for d in dirs:
        if not os.path.isdir(d):
            raise SetupError(f"capture directory {d} does not exist (CI keeps ../shared beside "
                             f"the checkout; the corpus suite cannot pass without it)")
        manifest = os.path.join(d, "MANIFEST.tsv")
        found = []
        if os.path.isfile(manifest):
            with open(manifest, encoding="utf-8") as f:
                lines = f.read().splitlines()
            for lineno, line in enumerate(lines[1:], 2):          # row 1 is the header
                if not line.strip():
                    continue
                cols = line.split("\t")
                path = os.path.join(d, cols[0])
                if not os.path.isfile(path):
                    raise SetupError(f"{manifest}:{lineno}: {cols[0]} is listed but missing")
                c = Capture(os.path.abspath(path), label_for(path),
                            cols[1] if len(cols) > 1 else "", os.path.getsize(path))
                if len(cols) > 2 and cols[2].isdigit() and int(cols[2]) != c.size:
                    raise SetupError(f"{manifest}:{lineno}: {cols[0]} is {c.size} bytes, the "
                                     f"manifest says {cols[2]}")
                found.append(c)
        else:
            for root, subdirs, files in os.walk(d):
                subdirs.sort()
                for name in sorted(files):
                    if name.endswith((".pcap", ".pcapng")):
                        path = os.path.join(root, name)
                        found.append(Capture(os.path.abspath(path), label_for(path), "",
                                             os.path.getsize(path)))
        if not found and os.path.abspath(d) in required_nonempty:
            raise SetupError(f"capture directory {d} holds no capture")
        captures.extend(found)
    seen = set()
    unique = []
    for c in captures:
        if c.path not in seen:
            seen.add(c.path)
            unique.append(c)
    return unique


# ---------------------------------------------------------------------------------------------
# Running the sensor
# ---------------------------------------------------------------------------------------------


def sensor_env() -> dict:
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = f"detect_leaks=1:abort_on_error=0:exitcode={SANITIZER_EXIT}"
    env["UBSAN_OPTIONS"] = f"print_stacktrace=1:halt_on_error=1:exitcode={SANITIZER_EXIT}"
    env["LSAN_OPTIONS"] = f"exitcode={SANITIZER_EXIT}"
    return env


@dataclasses.dataclass
class Run:
    problems: list           # why this capture fails the crash check (empty: it passes)
    notes: list              # remarks that do not fail (exit 1)
    records: list
    seconds: float


def run_sensor(otsensor: str, capture: Capture, emit: str, timeout: float) -> Run:
    cmd = [otsensor, "replay", "--emit", emit, capture.path]
    problems, notes = [], []
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="otsensor-corpus-") as cwd, \
            tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd,
                                env=sensor_env(), start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if rc is None:
        problems.append(f"timed out after {timeout:g} s")
    elif rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = str(-rc)
        problems.append(f"killed by signal {name}")
    elif rc == SANITIZER_EXIT:
        problems.append(f"exit status {rc} (sanitizer)")
    elif rc not in (0, 1):
        problems.append(f"exit status {rc}")
    elif rc == 1:
        last = [ln for ln in stderr.splitlines() if ln.strip()]
        notes.append("exit status 1 (runtime failure, allowed): " + (last[-1] if last else
                                                                      "(no message)"))
    if SANITIZER_MARKERS.search(stderr):
        problems.append("sanitizer report on stderr")
    if problems:
        tail = stderr.splitlines()
        if len(tail) > 40:
            tail = tail[:40] + [f"... ({len(tail) - 40} more stderr lines)"]
        problems.append("command: " + " ".join(cmd))
        problems.extend("  " + ln for ln in tail)
    records = []
    try:
        records = cl.parse_records(stdout)
    except cl.RecordError as e:
        problems.append(f"invalid --emit output: {e}")
    return Run(problems, notes, records, seconds)


# ---------------------------------------------------------------------------------------------
# Running tshark (cached)
# ---------------------------------------------------------------------------------------------


class Tshark:
    def __init__(self, path: str, cache_dir: str, protos, timeout: float):
        self.path = path
        self.cache_dir = cache_dir
        self.protos = list(protos)
        self.timeout = timeout
        self.confdir = tempfile.mkdtemp(prefix="otsensor-corpus-wireshark-")
        try:
            v = subprocess.run([path, "--version"], capture_output=True, text=True,
                               env=self.env(), timeout=60)
        except (OSError, subprocess.SubprocessError) as e:
            raise SetupError(f"cannot run {path}: {e}")
        self.version = (v.stdout.splitlines() or ["?"])[0]
        try:
            d = subprocess.run([path, "-G", "decodes"], capture_output=True, text=True,
                               env=self.env(), timeout=120)
        except (OSError, subprocess.SubprocessError) as e:
            raise SetupError(f"cannot run {path} -G decodes: {e}")
        self.ports = cl.parse_tshark_decodes(d.stdout)
        if cache_dir:
            os.makedirs(cache_dir, exist_ok=True)
        self.hits = 0
        self.runs = 0
        self.lock = threading.Lock()

    def close(self):
        shutil.rmtree(self.confdir, ignore_errors=True)

    def env(self) -> dict:
        env = dict(os.environ)
        # Default preferences whatever the user's profile holds.
        env["WIRESHARK_CONFIG_DIR"] = self.confdir
        env.pop("SSLKEYLOGFILE", None)
        return env

    def args(self, decode_as) -> list:
        args = ["-n", "-o", "tcp.desegment_tcp_streams:TRUE",
                "-Y", cl.tshark_filter(self.protos),
                "-T", "json", "-J", " ".join(cl.tshark_layers(self.protos))]
        for d in decode_as:
            args += ["-d", d]
        return args

    def pdus(self, capture: Capture, decode_as) -> dict:
        """{proto: [Pdu]} for the capture; raises RuntimeError if tshark fails."""
        args = self.args(decode_as)
        key = hashlib.sha256(json.dumps([CACHE_VERSION, self.version, args,
                                         cl.table_fingerprint(self.protos),
                                         LIB_DIGEST]).encode()).hexdigest()[:24]
        cache = None
        if self.cache_dir:
            cache = os.path.join(self.cache_dir, f"{capture.sha256}-{key}.json")
            try:
                with open(cache, encoding="utf-8") as f:
                    data = json.load(f)
                with self.lock:
                    self.hits += 1
                return {p: [cl.Pdu(fr, tuple(tuple(v) if isinstance(v, list) else v
                                             for v in vals)) for fr, vals in lst]
                        for p, lst in data.items()}
            except (OSError, ValueError):
                pass
        cmd = [self.path, "-r", capture.path] + args
        try:
            proc = subprocess.run(cmd, capture_output=True, env=self.env(),
                                  timeout=self.timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"tshark timed out after {self.timeout:g} s: {' '.join(cmd)}")
        with self.lock:
            self.runs += 1
        stderr = proc.stderr.decode("utf-8", "replace")
        errors = [ln for ln in stderr.splitlines()
                  if ln.strip() and "Running as user" not in ln and "could be dangerous" not in ln]
        # A truncated capture: tshark prints what it could read and says so; accept that.
        truncated = any("cut short in the middle of a packet" in ln for ln in errors)
        if proc.returncode != 0 and not truncated:
            raise RuntimeError(f"tshark exit status {proc.returncode}: {' '.join(cmd)}\n  "
                               + "\n  ".join(errors[:20]))
        try:
            packets = cl.load_tshark_json(proc.stdout.decode("utf-8", "replace"))
        except ValueError as e:
            raise RuntimeError(f"tshark output is not JSON ({e}): {' '.join(cmd)}")
        result = cl.tshark_pdus(packets, self.protos)
        if cache:
            tmp = f"{cache}.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({p: [[x.frame, list(x.values)] for x in lst]
                           for p, lst in result.items()}, f)
            os.replace(tmp, cache)
        return result


# ---------------------------------------------------------------------------------------------
# One capture
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    capture: Capture
    run: Run
    error: str = ""                  # the capture could not be compared (tshark failed, ...)
    decode_as: list = dataclasses.field(default_factory=list)
    comparisons: list = dataclasses.field(default_factory=list)
    other_protos: dict = dataclasses.field(default_factory=dict)   # our protos not compared


def check_capture(args, capture: Capture, tshark) -> Outcome:
    emit = "pdus" if args.mode == "tshark" else args.emit
    run = run_sensor(args.otsensor, capture, emit, args.timeout)
    outcome = Outcome(capture, run)
    if tshark is None:
        return outcome
    # The tshark cache is keyed by content: check it against the manifest, if any.
    digest = sha256_file(capture.path)
    if capture.sha256 and capture.sha256 != digest:
        outcome.error = (f"sha256 {digest} differs from the manifest's {capture.sha256}: the "
                         f"capture changed without MANIFEST.tsv")
        return outcome
    capture.sha256 = digest
    protos = tshark.protos
    decode_as = cl.decode_as_args(run.records, protos, tshark.ports)
    outcome.decode_as = decode_as
    for rec in run.records:
        if rec.get("type") == "pdu" and rec.get("proto") not in cl.PROTOCOLS:
            outcome.other_protos[rec["proto"]] = outcome.other_protos.get(rec["proto"], 0) + 1
    try:
        theirs = tshark.pdus(capture, decode_as)
    except RuntimeError as e:
        outcome.error = str(e)
        return outcome
    ours = cl.our_pdus(run.records, protos)
    for p in protos:
        outcome.comparisons.append(cl.compare(capture.label, p, theirs[p.name], ours[p.name]))
    return outcome


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


class Report:
    def __init__(self, summary_path, max_print):
        self.file = open(summary_path, "w", encoding="utf-8") if summary_path else None
        self.max_print = max_print

    def both(self, text=""):
        print(text)
        if self.file:
            self.file.write(text + "\n")

    def file_only(self, text=""):
        if self.file:
            self.file.write(text + "\n")

    def close(self):
        if self.file:
            self.file.close()


def table(rows) -> list:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        out.append("  ".join(str(c).rjust(w) if n and i not in (0, len(r) - 1) else
                             str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--otsensor", required=True, help="the otsensor binary")
    ap.add_argument("--pcaps", nargs="+", required=True, metavar="DIR",
                    help="capture directories (a MANIFEST.tsv lists a directory's captures)")
    ap.add_argument("--optional-pcaps", nargs="*", default=[], metavar="DIR",
                    help="directories that may be empty (the repository's pcaps/)")
    ap.add_argument("--mode", choices=("crash", "tshark"), default="tshark")
    ap.add_argument("--emit", default="pdus",
                    help="--emit list for the crash mode (the tshark mode uses pdus)")
    ap.add_argument("--proto", default=",".join(cl.PROTOCOLS),
                    help="protocols to compare (default: all of DESIGN.md's table)")
    ap.add_argument("--enforce", default="",
                    help="protocols that must be implemented and agree (comma-separated)")
    ap.add_argument("--enforce-implemented", action="store_true",
                    help="also enforce every compared protocol that has records")
    ap.add_argument("--report-only", default="",
                    help="protocols compared and shown but never failing (comma-separated)")
    ap.add_argument("--known", default=os.path.join(HERE, "known-differences.tsv"))
    ap.add_argument("--timeout", type=float, default=120, help="seconds per capture (sensor)")
    ap.add_argument("--tshark-timeout", type=float, default=900, help="seconds per capture")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--summary", help="also write the report to this file")
    ap.add_argument("--cache-dir", help="tshark results cache (default: none)")
    ap.add_argument("--tshark", default=shutil.which("tshark") or "",
                    help="the tshark binary (default: from PATH)")
    ap.add_argument("--only", nargs="*", default=[], metavar="SUBSTRING",
                    help="only captures whose path contains one of these (for debugging)")
    ap.add_argument("--max-print", type=int, default=1000,
                    help="disagreement lines per protocol on stdout (the summary file has all)")
    args = ap.parse_args(argv)

    try:
        return run_suite(args)
    except SetupError as e:
        print(f"corpus: setup error: {e}", file=sys.stderr)
        return 2


def run_suite(args) -> int:
    if not (os.path.isfile(args.otsensor) and os.access(args.otsensor, os.X_OK)):
        raise SetupError(f"--otsensor {args.otsensor}: no such executable")
    args.otsensor = os.path.abspath(args.otsensor)
    protos = []
    for name in filter(None, (s.strip() for s in args.proto.split(","))):
        if name not in cl.PROTOCOLS:
            raise SetupError(f"--proto: unknown protocol {name!r} (known: "
                             f"{', '.join(cl.PROTOCOLS)})")
        protos.append(cl.PROTOCOLS[name])
    enforce = [s.strip() for s in args.enforce.split(",") if s.strip()]
    for name in enforce:
        if name not in (p.name for p in protos):
            raise SetupError(f"--enforce: {name!r} is not among the compared protocols")
    report_only = [s.strip() for s in args.report_only.split(",") if s.strip()]
    for name in report_only:
        if name not in cl.PROTOCOLS or name in enforce:
            raise SetupError(f"--report-only: {name!r} is not a protocol of the table, or is "
                             f"also in --enforce")
    args.report_only_list = report_only
    known = []
    if args.mode == "tshark":
        try:
            with open(args.known, encoding="utf-8") as f:
                known = cl.load_known(f.read(), args.known)
        except OSError as e:
            raise SetupError(f"known differences: {e}")
        except ValueError as e:
            raise SetupError(str(e))

    optional = {os.path.abspath(d) for d in args.optional_pcaps}
    dirs = list(args.pcaps) + [d for d in args.optional_pcaps if os.path.isdir(d)]
    captures = list_captures(dirs, {os.path.abspath(d) for d in args.pcaps} - optional)
    if args.only:
        captures = [c for c in captures if any(s in c.label for s in args.only)]
    if not captures:
        raise SetupError("no capture to check")

    tshark = None
    if args.mode == "tshark":
        if not args.tshark or not os.access(args.tshark, os.X_OK):
            raise SetupError("tshark not found (a test dependency: apt-get install tshark)")
        tshark = Tshark(args.tshark, args.cache_dir, protos, args.tshark_timeout)

    report = Report(args.summary, args.max_print)
    start = time.monotonic()
    outcomes = []
    # Largest first, so that the long ones do not end up alone at the end.
    order = sorted(captures, key=lambda c: -c.size)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(check_capture, args, c, tshark): c for c in order}
            for fut in concurrent.futures.as_completed(futures):
                c = futures[fut]
                try:
                    outcomes.append(fut.result())
                except Exception as e:          # a bug here must not look like a pass
                    outcomes.append(Outcome(c, Run([], [], [], 0.0),
                                            error=f"{type(e).__name__}: {e}"))
    finally:
        if tshark:
            tshark.close()
    outcomes.sort(key=lambda o: o.capture.label)
    elapsed = time.monotonic() - start
    ok = write_report(args, report, outcomes, protos, enforce, known, tshark, elapsed)
    report.close()
    return 0 if ok else 1


def write_report(args, report, outcomes, protos, enforce, known, tshark, elapsed) -> bool:
    ok = True
    crashed = [o for o in outcomes if o.run.problems]
    errors = [o for o in outcomes if o.error]
    slowest = max(outcomes, key=lambda o: o.run.seconds)
    report.both(f"corpus {args.mode}: {len(outcomes)} captures, otsensor {args.otsensor}"
                + (f", {tshark.version}" if tshark else ""))
    report.both(f"  sensor time limit {args.timeout:g} s per capture; slowest "
                f"{slowest.run.seconds:.1f} s ({slowest.capture.label}); wall time "
                f"{elapsed:.0f} s")
    if tshark:
        report.both(f"  tshark: {tshark.runs} run(s), {tshark.hits} cached result(s)"
                    + (f" in {args.cache_dir}" if args.cache_dir else ""))
    for o in outcomes:
        for n in o.run.notes:
            report.both(f"note: {o.capture.label}: {n}")
    if crashed:
        ok = False
        report.both()
        report.both(f"FAIL: {len(crashed)} capture(s) crashed, hung or broke the output:")
        for o in crashed:
            report.both(f"{o.capture.label}: {o.run.problems[0]}")
            for line in o.run.problems[1:]:
                report.both(f"    {line}")
    if errors:
        ok = False
        report.both()
        report.both(f"FAIL: {len(errors)} capture(s) could not be checked:")
        for o in errors:
            report.both(f"{o.capture.label}: {o.error}")
    if args.mode == "crash":
        report.both()
        report.both(f"crash check: {len(outcomes) - len(crashed) - len(errors)} of "
                    f"{len(outcomes)} captures ok")
        return ok

    decoded = [(o.capture.label, d) for o in outcomes for d in o.decode_as]
    if decoded:
        report.both()
        report.both("tshark decode-as for protocols we found on non-default ports:")
        for label, d in decoded:
            report.both(f"  {label}: -d {d}")

    summaries = {p.name: cl.ProtoSummary(p.name) for p in protos}
    by_proto = {p.name: [] for p in protos}
    for o in outcomes:
        for c in o.comparisons:
            cl.apply_known(c.disagreements, known)
            summaries[c.proto].add(c)
            by_proto[c.proto].extend(c.disagreements)
            if c.ours:
                summaries[c.proto].implemented = True

    verdicts = {}
    enforced_names = []
    for p in protos:
        s = summaries[p.name]
        enforced = p.name in enforce or (args.enforce_implemented and s.implemented
                                         and p.name not in args.report_only_list)
        if enforced:
            enforced_names.append(p.name)
            verdicts[p.name] = cl.judge(s, required=p.name in enforce)
        else:
            cl.judge(s, required=False)
            if s.implemented:
                s.verdict = "report only: " + s.verdict
            verdicts[p.name] = True
        ok = ok and verdicts[p.name]

    for p in protos:
        ds = by_proto[p.name]
        if not ds or not summaries[p.name].implemented:
            continue
        unknown = [d for d in ds if d.known is None]
        # Report-only protocols: a sample on stdout, all of them in the summary file.
        limit = args.max_print if p.name in enforced_names else min(args.max_print, 20)
        report.both()
        report.both(f"{p.name}: {len(ds)} disagreement(s), {len(unknown)} not in known "
                    f"differences (fields: {', '.join(p.field_names())})")
        for n, d in enumerate(sorted(ds, key=lambda d: (d.known is not None, d.capture,
                                                        d.frame))):
            line = "  " + d.line(p)
            if n < limit:
                report.both(line)
            else:
                report.file_only(line)
        if len(ds) > limit:
            print(f"  ... {len(ds) - limit} more in {args.summary or '(no --summary)'}")

    # Capture by capture (summary file only): what each side reported.
    report.file_only()
    report.file_only("capture by capture (implemented protocols): proto, tshark PDUs, our PDUs, "
                     "matched, disagreements")
    for o in outcomes:
        for c in o.comparisons:
            if (c.tshark or c.ours) and summaries[c.proto].implemented:
                report.file_only(f"  {o.capture.label}  {c.proto}  {c.tshark}  {c.ours}  "
                                 f"{c.matched}  {len(c.disagreements)}")

    stale = [k for k in known if not k.used
             and (k.proto == "*" or summaries.get(k.proto, cl.ProtoSummary("")).implemented)]
    if stale and not args.only:
        report.both()
        report.both("known differences that no longer occur (remove them):")
        for k in stale:
            report.both(f"  {os.path.relpath(args.known, REPO)}:{k.lineno}: {k.capture} "
                        f"{k.proto} {k.frame} {k.kind}")

    others = {}
    for o in outcomes:
        for name, n in o.other_protos.items():
            others[name] = others.get(name, 0) + n
    if others:
        report.both()
        report.both("PDU records of protocols without a tshark comparison: "
                    + ", ".join(f"{k} {v}" for k, v in sorted(others.items())))

    rows = [("proto", "captures", "tshark PDUs", "our PDUs", "matched", "agreement",
             "mismatch", "only-tshark", "only-ours", "unknown", "verdict")]
    for p in protos:
        s = summaries[p.name]
        agreement = "-" if s.agreement is None else f"{100 * s.agreement:.2f}%"
        if not s.implemented:       # nothing of ours to disagree with: counts would be noise
            rows.append((p.name, s.captures, s.tshark, s.ours, "-", "-", "-", "-", "-", "-",
                         s.verdict))
            continue
        rows.append((p.name, s.captures, s.tshark, s.ours, s.matched, agreement, s.mismatch,
                     s.only_tshark, s.only_ours, s.unknown, s.verdict))
    report.both()
    for line in table(rows):
        report.both(line)
    report.both()
    report.both(f"corpus tshark: {'PASS' if ok else 'FAIL'} (enforced: "
                f"{', '.join(enforced_names) or 'none'})")
    return ok


if __name__ == "__main__":
    sys.exit(main())
