import Foundation
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
            let own = udpAddresses.map(\.ip) + [configuration.relayIPv4, configuration.relayIPv6].compactMap { $0 }
            let interfaces = HostInterfaces.names(carrying: own.filter { !PeerFilter.isUnspecifiedAddress($0) })
            guard !interfaces.isEmpty else {
                throw ChannelRelayProgramError(
                    description: "no interface carries the listening or relayed addresses "
                        + "(listeners on the unspecified address are not taken by the fast path)")
            }
            let environment = ProcessInfo.processInfo.environment["JINGLE_RELAY_TC_HOOK"] ?? "auto"
            guard let choice = ChannelRelayProgram.HookChoice(rawValue: environment) else {
                throw ChannelRelayProgramError(description: "JINGLE_RELAY_TC_HOOK=\(environment): expected auto or clsact")
            }
            let handle = ChannelRelayProgram.classifierHandle(listening: udpAddresses.map { "\($0)" })
            for name in interfaces { try program.attach(interface: name, hook: choice, classifierHandle: handle) }
            fastPathProgram.withLock { $0 = program }
            for core in cores { core.post { core.useKernelRoutes(program) } }
            core.logger.info(
                "kernel fast path attached",
                metadata: [
                    "interfaces": "\(interfaces.joined(separator: ","))",
                    "hooks": "\(program.attachments.map(\.hook.summary).joined(separator: ","))",
                ])
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
}

extension ChannelRelayProgram.Hook {
    /// How the log names it: `tcx-link-ID` or `clsact-HANDLE`.
    var summary: String {
        switch self {
        case .link(let id, _): "tcx-link-\(id)"
        case .classifier(let handle): "clsact-0x\(String(handle, radix: 16))"
        }
    }
}
