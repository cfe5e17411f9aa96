#!/usr/bin/python3
"""python3-libtorrent as the reference client in the benchmarks, on 127.0.0.1 only.

  lt_bench.py create   <file> <out.torrent> [--piece-length N] [--url-seed URL]
  lt_bench.py seed     <torrent> <dir> [--port N]
  lt_bench.py download <torrent> <dir> [--peer HOST:PORT]... [--web-seeds]

create: a v1-only, trackerless single-file torrent of <file> (hashing every piece), optionally with a BEP 19
  url-list entry. Prints the info-hash.
seed: checks the data in <dir>, prints "LISTEN <port>" and then "SEEDING" once it can serve, and serves
  until SIGTERM/SIGINT or until stdin closes (so it dies with the benchmark that started it).
download: fetches into <dir> from the given peers (and the torrent's web seeds with --web-seeds), exits 0 as
  soon as every piece is downloaded and hash-checked (torrent_finished), 1 on a fatal error.

Unlike test/support/lt_peer.py (an interop test peer that prints every event and keeps running), this
waits on libtorrent's alert queue instead of polling, so its own overhead stays out of the measurements.
"""
import argparse
import os
import signal
import sys
import threading

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'support'))
from lt_session import loopback_settings  # noqa: E402


def say(*words):
    print(*words, flush=True)


def parse_args():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='mode', required=True)
    create = sub.add_parser('create')
    create.add_argument('file')
    create.add_argument('out')
    create.add_argument('--piece-length', type=int, default=0, help="0: libtorrent's default for the size")
    create.add_argument('--url-seed', action='append', default=[])
    seed = sub.add_parser('seed')
    seed.add_argument('torrent')
    seed.add_argument('dir')
    seed.add_argument('--port', type=int, default=0)
    download = sub.add_parser('download')
    download.add_argument('torrent')
    download.add_argument('dir')
    download.add_argument('--peer', action='append', default=[], help='HOST:PORT to connect to (repeatable)')
    download.add_argument('--web-seeds', action='store_true', help="use the torrent's url-list")
    return p.parse_args()


def create(args):
    storage = lt.file_storage()
    lt.add_files(storage, os.path.abspath(args.file))
    # v1 only: the clients under comparison speak BitTorrent v1 (BEP 3), not v2 (BEP 52).
    torrent = lt.create_torrent(storage, args.piece_length, flags=lt.create_torrent.v1_only)
    for url in args.url_seed:
        torrent.add_url_seed(url)
    torrent.set_creator('torrent.ts bench')
    lt.set_piece_hashes(torrent, os.path.dirname(os.path.abspath(args.file)))
    data = lt.bencode(torrent.generate())
    with open(args.out, 'wb') as out:
        out.write(data)
    say(lt.torrent_info(args.out).info_hash())
    return 0


def make_session(port):
    settings = loopback_settings(port)
    settings.update({
        # Large send buffers so one fast loopback peer is never starved by libtorrent's own queueing.
        'send_buffer_watermark': 16 * 1024 * 1024,
        'send_buffer_low_watermark': 4 * 1024 * 1024,
        'send_buffer_watermark_factor': 200,
        'alert_mask': int(lt.alert_category.error | lt.alert_category.status | lt.alert_category.storage),
        'user_agent': 'torrent.ts bench (libtorrent)',
    })
    return lt.session(settings)


def add_torrent(ses, torrent_path, save_dir, web_seeds):
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent_path)
    params.save_path = os.path.abspath(save_dir)
    params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    params.flags |= lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex
    params.trackers = []
    if not web_seeds:
        params.url_seeds = []
        params.flags |= lt.torrent_flags.override_web_seeds
    return ses.add_torrent(params)


def stop_on_signal_or_stdin_eof():
    """An Event set on SIGTERM/SIGINT or when stdin closes."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def watch_stdin():
        while sys.stdin.buffer.read1(4096):
            pass
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    return stop


def seed(args):
    stop = stop_on_signal_or_stdin_eof()
    ses = make_session(args.port)
    handle = add_torrent(ses, args.torrent, args.dir, web_seeds=False)
    listening = seeding = False
    while not stop.is_set():
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, lt.listen_succeeded_alert) and a.socket_type == lt.socket_type_t.tcp and not listening:
                listening = True
                say('LISTEN', a.port)
            elif isinstance(a, lt.listen_failed_alert):
                say('ERROR', 'listen failed:', a.message())
                return 1
            elif a.category() & lt.alert_category.error:
                say('ERROR', a.message())
        if listening and not seeding:
            status = handle.status()
            if status.is_seeding:
                seeding = True
                say('SEEDING')
            elif status.state == lt.torrent_status.downloading:
                say('ERROR', 'seed data in %s is incomplete (%.3f)' % (args.dir, status.progress))
                return 1
    return 0


def parse_peer(text):
    host, _, port = text.rpartition(':')
    return host, int(port)


def download(args):
    ses = make_session(0)
    handle = add_torrent(ses, args.torrent, args.dir, web_seeds=args.web_seeds)
    peers_added = False
    while True:
        ses.wait_for_alert(500)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_finished_alert):
                return 0
            if isinstance(a, (lt.listen_failed_alert, lt.file_error_alert, lt.torrent_error_alert)):
                say('ERROR', a.message())
                return 1
        # Peers added while libtorrent still checks the (empty) download dir would be dropped.
        if not peers_added and handle.status().state != lt.torrent_status.checking_files:
            peers_added = True
            for peer in args.peer:
                handle.connect_peer(parse_peer(peer))


def main():
    args = parse_args()
    return {'create': create, 'seed': seed, 'download': download}[args.mode](args)


if __name__ == '__main__':
    sys.exit(main())
