import NIOCore
import STUN
import TURNServer

/// Frames a TCP or TLS client connection into STUN and ChannelData messages (RFC 8656 §12.4,
/// RFC 8489 §6.2.2); the allocation ends when the connection closes (RFC 8656 §3.1).
final class StreamClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    /// The data-plane thread this connection's allocation lives on (chosen when it opens).
    var core: RelayCore
    let cores: [RelayCore]
    let transport: ClientTransport
    var framer = STUNStreamFramer()
    var tuple: FiveTuple?

    init(cores: [RelayCore], transport: ClientTransport) {
        self.core = cores[0]
        self.cores = cores
        self.transport = transport
    }

    func channelActive(context: ChannelHandlerContext) {
        guard let remote = context.channel.remoteAddress.flatMap({ TransportAddress($0) }),
              let local = context.channel.localAddress.flatMap({ TransportAddress($0) }) else {
            context.close(promise: nil)
            return
        }
        let t = FiveTuple(client: remote, server: local, transport: transport)
        tuple = t
        core = cores[Int(remote.port) % cores.count]
        let core = self.core
        let channel = context.channel
        core.post { core.streamOpened(t, channel: channel) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let tuple else { return }
        let buffer = unwrapInboundIn(data)
        framer.append(buffer.readableBytesView)
        let core = self.core
        do {
            var frames: [STUNStreamFramer.Frame] = []
            while let frame = try framer.next() { frames.append(frame) }
            guard !frames.isEmpty else { return }
            let framed = frames
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
            core.post { core.receiveErrors += 1 }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
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
}

/// A minimal HTTP/1.1 responder for `GET /metrics` in the Prometheus text format.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    /// Produces the exposition text and hands it to the callback (on another thread).
    let render: (@escaping @Sendable (String) -> Void) -> Void
    var request: [UInt8] = []
    var answered = false

    init(render: @escaping (@escaping @Sendable (String) -> Void) -> Void) {
        self.render = render
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        request += unwrapInboundIn(data).readableBytesView
        guard request.count < 16_384 else { context.close(promise: nil); return }
        let text = String(decoding: request, as: UTF8.self)
        guard text.contains("\r\n\r\n"), !answered else { return }
        answered = true
        let found = text.hasPrefix("GET /metrics ") || text.hasPrefix("GET / ")
        let channel = context.channel
        let respond: @Sendable (String) -> Void = { body in
            let head = "HTTP/1.1 \(found ? "200 OK" : "404 Not Found")\r\nContent-Type: text/plain; version=0.0.4\r\n"
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
            channel.writeAndFlush(channel.allocator.buffer(string: head + body)).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
        if found { render(respond) } else { respond("not found\n") }
    }
}
