#!/usr/bin/env python3
"""The CLI under Ctrl-C and typos, as a person uses it at night.

    usage: test_cli_interrupt.py MINIKAFKA

1. Ctrl-C in an interactive `minikafka produce` (on a pseudo-terminal, as a person types):
   the line typed before Ctrl-C is delivered, and the process exits within a second, with
   128+SIGINT; and within a second too when the line's send() is still waiting for the
   topic's metadata (nothing listening at the bootstrap address).
2. SIGTERM while `produce` and `perf` wait for a topic's metadata (nothing listens at the
   bootstrap address; max.block.ms is 60 s): each exits within a second; meanwhile each
   logged a warning per failed connection attempt naming node -1 and the address tried.
3. `minikafka lab dupliates` suggests duplicates; `--set records=-5` names that one setting
   and its limits, and nothing runs.
Every process runs under a timeout. Prints one line per check; exits 1 if any failed.
"""
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time

MK = sys.argv[1] if len(sys.argv) > 1 else "build/minikafka"
failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    if not ok:
        failures += 1


def start_broker():
    p = subprocess.Popen([MK, "broker", "--port", "0", "--admin-port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        m = re.search(r"bootstrap\.servers=(\S+)", line)
        if m:
            return p, m.group(1)
    p.kill()
    raise RuntimeError("the broker did not start")


def closed_port():
    """A loopback port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_until(fd, pattern, timeout):
    """Read the pty until pattern appears in what was read; returns the text."""
    text = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pattern not in text:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            text += chunk
    return text


def wait_exit(pid, timeout):
    """(exit status or None, seconds waited)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return (128 - code if code < 0 else code), time.monotonic() - start
        time.sleep(0.01)
    return None, time.monotonic() - start


def ctrl_c_in_produce(bootstrap):
    topic = "ctrl-c"
    line = "typed-before-ctrl-c"
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(MK, [MK, "produce", "--bootstrap-server", bootstrap, "--topic", topic])
    status = None
    try:
        prompt = read_until(fd, b">", 10)
        check("produce shows its prompt on a terminal", b">" in prompt, prompt[-200:])
        os.write(fd, line.encode() + b"\r")
        echoed = read_until(fd, line.encode() + b"\r\n>", 10)  # read, sent, prompting again
        check("produce reads the line and prompts again", echoed.endswith(b">"), echoed[-200:])
        time.sleep(0.2)
        os.write(fd, b"\x03")  # Ctrl-C: the terminal sends SIGINT to produce
        status, secs = wait_exit(pid, 10)
        check("Ctrl-C ends produce within a second", status is not None and secs <= 1.0,
              f"exit status {status} after {secs:.2f} s")
        check("produce exits with 128+SIGINT", status == 128 + signal.SIGINT, f"status {status}")
    finally:
        if status is None:  # not reaped: still running, or the test failed before
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    got = subprocess.run([MK, "consume", "--bootstrap-server", bootstrap, "--topic", topic,
                          "--from-beginning", "--max-messages", "1", "--timeout-ms", "5000"],
                         capture_output=True, text=True, timeout=30)
    check("the line typed before Ctrl-C was delivered", line in got.stdout,
          f"consume printed {got.stdout!r} {got.stderr[-200:]!r}")


def ctrl_c_while_produce_waits_for_metadata():
    """Interactive again, but nothing listens at the bootstrap address: the typed line's
    send() waits for the topic's metadata (max.block.ms, 60 s), and Ctrl-C must end it."""
    port = closed_port()
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(MK, [MK, "produce", "--bootstrap-server", f"127.0.0.1:{port}", "--topic", "t"])
    status = None
    try:
        read_until(fd, b">", 10)
        os.write(fd, b"waits-for-metadata\r")
        time.sleep(1.0)  # send() is now blocked, waiting for metadata
        os.write(fd, b"\x03")
        status, secs = wait_exit(pid, 10)
        check("Ctrl-C ends produce while its send() waits for metadata, within a second",
              status is not None and secs <= 1.0, f"exit status {status} after {secs:.2f} s")
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def sigterm_while_waiting_for_metadata(tool):
    port = closed_port()
    if tool == "produce":
        args = [MK, "produce", "--bootstrap-server", f"127.0.0.1:{port}", "--topic", "t"]
    else:
        args = [MK, "perf", "--topic", "t", "--num-records", "10", "--record-size", "10",
                "--throughput", "-1", "--producer-props", f"bootstrap.servers=127.0.0.1:{port}"]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        if tool == "produce":
            p.stdin.write("one line\n")
            p.stdin.flush()  # stdin stays open: the tool is not at end of input
        time.sleep(1.5)  # a few connection attempts (reconnect.backoff.ms 50 ms, doubling)
        start = time.monotonic()
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        secs = time.monotonic() - start
        check(f"SIGTERM ends {tool} while it waits for metadata, within a second",
              p.returncode is not None and secs <= 1.0,
              f"exit status {p.returncode} after {secs:.2f} s")
        check(f"{tool} exits with 128+SIGTERM", p.returncode == 128 + signal.SIGTERM,
              f"status {p.returncode}")
    finally:
        if p.returncode is None:
            p.kill()
            p.wait()
    err = p.stderr.read()
    warns = [l for l in err.splitlines() if "WARN" in l and "node -1" in l]
    check(f"{tool} warns about each failed connection, naming the node and the address",
          len(warns) >= 2 and f"127.0.0.1:{port}" in warns[0] and "connect" in warns[0],
          err[-400:])


def typos():
    r = subprocess.run([MK, "lab", "dupliates"], capture_output=True, text=True, timeout=30)
    check("`lab dupliates` suggests duplicates",
          r.returncode == 2 and "did you mean duplicates?" in r.stderr, r.stderr[-300:])
    r = subprocess.run([MK, "lab", "duplicates", "--set", "records=-5"], capture_output=True,
                       text=True, timeout=30)
    check("`--set records=-5` names records and its limits, and nothing runs",
          r.returncode == 2 and "records must be" in r.stderr and "1 to 10000" in r.stderr
          and "drops" not in r.stderr and r.stdout == "", r.stderr[-300:] + r.stdout[-300:])


def main():
    broker, bootstrap = start_broker()
    try:
        ctrl_c_in_produce(bootstrap)
    finally:
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()
    ctrl_c_while_produce_waits_for_metadata()
    sigterm_while_waiting_for_metadata("produce")
    sigterm_while_waiting_for_metadata("perf")
    typos()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
