import NIOCore

/// TLS (RFC 8446 / RFC 5246) for a NIO channel: a thin wrapper around `TLSConnection`.
///
/// Add it at the front of a pipeline once the plaintext phase is over (XMPP STARTTLS, RFC 6120 §5.4.3.3:
/// after `<proceed/>`): `channel.pipeline.addHandler(handler, position: .first)`. A client starts the
/// handshake when added to an active channel (or when the channel becomes active); a server waits for
/// the ClientHello. Writes made before the handshake completes are buffered and sent, in order, right
/// after it. On completion it fires `TLSHandshakeCompleted` as a user-inbound event; on failure it sends
/// the alert, fires the `TLSError` through `errorCaught` and closes the channel. Closing the channel
/// sends close_notify first.
///
/// `@unchecked Sendable`: NIO calls every `ChannelHandler` method on the channel's event loop, and all
/// mutable state here (the `TLSConnection`, the buffered writes, the flags) is touched only from those
/// methods. Before `addHandler` the handler is only constructed, never mutated; `addHandler` hands it to
/// the event loop, which orders the construction before any callback. The one rule the compiler cannot
/// check: add a handler to one pipeline only (a second add traps in `handlerAdded`).
public final class NIOTLSHandler: ChannelDuplexHandler, @unchecked Sendable {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let connection: TLSConnection
    private var bufferedWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var flushRequested = false
    private var added = false
    private var started = false
    private var failed = false

    /// A client handler verifying `configuration.serverName` (SNI + RFC 6125).
    public static func client(_ configuration: TLSClientConfiguration) throws(TLSError) -> NIOTLSHandler {
        NIOTLSHandler(connection: try TLSConnection.client(configuration))
    }

    /// A server handler presenting `configuration`'s certificate chain.
    public static func server(_ configuration: TLSServerConfiguration) throws(TLSError) -> NIOTLSHandler {
        NIOTLSHandler(connection: try TLSConnection.server(configuration))
    }

    /// A server handler on a context loaded once (no file read per connection).
    public static func server(_ context: TLSServerContext) throws(TLSError) -> NIOTLSHandler {
        NIOTLSHandler(connection: try TLSConnection.server(context))
    }

    private init(connection: TLSConnection) {
        self.connection = connection
    }

    /// What the handshake agreed, once it completed. Read it on the channel's event loop.
    public var handshakeCompleted: TLSHandshakeCompleted? { connection.handshakeCompleted }

    /// Exported keying material (RFC 5705, RFC 8446 §7.5), e.g. for tls-exporter channel binding
    /// (RFC 9266). Call on the channel's event loop after `TLSHandshakeCompleted`.
    public func exportKeyingMaterial(label: String, context: [UInt8]? = nil, length: Int) throws(TLSError) -> [UInt8] {
        try connection.exportKeyingMaterial(label: label, context: context, length: length)
    }

    // MARK: Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        precondition(!added, "NIOTLSHandler added to a second pipeline")
        added = true
        if context.channel.isActive { startHandshake(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        failBufferedWrites(TLSError.closed)
    }

    public func channelActive(context: ChannelHandlerContext) {
        startHandshake(context: context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        failBufferedWrites(TLSError.closed)
        if started, !failed, connection.state == .handshaking {
            failed = true
            context.fireErrorCaught(TLSError.handshakeFailed(reason: "connection closed during the handshake"))
        }
        context.fireChannelInactive()
    }

    private func startHandshake(context: ChannelHandlerContext) {
        guard connection.role == .client, !started else { return }
        started = true
        do {
            deliver(try connection.startHandshake(), context: context)
        } catch {
            fail(error, context: context)
        }
    }

    // MARK: Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard !failed else { return }
        started = true
        do {
            deliver(try connection.receive(ciphertext: buffer.readableBytesView), context: context)
        } catch {
            fail(error, context: context)
        }
    }

    private func deliver(_ output: TLSOutput, context: ChannelHandlerContext) {
        if !output.ciphertext.isEmpty {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: output.ciphertext)), promise: nil)
        }
        if let completed = output.handshakeCompleted {
            // Buffered writes go first, so that anything written in reaction to the event follows them.
            sendBufferedWrites(context: context)
            context.fireUserInboundEventTriggered(completed)
        }
        if !output.plaintext.isEmpty {
            context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: output.plaintext)))
        }
        if output.peerClosed {
            // Answer close_notify with ours (RFC 8446 §6.1), then close.
            let reply = connection.close()
            if !reply.isEmpty {
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)), promise: nil)
            }
            failBufferedWrites(TLSError.closed)
            context.close(promise: nil)
        }
    }

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        switch connection.state {
        case .handshaking:
            bufferedWrites.append((buffer, promise))
        case .established:
            encryptAndWrite(buffer, promise: promise, context: context)
        case .closed, .failed:
            promise?.fail(TLSError.closed)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        if connection.state == .handshaking {
            flushRequested = true
        } else {
            context.flush()
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, connection.state == .established {
            let closeNotify = connection.close()
            if !closeNotify.isEmpty {
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: closeNotify)), promise: nil)
            }
        }
        if mode == .all { failBufferedWrites(TLSError.closed) }
        context.close(mode: mode, promise: promise)
    }

    private func encryptAndWrite(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        do {
            let ciphertext = try connection.write(plaintext: buffer.readableBytesView)
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: ciphertext)), promise: promise)
        } catch {
            promise?.fail(error)
            fail(error, context: context)
        }
    }

    private func sendBufferedWrites(context: ChannelHandlerContext) {
        let writes = bufferedWrites
        bufferedWrites = []
        for (buffer, promise) in writes {
            encryptAndWrite(buffer, promise: promise, context: context)
        }
        if flushRequested || !writes.isEmpty {
            flushRequested = false
            context.flush()
        }
    }

    private func failBufferedWrites(_ error: TLSError) {
        let writes = bufferedWrites
        bufferedWrites = []
        for (_, promise) in writes { promise?.fail(error) }
    }

    private func fail(_ error: TLSError, context: ChannelHandlerContext) {
        guard !failed else { return }
        failed = true
        let alert = connection.takePendingCiphertext()
        if !alert.isEmpty {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: alert)), promise: nil)
        }
        failBufferedWrites(error)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}
