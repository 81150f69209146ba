#!/usr/bin/python3
"""Self-test of the corpus suite (suite 'unit'): the comparison must be able to fail.

What it is for: checking corpuslib's parsing, normalisation, matching, known-differences and
verdict logic on crafted tshark JSON and crafted records, and corpus.py end to end with
fake_otsensor.py (crash, sanitizer report, hang, bad exit status) and, when tshark is
installed, a small Modbus/TCP capture written here, so that a disagreement is shown to be
reported with its capture and frame and to fail the run.

It must never read ../shared/pcaps or need the real sensor. Standard library only.
"""

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import corpuslib as cl  # noqa: E402

CORPUS = os.path.join(HERE, "corpus.py")
FAKE = os.path.join(HERE, "fake_otsensor.py")
PYTHON = sys.executable or "/usr/bin/python3"
TSHARK = shutil.which("tshark")

MODBUS = cl.PROTOCOLS["modbus"]


def packet(frame, *layers):
    """One packet of `tshark -T json` output, layers as (name, json text) in order."""
    body = ",".join(f'"{name}": {text}' for name, text in layers)
    return ('{"_index": "packets", "_source": {"layers": {"frame": {"frame.number": "%d"}, '
            '"eth": {"filtered": "eth"}, %s}}}' % (frame, body))


def tshark_json(*packets):
    return "[" + ",".join(packets) + "]"


def mb(trans, unit):
    return ("mbtcp", '{"mbtcp.trans_id": "%d", "mbtcp.prot_id": "0", "mbtcp.unit_id": "%d"}'
            % (trans, unit))


def modbus(func, exception=None):
    extra = f', "modbus.exception_code": "{exception}"' if exception is not None else ""
    return ("modbus", '{"modbus.func_code": "%d"%s}' % (func, extra))


def rec(frame, func, unit, trans, exception=None, proto="modbus", **kw):
    r = {"type": "pdu", "ts": "2026-01-05T08:00:00.000000Z", "frame": frame, "proto": proto,
         "dir": "request", "src": "10.0.0.1", "sport": 40000, "dst": "10.0.0.2", "dport": 502,
         "transport": "tcp", "vlan": None, "func": func, "unit": unit, "trans_id": trans,
         "exception": exception}
    r.update(kw)
    return r


class Normalisation(unittest.TestCase):
    def test_canon(self):
        self.assertEqual(cl.canon("0x0000000a"), 10)
        self.assertEqual(cl.canon("10"), 10)
        self.assertEqual(cl.canon(10), 10)
        self.assertEqual(cl.canon(" MSG "), "MSG")
        self.assertIsNone(cl.canon(None))
        self.assertEqual(cl.canon(True), 1)

    def test_iec104_apci_letters(self):
        p = cl.PROTOCOLS["iec104"]
        text = tshark_json(
            packet(1, ("iec60870_104", '{"iec60870_104.type": "0x00000003"}')),
            packet(2, ("iec60870_104", '{"iec60870_104.type": "0x00000001"}')),
            packet(3, ("iec60870_104", '{"iec60870_104.type": "0x00000000"}'),
                   ("iec60870_asdu", '{"iec60870_asdu.typeid": "100", '
                                     '"iec60870_asdu.causetx": "6", "iec60870_asdu.addr": "1"}')))
        got = cl.tshark_pdus(cl.load_tshark_json(text), [p])["iec104"]
        self.assertEqual([x.values for x in got],
                         [("U", None, None, None), ("S", None, None, None), ("I", 100, 6, 1)])

    def test_alternative_fields_and_hex(self):
        p = cl.PROTOCOLS["bacnet"]
        text = tshark_json(packet(4, ("bvlc", '{"bvlc.function": "0x0a"}'),
                                  ("bacnet", '{"bacnet.control": "0x04"}'),
                                  ("bacapp", '{"bacapp.type": "1", "bacapp.unconfirmed_service":'
                                             ' "8"}')))
        got = cl.tshark_pdus(cl.load_tshark_json(text), [p])["bacnet"]
        self.assertEqual(got, [cl.Pdu(4, (10, 1, 8))])
        ours = cl.our_pdus([{"type": "pdu", "frame": 4, "proto": "bacnet", "bvlc_func": 10,
                             "apdu_type": 1, "service": 8}], [p])["bacnet"]
        self.assertEqual(cl.compare("c", p, got, ours).matched, 1)

    def test_field_is_taken_from_its_own_layer(self):
        # tshark's ENIP layer repeats the Forward Open path (with a generated cip.class) in
        # "[Connection Information]"; the request's class is the one in the CIP layer.
        p = cl.PROTOCOLS["enip"]
        text = tshark_json(packet(23, ("enip", '{"enip.command": "0x0070", '
                                               '"[Connection Information]": {"cip.class": '
                                               '"0x02"}}'),
                                  ("cip", '{"cip.sc": "0x03", "Request Path": '
                                          '{"cip.class": "0x69"}}')))
        got = cl.tshark_pdus(cl.load_tshark_json(text), [p])["enip"]
        self.assertEqual(got, [cl.Pdu(23, (0x70, 3, 0x69))])

    def test_dnp3_link_only_frames_do_not_count(self):
        p = cl.PROTOCOLS["dnp3"]
        text = tshark_json(
            packet(1, ("dnp3", '{"Data Link Layer": {"dnp3.dst": "1", "dnp3.addr": "1", '
                               '"dnp3.src": "2", "dnp3.addr": "2"}}')),
            packet(2, ("dnp3", '{"Data Link Layer": {"dnp3.dst": "1", "dnp3.src": "2"}, '
                               '"Application Layer": {"dnp3.al.func": "1", '
                               '"Objects": {"dnp3.al.func": "99"}}}')))
        got = cl.tshark_pdus(cl.load_tshark_json(text), [p])["dnp3"]
        # Nested fields are found; the first occurrence in document order wins.
        self.assertEqual(got, [cl.Pdu(2, (1, 2, 1))])
        ours = cl.our_pdus([{"type": "pdu", "frame": 1, "proto": "dnp3", "func": None,
                             "src_addr": 2, "dst_addr": 1}], [p])["dnp3"]
        self.assertEqual(ours, [])


class TsharkJson(unittest.TestCase):
    def test_several_pdus_in_one_frame_keep_their_own_fields(self):
        # Frame 7 holds two Modbus/TCP PDUs; only the second one has an exception code.
        # Duplicate keys ("mbtcp" twice) must not be merged or misaligned.
        text = tshark_json(packet(5, mb(1, 1), modbus(3)),
                           packet(7, mb(2, 1), modbus(3), mb(3, 9), modbus(6, exception=2)))
        got = cl.tshark_pdus(cl.load_tshark_json(text), [MODBUS])["modbus"]
        self.assertEqual(got, [cl.Pdu(5, (3, 1, 1, None)), cl.Pdu(7, (3, 1, 2, None)),
                               cl.Pdu(7, (6, 9, 3, 2))])

    def test_mbtcp_without_modbus_layer_is_still_a_pdu(self):
        text = tshark_json(packet(9, mb(4, 1)))
        got = cl.tshark_pdus(cl.load_tshark_json(text), [MODBUS])["modbus"]
        self.assertEqual(got, [cl.Pdu(9, (None, 1, 4, None))])

    def test_missing_frame_number_is_an_error(self):
        text = '[{"_source": {"layers": {"mbtcp": {"mbtcp.trans_id": "1"}}}}]'
        with self.assertRaises(ValueError):
            cl.tshark_pdus(cl.load_tshark_json(text), [MODBUS])

    def test_empty_output(self):
        self.assertEqual(cl.tshark_pdus(cl.load_tshark_json(""), [MODBUS]), {"modbus": []})


class Records(unittest.TestCase):
    def test_bad_lines_name_the_line(self):
        with self.assertRaisesRegex(cl.RecordError, "line 2"):
            cl.parse_records('{"type":"stats"}\nnot json\n')
        with self.assertRaisesRegex(cl.RecordError, "frame"):
            cl.parse_records('{"type":"pdu","proto":"modbus","frame":"7"}\n')
        # frame 0 parses, and then disagrees with tshark, which never shows frame 0
        recs = cl.parse_records('{"type":"pdu","proto":"modbus","frame":0,"func":3}\n')
        c = cl.compare("c", MODBUS, [], cl.our_pdus(recs, [MODBUS])["modbus"])
        self.assertEqual([(d.frame, d.kind) for d in c.disagreements], [(0, cl.ONLY_OURS)])
        with self.assertRaisesRegex(cl.RecordError, "type"):
            cl.parse_records('{"proto":"modbus"}\n')

    def test_other_records_and_protocols_are_ignored(self):
        recs = cl.parse_records("\n".join(json.dumps(r) for r in (
            {"type": "stats"}, rec(3, 3, 1, 1), rec(4, 1, 1, 1, proto="arp"))))
        self.assertEqual(cl.our_pdus(recs, [MODBUS])["modbus"], [cl.Pdu(3, (3, 1, 1, None))])

    def test_decode_as_for_non_default_ports(self):
        recs = [rec(1, 3, 1, 1, dport=5020), rec(2, 3, 1, 1, dir="response", sport=5020,
                                                  dport=40000),
                rec(3, 3, 1, 1), rec(4, 3, 1, 1, transport="udp", sport=40001, dport=1502,
                                     dir="event"),
                rec(5, 3, 1, 1, dport=20000)]        # DNP3's port: never redirected
        self.assertEqual(cl.decode_as_args(recs, [MODBUS]),
                         ["tcp.port==5020,mbtcp", "udp.port==1502,mbudp"])

    def test_decode_as_for_a_lower_client_port_tshark_gives_away(self):
        ports = cl.parse_tshark_decodes("tcp.port\t1102\tidmp\ntcp.port\t44818\tenip\n"
                                        "udp.port\t2222\tcipio\nbad line\n")
        self.assertEqual(ports, {("tcp", 1102): "idmp", ("tcp", 44818): "enip",
                                 ("udp", 2222): "cipio"})
        enip = cl.PROTOCOLS["enip"]
        recs = [{"type": "pdu", "frame": 2, "proto": "enip", "dir": "request",
                 "transport": "tcp", "sport": 1102, "dport": 44818},
                {"type": "pdu", "frame": 4, "proto": "enip", "dir": "response",
                 "transport": "tcp", "sport": 44818, "dport": 1102},
                {"type": "pdu", "frame": 6, "proto": "enip", "dir": "request",
                 "transport": "tcp", "sport": 50000, "dport": 44818}]
        self.assertEqual(cl.decode_as_args(recs, [enip], ports), ["tcp.port==1102,enip"])
        self.assertEqual(cl.decode_as_args(recs, [enip]), [])


class Matching(unittest.TestCase):
    def setUp(self):
        self.theirs = [cl.Pdu(1, (3, 1, 1, None)), cl.Pdu(2, (3, 1, 1, None)),
                       cl.Pdu(3, (3, 1, 2, None)), cl.Pdu(3, (6, 1, 3, None)),
                       cl.Pdu(4, (3, 1, 4, None))]

    def test_all_match_in_any_order_within_a_frame(self):
        ours = [self.theirs[0], self.theirs[1], self.theirs[3], self.theirs[2], self.theirs[4]]
        c = cl.compare("cap.pcap", MODBUS, self.theirs, ours)
        self.assertEqual((c.matched, c.disagreements), (5, []))

    def test_mismatch_is_reported_with_capture_and_frame(self):
        ours = [self.theirs[0], self.theirs[1], self.theirs[2], cl.Pdu(3, (6, 1, 3, 4)),
                cl.Pdu(6, (1, 1, 9, None))]
        c = cl.compare("dir/cap.pcap", MODBUS, self.theirs, ours)
        self.assertEqual(c.matched, 3)
        kinds = [(d.frame, d.kind) for d in c.disagreements]
        self.assertEqual(kinds, [(3, cl.MISMATCH), (4, cl.ONLY_TSHARK), (6, cl.ONLY_OURS)])
        line = c.disagreements[0].line(MODBUS)
        self.assertEqual(line, "dir/cap.pcap:3 modbus mismatch "
                               "ours={func=6, unit=1, trans_id=3, exception=4} "
                               "tshark={func=6, unit=1, trans_id=3, exception=null}")
        self.assertIn("dir/cap.pcap:6 modbus only-ours", c.disagreements[2].line(MODBUS))
        self.assertIn("dir/cap.pcap:4 modbus only-tshark ours=-",
                      c.disagreements[1].line(MODBUS))

    def test_duplicates_are_counted(self):
        theirs = [cl.Pdu(1, (3, 1, 1, None))] * 2
        c = cl.compare("c", MODBUS, theirs, [cl.Pdu(1, (3, 1, 1, None))])
        self.assertEqual((c.matched, c.count(cl.ONLY_TSHARK)), (1, 1))


class KnownAndVerdict(unittest.TestCase):
    def test_known_file(self):
        known = cl.load_known("# comment\n\n"
                              "../x/*.pcap\tmodbus\t3\tmismatch\ttshark is wrong here\n"
                              "a.pcap\t*\t*\t*\tall of it\n")
        d1 = cl.Disagreement("../x/b.pcap", "modbus", 3, cl.MISMATCH, None, None)
        d2 = cl.Disagreement("../x/b.pcap", "modbus", 4, cl.MISMATCH, None, None)
        d3 = cl.Disagreement("a.pcap", "dnp3", 9, cl.ONLY_OURS, None, None)
        cl.apply_known([d1, d2, d3], known)
        self.assertEqual((d1.known, d2.known, d3.known),
                         ("tshark is wrong here", None, "all of it"))
        self.assertEqual([k.used for k in known], [1, 1])

    def test_known_file_errors(self):
        for text in ("a\tmodbus\t3\tmismatch\n", "a\tnosuch\t3\tmismatch\tr\n",
                     "a\tmodbus\tx\tmismatch\tr\n", "a\tmodbus\t3\tother\tr\n",
                     "a\tmodbus\t3\tmismatch\t \n"):
            with self.assertRaises(ValueError, msg=text):
                cl.load_known(text)

    def summary(self, tshark, matched, unknown, ours=None):
        s = cl.ProtoSummary("modbus", captures=1, tshark=tshark,
                            ours=matched if ours is None else ours, matched=matched,
                            unknown=unknown, implemented=(ours or matched) > 0)
        return s

    def test_verdicts(self):
        self.assertTrue(cl.judge(self.summary(1000, 1000, 0), required=True))
        s = self.summary(1000, 990, 0)
        self.assertTrue(cl.judge(s, required=True), s.verdict)       # exactly 99%
        s = self.summary(1000, 989, 0)
        self.assertFalse(cl.judge(s, required=True))
        self.assertIn("agreement", s.verdict)
        s = self.summary(1000, 999, 1)
        self.assertFalse(cl.judge(s, required=True))
        self.assertIn("not in known differences", s.verdict)
        s = self.summary(10, 0, 0, ours=0)
        self.assertTrue(cl.judge(s, required=False))
        self.assertIn("not implemented", s.verdict)
        s = self.summary(10, 0, 0, ours=0)
        self.assertFalse(cl.judge(s, required=True))


# ---------------------------------------------------------------------------------------------
# End to end: corpus.py with fake_otsensor.py (and tshark on a capture written here)
# ---------------------------------------------------------------------------------------------


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class PcapWriter:
    """Ethernet/IPv4/TCP frames in a classic pcap file, one TCP stream per port pair."""

    def __init__(self):
        self.out = io.BytesIO()
        self.out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.seq = {}
        self.frames = 0

    def tcp(self, src, sport, dst, dport, payload: bytes):
        key = (src, sport, dst, dport)
        seq = self.seq.get(key, 1000)
        self.seq[key] = seq + len(payload)
        ack = self.seq.get((dst, dport, src, sport), 1000)
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x18, 65535, 0, 0)
        total = 20 + len(tcp) + len(payload)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, self.frames & 0xFFFF, 0x4000, 64, 6,
                         0, bytes(src), bytes(dst))
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        pseudo = struct.pack("!4s4sBBH", bytes(src), bytes(dst), 0, 6, len(tcp) + len(payload))
        tcp = tcp[:16] + struct.pack("!H", _csum(pseudo + tcp + payload)) + tcp[18:]
        eth = b"\x00\x11\x22\x33\x44\x66" + b"\x00\x11\x22\x33\x44\x55" + b"\x08\x00"
        data = eth + ip + tcp + payload
        self.frames += 1
        self.out.write(struct.pack("<IIII", 1767600000 + self.frames, 0, len(data), len(data)))
        self.out.write(data)
        return self.frames

    def save(self, path):
        with open(path, "wb") as f:
            f.write(self.out.getvalue())


CLIENT, SERVER = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def modbus_capture(path, pairs=100, port=502):
    """`pairs` read-holding-registers requests and responses, the first response an exception;
    then one frame with two requests. Returns our (correct) records."""
    w = PcapWriter()
    records = []
    for i in range(pairs):
        req = struct.pack("!HHHBBHH", i, 0, 6, 1, 3, 0, 1)
        f = w.tcp(CLIENT, 40000, SERVER, port, req)
        records.append(rec(f, 3, 1, i, dport=port))
        if i == 0:
            resp = struct.pack("!HHHBBB", i, 0, 3, 1, 0x83, 2)
            exc = 2
        else:
            resp = struct.pack("!HHHBBBH", i, 0, 5, 1, 3, 2, i)
            exc = None
        f = w.tcp(SERVER, port, CLIENT, 40000, resp)
        records.append(rec(f, 3, 1, i, exc, dir="response", sport=port, dport=40000))
    two = struct.pack("!HHHBBHH", 5000, 0, 6, 7, 6, 4, 0) + struct.pack("!HHHBBHH", 5001, 0, 6,
                                                                         7, 4, 0, 2)
    f = w.tcp(CLIENT, 40000, SERVER, port, two)
    records.append(rec(f, 6, 7, 5000, dport=port))
    records.append(rec(f, 4, 7, 5001, dport=port))
    w.save(path)
    return records


class EndToEnd(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="corpus-selftest-")
        self.pcaps = os.path.join(self.dir, "pcaps")
        os.mkdir(self.pcaps)
        self.capture = os.path.join(self.pcaps, "selftest.pcap")
        self.records = modbus_capture(self.capture)
        self.known = os.path.join(self.dir, "known.tsv")
        with open(self.known, "w") as f:
            f.write("# none\n")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_corpus(self, mode, fake_mode="records", records=None, extra=()):
        recfile = os.path.join(self.dir, "records.jsonl")
        with open(recfile, "w") as f:
            for r in (self.records if records is None else records):
                f.write(json.dumps(r) + "\n")
        env = dict(os.environ, FAKE_OTSENSOR_MODE=fake_mode, FAKE_OTSENSOR_RECORDS=recfile)
        summary = os.path.join(self.dir, "summary.txt")
        cmd = [PYTHON, CORPUS, "--otsensor", FAKE, "--pcaps", self.pcaps, "--mode", mode,
               "--known", self.known, "--summary", summary, "--jobs", "1",
               "--proto", "modbus", "--enforce", "modbus", *extra]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        with open(summary) as f:
            written = f.read().splitlines()
        # The summary file holds everything printed (and the capture-by-capture lines).
        missing = [ln for ln in p.stdout.splitlines() if ln not in written]
        self.assertEqual(missing, [])
        return p

    def test_crash_mode_passes_on_a_clean_run_and_exit_1(self):
        p = self.run_corpus("crash")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = self.run_corpus("crash", "exit1")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("exit status 1 (runtime failure, allowed)", p.stdout)

    def test_crash_mode_fails(self):
        for mode, text in (("segv", "killed by signal SIGSEGV"),
                           ("asan", "sanitizer report on stderr"),
                           ("exit3", "exit status 3"),
                           ("garbage", "invalid --emit output: stdout line 1"),
                           ("hang", "timed out after 2 s")):
            p = self.run_corpus("crash", mode, extra=("--timeout", "2"))
            self.assertEqual(p.returncode, 1, f"{mode}: {p.stdout}{p.stderr}")
            self.assertIn("selftest.pcap: " + text, p.stdout, mode)

    def test_missing_capture_directory_is_a_setup_error(self):
        p = subprocess.run([PYTHON, CORPUS, "--otsensor", FAKE, "--pcaps",
                            os.path.join(self.dir, "nosuch"), "--mode", "crash"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("does not exist", p.stderr)

    def test_manifest_lists_the_captures(self):
        shared = os.path.join(self.dir, "shared")
        os.makedirs(os.path.join(shared, "sub"))
        shutil.copy(self.capture, os.path.join(shared, "sub", "a.pcap"))
        with open(os.path.join(shared, "MANIFEST.tsv"), "w") as f:
            f.write("path\tsha256\tbytes\nsub/a.pcap\tabc\t%d\nsub/missing.pcap\tabc\t1\n"
                    % os.path.getsize(self.capture))
        p = subprocess.run([PYTHON, CORPUS, "--otsensor", FAKE, "--pcaps", shared, "--mode",
                            "crash"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("sub/missing.pcap is listed but missing", p.stderr)

    @unittest.skipUnless(TSHARK, "tshark is not installed")
    def test_tshark_agreement(self):
        p = self.run_corpus("tshark")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"modbus +1 +202 +202 +202 +100.00%")

    @unittest.skipUnless(TSHARK, "tshark is not installed")
    def test_tshark_disagreement_fails_and_names_capture_and_frame(self):
        records = [dict(r) for r in self.records]
        records[1]["exception"] = None          # frame 2: the exception response
        records[7]["func"] = 4                  # frame 8
        del records[10]                         # frame 11
        records.append(rec(5, 1, 1, 77))        # frame 5: a PDU tshark does not see
        p = self.run_corpus("tshark", records=records)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("selftest.pcap:2 modbus mismatch ours={func=3, unit=1, trans_id=0, "
                      "exception=null} tshark={func=3, unit=1, trans_id=0, exception=2}",
                      p.stdout)
        self.assertIn("selftest.pcap:8 modbus mismatch ours={func=4,", p.stdout)
        self.assertIn("selftest.pcap:11 modbus only-tshark ours=- tshark={func=3, unit=1, "
                      "trans_id=5, exception=null}", p.stdout)
        self.assertIn("selftest.pcap:5 modbus only-ours ours={func=1, unit=1, trans_id=77",
                      p.stdout)
        self.assertIn("4 not in known differences", p.stdout)
        self.assertIn("corpus tshark: FAIL", p.stdout)

    @unittest.skipUnless(TSHARK, "tshark is not installed")
    def test_known_difference_passes_only_above_99_percent(self):
        records = [dict(r) for r in self.records]
        records[7]["func"] = 4
        label = os.path.relpath(self.capture, os.path.dirname(os.path.dirname(HERE)))
        with open(self.known, "w") as f:
            f.write(f"{label}\tmodbus\t8\tmismatch\tcrafted for the self-test\n"
                    f"nothing.pcap\tmodbus\t*\t*\tstale entry\n")
        p = self.run_corpus("tshark", records=records)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("[known: crafted for the self-test]", p.stdout)
        self.assertIn("no longer occur", p.stdout)
        # Three wrong PDUs out of 202 is below 99%, listed or not.
        records[9]["func"] = 4
        records[11]["func"] = 4
        with open(self.known, "w") as f:
            f.write(f"{label}\tmodbus\t*\tmismatch\tcrafted for the self-test\n")
        p = self.run_corpus("tshark", records=records)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("agreement 98.51% < 99%", p.stdout)

    @unittest.skipUnless(TSHARK, "tshark is not installed")
    def test_required_protocol_without_records_fails(self):
        p = self.run_corpus("tshark", records=[{"type": "stats"}])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("required but no records at all", p.stdout)

    @unittest.skipUnless(TSHARK, "tshark is not installed")
    def test_implemented_protocols_are_enforced_unless_report_only(self):
        # We claim DNP3 on Modbus's port 502: tshark keeps Modbus there (no decode-as), so
        # the DNP3 PDU is ours only and fails DNP3 once implemented protocols are enforced.
        records = self.records + [dict(rec(1, 1, None, None, proto="dnp3"), src_addr=1,
                                       dst_addr=2)]
        extra = ("--proto", "modbus,dnp3", "--enforce-implemented")
        p = self.run_corpus("tshark", records=records, extra=extra)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("selftest.pcap:1 dnp3 only-ours ours={func=1, src_addr=1, dst_addr=2}",
                      p.stdout)
        self.assertNotIn("-d tcp.port==502", p.stdout)
        self.assertIn("enforced: modbus, dnp3", p.stdout)
        p = self.run_corpus("tshark", records=records, extra=extra + ("--report-only", "dnp3"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("report only: FAIL", p.stdout)
        self.assertIn("enforced: modbus)", p.stdout)

    @unittest.skipUnless(TSHARK, "tshark is not installed")
    def test_non_default_port_is_decoded_as(self):
        self.records = modbus_capture(self.capture, pairs=3, port=5020)
        p = self.run_corpus("tshark")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("selftest.pcap: -d tcp.port==5020,mbtcp", p.stdout)
        self.assertRegex(p.stdout, r"modbus +1 +8 +8 +8 +100.00%")


if __name__ == "__main__":
    unittest.main(verbosity=2)
