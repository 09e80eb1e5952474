#if canImport(Glibc)
    import Glibc
#endif
import NIOCore
import NIOPosix
import STUN
import Synchronization
import TLS
import TURNServer

/// Caps on TCP and TLS client connections, shared by every listener and event loop: in total
/// and per source address. A connection beyond either is closed as soon as it is accepted, so
/// idle or abusive clients cannot take the descriptors relay sockets need.
final class ConnectionLimits: Sendable {
    private struct State {
        var total = 0
        var limit = 0
        var byAddress: [IPAddress: Int] = [:]
    }
    private let state = Mutex(State())
    let perAddress: Int
    /// Connections closed at accept because of a cap.
    let refused = Atomic<UInt64>(0)

    init(total: Int, perAddress: Int) {
        self.perAddress = perAddress
        state.withLock { $0.limit = total }
    }

    /// The total cap in force.
    var limit: Int { state.withLock { $0.limit } }

    func setLimit(_ total: Int) { state.withLock { $0.limit = total } }

    /// Counts a new connection from `ip`, or says it is over a cap (then nothing is counted).
    func admit(_ ip: IPAddress) -> Bool {
        let admitted = state.withLock { s -> Bool in
            let fromAddress = s.byAddress[ip, default: 0]
            guard s.total < s.limit, fromAddress < perAddress else { return false }
            s.total += 1
            s.byAddress[ip] = fromAddress + 1
            return true
        }
        if !admitted { refused.add(1, ordering: .relaxed) }
        return admitted
    }

    /// A connection `admit` counted has closed.
    func release(_ ip: IPAddress) {
        state.withLock { s in
            s.total -= 1
            let left = s.byAddress[ip, default: 1] - 1
            s.byAddress[ip] = left > 0 ? left : nil
        }
    }

    /// Connections open now.
    var open: Int { state.withLock { $0.total } }
}

/// How long a TCP or TLS client connection may take for each step (see `RelayConfiguration`).
struct StreamTimeouts: Sendable {
    var tlsHandshake: TimeAmount
    var firstMessage: TimeAmount
    var idle: TimeAmount

    init(_ configuration: RelayConfiguration) {
        func amount(_ seconds: Double) -> TimeAmount { .milliseconds(Int64((seconds * 1000).rounded())) }
        tlsHandshake = amount(configuration.tlsHandshakeTimeout)
        firstMessage = amount(configuration.firstMessageTimeout)
        idle = amount(configuration.idleTimeout)
    }
}

/// A listener or relay address that could not be bound at start, named.
public struct RelayStartError: Error, CustomStringConvertible {
    public var description: String
}

extension RelayServer {
    /// The process's open-descriptor limit: the soft limit is raised to the hard one (each
    /// client connection, relay socket and peer connection takes a descriptor).
    public static func raiseDescriptorLimit() -> (previous: UInt64, soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (0, 0, 0) }
        let previous = UInt64(limit.rlim_cur)
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return (previous, UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// The current soft descriptor limit.
    static var descriptorLimit: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1 << 20 }
        return Int(clamping: min(limit.rlim_cur, rlim_t(Int32.max)))
    }

    /// `max-connections`, or half the descriptor limit when it is 0 (the other half stays for
    /// relay sockets, peer connections and the listeners).
    static func connectionLimit(_ configuration: RelayConfiguration) -> Int {
        configuration.maxConnections > 0 ? configuration.maxConnections : max(8, descriptorLimit / 2)
    }

    /// Re-reads the TLS certificate chain and key (SIGHUP). New connections use them; live ones
    /// keep theirs. On an error the current context stays and the error is logged.
    public func reloadTLS(certificateChainFile: String?, privateKeyFile: String?) {
        guard !configuration.tlsListen.isEmpty, let certificateChainFile, let privateKeyFile else { return }
        do {
            let context = try TLSServerContext(
                TLSServerConfiguration(certificateChainFile: certificateChainFile, privateKeyFile: privateKeyFile))
            tlsContext.withLock { $0 = context }
            core.logger.info("TLS certificate reloaded", metadata: ["certificate": "\(certificateChainFile)"])
        } catch {
            core.logger.error("TLS reload failed; keeping the current certificate", metadata: ["error": "\(error)"])
        }
    }

    /// Binds a stream listener, naming the address in the error.
    func bindListener(_ bootstrap: ServerBootstrap, _ address: TransportAddress, kind: String) async throws -> Channel {
        do {
            return try await bootstrap.bind(to: address.socketAddress).get()
        } catch let error as IOError {
            throw RelayStartError(description: "cannot listen on \(kind) \(address): \(String(cString: strerror(error.errnoCode)))")
        } catch {
            throw RelayStartError(description: "cannot listen on \(kind) \(address): \(error)")
        }
    }
}

extension RelayCore {
    /// A stream connection has been silent for the idle timeout: it closes unless it holds an
    /// allocation (whose own lifetime then governs it).
    func closeIfWithoutAllocation(_ tuple: FiveTuple) {
        guard engine.relayedAddresses(of: tuple).isEmpty, let channel = connections[tuple] else { return }
        logger.debug("idle connection closed", metadata: ["client": "\(tuple)"])
        channel.close(promise: nil)
    }
}
