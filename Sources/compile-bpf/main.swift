import Foundation

// compile-bpf OUTPUT.swift SOURCE.bpf.c INCLUDE_DIR: compiles the relay's kernel fast path with
// clang's BPF target and writes `ChannelRelayObject`, the object file as base64, for the
// RelayFastPath target (the CompileBPF build plugin runs it). Without a clang that targets BPF,
// or without libbpf's headers, it writes an object that is absent with the reason, so the relay
// still builds and runs in user space, saying why.

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: compile-bpf OUTPUT.swift SOURCE.bpf.c INCLUDE_DIR\n".utf8))
    exit(64)
}
let (output, source, include) = (arguments[0], arguments[1], arguments[2])

func write(base64: String?, reason: String) {
    let escaped = reason.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        .replacingOccurrences(of: "\n", with: " ")
    let text = """
        // Generated at build time from \(URL(fileURLWithPath: source).lastPathComponent) by the CompileBPF plugin.

        /// The kernel fast path's BPF object file, compiled from its C source during the build.
        enum ChannelRelayObject {
            /// The ELF object, base64; nil when it could not be built here (`unavailable` says why).
            static let base64: String? = \(base64.map { "\"\($0)\"" } ?? "nil")
            static let unavailable = "\(escaped)"
        }

        """
    do { try text.write(toFile: output, atomically: true, encoding: .utf8) } catch {
        FileHandle.standardError.write(Data("compile-bpf: cannot write \(output): \(error)\n".utf8))
        exit(1)
    }
}

/// The first `clang` on PATH (the Swift toolchain's has the BPF target), or $CLANG.
func findClang() -> String? {
    if let explicit = ProcessInfo.processInfo.environment["CLANG"], !explicit.isEmpty { return explicit }
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let candidate = "\(dir)/clang"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

#if os(Linux)
    guard let clang = findClang() else {
        write(base64: nil, reason: "no clang on PATH to build the BPF program")
        exit(0)
    }
    var uts = utsname()
    uname(&uts)
    let machine = withUnsafeBytes(of: &uts.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let multiarch = machine == "x86_64" ? "x86_64-linux-gnu" : machine == "aarch64" ? "aarch64-linux-gnu" : "\(machine)-linux-gnu"
    let object = NSTemporaryDirectory() + "turn_channel_relay-\(getpid()).o"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: clang)
    process.arguments = [
        "-target", "bpf", "-O2", "-g", "-Wall", "-Werror",
        "-I", include, "-I", "/usr/include/\(multiarch)", "-c", source, "-o", object,
    ]
    let errors = Pipe()
    process.standardError = errors
    do { try process.run() } catch {
        write(base64: nil, reason: "cannot run \(clang): \(error)")
        exit(0)
    }
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0, let bytes = FileManager.default.contents(atPath: object) else {
        FileHandle.standardError.write(Data("compile-bpf: warning: the kernel fast path was not built: \(message)\n".utf8))
        write(base64: nil, reason: "the BPF program did not build here (\(clang) -target bpf): \(message.prefix(400))")
        exit(0)
    }
    try? FileManager.default.removeItem(atPath: object)
    write(base64: bytes.base64EncodedString(), reason: "")
#else
    write(base64: nil, reason: "the kernel fast path is Linux only")
#endif
