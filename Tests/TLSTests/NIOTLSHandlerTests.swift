import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
import TLS

/// Records what reaches the end of a pipeline.
final class Recorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var events: [TLSHandshakeCompleted] = []
    var received: [UInt8] = []
    var errors: [any Error] = []

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSHandshakeCompleted { events.append(event) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += Array(unwrapInboundIn(data).readableBytesView)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        errors.append(error)
    }
}

@Suite struct NIOTLSHandlerEmbeddedTests {
    /// Moves outbound bytes of each channel into the other until both are quiet.
    func shuttle(_ a: EmbeddedChannel, _ b: EmbeddedChannel) throws {
        for _ in 0..<20 {
            var moved = false
            while let buffer = try a.readOutbound(as: ByteBuffer.self) {
                moved = true
                if b.isActive { try b.writeInbound(buffer) }
            }
            while let buffer = try b.readOutbound(as: ByteBuffer.self) {
                moved = true
                if a.isActive { try a.writeInbound(buffer) }
            }
            if !moved { return }
        }
    }

    /// A client and a server channel, each with a `Recorder` behind what the test puts in front.
    func recordedChannels() throws -> (client: EmbeddedChannel, server: EmbeddedChannel, clientRecorder: Recorder, serverRecorder: Recorder)
    {
        let client = EmbeddedChannel()
        let server = EmbeddedChannel()
        let clientRecorder = Recorder()
        let serverRecorder = Recorder()
        try client.pipeline.syncOperations.addHandler(clientRecorder)
        try server.pipeline.syncOperations.addHandler(serverRecorder)
        return (client, server, clientRecorder, serverRecorder)
    }

    @Test func starttlsAfterPlaintextPhaseBuffersWritesAndFiresEvent() throws {
        let files = try CertificateFiles()
        defer { files.remove() }
        let (client, server, clientRecorder, serverRecorder) = try recordedChannels()
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5222)).wait()
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()

        // Plaintext phase: passes through untouched.
        try client.writeAndFlush(ByteBuffer(string: "<starttls/>")).wait()
        try shuttle(client, server)
        #expect(serverRecorder.received == Array("<starttls/>".utf8))
        serverRecorder.received = []

        // <proceed/>: both sides put TLS at the front.
        try server.pipeline.syncOperations.addHandler(try NIOTLSHandler.server(files.serverConfiguration), position: .first)
        let clientTLS = try NIOTLSHandler.client(TLSClientConfiguration(serverName: "localhost", trustedCAFile: files.certificateFile))
        try client.pipeline.syncOperations.addHandler(clientTLS, position: .first)
        // Written before the handshake completes: buffered, then sent encrypted.
        let early = client.writeAndFlush(ByteBuffer(string: "<stream:stream>"))
        try shuttle(client, server)

        try early.wait()
        #expect(clientRecorder.events.count == 1)
        #expect(clientRecorder.events.first?.peerCertificateSubject == "CN=localhost")
        #expect(serverRecorder.events.count == 1)
        #expect(clientTLS.handshakeCompleted?.protocolVersion == "TLSv1.3")
        #expect(serverRecorder.received == Array("<stream:stream>".utf8))

        try server.writeAndFlush(ByteBuffer(string: "<stream:features/>")).wait()
        try shuttle(client, server)
        #expect(clientRecorder.received == Array("<stream:features/>".utf8))
        #expect(clientRecorder.errors.isEmpty && serverRecorder.errors.isEmpty)

        // The server closes: close_notify goes out, the client answers with its own and closes too.
        try server.close().wait()
        var closeNotify: [UInt8] = []
        while let buffer = try server.readOutbound(as: ByteBuffer.self) { closeNotify += Array(buffer.readableBytesView) }
        #expect(!closeNotify.isEmpty)
        try client.writeInbound(ByteBuffer(bytes: closeNotify))
        var answer: [UInt8] = []
        while let buffer = try client.readOutbound(as: ByteBuffer.self) { answer += Array(buffer.readableBytesView) }
        #expect(!answer.isEmpty)
        #expect(!client.isActive)
        #expect(clientRecorder.errors.isEmpty)
    }

    @Test func verificationFailureFailsTheChannelWithTLSError() throws {
        let files = try CertificateFiles()
        defer { files.remove() }
        let (client, server, clientRecorder, serverRecorder) = try recordedChannels()
        try server.pipeline.syncOperations.addHandler(try NIOTLSHandler.server(files.serverConfiguration), position: .first)
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        try client.pipeline.syncOperations.addHandler(
            try NIOTLSHandler.client(TLSClientConfiguration(serverName: "localhost")), position: .first)
        let pending = client.writeAndFlush(ByteBuffer(string: "secret"))
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5222)).wait()
        try shuttle(client, server)

        #expect(throws: TLSError.self) { try pending.wait() }
        #expect(!client.isActive)
        #expect(clientRecorder.events.isEmpty)
        let error = clientRecorder.errors.first as? TLSError
        #expect(error == .certificateVerificationFailed(reason: "certificate verify failed: self-signed certificate (hostname localhost)"))
        // The server got the alert and failed too.
        guard case .handshakeFailed? = serverRecorder.errors.first as? TLSError else {
            Issue.record("server saw \(serverRecorder.errors)")
            return
        }
        #expect(serverRecorder.received.isEmpty)
    }
}

/// Echoes everything it reads.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

/// Completes its promise once the handshake event arrived and `expected` bytes were read.
final class ClientProbe: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let expected: Int
    let done: EventLoopPromise<(TLSHandshakeCompleted, [UInt8])>
    var event: TLSHandshakeCompleted?
    var received: [UInt8] = []

    init(expected: Int, done: EventLoopPromise<(TLSHandshakeCompleted, [UInt8])>) {
        self.expected = expected
        self.done = done
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSHandshakeCompleted { self.event = event }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += Array(unwrapInboundIn(data).readableBytesView)
        if received.count >= expected, let event { done.succeed((event, received)) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.fail(TLSError.closed)
    }
}

@Suite struct NIOTLSHandlerLoopbackTests {
    @Test func echoOverLoopback() async throws {
        let files = try CertificateFiles()
        defer { files.remove() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let serverConfiguration = files.serverConfiguration
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOTLSHandler.server(serverConfiguration))
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)

        let payload = (0..<50_000).map { UInt8(truncatingIfNeeded: $0) }
        let done = group.next().makePromise(of: (TLSHandshakeCompleted, [UInt8]).self)
        // Bounded wait: fail after 10 s instead of hanging.
        let timeout = done.futureResult.eventLoop.scheduleTask(in: .seconds(60)) {
            done.fail(TLSError.handshakeFailed(reason: "test timed out"))
        }
        let caFile = files.certificateFile
        let client = try await ClientBootstrap(group: done.futureResult.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        try NIOTLSHandler.client(TLSClientConfiguration(serverName: "localhost", trustedCAFile: caFile)))
                    try channel.pipeline.syncOperations.addHandler(ClientProbe(expected: payload.count, done: done))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await client.writeAndFlush(ByteBuffer(bytes: payload))

        let (event, echoed) = try await done.futureResult.get()
        timeout.cancel()
        #expect(event.protocolVersion == "TLSv1.3")
        #expect(event.peerCertificateSubject == "CN=localhost")
        #expect(echoed == payload)

        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    }
}
