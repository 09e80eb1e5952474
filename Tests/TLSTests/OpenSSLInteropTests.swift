import Foundation
import NIOCore
import NIOPosix
import Testing
import TLS

/// Our NIO client against an independent process: `openssl s_server` limited to TLS 1.2, in its
/// line-reversing mode, on an ephemeral loopback port.
@Suite struct OpenSSLInteropTests {
    @Test func clientTalksTLS12ToOpenSSLServer() async throws {
        let files = try CertificateFiles()
        defer { files.remove() }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = [
            "s_server", "-rev", "-tls1_2", "-accept", "127.0.0.1:0", "-naccept", "1",
            "-cert", files.certificateFile, "-key", files.privateKeyFile,
        ]
        let output = Pipe()
        server.standardOutput = output
        server.standardError = FileHandle.nullDevice
        try server.run()
        // SIGKILL: the child may inherit a mask that blocks SIGTERM from the test runner's thread.
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }

        // "ACCEPT 127.0.0.1:<port>" once it listens; EOF (empty read) if it died.
        var banner = ""
        func listening() -> Bool {
            banner.split(separator: "\n", omittingEmptySubsequences: false).dropLast().contains { $0.hasPrefix("ACCEPT ") }
        }
        while !listening(), banner.utf8.count < 4096 {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            banner += String(decoding: chunk, as: UTF8.self)
        }
        let portText = try #require(banner.split(separator: "\n").first { $0.hasPrefix("ACCEPT ") }?.split(separator: ":").last)
        let port = try #require(Int(portText))

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let done = loop.makePromise(of: (TLSHandshakeCompleted, [UInt8]).self)
        let timeout = loop.scheduleTask(in: .seconds(60)) { done.fail(TLSError.handshakeFailed(reason: "test timed out")) }
        let caFile = files.certificateFile
        let client = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        try NIOTLSHandler.client(TLSClientConfiguration(serverName: "localhost", trustedCAFile: caFile)))
                    try channel.pipeline.syncOperations.addHandler(ClientProbe(expected: 6, done: done))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await client.writeAndFlush(ByteBuffer(string: "hello\n"))
        let (event, received) = try await done.futureResult.get()
        timeout.cancel()

        #expect(event.protocolVersion == "TLSv1.2")
        #expect(event.cipherSuite.hasPrefix("ECDHE-ECDSA-"))
        #expect(event.peerCertificateSubject == "CN=localhost")
        #expect(String(decoding: received, as: UTF8.self).hasPrefix("olleh"))
        try? await client.close()
        try await group.shutdownGracefully()
    }
}
