#!/usr/bin/python3
"""A stand-in for `otsensor replay` used only by test_compare.py.

What it is for: letting the self-test drive corpus.py end to end (crash checks and the tshark
differential) with outcomes it chooses. FAKE_OTSENSOR_MODE selects the behaviour:
  records   print the file named by FAKE_OTSENSOR_RECORDS (JSON Lines) and exit 0
  segv      die by SIGSEGV
  asan      print an AddressSanitizer report on stderr, exit 0 (the report alone must fail)
  hang      sleep far beyond any time limit
  exit1     print a runtime error and exit 1 (allowed)
  exit3     exit 3 (not allowed)
  garbage   print a line that is not JSON
It must never be used in place of the real sensor outside the self-test.
"""

import os
import signal
import sys
import time


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[1] != "replay" or sys.argv[2] != "--emit":
        print("usage: fake_otsensor.py replay --emit LIST FILE", file=sys.stderr)
        return 2
    mode = os.environ.get("FAKE_OTSENSOR_MODE", "records")
    if mode == "records":
        with open(os.environ["FAKE_OTSENSOR_RECORDS"], encoding="utf-8") as f:
            sys.stdout.write(f.read())
        return 0
    if mode == "segv":
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGSEGV)
        return 0
    if mode == "asan":
        print("=================================================================\n"
              "==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020000000f1\n"
              "SUMMARY: AddressSanitizer: heap-buffer-overflow dissectors/modbus.c:42",
              file=sys.stderr)
        return 0
    if mode == "hang":
        time.sleep(3600)
        return 0
    if mode == "exit1":
        print(f"otsensor: {sys.argv[-1]}: truncated dump file", file=sys.stderr)
        return 1
    if mode == "exit3":
        return 3
    if mode == "garbage":
        print("this is not JSON")
        return 0
    print(f"fake_otsensor.py: unknown FAKE_OTSENSOR_MODE {mode!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
