import NIOCore
import STUN
import TLS
import TURNServer

/// Frames a TCP or TLS client connection into STUN and ChannelData messages (RFC 8656 §12.4,
/// RFC 8489 §6.2.2); the allocation ends when the connection closes (RFC 8656 §3.1). A
/// connection that sends ConnectionBind (RFC 6062 §5.4) holds the bytes after it unframed until
/// the relay answers: joined, it becomes a raw pipe to its peer connection; refused, it goes
/// back to framing.
final class StreamClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    /// The data-plane thread this connection's allocation lives on (chosen when it opens).
    var core: RelayCore
    let cores: [RelayCore]
    let transport: ClientTransport
    var framer = STUNStreamFramer()
    var tuple: FiveTuple?
    var mode = Mode.framing
    var context: ChannelHandlerContext?
    /// Whether any message other than ConnectionBind has gone to `core` (then the connection
    /// stays with that thread).
    var deliveredOther = false
    /// Connection caps (nil: none) and step deadlines: the TLS handshake and the first valid
    /// STUN message are each given a deadline from accept; a connection without an allocation
    /// is closed after `timeouts.idle` without a byte from the client.
    let limits: ConnectionLimits?
    let timeouts: StreamTimeouts?
    var admitted: IPAddress?
    var handshakeDeadline: Scheduled<Void>?
    var firstMessageDeadline: Scheduled<Void>?
    var idleCheck: Scheduled<Void>?
    var lastRead = NIODeadline.now()

    enum Mode {
        case framing
        /// A ConnectionBind is with the relay: later bytes wait here, unframed.
        case awaitingBind([UInt8])
        /// A client data connection: bytes go to the peer connection as they are.
        case joined(Channel)

        var isAwaitingBind: Bool { if case .awaitingBind = self { true } else { false } }
    }

    init(cores: [RelayCore], transport: ClientTransport, limits: ConnectionLimits? = nil, timeouts: StreamTimeouts? = nil) {
        self.core = cores[0]
        self.cores = cores
        self.transport = transport
        self.limits = limits
        self.timeouts = timeouts
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        guard let remote = context.channel.remoteAddress.flatMap({ TransportAddress($0) }),
            let local = context.channel.localAddress.flatMap({ TransportAddress($0) })
        else {
            context.close(promise: nil)
            return
        }
        if let limits {
            guard limits.admit(remote.ip) else {
                core.logger.debug("connection refused: over max-connections or max-connections-per-ip", metadata: ["client": "\(remote)"])
                context.close(promise: nil)
                return
            }
            admitted = remote.ip
        }
        armDeadlines(context: context)
        let t = FiveTuple(client: remote, server: local, transport: transport)
        tuple = t
        core = cores[Int(remote.port) % cores.count]
        let core = self.core
        let channel = context.channel
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        core.post { core.streamOpened(t, channel: channel, handler: handler) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if idleCheck != nil { lastRead = .now() }
        switch mode {
        case .joined(let peer):
            core.tcpCounters.toPeer.add(UInt64(buffer.readableBytes), ordering: .relaxed)
            peer.write(buffer, promise: nil)
        case .awaitingBind(var held):
            held += buffer.readableBytesView
            mode = .awaitingBind(held)
        case .framing:
            framer.append(buffer.readableBytesView)
            deliverFrames(context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .joined(let peer) = mode { peer.flush() }
        context.fireChannelReadComplete()
    }

    /// Hands complete frames to the relay, stopping after a ConnectionBind request.
    func deliverFrames(context: ChannelHandlerContext) {
        guard let tuple else { return }
        do {
            var frames: [STUNStreamFramer.Frame] = []
            while let frame = try framer.next() {
                frames.append(frame)
                if firstMessageDeadline != nil, case .stun(let bytes) = frame, (try? STUNMessage.decode(bytes)) != nil {
                    firstMessageDeadline?.cancel()
                    firstMessageDeadline = nil
                }
                // A ConnectionBind that does not even decode cannot join anything: it goes to the
                // relay with the other frames (to be dropped and counted) without holding the
                // connection, so junk costs no round trip to the data-plane thread per frame.
                if case .stun(let bytes) = frame, STUNStreamFramer.isConnectionBindRequest(bytes),
                    let bind = try? STUNMessage.decode(bytes)
                {
                    mode = .awaitingBind(framer.takeRemainder())
                    // Read no more until the relay answers: what is held stays one read's worth.
                    context.channel.setOption(.autoRead, value: false).whenFailure { _ in }
                    if frames.count == 1 && !deliveredOther { moveToOwner(ofConnectionBind: bind, context: context) }
                    break
                }
            }
            guard !frames.isEmpty else { return }
            if frames.count > 1 || !(mode.isAwaitingBind) { deliveredOther = true }
            let framed = frames
            let core = self.core
            core.post {
                for frame in framed {
                    switch frame {
                    case .stun(let bytes):
                        core.streamMessage(bytes, tuple: tuple)
                    case .channelData(let channel, let payload):
                        core.streamChannelData(channel: channel, payload: payload, tuple: tuple)
                    }
                }
            }
        } catch {
            let core = self.core
            core.post { core.receiveErrors += 1 }
            context.close(promise: nil)
        }
    }

    /// A new connection whose first message is a ConnectionBind belongs with the thread that
    /// made the CONNECTION-ID (its value modulo the thread count).
    func moveToOwner(ofConnectionBind bind: STUNMessage, context: ChannelHandlerContext) {
        guard cores.count > 1, let tuple, let id = bind.connectionID else { return }
        let owner = cores[Int(id % UInt32(cores.count))]
        guard owner !== core else { return }
        let old = core
        old.post { old.streamForgotten(tuple) }
        core = owner
        let channel = context.channel
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        owner.post { owner.streamOpened(tuple, channel: channel, handler: handler) }
    }

    /// The relay joined this connection to `peer` (its ConnectionBind succeeded; the response
    /// was written before this): bytes held since go first.
    /// Reading resumes while the peer can take more (`PeerStreamHandler` keeps that up).
    func join(peer: Channel) {
        guard case .awaitingBind(let held) = mode, let context else { return }
        mode = .joined(peer)
        if !held.isEmpty {
            core.tcpCounters.toPeer.add(UInt64(held.count), ordering: .relaxed)
            peer.writeAndFlush(context.channel.allocator.buffer(bytes: held), promise: nil)
        }
        context.channel.setOption(.autoRead, value: peer.isWritable).whenFailure { _ in }
    }

    /// The ConnectionBind was refused (for instance challenged with 401): framing resumes,
    /// starting with the bytes held meanwhile.
    func resumeFraming() {
        guard case .awaitingBind(let held) = mode, let context else { return }
        mode = .framing
        context.channel.setOption(.autoRead, value: true).whenFailure { _ in }
        framer.append(held[...])
        deliverFrames(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // A slow client slows its peer: stop reading the peer while our buffer is full.
        if case .joined(let peer) = mode { peer.setOption(.autoRead, value: context.channel.isWritable).whenFailure { _ in } }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSHandshakeCompleted {
            handshakeDeadline?.cancel()
            handshakeDeadline = nil
        }
        if case ChannelEvent.inputClosed = event {
            // A joined data connection passes the client's FIN to the peer; any other
            // connection ends (its allocation with it, RFC 8656 §3.1).
            if case .joined(let peer) = mode { RelayCore.closeOutput(peer) } else { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        for task in [handshakeDeadline, firstMessageDeadline, idleCheck] { task?.cancel() }
        if let admitted { limits?.release(admitted) }
        admitted = nil
        let core = self.core
        if let tuple { core.post { core.streamClosed(tuple) } }
        tuple = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let core = self.core
        core.post { core.receiveErrors += 1 }
        context.close(promise: nil)
    }

    /// Schedules the TLS handshake and first-message deadlines and the idle check.
    func armDeadlines(context: ChannelHandlerContext) {
        guard let timeouts else { return }
        let channel = context.channel
        let logger = core.logger
        if transport == .tls {
            handshakeDeadline = context.eventLoop.scheduleTask(in: timeouts.tlsHandshake) {
                logger.debug("TLS handshake timed out", metadata: ["client": "\(channel.remoteAddress.map { "\($0)" } ?? "-")"])
                channel.close(promise: nil)
            }
        }
        firstMessageDeadline = context.eventLoop.scheduleTask(in: timeouts.firstMessage) {
            logger.debug("no valid STUN message in time", metadata: ["client": "\(channel.remoteAddress.map { "\($0)" } ?? "-")"])
            channel.close(promise: nil)
        }
        lastRead = .now()
        scheduleIdleCheck(context: context, at: lastRead + timeouts.idle)
    }

    func scheduleIdleCheck(context: ChannelHandlerContext, at deadline: NIODeadline) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(deadline: deadline) { handler.value.checkIdle() }
    }

    /// Silent for the idle timeout: the relay closes the connection unless it holds an
    /// allocation. Data connections (RFC 6062) and binds in progress are left alone.
    func checkIdle() {
        guard let context, let timeouts else { return }
        let now = NIODeadline.now()
        if now >= lastRead + timeouts.idle, case .framing = mode, let tuple {
            let core = self.core
            core.post { core.closeIfWithoutAllocation(tuple) }
            lastRead = now
        }
        scheduleIdleCheck(context: context, at: lastRead + timeouts.idle)
    }
}

/// One peer TCP connection of a TCP allocation (RFC 6062 §5.2, §5.3), made by Connect or
/// accepted on the relayed address. It does not read until joined to a client data connection,
/// so the kernel buffers the peer's bytes and its window closes (§5.2); joined, bytes go to the
/// client as they are.
final class PeerStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let core: RelayCore
    /// The listener's relayed address, for connections accepted there (nil when made by Connect).
    let acceptedOn: TransportAddress?
    var client: Channel?
    var context: ChannelHandlerContext?
    /// Read before `join` reached this handler (the client side may start reads first), and
    /// whether the peer's FIN came too.
    var early: [ByteBuffer] = []
    var earlyEnd = false

    init(core: RelayCore, acceptedOn: TransportAddress?) {
        self.core = core
        self.acceptedOn = acceptedOn
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        if let relay = acceptedOn, let peer = context.channel.remoteAddress.flatMap({ TransportAddress($0) }) {
            let core = self.core
            let channel = context.channel
            core.post { core.peerAccepted(channel, from: peer, on: relay) }
        }
        context.fireChannelActive()
    }

    /// Joined to the client data connection: anything read early goes first, then each side
    /// reads while the other can take more.
    func join(client: Channel) {
        guard let context else { return }
        self.client = client
        for buffer in early { client.write(buffer, promise: nil) }
        if !early.isEmpty { client.flush() }
        early = []
        if earlyEnd { RelayCore.closeOutput(client) }
        context.channel.setOption(.autoRead, value: client.isWritable).whenFailure { _ in }
        client.setOption(.autoRead, value: context.channel.isWritable).whenFailure { _ in }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        core.tcpCounters.toClient.add(UInt64(buffer.readableBytes), ordering: .relaxed)
        if let client { client.write(buffer, promise: nil) } else { early.append(buffer) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        client?.flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        client?.setOption(.autoRead, value: context.channel.isWritable).whenFailure { _ in }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            // The peer's FIN goes on to the client after the bytes before it.
            if let client { RelayCore.closeOutput(client) } else { earlyEnd = true }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let core = self.core
        let channel = context.channel
        core.post { core.peerChannelClosed(channel) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
