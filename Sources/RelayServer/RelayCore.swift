import Logging
import NIOCore
import NIOPosix
import STUN
import TURNServer

/// A UDP socket the relay writes to directly and the NIO channel that reads it.
struct UDPEndpoint {
    let channel: Channel
    let socket: DirectUDPSocket
}

/// The runtime around the allocation engine: owns the engine, the listeners, the relay sockets
/// and client stream connections, carries out the engine's actions and keeps its one timer.
/// Confined to one event loop: every method runs on `eventLoop`.
///
/// Hot paths write UDP datagrams straight to the sockets (`DirectUDPSocket`): client to peer
/// with one `sendto` from the received buffer, peer to client staged per listener and sent with
/// one `sendmmsg` at the end of the event-loop tick, across every relay socket that was read in
/// that tick.
final class RelayCore: @unchecked Sendable {
    let eventLoop: EventLoop
    var engine: TURNServerEngine
    let logger: Logger
    let socketBufferBytes: Int
    /// UDP listeners by their bound address, and the same in a short array for the hot path.
    var listeners: [TransportAddress: UDPEndpoint] = [:]
    var listenerList: [DirectUDPSocket] = []
    var relays: [TransportAddress: UDPEndpoint] = [:]
    var connections: [FiveTuple: Channel] = [:]
    var dirty: [ObjectIdentifier: Channel] = [:]
    var pendingSockets: [DirectUDPSocket] = []
    var flushScheduled = false
    var timer: Scheduled<Void>?
    var timerDeadline: Timestamp?
    var receiveErrors: UInt64 = 0
    /// Send errors of relay sockets already closed (live sockets keep their own count).
    var closedSendErrors: UInt64 = 0

    init(eventLoop: EventLoop, engine: TURNServerEngine, logger: Logger, socketBufferBytes: Int) {
        self.eventLoop = eventLoop
        self.engine = engine
        self.logger = logger
        self.socketBufferBytes = socketBufferBytes
    }

    func addListener(_ endpoint: UDPEndpoint) {
        listeners[endpoint.socket.local] = endpoint
        listenerList.append(endpoint.socket)
    }

    func listener(for address: TransportAddress) -> DirectUDPSocket? {
        for socket in listenerList where socket.local == address { return socket }
        return nil
    }

    /// Datagrams the kernel refused to send, over every socket.
    var sendErrors: UInt64 {
        closedSendErrors + listenerList.reduce(0) { $0 + $1.sendErrors } + relays.values.reduce(0) { $0 + $1.socket.sendErrors }
    }

    // MARK: - Hot paths

    /// A UDP datagram from a client on `listener`.
    func clientDatagram(_ buffer: ByteBuffer, from remote: SocketAddress, listener: TransportAddress) {
        guard let client = TransportAddress(remote), let first = buffer.readableBytesView.first else { return }
        let tuple = FiveTuple(client: client, server: listener, transport: .udp)
        let now = wallClock()
        if ChannelData.isChannelData(first) {
            buffer.withUnsafeReadableBytes { raw in
                if case .toPeer(let relay, let peer, let payload) = engine.routeChannelData(raw, from: tuple, now: now),
                   let out = relays[relay] {
                    out.socket.send(UnsafeRawBufferPointer(rebasing: raw[payload]), to: peer)
                }
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
            if tuple.transport == .udp {
                guard let listener = listener(for: tuple.server) else { return }
                let first = listener.stage(length: ChannelData.headerSize + length, to: tuple.client) { out in
                    ChannelData.writeHeader(channel: number, length: length, into: out)
                    buffer.withUnsafeReadableBytes { payload in
                        UnsafeMutableRawBufferPointer(rebasing: out[ChannelData.headerSize...]).copyMemory(from: payload)
                    }
                }
                if first { scheduleFlush(listener) }
                return
            }
            var out = allocator.buffer(capacity: 4 + length + 3)
            out.writeInteger(number)
            out.writeInteger(UInt16(truncatingIfNeeded: length))
            var payload = buffer
            out.writeBuffer(&payload)
            out.writeRepeatingByte(0, count: (4 - length % 4) % 4)
            sendToClient(stream: out, tuple: tuple)
        case .indication(let tuple):
            sendToClient(TURNServerEngine.dataIndication(peer: peer, data: Array(buffer.readableBytesView)), tuple: tuple)
        }
    }

    /// A framed message from a TCP or TLS client.
    func streamMessage(_ bytes: [UInt8], tuple: FiveTuple) {
        execute(engine.handleClientDatagram(bytes, from: tuple, now: wallClock()))
    }

    /// A ChannelData payload from a TCP or TLS client.
    func streamChannelData(channel number: UInt16, payload: [UInt8], tuple: FiveTuple) {
        let bytes = ChannelData.encode(channel: number, data: payload)
        bytes.withUnsafeBytes { raw in
            if case .toPeer(let relay, let peer, let range) = engine.routeChannelData(raw, from: tuple, now: wallClock()),
               let out = relays[relay] {
                out.socket.send(UnsafeRawBufferPointer(rebasing: raw[range]), to: peer)
            }
        }
    }

    func streamClosed(_ tuple: FiveTuple) {
        connections[tuple] = nil
        execute(engine.clientDisconnected(tuple, now: wallClock()))
    }

    // MARK: - Output

    func sendToPeer(_ bytes: [UInt8], from relay: TransportAddress, to peer: TransportAddress) {
        guard let out = relays[relay] else { return }
        bytes.withUnsafeBytes { out.socket.send($0, to: peer) }
    }

    func sendToClient(_ bytes: [UInt8], tuple: FiveTuple) {
        switch tuple.transport {
        case .udp:
            guard let listener = listener(for: tuple.server) else { return }
            let first = listener.stage(length: bytes.count, to: tuple.client) { out in
                bytes.withUnsafeBytes { out.copyMemory(from: $0) }
            }
            if first { scheduleFlush(listener) }
        case .tcp, .tls:
            guard let channel = connections[tuple] else { return }
            sendToClient(stream: channel.allocator.buffer(bytes: bytes), tuple: tuple)
        }
    }

    func sendToClient(stream buffer: ByteBuffer, tuple: FiveTuple) {
        guard let channel = connections[tuple] else { return }
        channel.write(buffer, promise: nil)
        if dirty.updateValue(channel, forKey: ObjectIdentifier(channel)) == nil, !flushScheduled {
            scheduleFlush(nil)
        }
    }

    /// Sends what was staged once the event loop has handled every socket readable in this
    /// tick (an in-loop task runs after the tick's I/O and needs no wake-up).
    func scheduleFlush(_ socket: DirectUDPSocket?) {
        if let socket { pendingSockets.append(socket) }
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute { self.flush() }
    }

    /// Sends every staged datagram and flushes every stream written to.
    func flush() {
        flushScheduled = false
        if !pendingSockets.isEmpty {
            for socket in pendingSockets { socket.flush() }
            pendingSockets.removeAll(keepingCapacity: true)
        }
        if !dirty.isEmpty {
            for channel in dirty.values { channel.flush() }
            dirty.removeAll(keepingCapacity: true)
        }
    }

    // MARK: - Actions

    func execute(_ actions: [TURNServerAction]) {
        for action in actions {
            switch action {
            case .sendToClient(let tuple, let bytes):
                sendToClient(bytes, tuple: tuple)
            case .sendToPeer(let relay, let peer, let bytes):
                sendToPeer(bytes, from: relay, to: peer)
            case .openRelay(let relay):
                openRelay(relay)
            case .closeRelay(let relay):
                closeRelay(relay)
            case .event(let event):
                log(event)
            }
        }
        flush()
        rearmTimer()
    }

    /// Binds the relayed address's socket ourselves (so a bind failure is known at once), then
    /// lets NIO read it: one datagram per read, as epoll reports the socket again while more wait.
    func openRelay(_ relay: TransportAddress) {
        let core = self
        let socket: DirectUDPSocket
        do {
            socket = try DirectUDPSocket(binding: relay, bufferBytes: socketBufferBytes / 4, reuseAddress: false, batched: false)
        } catch {
            logger.warning("relay socket bind failed", metadata: ["relay": "\(relay)", "error": "\(error)"])
            eventLoop.execute { core.execute(core.engine.relayFailed(relay, now: wallClock())) }
            return
        }
        DatagramBootstrap(group: eventLoop)
            .channelOption(.maxMessagesPerRead, value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayHandler(core: core, relay: relay))
                }
            }
            .withBoundSocket(socket.fd)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    core.relays[relay] = UDPEndpoint(channel: channel, socket: socket)
                    core.execute(core.engine.relayOpened(relay, now: wallClock()))
                case .failure(let error):
                    core.logger.warning("relay socket registration failed", metadata: ["relay": "\(relay)", "error": "\(error)"])
                    core.execute(core.engine.relayFailed(relay, now: wallClock()))
                }
            }
    }

    func closeRelay(_ relay: TransportAddress) {
        guard let endpoint = relays.removeValue(forKey: relay) else { return }
        closedSendErrors += endpoint.socket.sendErrors
        endpoint.channel.close(promise: nil)
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
