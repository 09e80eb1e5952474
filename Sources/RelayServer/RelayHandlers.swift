import NIOCore
import STUN
import TURNServer

/// Reads client datagrams on a UDP listener (RFC 8656 over UDP) and hands them to the core;
/// what they cause is sent when the core flushes at the end of the event-loop tick.
final class ClientDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let core: RelayCore
    let listener: TransportAddress

    init(core: RelayCore, listener: TransportAddress) {
        self.core = core
        self.listener = listener
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        core.clientDatagram(envelope.data, from: envelope.remoteAddress, listener: listener)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        core.receiveErrors += 1
    }
}

/// Reads peer datagrams on one relayed address.
final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let core: RelayCore
    let relay: TransportAddress

    init(core: RelayCore, relay: TransportAddress) {
        self.core = core
        self.relay = relay
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        core.peerDatagram(envelope.data, from: envelope.remoteAddress, relay: relay, allocator: context.channel.allocator)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        core.receiveErrors += 1
    }
}

/// Frames a TCP or TLS client connection into STUN and ChannelData messages (RFC 8656 §12.4,
/// RFC 8489 §6.2.2); the allocation ends when the connection closes (RFC 8656 §3.1).
final class StreamClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let core: RelayCore
    let transport: ClientTransport
    var framer = STUNStreamFramer()
    var tuple: FiveTuple?

    init(core: RelayCore, transport: ClientTransport) {
        self.core = core
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
        core.connections[t] = context.channel
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let tuple else { return }
        let buffer = unwrapInboundIn(data)
        framer.append(buffer.readableBytesView)
        do {
            while let frame = try framer.next() {
                switch frame {
                case .stun(let bytes):
                    core.streamMessage(bytes, tuple: tuple)
                case .channelData(let channel, let payload):
                    core.streamChannelData(channel: channel, payload: payload, tuple: tuple)
                }
            }
        } catch {
            core.receiveErrors += 1
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        core.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let tuple { core.streamClosed(tuple) }
        tuple = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        core.receiveErrors += 1
        context.close(promise: nil)
    }
}

/// A minimal HTTP/1.1 responder for `GET /metrics` in the Prometheus text format.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let render: () -> String
    var request: [UInt8] = []

    init(render: @escaping () -> String) {
        self.render = render
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        request += unwrapInboundIn(data).readableBytesView
        guard request.count < 16_384 else { context.close(promise: nil); return }
        let text = String(decoding: request, as: UTF8.self)
        guard text.contains("\r\n\r\n") else { return }
        let found = text.hasPrefix("GET /metrics ") || text.hasPrefix("GET / ")
        let body = found ? render() : "not found\n"
        let head = "HTTP/1.1 \(found ? "200 OK" : "404 Not Found")\r\nContent-Type: text/plain; version=0.0.4\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(string: head + body))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
