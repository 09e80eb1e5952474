import Logging
import NIOCore
import NIOPosix
import STUN
import TURNServer

/// The runtime around the allocation engine: owns the engine, the listeners, the relay sockets
/// and client stream connections, carries out the engine's actions and keeps its one timer.
/// Confined to one event loop: every method runs on `eventLoop`.
final class RelayCore: @unchecked Sendable {
    let eventLoop: EventLoop
    var engine: TURNServerEngine
    let logger: Logger
    let socketBufferBytes: Int
    /// UDP listener channels by their local address.
    var listeners: [TransportAddress: Channel] = [:]
    var relayChannels: [TransportAddress: Channel] = [:]
    var connections: [FiveTuple: Channel] = [:]
    var dirty: [ObjectIdentifier: Channel] = [:]
    var peerAddressCache: [TransportAddress: SocketAddress] = [:]
    var timer: Scheduled<Void>?
    var timerDeadline: Timestamp?
    var receiveErrors: UInt64 = 0

    init(eventLoop: EventLoop, engine: TURNServerEngine, logger: Logger, socketBufferBytes: Int) {
        self.eventLoop = eventLoop
        self.engine = engine
        self.logger = logger
        self.socketBufferBytes = socketBufferBytes
    }

    // MARK: - Hot paths

    /// A UDP datagram from a client on `listener`.
    func clientDatagram(_ buffer: ByteBuffer, from remote: SocketAddress, listener: TransportAddress) {
        guard let client = TransportAddress(remote), let first = buffer.readableBytesView.first else { return }
        let tuple = FiveTuple(client: client, server: listener, transport: .udp)
        let now = wallClock()
        if ChannelData.isChannelData(first) {
            let route = buffer.withUnsafeReadableBytes { engine.routeChannelData($0, from: tuple, now: now) }
            if case .toPeer(let relay, let peer, let payload) = route,
               let slice = buffer.getSlice(at: buffer.readerIndex + payload.lowerBound, length: payload.count) {
                sendToPeer(slice, from: relay, to: peer)
            }
            return
        }
        execute(engine.handleClientDatagram(Array(buffer.readableBytesView), from: tuple, now: now))
    }

    /// A datagram from a peer on a relayed address.
    func peerDatagram(_ buffer: ByteBuffer, from remote: SocketAddress, relay: TransportAddress, allocator: ByteBufferAllocator) {
        guard let peer = TransportAddress(remote) else { return }
        let length = buffer.readableBytes
        switch engine.routePeerData(from: peer, to: relay, length: length, now: wallClock()) {
        case .dropped:
            return
        case .channel(let tuple, let number):
            let padded = tuple.transport != .udp
            var out = allocator.buffer(capacity: 4 + length + 3)
            out.writeInteger(number)
            out.writeInteger(UInt16(truncatingIfNeeded: length))
            var payload = buffer
            out.writeBuffer(&payload)
            if padded { out.writeRepeatingByte(0, count: (4 - length % 4) % 4) }
            sendToClient(out, tuple: tuple)
        case .indication(let tuple):
            let bytes = TURNServerEngine.dataIndication(peer: peer, data: Array(buffer.readableBytesView))
            sendToClient(allocator.buffer(bytes: bytes), tuple: tuple)
        }
    }

    /// A framed message from a TCP or TLS client.
    func streamMessage(_ bytes: [UInt8], tuple: FiveTuple) {
        execute(engine.handleClientDatagram(bytes, from: tuple, now: wallClock()))
    }

    func streamClosed(_ tuple: FiveTuple) {
        connections[tuple] = nil
        execute(engine.clientDisconnected(tuple, now: wallClock()))
    }

    // MARK: - Output

    /// NIO socket addresses are costly to build per packet; keep the ones in use.
    func socketAddress(_ address: TransportAddress) -> SocketAddress {
        if let cached = peerAddressCache[address] { return cached }
        if peerAddressCache.count > 65_536 { peerAddressCache.removeAll(keepingCapacity: true) }
        let made = address.socketAddress
        peerAddressCache[address] = made
        return made
    }

    func sendToPeer(_ buffer: ByteBuffer, from relay: TransportAddress, to peer: TransportAddress) {
        guard let channel = relayChannels[relay] else { return }
        channel.write(AddressedEnvelope(remoteAddress: socketAddress(peer), data: buffer), promise: nil)
        dirty[ObjectIdentifier(channel)] = channel
    }

    func sendToClient(_ buffer: ByteBuffer, tuple: FiveTuple) {
        switch tuple.transport {
        case .udp:
            guard let channel = listeners[tuple.server] else { return }
            channel.write(AddressedEnvelope(remoteAddress: socketAddress(tuple.client), data: buffer), promise: nil)
            dirty[ObjectIdentifier(channel)] = channel
        case .tcp, .tls:
            guard let channel = connections[tuple] else { return }
            channel.write(buffer, promise: nil)
            dirty[ObjectIdentifier(channel)] = channel
        }
    }

    /// Flushes every channel written to since the last flush (called at the end of a read batch).
    func flush() {
        guard !dirty.isEmpty else { return }
        for channel in dirty.values { channel.flush() }
        dirty.removeAll(keepingCapacity: true)
    }

    // MARK: - Actions

    func execute(_ actions: [TURNServerAction]) {
        for action in actions {
            switch action {
            case .sendToClient(let tuple, let bytes):
                guard let allocator = (listeners.first?.value ?? connections[tuple])?.allocator else { continue }
                sendToClient(allocator.buffer(bytes: bytes), tuple: tuple)
            case .sendToPeer(let relay, let peer, let bytes):
                guard let channel = relayChannels[relay] else { continue }
                sendToPeer(channel.allocator.buffer(bytes: bytes), from: relay, to: peer)
            case .openRelay(let relay):
                openRelay(relay)
            case .closeRelay(let relay):
                relayChannels.removeValue(forKey: relay)?.close(promise: nil)
            case .event(let event):
                log(event)
            }
        }
        flush()
        rearmTimer()
    }

    func openRelay(_ relay: TransportAddress) {
        let core = self
        let buffer = socketBufferBytes
        var bootstrap = DatagramBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayHandler(core: core, relay: relay))
                }
            }
            .channelOption(.maxMessagesPerRead, value: 16)
        if buffer > 0 {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(buffer / 4))
                .channelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(buffer / 4))
        }
        bootstrap.bind(to: relay.socketAddress).whenComplete { result in
            switch result {
            case .success(let channel):
                core.relayChannels[relay] = channel
                core.execute(core.engine.relayOpened(relay, now: wallClock()))
            case .failure(let error):
                core.logger.warning("relay socket bind failed", metadata: ["relay": "\(relay)", "error": "\(error)"])
                core.execute(core.engine.relayFailed(relay, now: wallClock()))
            }
        }
    }

    // MARK: - Timer

    func rearmTimer() {
        guard let deadline = engine.nextDeadline else { return }
        if let current = timerDeadline, current <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        let delay = max(0, deadline - wallClock())
        let core = self
        timer = eventLoop.scheduleTask(in: .milliseconds(Int64(delay * 1000) + 1)) {
            core.timerDeadline = nil
            core.timer = nil
            core.execute(core.engine.handleTimeout(now: wallClock()))
        }
    }

    // MARK: - Logs

    func log(_ event: TURNServerEvent) {
        switch event {
        case .allocationCreated(let tuple, let username, let relays, let lifetime):
            logger.info("allocation created", metadata: ["client": "\(tuple)", "user": "\(username)",
                                                         "relays": "\(relays)", "lifetime": "\(lifetime)"])
        case .allocationDeleted(let tuple, let reason):
            logger.info("allocation deleted", metadata: ["client": "\(tuple)", "reason": "\(reason.rawValue)"])
        case .authenticationFailed(let tuple, let username, let reason):
            logger.notice("authentication failed", metadata: ["client": "\(tuple)", "user": "\(username ?? "-")",
                                                              "reason": "\(reason.rawValue)"])
        case .peerDenied(let tuple, let peer):
            logger.notice("peer denied", metadata: ["client": "\(tuple)", "peer": "\(peer)"])
        case .malformed(let tuple, let error):
            logger.debug("malformed message", metadata: ["client": "\(tuple)", "error": "\(error)"])
        case .requestRejected(let tuple, let method, let code):
            logger.debug("request rejected", metadata: ["client": "\(tuple)", "method": "\(method)", "code": "\(code)"])
        case .allocationRefreshed, .permissionCreated, .channelBound:
            logger.trace("\(event)")
        }
    }
}
