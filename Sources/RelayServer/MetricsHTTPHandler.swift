import NIOCore
import NIOHTTP1
import RelayFastPath

/// The metrics endpoint's routes: `GET /metrics` (also `/`) in the Prometheus text format and
/// `GET /health` (200 while serving, 503 while draining). The query string is ignored; `HEAD`
/// answers with the same status and headers and no body; other methods get 405.
enum MetricsRoute: Hashable, Sendable {
    case metrics, health, notFound

    /// The route for a request target such as `/metrics?name[]=x` (query and fragment dropped).
    init(target: String) {
        let path = target.prefix { $0 != "?" && $0 != "#" }
        switch path {
        case "/metrics", "/metrics/", "/": self = .metrics
        case "/health", "/health/", "/healthz": self = .health
        default: self = .notFound
        }
    }
}

/// One answer of the metrics endpoint.
struct MetricsResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType = "text/plain; charset=utf-8"
    var body: String

    static let prometheusType = "text/plain; version=0.0.4; charset=utf-8"
}

/// HTTP/1.1 for the metrics endpoint over NIOHTTP1 (`configureHTTPServerPipeline`: keep-alive,
/// pipelining, and 400 for malformed requests come from NIO). Request bodies are ignored.
final class MetricsHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    /// Produces the answer for a route and hands it to the callback (possibly on another thread).
    let answer: @Sendable (MetricsRoute, @escaping @Sendable (MetricsResponse) -> Void) -> Void
    private var head: HTTPRequestHead?

    init(answer: @escaping @Sendable (MetricsRoute, @escaping @Sendable (MetricsResponse) -> Void) -> Void) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    /// A malformed request (NIO has answered 400) ends the connection.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let channel = context.channel
        let version = head.version
        let keepAlive = head.isKeepAlive
        let withBody = head.method != .HEAD
        let send: @Sendable (MetricsResponse, HTTPHeaders) -> Void = { response, extra in
            var headers = extra
            headers.add(name: "Content-Type", value: response.contentType)
            headers.add(name: "Content-Length", value: "\(response.body.utf8.count)")
            headers.add(name: "Cache-Control", value: "no-store")
            if !keepAlive {
                headers.add(name: "Connection", value: "close")
            } else if version.major == 1 && version.minor == 0 {
                headers.add(name: "Connection", value: "keep-alive")
            }
            let head = HTTPResponseHead(version: version, status: response.status, headers: headers)
            channel.eventLoop.execute {
                channel.write(HTTPServerResponsePart.head(head), promise: nil)
                if withBody {
                    channel.write(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(string: response.body))), promise: nil)
                }
                let done = channel.writeAndFlush(HTTPServerResponsePart.end(nil))
                if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
            }
        }
        switch head.method {
        case .GET, .HEAD:
            answer(MetricsRoute(target: head.uri)) { send($0, [:]) }
        default:
            send(MetricsResponse(status: .methodNotAllowed, body: "only GET and HEAD\n"), ["Allow": "GET, HEAD"])
        }
    }
}

extension RelayServer.Snapshot {
    /// One data-plane thread's counters (on that thread).
    static func of(_ core: RelayCore) -> Self {
        // What the kernel relayed counts as relayed, in the same counters (and apart as well).
        core.collectKernelCounts()
        var statistics = core.engine.statistics
        let kernel = core.kernelRelayed
        statistics.packetsToPeer &+= kernel.packetsToPeer
        statistics.bytesToPeer &+= kernel.bytesToPeer
        statistics.packetsToClient &+= kernel.packetsToClient
        statistics.bytesToClient &+= kernel.bytesToClient
        return Self(
            statistics: statistics, allocationCount: core.engine.allocationCount,
            receiveErrors: core.receiveErrors, sendErrors: core.sendErrors,
            peerConnections: core.engine.stateSizes.peerConnections,
            tcpBytesToPeer: core.tcpCounters.toPeer.load(ordering: .relaxed),
            tcpBytesToClient: core.tcpCounters.toClient.load(ordering: .relaxed), kernel: kernel,
            kernelRoutes: core.kernelTable?.count ?? 0)
    }

    static func + (a: Self, b: Self) -> Self {
        var total = a
        total.statistics = a.statistics + b.statistics
        total.allocationCount += b.allocationCount
        total.receiveErrors += b.receiveErrors
        total.sendErrors += b.sendErrors
        total.peerConnections += b.peerConnections
        total.tcpBytesToPeer += b.tcpBytesToPeer
        total.tcpBytesToClient += b.tcpBytesToClient
        total.kernel += b.kernel
        total.kernelRoutes += b.kernelRoutes
        return total
    }
}

extension RelayServer {
    /// Every thread's counters, summed, handed to `done` on the last thread: passed from one
    /// data-plane thread to the next with `post`, so a scrape needs no Swift concurrency thread
    /// (a busy or blocked cooperative pool cannot delay `/metrics` or `/health`).
    static func snapshot(
        _ cores: [RelayCore], from index: Int = 0, total: Snapshot = Snapshot(),
        _ done: @escaping @Sendable (Snapshot) -> Void
    ) {
        guard index < cores.count else { done(total); return }
        let core = cores[index]
        core.post { snapshot(cores, from: index + 1, total: total + .of(core), done) }
    }
}
