import NIOCore
import NIOPosix
import Testing
import XMPPClient
import XMPPCore

/// A hostile server on loopback: after the client's stream header it answers with canned bytes.
/// The client must fail with a clear error and never crash.
private final class CannedReplyHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let reply: String
    init(reply: String) { self.reply = reply }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Answer the first read (the client's stream header) and ignore the rest.
        let reply = context.channel.allocator.buffer(string: self.reply)
        context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
    }
}

private func withFakeServer<T: Sendable>(reply: String, _ body: (Int) async throws -> T) async throws -> T {
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CannedReplyHandler(reply: reply)) }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    do {
        let result = try await body(server.localAddress?.port ?? 0)
        try await server.close()
        return result
    } catch {
        try? await server.close()
        throw error
    }
}

@Suite struct FakeServerTests {
    private func connectError(reply: String) async throws -> XMPPError? {
        try await withFakeServer(reply: reply) { port -> XMPPError? in
            let configuration = XMPPClientConfiguration(
                jid: JID("alice@localhost")!, password: "secret", server: .init(host: "127.0.0.1", port: port),
                connectTimeout: .seconds(5), negotiationStepTimeout: .seconds(5))
            let client = XMPPClient(configuration: configuration)
            do throws(XMPPError) {
                _ = try await client.connect()
                return nil
            } catch {
                return error
            }
        }
    }

    static let header =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='fake1' version='1.0'>"

    @Test func malformedXMLIsAClearError() async throws {
        let error = try await connectError(reply: Self.header + "<stream:features><a></b></stream:features>")
        guard case .malformedXML(let message)? = error else {
            Issue.record("expected malformedXML, got \(String(describing: error))"); return
        }
        #expect(!message.isEmpty)
    }

    @Test func doctypeIsRefusedAsRestrictedXML() async throws {
        let reply =
            "<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY boom 'boom'>]><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
        let error = try await connectError(reply: reply)
        guard case .malformedXML(let message)? = error else {
            Issue.record("expected malformedXML, got \(String(describing: error))"); return
        }
        #expect(message.contains("restricted"), "message: \(message)")
    }

    @Test func serverWithoutSTARTTLSIsRefused() async throws {
        let reply =
            Self.header
            + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
        let error = try await connectError(reply: reply)
        #expect(error == .tlsRequiredButNotOffered)
    }

    @Test func streamErrorIsReportedWithItsCondition() async throws {
        let reply =
            Self.header
            + "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>no such host</text></stream:error></stream:stream>"
        let error = try await connectError(reply: reply)
        guard case .stream(let streamError)? = error else {
            Issue.record("expected a stream error, got \(String(describing: error))"); return
        }
        #expect("\(streamError)".contains("host-unknown"))
    }
}
