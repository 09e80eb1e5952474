import CryptoPrimitives
#if canImport(Glibc)
    import Glibc
#endif
import NIOCore
import NIOPosix
import TLS
import XMLStream
import XMPPCore

/// A scripted XMPP server on loopback for runtime tests: STARTTLS with a generated certificate,
/// SASL PLAIN against one password, resource binding, then every stanza goes to `respond`, whose
/// answers (raw XML) are written back. Everything runs on the server channel's event loop.
final class FakeXMPPServer: @unchecked Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let directory: String
    let certificateFile: String
    let keyFile: String
    let password: String
    /// Called on the event loop for each stanza after binding; returns raw XML to send back.
    let respond: @Sendable (XMLElement) -> [String]
    private var serverChannel: Channel?
    private(set) var connection: FakeXMPPServerConnection?
    let received: AsyncStream<XMLElement>
    let receivedSink: AsyncStream<XMLElement>.Continuation

    init(password: String, respond: @escaping @Sendable (XMLElement) -> [String] = { _ in [] }) throws {
        var template = Array("/tmp/xmpp-client-tests-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TLSError.configuration(reason: "mkdtemp failed") }
        directory = String(cString: made)
        certificateFile = directory + "/cert.pem"
        keyFile = directory + "/key.pem"
        let certificate = try SelfSignedCertificate.generate(commonName: "localhost", subjectAlternativeNames: ["localhost"])
        try certificate.write(certificateFile: certificateFile, privateKeyFile: keyFile)
        self.password = password
        self.respond = respond
        (received, receivedSink) = AsyncStream.makeStream(of: XMLElement.self)
    }

    /// Starts listening; returns the port.
    func start() async throws -> Int {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture(withResultOf: {
                    let connection = FakeXMPPServerConnection(server: self)
                    self.connection = connection
                    try channel.pipeline.syncOperations.addHandler(connection)
                })
            }
            .bind(host: "127.0.0.1", port: 0).get()
        serverChannel = channel
        return channel.localAddress?.port ?? 0
    }

    /// Writes raw bytes to the connected client.
    func send(_ text: String) {
        guard let connection else { return }
        connection.channel?.eventLoop.execute { connection.write(text) }
    }

    func stop() async {
        receivedSink.finish()
        try? await serverChannel?.close()
        if let channel = connection?.channel { try? await channel.close() }
        try? await group.shutdownGracefully()
        unlink(certificateFile)
        unlink(keyFile)
        rmdir(directory)
    }
}

final class FakeXMPPServerConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: FakeXMPPServer
    private let parser = XMLStreamParser()
    private var phase = 0
    private(set) var channel: Channel?
    private var context: ChannelHandlerContext?

    init(server: FakeXMPPServer) {
        self.server = server
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        channel = context.channel
    }

    func write(_ text: String) {
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let events = try? parser.feed(buffer.readableBytesView) else {
            context.close(promise: nil)
            return
        }
        for event in events {
            switch event {
            case .streamOpened:
                write(
                    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='fake\(phase)' version='1.0'>"
                )
                switch phase {
                case 0: write("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>")
                case 1:
                    write(
                        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
                    )
                default: write("<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>")
                }
            case .streamClosed:
                write("</stream:stream>")
                context.close(promise: nil)
                return
            case .element(let element):
                if element.name == "starttls" {
                    write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
                    do {
                        let tls = try NIOTLSHandler.server(
                            TLSServerConfiguration(
                                certificateChainFile: server.certificateFile,
                                privateKeyFile: server.keyFile))
                        try context.pipeline.syncOperations.addHandler(tls, position: .first)
                    } catch {
                        context.close(promise: nil)
                    }
                    parser.reset()
                    phase = 1
                    return
                }
                if element.name == "auth" {
                    let decoded = Base64.decode(element.text) ?? []
                    let parts = decoded.split(separator: 0, omittingEmptySubsequences: false)
                    if parts.count == 3, String(decoding: parts[2], as: UTF8.self) == server.password {
                        write("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
                        parser.reset()
                        phase = 2
                    } else {
                        write("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>")
                    }
                    return
                }
                if let iq = IQ(element: element), iq.payload?.namespace == XMPPNamespace.bind {
                    let jid = XMLElement("jid", namespace: XMPPNamespace.bind, text: "alice@localhost/fake")
                    let result = iq.result(payload: XMLElement("bind", namespace: XMPPNamespace.bind, children: [jid]))
                    write(XMLSerializer.serialize(result.element, parentNamespace: XMPPNamespace.client))
                    continue
                }
                server.receivedSink.yield(element)
                for answer in server.respond(element) { write(answer) }
            }
        }
    }
}
