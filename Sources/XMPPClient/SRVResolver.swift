internal import CResolv
import Foundation
import NIOCore
import Synchronization
import XMPPCore

/// Looks up `_xmpp-client._tcp.<domain>` SRV records (RFC 6120 §3.2.1) through glibc's stub
/// resolver (`res_nsearch` on a resolver state of its own): the name servers, search domains and
/// options of /etc/resolv.conf, each server in turn for `attempts` rounds, a truncated UDP answer
/// asked again over TCP. The blocking call runs on a thread of its own (the calling task only
/// awaits, and stops waiting after `timeout`). The answer's bytes are decoded by `DNSSRVCodec`.
/// Any failure yields no records, and the caller falls back to the domain on 5222.
enum SRVResolver {
    /// The SRV records in connection order; empty when there are none or the lookup failed.
    /// - Parameter nameserver: `ip`, `ip:port` or `[v6]:port` of the resolver (several separated
    ///   by commas, at most three), used with no search domains; nil uses /etc/resolv.conf.
    static func lookup(domain: String, nameserver override: String?, timeout: Duration, group: EventLoopGroup) async -> [SRVRecord] {
        (try? await resolve(domain: domain, nameserver: override, timeout: timeout).get()) ?? []
    }

    /// As `lookup`, saying why there are no records.
    static func resolve(domain: String, nameserver override: String?, timeout: Duration) async -> Result<[SRVRecord], SRVLookupError> {
        var configuration = ResolverConfiguration()
        if let override {
            let servers = override.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            let parsed = servers.compactMap(ResolverConfiguration.server)
            guard parsed.count == servers.count, !parsed.isEmpty else {
                return .failure(.resolverFailure("'\(override)' is not a list of name server addresses"))
            }
            configuration.nameservers = parsed
            configuration.search = []
        }
        return await resolve(domain: domain, configuration: configuration, timeout: timeout)
    }

    static func lookup(domain: String, configuration: ResolverConfiguration, timeout: Duration) async -> [SRVRecord] {
        (try? await resolve(domain: domain, configuration: configuration, timeout: timeout).get()) ?? []
    }

    /// The look-up on a thread of its own; `.timedOut` when it has not finished after `timeout`
    /// (the thread then finishes on its own, bounded by the resolver's own time-outs).
    static func resolve(domain: String, configuration: ResolverConfiguration, timeout: Duration) async -> Result<
        [SRVRecord], SRVLookupError
    > {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let once = Once()
        return await withCheckedContinuation { (done: CheckedContinuation<Result<[SRVRecord], SRVLookupError>, Never>) in
            once.arm(done)
            Thread.detachNewThread {
                once.resume(blockingLookup(domain: domain, configuration: configuration, timeout: seconds))
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                once.resume(.failure(.timedOut(timeout)))
            }
        }
    }

    /// The blocking look-up: `res_nsearch` for `_xmpp-client._tcp.<domain>`.
    static func blockingLookup(domain: String, configuration: ResolverConfiguration, timeout: Double) -> Result<[SRVRecord], SRVLookupError>
    {
        guard let state = jk_resolv_open() else { return .failure(.resolverFailure("cannot read the resolver configuration (res_ninit)")) }
        defer { jk_resolv_close(state) }
        if let configured = configuration.nameservers {
            let servers = Array(configured.prefix(3))
            let hosts = servers.map { strdup($0.host) }
            defer { hosts.forEach { free($0) } }
            let pointers = hosts.map { UnsafePointer($0) }
            let ports = servers.map { UInt16($0.port) }
            guard jk_resolv_set_nameservers(state, pointers, ports, Int32(servers.count)) == 0 else {
                return .failure(.resolverFailure("bad name server list \(servers)"))
            }
        }
        if let search = configuration.search {
            let domains = search.map { strdup($0) }
            defer { domains.forEach { free($0) } }
            _ = jk_resolv_set_search(state, domains.map { UnsafePointer($0) }, Int32(domains.count))
        }
        if let ndots = configuration.ndots { jk_resolv_set_ndots(state, UInt32(max(0, ndots))) }
        let servers = max(1, Int(jk_resolv_nameserver_count(state)))
        let attempts = configuration.attempts ?? Int(jk_resolv_retry(state))
        // glibc waits `retrans` seconds for the first server and less for later ones; fit the
        // rounds into most of the timeout (whole seconds, at least one), never longer than configured.
        let perTry = max(1, Int((timeout * 0.8 / Double(servers * max(1, attempts))).rounded(.down)))
        jk_resolv_set_timing(state, Int32(min(Int(jk_resolv_retrans(state)), perTry)), Int32(attempts))

        let name = "_xmpp-client._tcp.\(domain)"
        var answer = [UInt8](repeating: 0, count: 65_536)
        let length = Int(
            answer.withUnsafeMutableBufferPointer {
                jk_resolv_search(state, name, 33, $0.baseAddress, Int32($0.count))
            })
        guard length >= 0 else {
            switch jk_resolv_error(state) {
            case HOST_NOT_FOUND: return .failure(.noSuchName(name))
            case NO_DATA: return .failure(.noRecords(name))
            case TRY_AGAIN: return .failure(.resolverFailure("no name server answered for \(name) (timed out or server failure)"))
            case NO_RECOVERY: return .failure(.resolverFailure("the name server refused or could not answer \(name)"))
            case let code:
                return .failure(.resolverFailure("res_nsearch failed for \(name) (h_errno \(code), \(String(cString: strerror(errno))))"))
            }
        }
        guard length <= answer.count, length >= 2 else { return .failure(.resolverFailure("answer for \(name) of \(length) bytes")) }
        let bytes = Array(answer[..<length])
        do {
            let records = try DNSSRVCodec.parseResponse(bytes, id: UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
            // A single record with target "." says the service is decidedly not available.
            let ordered = SRVRecord.connectionOrder(records)
            return ordered.isEmpty ? .failure(.noRecords(name)) : .success(ordered)
        } catch {
            return .failure(.resolverFailure("\(error)"))
        }
    }

    /// Resumes a continuation once: with the look-up's result or the time-out, whichever is first.
    final class Once: Sendable {
        private let continuation = Mutex<CheckedContinuation<Result<[SRVRecord], SRVLookupError>, Never>?>(nil)

        func arm(_ c: CheckedContinuation<Result<[SRVRecord], SRVLookupError>, Never>) {
            continuation.withLock { $0 = c }
        }

        func resume(_ result: Result<[SRVRecord], SRVLookupError>) {
            continuation.withLock { c in
                let taken = c
                c = nil
                return taken
            }?.resume(returning: result)
        }
    }
}

/// Why an SRV look-up gave no records.
enum SRVLookupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// NXDOMAIN for every name tried.
    case noSuchName(String)
    /// The name exists but has no SRV records (or only the "." target: no service).
    case noRecords(String)
    /// No name server answered usably (time-outs, SERVFAIL, REFUSED, a malformed answer).
    case resolverFailure(String)
    /// The look-up did not finish within the caller's timeout.
    case timedOut(Duration)

    var description: String {
        switch self {
        case .noSuchName(let name): "no such name: \(name) (NXDOMAIN)"
        case .noRecords(let name): "no SRV records for \(name)"
        case .resolverFailure(let why): "resolver failure: \(why)"
        case .timedOut(let after): "no answer within \(after)"
        }
    }
}

/// What to use instead of /etc/resolv.conf's settings; nil keeps glibc's.
struct ResolverConfiguration: Sendable, Equatable {
    struct Server: Sendable, Equatable {
        var host: String
        var port: UInt16
    }

    /// At most three (glibc's MAXNS).
    var nameservers: [Server]? = nil
    var search: [String]? = nil
    var ndots: Int? = nil
    var attempts: Int? = nil

    /// `ip`, `ip:port` or `[v6]:port` (port 53 by default).
    static func server(_ text: String) -> Server? {
        if jk_resolv_is_numeric_address(text) != 0 { return Server(host: text, port: 53) }
        guard let parsed = XMPPClientConfiguration.ServerAddress(text), let port = UInt16(exactly: parsed.port),
            jk_resolv_is_numeric_address(parsed.host) != 0
        else { return nil }
        return Server(host: parsed.host, port: port)
    }
}
