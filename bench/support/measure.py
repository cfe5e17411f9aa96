#!/usr/bin/python3
"""Runs one command and reports what it cost, measured the same way for every client under benchmark.

  measure.py <result.json> <timeout-seconds> <command> [args...]

The command runs in its own process group with this process's stdio. When it exits (or is killed at the
timeout) <result.json> gets one object:
  {"wall_s": ..., "cpu_s": ..., "max_rss_kib": ..., "exit_code": ..., "signal": ..., "timed_out": ...}
wall_s is from spawn to exit; cpu_s is ru_utime + ru_stime and max_rss_kib is ru_maxrss, both from
os.wait4() on the command (Linux counts its threads, and any children it waited for).

If the benchmark that started us dies, the kernel sends us SIGTERM (PR_SET_PDEATHSIG) and we kill the
command's process group; if we are SIGKILLed, the kernel SIGKILLs the command. So no downloader outlives a
crashed benchmark.
"""
import ctypes
import json
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1


def die_with_parent(signal_number):
    """Ask the kernel to send this process `signal_number` when its parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal_number)


def main():
    result_path, timeout_s, command = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    die_with_parent(signal.SIGTERM)
    start = time.monotonic()
    # Should this wrapper be SIGKILLed, the command dies with it too.
    child = subprocess.Popen(command, start_new_session=True,
                             preexec_fn=lambda: die_with_parent(signal.SIGKILL))

    timed_out = []

    def kill_group(*_):
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def on_term(*_):
        kill_group()
        sys.exit(143)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGALRM, lambda *_: (timed_out.append(True), kill_group()))
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    while True:
        try:
            _, status, usage = os.wait4(child.pid, 0)
            break
        except InterruptedError:
            continue
    wall_s = time.monotonic() - start
    signal.setitimer(signal.ITIMER_REAL, 0)
    kill_group()  # anything the command left behind in its group
    result = {
        'wall_s': wall_s,
        'cpu_s': usage.ru_utime + usage.ru_stime,
        'max_rss_kib': usage.ru_maxrss,
        'exit_code': os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        'signal': os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        'timed_out': bool(timed_out),
    }
    with open(result_path, 'w') as out:
        json.dump(result, out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
