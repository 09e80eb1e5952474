import DriverClock
import EngineTime
import Foundation
import NIOCore
import NIOPosix
import Testing
import TLS

/// Feeds datagrams from one UDP socket to a DTLS server and reports its keying material.
final class DTLSServerDriver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let connection: DTLSConnection
    let done: EventLoopPromise<SRTPKeyingMaterial>

    init(connection: DTLSConnection, done: EventLoopPromise<SRTPKeyingMaterial>) {
        self.connection = connection
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        do {
            let output = try connection.receive(datagram: Array(envelope.data.readableBytesView), now: EngineClock.process.now)
            for datagram in output.datagrams {
                context.write(
                    wrapOutboundOut(
                        AddressedEnvelope(
                            remoteAddress: envelope.remoteAddress,
                            data: context.channel.allocator.buffer(bytes: datagram))),
                    promise: nil)
            }
            context.flush()
            if let material = output.handshakeCompleted { done.succeed(material) }
        } catch {
            done.fail(error)
        }
    }
}

/// Our DTLS server against `openssl s_client -dtls1_2 -use_srtp`, an independent process that
/// prints the RFC 5764 keying material it exported: ours must be the same bytes, split by role.
@Suite struct DTLSInteropTests {
    @Test(arguments: [
        (SRTPProtectionProfile.aes128CMHMACSHA1_80, "SRTP_AES128_CM_SHA1_80"),
        (SRTPProtectionProfile.aeadAES128GCM, "SRTP_AEAD_AES_128_GCM"),
    ])
    func keysMatchOpenSSLClient(profile: SRTPProtectionProfile, openSSLName: String) async throws {
        let peer = try CertificateFiles(commonName: "peer", subjectAlternativeNames: [])
        defer { peer.remove() }
        let certificate = try DTLSCertificate.generate()
        let expected = peer.certificate.sha256Fingerprint

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let done = loop.makePromise(of: SRTPKeyingMaterial.self)
        let timeout = loop.scheduleTask(in: .seconds(60)) { done.fail(DTLSError.handshakeFailed(reason: "test timed out")) }
        let channel = try await DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = try DTLSConnection(
                        role: .server, certificate: certificate,
                        expectedPeerFingerprint: ("sha-256", expected))
                    try channel.pipeline.syncOperations.addHandler(DTLSServerDriver(connection: connection, done: done))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)

        let keyLength = 2 * (profile.keyLength + profile.saltLength)
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        client.arguments = [
            "s_client", "-dtls1_2", "-connect", "127.0.0.1:\(port)", "-cert", peer.certificateFile,
            "-key", peer.privateKeyFile, "-use_srtp", openSSLName,
            "-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", "\(keyLength)",
        ]
        let input = Pipe()
        let output = Pipe()
        client.standardInput = input
        client.standardOutput = output
        client.standardError = FileHandle.nullDevice
        try client.run()
        let pid = client.processIdentifier
        // Bounded: the watchdog kills the client (which ends the reads below) if it hangs.
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 10, execute: watchdog)
        defer {
            watchdog.cancel()
            if client.isRunning { kill(pid, SIGKILL) }
        }

        let ours = try await done.futureResult.get()
        timeout.cancel()
        var text = ""
        while !text.contains("Keying material:") || !text.hasSuffix("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let line = try #require(text.split(separator: "\n").first { $0.contains("Keying material:") })
        let hex = line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        let theirs = stride(from: 0, to: hex.count - 1, by: 2).compactMap { offset -> UInt8? in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)
        }
        #expect(theirs.count == keyLength)
        // RFC 5764 §4.2: client key, server key, client salt, server salt; we are the server.
        #expect(ours.profile == profile)
        #expect(ours.remoteKey + ours.localKey + ours.remoteSalt + ours.localSalt == theirs)

        try? await channel.close()
        try await group.shutdownGracefully()
    }
}
