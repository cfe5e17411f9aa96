"""libtorrent session settings for a peer on loopback only, shared by the interop tests and the benchmarks."""
import libtorrent as lt


def loopback_settings(port):
    return {
        'listen_interfaces': '127.0.0.1:%d' % port,
        'outgoing_interfaces': '127.0.0.1',
        'listen_system_port_fallback': False,
        'enable_dht': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        # torrent.ts speaks plain TCP: no uTP, no encryption handshake to fall back from.
        'enable_outgoing_utp': False,
        'enable_incoming_utp': False,
        'out_enc_policy': int(lt.enc_policy.disabled),
        'in_enc_policy': int(lt.enc_policy.enabled),
        'allow_multiple_connections_per_ip': True,
        'upload_rate_limit': 0,
        'download_rate_limit': 0,
    }
