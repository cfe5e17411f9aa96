#!/usr/bin/python3
"""A scriptable python3-libtorrent peer for interop tests, on loopback only.

  lt_peer.py seed     <torrent> <dir> [--port N] [--peer HOST:PORT]... [--tracker] [--web-seeds]
  lt_peer.py download <torrent> <dir> [--port N] [--peer HOST:PORT]... [--tracker] [--web-seeds]

seed: checks the data in <dir> and serves it. download: fetches into <dir> and keeps seeding afterwards.
Trackers and web seeds in the torrent are ignored unless --tracker / --web-seeds are given, so a test only
talks to the peers it names. Runs until killed (SIGTERM/SIGINT) or stdin closes.

Machine-readable lines on stdout, one event each:
  LISTEN <port>        listening on 127.0.0.1:<port> (TCP)
  SEEDING              seed mode: the data checked complete, ready to serve
  PROGRESS <fraction>  download progress changed (0..1)
  FINISHED             download mode: every piece downloaded and hash-checked
  PEER <ip:port>       a peer connection was established
  ERROR <message>      an error alert (the process keeps running unless it cannot continue)
"""
import argparse
import os
import select
import signal
import sys

import libtorrent as lt
from lt_session import loopback_settings


def say(*words):
    print(*words, flush=True)


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument('mode', choices=['seed', 'download'])
    p.add_argument('torrent')
    p.add_argument('dir')
    p.add_argument('--port', type=int, default=0, help='listen port, 0 for an ephemeral one')
    p.add_argument('--peer', action='append', default=[], help='HOST:PORT to connect to (repeatable)')
    p.add_argument('--tracker', action='store_true', help="announce to the torrent's trackers")
    p.add_argument('--web-seeds', action='store_true', help="use the torrent's web seeds")
    return p.parse_args()


def make_session(port):
    settings = loopback_settings(port)
    settings.update({
        'min_reconnect_time': 1,
        'alert_mask': int(lt.alert_category.error | lt.alert_category.status | lt.alert_category.connect
                          | lt.alert_category.storage | lt.alert_category.tracker),
        'user_agent': 'lt_peer.py (torrent.ts interop test)',
    })
    return lt.session(settings)


def parse_peer(text):
    host, _, port = text.rpartition(':')
    return host, int(port)


def main():
    args = parse_args()
    ses = make_session(args.port)
    info = lt.torrent_info(args.torrent)
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = os.path.abspath(args.dir)
    # Not auto-managed and not paused: the torrent runs at once, no queueing.
    params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    params.flags |= lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex
    if not args.tracker:
        params.trackers = []
        params.flags |= lt.torrent_flags.override_trackers
    if not args.web_seeds:
        params.url_seeds = []
        params.flags |= lt.torrent_flags.override_web_seeds
    handle = ses.add_torrent(params)
    if not args.tracker:
        handle.replace_trackers([])

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))

    listening = False
    ready_said = False
    peers_added = False
    last_progress = None
    while not stop:
        for a in ses.pop_alerts():
            if isinstance(a, lt.listen_succeeded_alert):
                if a.socket_type == lt.socket_type_t.tcp and not listening:
                    listening = True
                    say('LISTEN', a.port)
            elif isinstance(a, lt.listen_failed_alert):
                say('ERROR', 'listen failed:', a.message())
                return 1
            elif isinstance(a, lt.peer_connect_alert):
                say('PEER', '%s:%d' % (a.endpoint[0], a.endpoint[1]))
            elif isinstance(a, lt.torrent_finished_alert) and args.mode == 'download':
                say('FINISHED')
            elif a.category() & lt.alert_category.error:
                say('ERROR', a.message())
        status = handle.status()
        if args.mode == 'seed' and not ready_said and status.is_seeding:
            ready_said = True
            say('SEEDING')
        if args.mode == 'download' and status.progress != last_progress:
            last_progress = status.progress
            say('PROGRESS', '%.6f' % status.progress)
        if args.mode == 'seed' and not ready_said and status.state == lt.torrent_status.downloading:
            say('ERROR', 'seed data in %s is incomplete (%.3f)' % (args.dir, status.progress))
            return 1
        if listening and not peers_added and status.state not in (lt.torrent_status.checking_files,
                                                                  lt.torrent_status.checking_resume_data):
            peers_added = True
            for peer in args.peer:
                handle.connect_peer(parse_peer(peer))
        readable, _, _ = select.select([sys.stdin], [], [], 0.05)
        if readable and not sys.stdin.buffer.read1(4096):
            break  # stdin closed: the test runner went away
    return 0


if __name__ == '__main__':
    sys.exit(main())
