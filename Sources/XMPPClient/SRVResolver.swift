#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import XMPPCore

/// Looks up `_xmpp-client._tcp.<domain>` SRV records (RFC 6120 §3.2.1) with one UDP query to the
/// first `nameserver` of /etc/resolv.conf, within a bounded timeout. Any failure (no resolver, no
/// answer in time, an error response) yields no records, and the caller falls back to the domain on 5222.
enum SRVResolver {
    /// The SRV records in connection order; empty when there are none or the lookup failed.
    /// - Parameter nameserver: `host` or `host:port` of the resolver; nil reads /etc/resolv.conf.
    static func lookup(domain: String, nameserver override: String?, timeout: Duration, group: EventLoopGroup) async -> [SRVRecord] {
        guard let address = resolverAddress(override) else { return [] }
        let id = UInt16.random(in: 0...UInt16.max)
        let query = DNSSRVCodec.query(id: id, name: "_xmpp-client._tcp.\(domain)")
        let eventLoop = group.next()
        let answer = eventLoop.makePromise(of: [UInt8].self)
        let bootstrap = DatagramBootstrap(group: eventLoop).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture(withResultOf: {
                try channel.pipeline.syncOperations.addHandler(DatagramCollector(expectedFrom: address, answer: answer))
            })
        }
        let bindHost = address.protocol == .inet6 ? "::" : "0.0.0.0"
        do {
            let channel = try await bootstrap.bind(host: bindHost, port: 0).get()
            defer { channel.close(promise: nil) }
            let envelope = AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: query))
            try await channel.writeAndFlush(envelope).get()
            let (seconds, attoseconds) = timeout.components
            let timeoutTask = eventLoop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) {
                answer.fail(XMPPError.timeout(what: "the DNS SRV answer"))
            }
            defer { timeoutTask.cancel() }
            let bytes = try await answer.futureResult.get()
            return SRVRecord.connectionOrder(try DNSSRVCodec.parseResponse(bytes, id: id))
        } catch {
            answer.fail(error)
            return []
        }
    }

    /// The resolver's address: `override` (`ip` or `ip:port`, `[v6]:port`) or the first nameserver of /etc/resolv.conf, port 53.
    static func resolverAddress(_ override: String?) -> SocketAddress? {
        guard let override else { return nameserver().flatMap { try? SocketAddress(ipAddress: $0, port: 53) } }
        if let direct = try? SocketAddress(ipAddress: override, port: 53) { return direct }
        guard let parsed = XMPPClientConfiguration.ServerAddress(override) else { return nil }
        return try? SocketAddress(ipAddress: parsed.host, port: parsed.port)
    }

    /// The first `nameserver` line of /etc/resolv.conf.
    static func nameserver(path: String = "/etc/resolv.conf") -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            if fields.count >= 2, fields[0] == "nameserver" {
                // Drop an IPv6 zone index, which SocketAddress does not take.
                return String(fields[1].split(separator: "%").first ?? fields[1])
            }
        }
        return nil
    }
}

/// Completes the promise with the first datagram from the resolver.
private final class DatagramCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let expectedFrom: SocketAddress
    let answer: EventLoopPromise<[UInt8]>

    init(expectedFrom: SocketAddress, answer: EventLoopPromise<[UInt8]>) {
        self.expectedFrom = expectedFrom
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == expectedFrom else { return }
        answer.succeed(Array(envelope.data.readableBytesView))
    }
}
