"""Comparison logic of the corpus suite: our `--emit pdus` records against tshark.

What it is for: turning tshark's JSON dissection of a capture and otsensor's JSON Lines for
the same capture into comparable PDUs, matching them frame by frame, and judging the result
against the known-differences file. corpus.py drives it (running the programs, caching,
parallelism, printing); test_compare.py checks it on crafted input.

What it must never do: run programs, read captures, or pass a protocol silently. Every
disagreement is returned with its capture and frame; only the caller decides what to print.

Only the Python standard library is used (run it with /usr/bin/python3).
"""

import collections
import dataclasses
import fnmatch
import json
import re
from typing import Any, Callable, Iterable, Optional

# ---------------------------------------------------------------------------------------------
# Value normalisation
# ---------------------------------------------------------------------------------------------

_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_DEC = re.compile(r"^-?[0-9]+$")


def canon(value: Any) -> Any:
    """One comparable form for a value from either side.

    tshark prints integers in decimal ("17") or, for BASE_HEX fields, as "0x00000011"; our
    records carry JSON integers. Both become int. Other strings are kept (stripped); JSON
    null and a field tshark did not show are both None.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() else value
    if isinstance(value, str):
        s = value.strip()
        if _HEX.match(s):
            return int(s, 16)
        if _DEC.match(s):
            return int(s)
        return s
    if isinstance(value, list):
        return tuple(canon(v) for v in value)
    return json.dumps(value, sort_keys=True)


def _apci_letter(value: Any) -> Any:
    """iec60870_104.type is 0 (I), 1 (S) or 3 (U); our `apci` is the letter."""
    v = canon(value)
    return {0: "I", 1: "S", 3: "U"}.get(v, v)


# ---------------------------------------------------------------------------------------------
# The protocol table (DESIGN.md, "JSON records"): our field <- tshark field(s)
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Field:
    ours: str
    tshark: tuple            # tshark field names; the first one present in the PDU wins
    tshark_norm: Callable = canon

    def from_tshark(self, pdu_fields: dict) -> Any:
        for name in self.tshark:
            if name in pdu_fields:
                return self.tshark_norm(pdu_fields[name])
        return None


@dataclasses.dataclass(frozen=True)
class Proto:
    name: str                # `proto` in our records
    anchors: tuple           # tshark layers that start a PDU (one layer occurrence = one PDU)
    layers: tuple            # further tshark layers that belong to the PDU they follow
    fields: tuple            # Field, ...
    # A PDU (either side) counts only if at least one of these of our fields is non-null.
    require: tuple = ()
    # Decode-as for PDUs we find on ports tshark does not dissect by default:
    # transport -> (tshark layer to decode as, ports tshark already uses by default).
    decode_as: tuple = ()

    def field_names(self) -> tuple:
        return tuple(f.ours for f in self.fields)

    def tshark_fields(self) -> list:
        out = []
        for f in self.fields:
            out.extend(f.tshark)
        return out


def F(ours, *tshark, norm=canon):
    return Field(ours, tuple(tshark), norm)


PROTOCOLS = {p.name: p for p in (
    Proto("modbus", ("mbtcp", "mbudp"), ("modbus",),
          (F("func", "modbus.func_code"),
           F("unit", "mbtcp.unit_id", "mbudp.unit_id"),
           F("trans_id", "mbtcp.trans_id", "mbudp.trans_id"),
           F("exception", "modbus.exception_code")),
          decode_as=(("tcp", "mbtcp", (502,)), ("udp", "mbudp", (502,)))),
    # tshark shows a DNP3 layer for every link-layer frame; an application PDU is the frame
    # that completes transport reassembly, the one carrying dnp3.al.func.
    Proto("dnp3", ("dnp3",), (),
          (F("func", "dnp3.al.func"), F("src_addr", "dnp3.src"), F("dst_addr", "dnp3.dst")),
          require=("func",),
          decode_as=(("tcp", "dnp3", (20000,)), ("udp", "dnp3", (20000,)))),
    Proto("iec104", ("iec60870_104",), ("iec60870_asdu",),
          (F("apci", "iec60870_104.type", norm=_apci_letter),
           F("typeid", "iec60870_asdu.typeid"),
           F("cot", "iec60870_asdu.causetx"),
           F("ca", "iec60870_asdu.addr")),
          decode_as=(("tcp", "iec60870_104", (2404,)),)),
    Proto("s7comm", ("s7comm",), (),
          (F("rosctr", "s7comm.header.rosctr"), F("func", "s7comm.param.func"),
           F("group", "s7comm.param.userdata.funcgroup"),
           F("subfunc", "s7comm.param.userdata.subfunc")),
          decode_as=(("tcp", "tpkt", (102,)),)),
    Proto("enip", ("enip",), ("cip",),
          (F("command", "enip.command"), F("service", "cip.sc"), F("class", "cip.class")),
          decode_as=(("tcp", "enip", (44818,)), ("udp", "enip", (44818, 2222)))),
    Proto("bacnet", ("bvlc",), ("bacnet", "bacapp"),
          (F("bvlc_func", "bvlc.function"), F("apdu_type", "bacapp.type"),
           F("service", "bacapp.confirmed_service", "bacapp.unconfirmed_service")),
          decode_as=(("udp", "bvlc", (47808,)),)),
    Proto("opcua", ("opcua",), (),
          (F("msg_type", "opcua.transport.type"), F("service", "opcua.servicenodeid.numeric")),
          decode_as=(("tcp", "opcua", (4840,)),)),
    Proto("goose", ("goose",), (),
          (F("gocb_ref", "goose.gocbRef"), F("st_num", "goose.stNum"),
           F("sq_num", "goose.sqNum"))),
    # DESIGN.md names mms.confirmedServiceRequest; a response carries the same service
    # number in mms.confirmedServiceResponse, so that is the fallback.
    Proto("mms", ("mms",), (),
          (F("service", "mms.confirmedServiceRequest", "mms.confirmedServiceResponse"),),
          decode_as=(("tcp", "tpkt", (102,)),)),
    Proto("profinet_dcp", ("pn_dcp",), (), (F("service", "pn_dcp.service_id"),)),
    Proto("fins", ("omron",), (), (F("command", "omron.command"),),
          decode_as=(("tcp", "omron", (9600,)), ("udp", "omron", (9600,)))),
    Proto("hart_ip", ("hart_ip",), (), (F("msg_id", "hart_ip.message_id"),),
          decode_as=(("tcp", "hart_ip", (5094,)), ("udp", "hart_ip", (5094,)))),
)}


def table_fingerprint(protos: Iterable[Proto]) -> str:
    """Text that changes whenever the table changes what tshark output we extract."""
    return json.dumps([QUOTING_LAYERS] + [[p.name, p.anchors, p.layers, [(f.ours, f.tshark) for f in p.fields]]
                                          for p in protos], sort_keys=True)


# Layers after these are a datagram quoted inside an ICMP error, not traffic: tshark
# dissects the quote, the sensor (rightly) does not count it as a PDU.
QUOTING_LAYERS = ("icmp", "icmpv6")


def tshark_layers(protos: Iterable[Proto]) -> list:
    out = ["frame", *QUOTING_LAYERS]
    for p in protos:
        for layer in p.anchors + p.layers:
            if layer not in out:
                out.append(layer)
    return out


def tshark_filter(protos: Iterable[Proto]) -> str:
    names = []
    for p in protos:
        names.extend(a for a in p.anchors if a not in names)
    return " or ".join(names)


# ---------------------------------------------------------------------------------------------
# tshark JSON -> PDUs
# ---------------------------------------------------------------------------------------------

# tshark -T json repeats a key when a frame holds the same layer (or field) twice, so objects
# are read as ordered lists of (key, value) pairs: nothing is lost and the order is tshark's.
class Pairs(list):
    """A JSON object as its (key, value) pairs, in document order, duplicates kept."""


def load_tshark_json(text: str):
    """Parse `tshark -T json` output (without --no-duplicate-keys)."""
    text = text.strip()
    if not text:
        return []
    return json.loads(text, object_pairs_hook=Pairs)


_ABSENT = object()


def _scalar(value):
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, list) and not isinstance(value, Pairs):
        for v in value:                      # --no-duplicate-keys style array of values
            s = _scalar(v)
            if s is not _ABSENT:
                return s
    return _ABSENT


def _collect(node, wanted: set, out: dict) -> None:
    """First occurrence, in tshark's document order, of each wanted field under node."""
    if isinstance(node, Pairs):
        for key, value in node:
            if key in wanted and key not in out:
                v = _scalar(value)
                if v is not _ABSENT:
                    out[key] = v
            _collect(value, wanted, out)
    elif isinstance(node, list):
        for value in node:
            _collect(value, wanted, out)


def _fields_of(group, names) -> dict:
    """Values of the named fields in a PDU's layers.

    A field is looked for in the layer its name starts with ("cip.class" in "cip") when the
    PDU has that layer: tshark also shows generated copies elsewhere (the ENIP layer's
    "[Connection Information]" repeats the Forward Open path, with its own cip.class).
    """
    found = {}
    layer_names = {name for name, _ in group}
    for field in names:
        prefix = field.split(".", 1)[0]
        values = [v for name, v in group if name == prefix] if prefix in layer_names else \
            [v for _, v in group]
        one = {}
        for v in values:
            _collect(v, {field}, one)
            if field in one:
                found[field] = one[field]
                break
    return found


def _get(pairs, key):
    for k, v in pairs:
        if k == key:
            return v
    return None


@dataclasses.dataclass(frozen=True)
class Pdu:
    frame: int
    values: tuple            # canonical values, in the order of Proto.fields

    def show(self, proto: Proto) -> str:
        return "{" + ", ".join(f"{n}={_fmt(v)}" for n, v in zip(proto.field_names(),
                                                             self.values)) + "}"


def _fmt(v):
    if v is None:
        return "null"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


def _required_ok(proto: Proto, values: tuple) -> bool:
    if not proto.require:
        return True
    names = proto.field_names()
    return any(values[names.index(r)] is not None for r in proto.require)


def tshark_pdus(packets, protos: Iterable[Proto]) -> dict:
    """{proto name: [Pdu, ...]} from parsed tshark JSON (a list of packets)."""
    protos = list(protos)
    result = {p.name: [] for p in protos}
    by_layer = {}
    for p in protos:
        for a in p.anchors:
            by_layer[a] = (p, True)
        for a in p.layers:
            by_layer.setdefault(a, (p, False))
    for packet in packets:
        layers = _get(_get(packet, "_source") or [], "layers") or []
        frame_layer = _get(layers, "frame")
        frame = None
        if isinstance(frame_layer, Pairs):
            frame = canon(_get(frame_layer, "frame.number"))
        if not isinstance(frame, int):
            raise ValueError("tshark JSON packet without frame.number (was -J 'frame ...' "
                             "passed?)")
        # Walk the layers in order; an anchor opens a PDU of its protocol, the protocol's
        # other layers attach to the PDU opened last.
        current = {}                       # proto name -> [(layer, value)]
        groups = []                        # (proto, [(layer, value)])
        for key, value in layers:
            if key in QUOTING_LAYERS:
                break
            hit = by_layer.get(key)
            if hit is None:
                continue
            proto, is_anchor = hit
            if is_anchor or proto.name not in current:
                current[proto.name] = [(key, value)]
                groups.append((proto, current[proto.name]))
            else:
                current[proto.name].append((key, value))
        for proto, group in groups:
            pdu = Pdu(frame, tuple(f.from_tshark(_fields_of(group, f.tshark))
                                   for f in proto.fields))
            if _required_ok(proto, pdu.values):
                result[proto.name].append(pdu)
    return result


# ---------------------------------------------------------------------------------------------
# Our JSON Lines -> PDUs
# ---------------------------------------------------------------------------------------------


class RecordError(ValueError):
    pass


def parse_records(text: str) -> list:
    """Every line of `otsensor replay --emit ...` output as a dict; errors name the line."""
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise RecordError(f"stdout line {lineno}: not JSON ({e}): {line[:120]!r}")
        if not isinstance(rec, dict) or not isinstance(rec.get("type"), str):
            raise RecordError(f"stdout line {lineno}: not an object with a string \"type\": "
                              f"{line[:120]!r}")
        if rec["type"] == "pdu":
            # A frame below 1 is wrong too (frames count from 1), but it is left to the
            # comparison, which reports it as a disagreement with its capture and frame.
            if not isinstance(rec.get("frame"), int) or isinstance(rec.get("frame"), bool):
                raise RecordError(f"stdout line {lineno}: pdu record without an integer "
                                  f"\"frame\": {line[:120]!r}")
            if not isinstance(rec.get("proto"), str):
                raise RecordError(f"stdout line {lineno}: pdu record without \"proto\": "
                                  f"{line[:120]!r}")
        records.append(rec)
    return records


def our_pdus(records, protos: Iterable[Proto]) -> dict:
    """{proto name: [Pdu, ...]} from our records (pdu records of the table's protocols)."""
    protos = {p.name: p for p in protos}
    result = {name: [] for name in protos}
    for rec in records:
        if rec.get("type") != "pdu":
            continue
        proto = protos.get(rec.get("proto"))
        if proto is None:
            continue
        pdu = Pdu(rec["frame"], tuple(canon(rec.get(f.ours)) for f in proto.fields))
        if _required_ok(proto, pdu.values):
            result[proto.name].append(pdu)
    return result


def decode_as_args(records, protos: Iterable[Proto], tshark_ports: Optional[dict] = None) -> list:
    """tshark -d arguments so that tshark dissects the ports where we found a protocol.

    tshark dissects each protocol on its registered ports (and a few heuristics); we may find
    one elsewhere (Modbus on 5020, OPC UA on 12001, ...). For every pdu record on a port pair
    with none of the protocol's default ports, the server port (dport of a request, sport of
    a response, else the lower port) is decoded as that protocol, so both sides look at the
    same bytes.

    tshark also tries the lower port of a pair first: an ENIP client on port 1102 is handed
    to IDMP, registered on 1102, and ENIP on 44818 is never tried. So when the client port
    (known from `dir`) is below the server port and tshark_ports ({(transport, port): tshark
    dissector}, from `tshark -G decodes`) gives it to another dissector, the client port is
    decoded as the protocol too.

    A port that is a default port of any protocol of the table is never redirected: had we
    taken Modbus on 502 for DNP3, tshark keeps decoding Modbus there and the error shows.
    PDUs found through decode-as are still compared field by field; the arguments used are
    printed in the summary.
    """
    protos = {p.name: p for p in protos}
    tshark_ports = tshark_ports or {}
    taken = set()
    for p in PROTOCOLS.values():
        for t, _, defaults in p.decode_as:
            taken.update((t, port) for port in defaults)
    args = set()
    for rec in records:
        if rec.get("type") != "pdu":
            continue
        proto = protos.get(rec.get("proto"))
        if proto is None or not proto.decode_as:
            continue
        transport = rec.get("transport")
        sport, dport = rec.get("sport"), rec.get("dport")
        if not isinstance(sport, int) or not isinstance(dport, int):
            continue
        for t, layer, defaults in proto.decode_as:
            if t != transport:
                continue
            if rec.get("dir") == "request":
                server, client = dport, sport
            elif rec.get("dir") == "response":
                server, client = sport, dport
            else:
                server, client = min(sport, dport), None
            ports = []
            if sport not in defaults and dport not in defaults:
                ports.append(server)
            if client is not None and client < server \
                    and tshark_ports.get((t, client), layer) != layer:
                ports.append(client)
            for port in ports:
                if (t, port) not in taken:
                    args.add(f"{t}.port=={port},{layer}")
    return sorted(args)


def parse_tshark_decodes(text: str) -> dict:
    """{(transport, port): dissector} from `tshark -G decodes` (tcp.port and udp.port)."""
    ports = {}
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) == 3 and cols[0] in ("tcp.port", "udp.port") and cols[1].isdigit():
            ports[(cols[0][:3], int(cols[1]))] = cols[2]
    return ports


# ---------------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------------

MISMATCH, ONLY_TSHARK, ONLY_OURS = "mismatch", "only-tshark", "only-ours"
KINDS = (MISMATCH, ONLY_TSHARK, ONLY_OURS)


@dataclasses.dataclass
class Disagreement:
    capture: str
    proto: str
    frame: int
    kind: str                # MISMATCH, ONLY_TSHARK, ONLY_OURS
    ours: Optional[Pdu]
    tshark: Optional[Pdu]
    known: Optional[str] = None      # reason from the known-differences file

    def line(self, proto: Proto) -> str:
        ours = self.ours.show(proto) if self.ours else "-"
        theirs = self.tshark.show(proto) if self.tshark else "-"
        text = f"{self.capture}:{self.frame} {self.proto} {self.kind} ours={ours} tshark={theirs}"
        if self.known is not None:
            text += f"  [known: {self.known}]"
        return text


@dataclasses.dataclass
class Comparison:
    proto: str
    tshark: int = 0          # PDUs tshark reports
    ours: int = 0            # PDUs we report
    matched: int = 0
    disagreements: list = dataclasses.field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for d in self.disagreements if d.kind == kind)


def compare(capture: str, proto: Proto, theirs: list, ours: list) -> Comparison:
    """Match PDUs frame by frame as multisets of field tuples.

    In a frame, equal tuples match whatever their order. What is left is paired in order of
    appearance as mismatches (same frame, different fields); the rest is only-tshark or
    only-ours.
    """
    result = Comparison(proto.name, tshark=len(theirs), ours=len(ours))
    t_by_frame = collections.defaultdict(list)
    o_by_frame = collections.defaultdict(list)
    for p in theirs:
        t_by_frame[p.frame].append(p)
    for p in ours:
        o_by_frame[p.frame].append(p)
    for frame in sorted(set(t_by_frame) | set(o_by_frame)):
        t_left = list(t_by_frame.get(frame, ()))
        o_left = []
        for p in o_by_frame.get(frame, ()):
            if p in t_left:
                t_left.remove(p)
                result.matched += 1
            else:
                o_left.append(p)
        for t, o in zip(t_left, o_left):
            result.disagreements.append(Disagreement(capture, proto.name, frame, MISMATCH, o, t))
        for t in t_left[len(o_left):]:
            result.disagreements.append(Disagreement(capture, proto.name, frame, ONLY_TSHARK,
                                                     None, t))
        for o in o_left[len(t_left):]:
            result.disagreements.append(Disagreement(capture, proto.name, frame, ONLY_OURS,
                                                     o, None))
    return result


# ---------------------------------------------------------------------------------------------
# Known differences
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Known:
    capture: str             # path as in the summary (shell-style glob allowed)
    proto: str
    frame: str               # a frame number or *
    kind: str                # mismatch | only-tshark | only-ours | *
    reason: str
    lineno: int
    used: int = 0

    def matches(self, d: Disagreement) -> bool:
        return (fnmatch.fnmatchcase(d.capture, self.capture)
                and self.proto in ("*", d.proto)
                and self.frame in ("*", str(d.frame))
                and self.kind in ("*", d.kind))


def load_known(text: str, source: str = "known-differences") -> list:
    """Tab-separated: capture, proto, frame or *, kind or *, reason. # starts a comment."""
    entries = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = line.rstrip("\n").split("\t")
        if len(cols) != 5:
            raise ValueError(f"{source}:{lineno}: expected 5 tab-separated columns (capture, "
                             f"proto, frame, kind, reason), found {len(cols)}")
        capture, proto, frame, kind, reason = (c.strip() for c in cols)
        if proto != "*" and proto not in PROTOCOLS:
            raise ValueError(f"{source}:{lineno}: unknown proto {proto!r}")
        if frame != "*" and not frame.isdigit():
            raise ValueError(f"{source}:{lineno}: frame must be a number or *, not {frame!r}")
        if kind != "*" and kind not in KINDS:
            raise ValueError(f"{source}:{lineno}: kind must be one of {', '.join(KINDS)} or *,"
                             f" not {kind!r}")
        if not reason:
            raise ValueError(f"{source}:{lineno}: every known difference needs a reason")
        entries.append(Known(capture, proto, frame, kind, reason, lineno))
    return entries


def apply_known(disagreements: Iterable[Disagreement], known: list) -> None:
    for d in disagreements:
        for k in known:
            if k.matches(d):
                d.known = k.reason
                k.used += 1
                break


# ---------------------------------------------------------------------------------------------
# Verdict per protocol
# ---------------------------------------------------------------------------------------------

MIN_AGREEMENT = 0.99


@dataclasses.dataclass
class ProtoSummary:
    proto: str
    captures: int = 0        # captures where either side reports the protocol
    tshark: int = 0
    ours: int = 0
    matched: int = 0
    mismatch: int = 0
    only_tshark: int = 0
    only_ours: int = 0
    unknown: int = 0         # disagreements not in the known-differences file
    implemented: bool = False
    enforced: bool = False
    verdict: str = ""

    @property
    def agreement(self) -> Optional[float]:
        return self.matched / self.tshark if self.tshark else None

    def add(self, c: Comparison) -> None:
        if c.tshark or c.ours:
            self.captures += 1
        self.tshark += c.tshark
        self.ours += c.ours
        self.matched += c.matched
        self.mismatch += c.count(MISMATCH)
        self.only_tshark += c.count(ONLY_TSHARK)
        self.only_ours += c.count(ONLY_OURS)
        self.unknown += sum(1 for d in c.disagreements if d.known is None)


def judge(s: ProtoSummary, required: bool) -> bool:
    """Set s.verdict; True if the protocol passes.

    A protocol we never report is "not implemented": skipped, unless it is required (then it
    fails). Any protocol we do report is enforced: at least 99% of the PDUs tshark reports
    must match, and every disagreement must be in the known-differences file.
    """
    s.enforced = s.implemented or required
    if not s.implemented:
        if required:
            s.verdict = "FAIL: required but no records at all"
            return False
        s.verdict = "skip: not implemented"
        return True
    problems = []
    if s.tshark and s.agreement < MIN_AGREEMENT:
        problems.append(f"agreement {100 * s.agreement:.2f}% < {100 * MIN_AGREEMENT:.0f}%")
    if s.unknown:
        problems.append(f"{s.unknown} disagreement(s) not in known differences")
    if not s.tshark and not s.ours:
        s.verdict = "ok (no PDUs in the corpus)"
        return True
    if problems:
        s.verdict = "FAIL: " + "; ".join(problems)
        return False
    s.verdict = "ok"
    return True
