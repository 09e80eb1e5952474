/// The long description `--help` and the man page (Samples/jingle-relay/jingle-relay.1, made by
/// Tools/relay-manpage with swift-argument-parser's generate-manual) show.
extension JingleRelay {
    static let manualDiscussion = """
        Settings come from --config FILE (key = value lines, every key documented in \
        Samples/jingle-relay/jingle-relay.conf) and are overridden by the options below.

        Signals: SIGHUP re-reads users, secrets and the TLS certificate; SIGTERM or SIGINT \
        drains (new allocations get 508, existing ones run until they end or drain-timeout); \
        a second SIGTERM or SIGINT exits at once.

        Metrics endpoint (--metrics HOST:PORT): GET or HEAD /metrics in the Prometheus text \
        format (TURN counters, process_* metrics, jingle_relay_build_info) and /health \
        (200 while serving, 503 while draining).

        systemd: with $NOTIFY_SOCKET set the relay sends READY=1 once listening, WATCHDOG=1 \
        every WATCHDOG_USEC/2 and STOPPING=1 when it starts draining \
        (Samples/jingle-relay/jingle-relay.service).
        """
}
