#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import DriverClock
import EngineTime
import NIOCore
import STUN
import TURNServer

extension TransportAddress {
    /// Reads the address and port out of a NIO socket address without going through text.
    init?(_ address: SocketAddress) {
        switch address {
        case .v4(let a):
            self.init(ip: .v4(UInt32(bigEndian: a.address.sin_addr.s_addr)), port: UInt16(bigEndian: a.address.sin_port))
        case .v6(let a):
            var raw = a.address
            let ip = withUnsafeBytes(of: &raw.sin6_addr) { IPAddress(bytes: $0) }
            guard let ip else { return nil }
            // An IPv4-mapped source on a dual-stack socket is the IPv4 address.
            if case .v6(0, let lo) = ip, lo >> 32 == 0xFFFF {
                self.init(ip: .v4(UInt32(truncatingIfNeeded: lo)), port: UInt16(bigEndian: raw.sin6_port))
            } else {
                self.init(ip: ip, port: UInt16(bigEndian: raw.sin6_port))
            }
        default:
            return nil
        }
    }

    /// The NIO socket address for this transport address.
    var socketAddress: SocketAddress {
        switch ip {
        case .v4(let v):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = v.bigEndian
            return SocketAddress(sin, host: "")
        case .v6:
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            let bytes = ip.bytes
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
                for i in 0..<16 { raw[i] = bytes[i] }
            }
            return SocketAddress(sin6, host: "")
        }
    }
}

/// The engines' `now`: one monotonic clock for every data-plane thread, so a nonce one thread
/// issued ages alike on the others.
func engineNow() -> EngineInstant { EngineClock.process.now }

/// The wall clock, for TURN REST usernames' expiry only (`handleClientDatagram`'s `wallClock`).
func unixTime() -> UnixTime {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UnixTime(seconds: Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9)
}
