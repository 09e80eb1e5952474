#if canImport(Glibc)
    import Glibc
#endif
import DriverClock
import EngineTime
import Foundation
import STUN
@testable import RelayServer

/// A plain blocking UDP socket on loopback (127.0.0.1, or ::1 for `.ipv6`) with receive
/// timeouts, for driving the relay from tests without sleeps: every wait is bounded by a timeout.
final class UDPTestSocket {
    let fd: Int32
    let address: TransportAddress
    let family: AddressFamily

    convenience init(port: UInt16 = 0, family: AddressFamily = .ipv4) throws {
        try self.init(ip: family == .ipv4 ? .v4(0x7F00_0001) : .v6(0, 1), port: port)
    }

    /// Bound to `ip` (of this thread's network namespace).
    init(ip loopback: IPAddress, port: UInt16 = 0) throws {
        let family = loopback.family
        let fd = socket(family == .ipv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var storage = sockaddr_storage()
        let length = SocketAddressBytes.write(TransportAddress(ip: loopback, port: port), family: family, into: &storage)
        let ok = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard ok == 0 else { close(fd); throw POSIXError(family == .ipv6 ? .EADDRNOTAVAIL : .EADDRINUSE) }
        var bound = sockaddr_storage()
        var boundLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &boundLength) }
        }
        self.fd = fd
        self.family = family
        address = SocketAddressBytes.read(&bound) ?? TransportAddress(ip: loopback, port: port)
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8], to destination: TransportAddress) {
        var storage = sockaddr_storage()
        let length = SocketAddressBytes.write(destination, family: family, into: &storage)
        guard length > 0 else { return }
        _ = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, raw.baseAddress, raw.count, 0, $0, length)
                }
            }
        }
    }

    /// The next datagram, or nil after `timeout` seconds.
    func receive(timeout: Double) -> (bytes: [UInt8], from: TransportAddress)? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(max(1, timeout * 1000))) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = buffer.withUnsafeMutableBytes { raw in
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length)
                }
            }
        }
        guard n >= 0, let from = SocketAddressBytes.read(&storage) else { return nil }
        return (Array(buffer[0..<n]), from)
    }
}

/// Test ports: random in 20000-24999, so parallel tests rarely clash (Tools/bench-relay uses 25000+).
enum TestPorts {
    static func relayRange() -> ClosedRange<UInt16> {
        let base = UInt16.random(in: 20000...24500)
        return base...base + 399
    }

    /// A UDP port on loopback that was free a moment ago.
    static func freeUDPPort() throws -> UInt16 {
        for _ in 0..<50 {
            let candidate = UInt16.random(in: 20000...24999)
            if (try? UDPTestSocket(port: candidate)) != nil { return candidate }
        }
        throw POSIXError(.EADDRINUSE)
    }
}

func currentTime() -> EngineInstant { EngineClock.process.now }
