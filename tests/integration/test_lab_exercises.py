#!/usr/bin/env python3
"""Every `--set` exercise a lab's README suggests runs, and tells the truth.

    usage: test_lab_exercises.py MINIKAFKA LABS_DIR LAB        the exercises of one lab
           test_lab_exercises.py MINIKAFKA LABS_DIR --covers LAB...
                                   every lab `minikafka lab` lists is among LAB... (so a new
                                   lab cannot slip past tests/integration/meson.build's list)
           test_lab_exercises.py --list LABS_DIR LAB          print the commands only

The commands come from the README's "## Exercises" section: each `code span` holding
`--set` is one command (a leading `minikafka lab NAME` is dropped). A span whose sentence
begins "Then add", or that follows "add" in the same item, extends the item's previous
command rather than replacing it ("Then add `--set retries=0`"). Each command runs as
`minikafka lab NAME SETTINGS...` under a timeout, and must:
  - exit 0 (the lab ran to its end; a setting Kafka refuses is the lab's to explain);
  - print no ✗ the lab did not predict: a claim that fails must say "as predicted:" in its
    own lines (the lab foresaw, from the settings in force, that it would not hold);
  - fit 100 columns, every line of stdout and stderr, and never say MK_ERR (an internal
    code a student has no use for).
A run whose only problem is an unpredicted cross runs once more and must then be clean: the
claims that measure time (records per request, latencies) can miss on a machine busy with
the rest of the suite.
Prints one line per command; exits 1 if any failed.
"""
import os
import re
import subprocess
import sys
import time

WIDTH = 100
TIMEOUT_S = int(os.environ.get("MK_EXERCISE_TIMEOUT", "300"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def exercises(readme_path, lab):
    """The settings (a list of lists of "key=value") of every --set command in the
    Exercises section of readme_path."""
    text = open(readme_path, encoding="utf-8").read()
    m = re.search(r"^## Exercises\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        return None
    items = re.split(r"^\d+\.\s", m.group(1), flags=re.M)
    commands = []
    for item in items:
        item = " ".join(item.split())
        previous = None
        for span in re.finditer(r"`([^`]*)`", item):
            code = span.group(1)
            if "--set" not in code:
                continue
            words = code.split()
            if words[:2] == ["minikafka", "lab"]:
                if len(words) < 3 or words[2] != lab:
                    raise ValueError(f"{readme_path}: `{code}` runs another lab")
                words = words[3:]
            settings = []
            while words:
                if words[0] != "--set" or len(words) < 2:
                    raise ValueError(f"{readme_path}: cannot read `{code}`")
                settings.append(words[1])
                words = words[2:]
            before = item[: span.start()]
            sentence = re.split(r"[.:?!]\s", before)[-1].lower()
            if previous is not None and re.search(r"\badd\b", sentence):
                settings = previous + settings
            commands.append(settings)
            previous = settings
    return commands


def check_output(text):
    """Problems with one run's output (stdout and stderr together)."""
    problems, wide = [], []
    lines = ANSI.sub("", text).split("\n")
    for i, line in enumerate(lines):
        if len(line) > WIDTH:
            wide.append(f"line {i + 1} is {len(line)} columns: {line[:70]}...")
        if "MK_ERR" in line:
            problems.append(f"line {i + 1} shows an internal error code: {line.strip()[:80]}")
        if "✗" in line:
            # The claim's block: this line and the more indented ones after it.
            indent = len(line) - len(line.lstrip())
            block = [line]
            for more in lines[i + 1:]:
                if not more.strip() or len(more) - len(more.lstrip()) <= indent:
                    break
                block.append(more)
            if "as predicted:" not in " ".join(block):
                problems.append(f"unpredicted ✗: {' '.join(s.strip() for s in block)[:160]}")
    if len(wide) > 3:
        wide = wide[:3] + [f"... and {len(wide) - 3} more lines wider than {WIDTH} columns"]
    return problems + wide


def run_lab(mk, lab, settings):
    args = [mk, "lab", lab]
    for s in settings:
        args += ["--set", s]
    env = dict(os.environ, NO_COLOR="1")
    start = time.monotonic()
    try:
        p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, env=env,
                           timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [f"still running after {TIMEOUT_S} s"], time.monotonic() - start, ""
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    problems = [] if p.returncode == 0 else [f"exit {p.returncode}: {out.strip()[-300:]}"]
    if re.search(r"runtime error|Sanitizer", out):
        problems.append("sanitizer report")
    return problems + check_output(out), time.monotonic() - start, out


def main(argv):
    if len(argv) == 4 and argv[1] == "--list":
        for settings in exercises(os.path.join(argv[2], argv[3], "README.md"), argv[3]) or []:
            print(" ".join(f"--set {s}" for s in settings))
        return 0
    if len(argv) >= 4 and argv[3] == "--covers":
        listed = subprocess.run([argv[1], "lab"], capture_output=True, text=True, check=True)
        names = [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]
        missing = [n for n in names if n not in argv[4:]]
        for n in names:
            print(("FAIL " if n in missing else "ok   ") + n)
        if missing:
            print(f"labs with no exercise test in tests/integration/meson.build: {', '.join(missing)}")
        return 1 if missing else 0
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    mk, labs_dir, lab = argv[1:]
    commands = exercises(os.path.join(labs_dir, lab, "README.md"), lab)
    if not commands:
        print(f"FAIL labs/{lab}/README.md has no --set command in an Exercises section")
        return 1
    failures = 0
    for settings in commands:
        name = "minikafka lab " + lab + "".join(f" --set {s}" for s in settings)
        problems, secs, out = run_lab(mk, lab, settings)
        note = ""
        if problems and all(p.startswith("unpredicted") for p in problems):
            # A claim measured in time (requests filled, latencies) can miss on a machine
            # busy with other tests (the suite runs them side by side, under ASan too): one
            # more run, which must then be clean. Exit codes and widths get no second chance.
            problems, secs, out = run_lab(mk, lab, settings)
            note = ", passed on a second run" if not problems else ""
        if problems:
            failures += 1
            print(f"FAIL {name} ({secs:.1f} s)")
            for p in problems[:12]:
                print(f"       {p}")
            if os.environ.get("MK_EXERCISE_VERBOSE") == "1":
                print(out)
        else:
            print(f"ok   {name} ({secs:.1f} s{note})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
