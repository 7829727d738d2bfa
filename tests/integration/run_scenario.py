#!/usr/bin/env python3
"""Run every command of one fault scenario's comment (labs/scenarios/NAME.jsonl), as an
instructor would type them, and check what the comment says each one shows.

    run_scenario.py MINIKAFKA SCENARIO_FILE REPO_ROOT

The comment's command lines look like this (labs/INSTRUCTOR.md explains them to people):

    #   $ COMMAND                      run it; it must succeed
    #   $ COMMAND   # => `TEXT`        ... and print TEXT (stdout or stderr)
    #   $ COMMAND   # !> `TEXT`        run it; it must fail, printing TEXT
    #   $ NAME="..."                   a shell variable the commands after it use

TEXT matches inside a line, but not inside a longer word or number ("1" does not match "11").
A `$ minikafka broker ...` line starts the broker in the background (the one running is
stopped first) and waits for it. The variables of labs/INSTRUCTOR.md are set: PORT (a free
base port, chosen here), BS (bootstrap.servers: all three brokers) and ADMIN (the admin
API's URL, port PORT + 552); `minikafka` is MINIKAFKA. Commands run from REPO_ROOT, each
under a timeout, one after the other in their own bash.

Prints one "ok"/"FAIL" line per command; exits 1 if any failed, 2 if the file has no commands.
"""
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

COMMAND_TIMEOUT = 90


def commands(path):
    out = []
    for number, line in enumerate(open(path, encoding='utf-8'), 1):
        m = re.match(r'^#\s+\$ (.*)$', line.rstrip('\n'))
        if not m:
            continue
        text = m.group(1)
        expect, want = 'ok', None
        marker = re.search(r'\s# (=>|!>) `([^`]*)`', text)
        if marker:
            expect = 'ok' if marker.group(1) == '=>' else 'fails'
            want = marker.group(2)
            text = text[:marker.start()]
        out.append((number, text.strip(), expect, want))
    return out


def shows(output, want):
    pattern = re.escape(want)
    if want[:1].isalnum():
        pattern = r'(?<![A-Za-z0-9])' + pattern
    if want[-1:].isalnum():
        pattern += r'(?![A-Za-z0-9])'
    return re.search(pattern, output) is not None


def free_base():
    """A base port with PORT..PORT+2 and PORT+552 free (a few tries)."""
    for _ in range(50):
        base = random.randrange(20000, 40000)
        ok = True
        for p in (base, base + 1, base + 2, base + 552):
            s = socket.socket()
            try:
                s.bind(('127.0.0.1', p))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return base
    raise SystemExit('FAIL no free ports')


def main():
    minikafka, scenario, root = sys.argv[1:4]
    name = os.path.basename(scenario)[:-len('.jsonl')]
    cmds = commands(scenario)
    if not cmds:
        print(f'FAIL {name}: no "$ " command lines in its comment')
        return 2
    tmp = tempfile.mkdtemp(prefix='scenario-')
    os.symlink(os.path.abspath(minikafka), os.path.join(tmp, 'minikafka'))
    port = free_base()
    env = dict(os.environ, PATH=tmp + os.pathsep + os.environ['PATH'], PORT=str(port),
               BS=f'127.0.0.1:{port},127.0.0.1:{port + 1},127.0.0.1:{port + 2}',
               ADMIN=f'http://127.0.0.1:{port + 552}', NO_COLOR='1')
    failures = 0
    broker = None
    variables = []
    try:
        for number, text, expect, want in cmds:
            where = f'{name}:{number}: {text[:110]}'
            if re.match(r'^[A-Z_][A-Z0-9_]*=', text):
                variables.append(text)
                print(f'ok   {where}')
                continue
            command = text
            if text.startswith('minikafka broker') and '--schema-registry-port' not in text:
                # Scenario files run side by side here, and each broker would take the schema
                # registry's default port 8081: let each have a free one instead.
                command = text + ' --schema-registry-port 0'
            script = 'set -o pipefail\n' + '\n'.join(variables + [command]) + '\n'
            if text.startswith('minikafka broker'):
                if broker:
                    os.killpg(broker.pid, signal.SIGTERM)
                    broker.wait(10)
                log = open(os.path.join(tmp, f'broker-{number}.log'), 'w')
                broker = subprocess.Popen(['bash', '-c', script], cwd=root, env=env,
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
                up = False
                for _ in range(100):
                    try:
                        urllib.request.urlopen(env['ADMIN'] + '/v1/cluster', timeout=1).read()
                        up = True
                        break
                    except OSError:
                        if broker.poll() is not None:
                            break
                        time.sleep(0.1)
                if up:
                    print(f'ok   {where}')
                else:
                    failures += 1
                    log.flush()
                    print(f'FAIL {where}: the broker did not start: '
                          + open(log.name).read()[-600:])
                continue
            started = time.time()
            try:
                run = subprocess.run(['bash', '-c', script], cwd=root, env=env,
                                     stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                     timeout=COMMAND_TIMEOUT)
                code, output = run.returncode, run.stdout + run.stderr
            except subprocess.TimeoutExpired as e:
                code = 'timeout'
                output = (e.stdout or b'').decode(errors='replace') + (e.stderr or b'').decode(errors='replace')
            took = time.time() - started
            good = (code == 0) if expect == 'ok' else (code not in (0, 'timeout'))
            if good and want is not None:
                good = shows(output, want)
            if 'runtime error' in output or 'Sanitizer' in output:
                good = False
            if good:
                print(f'ok   {where} ({took:.1f} s)')
            else:
                failures += 1
                print(f'FAIL {where}: expected it to {"fail" if expect == "fails" else "succeed"}'
                      f'{" and show `" + want + "`" if want is not None else ""}; exit {code}'
                      f' after {took:.1f} s, output: {output[-800:]!r}')
    finally:
        if broker:
            os.killpg(broker.pid, signal.SIGTERM)
            try:
                broker.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(broker.pid, signal.SIGKILL)
            logs = ''.join(open(os.path.join(tmp, f)).read() for f in os.listdir(tmp) if f.endswith('.log'))
            if 'runtime error' in logs or 'Sanitizer' in logs:
                failures += 1
                print(f'FAIL {name}: a sanitizer report in the broker\'s log')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
