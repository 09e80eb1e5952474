#if canImport(Glibc)
import Glibc
#endif
import RelayFastPath
import STUN
import TURNServer

extension RelayServer {
    /// Loads the kernel fast path and attaches it to the interfaces that carry the listening and
    /// relayed addresses, as `fast-path` asks: with `auto`, a kernel or a process that refuses it
    /// leaves the relay in user space with one log line; with `on` the start fails.
    func startFastPath() throws {
        guard configuration.fastPath != .off else { return }
        do {
            let program = try ChannelRelayProgram()
            let interfaces = Self.interfaces(carrying: udpAddresses.map(\.ip) + [configuration.relayIPv4, configuration.relayIPv6].compactMap { $0 })
            guard !interfaces.isEmpty else {
                throw ChannelRelayProgramError(description: "no interface carries the listening or relayed addresses "
                                                   + "(listeners on the unspecified address are not taken by the fast path)")
            }
            for name in interfaces { try program.attach(interface: name) }
            fastPathProgram.withLock { $0 = program }
            for core in cores { core.post { core.useKernelRoutes(program) } }
            core.logger.info("kernel fast path attached", metadata: ["interfaces": "\(interfaces.joined(separator: ","))"])
        } catch {
            if configuration.fastPath == .on { throw RelayStartError(description: "fast-path = on: \(error)") }
            core.logger.notice("kernel fast path not used; relaying in user space", metadata: ["reason": "\(error)"])
        }
    }

    /// Detaches the program (after the cores have emptied their routes).
    func stopFastPath() {
        fastPathProgram.withLock { program in
            program?.detachAll()
            program = nil
        }
    }

    /// Names of the interfaces holding any of `addresses` (the unspecified address matches none).
    static func interfaces(carrying addresses: [IPAddress]) -> [String] {
        var wanted = Set(addresses.filter { !PeerFilter.isUnspecifiedAddress($0) })
        guard !wanted.isEmpty else { return [] }
        var names: [String] = []
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let sockaddr = entry.pointee.ifa_addr, let ip = Self.ipAddress(sockaddr), wanted.contains(ip) else { continue }
            let name = String(cString: entry.pointee.ifa_name)
            if !names.contains(name) { names.append(name) }
            wanted.remove(ip)
        }
        return names
    }

    static func ipAddress(_ address: UnsafeMutablePointer<sockaddr>) -> IPAddress? {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { .v4(UInt32(bigEndian: $0.pointee.sin_addr.s_addr)) }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                withUnsafeBytes(of: sin6.pointee.sin6_addr) { raw in
                    var hi: UInt64 = 0, lo: UInt64 = 0
                    for i in 0..<8 { hi = hi << 8 | UInt64(raw[i]); lo = lo << 8 | UInt64(raw[8 + i]) }
                    return .v6(hi, lo)
                }
            }
        default:
            return nil
        }
    }
}
