// swift-tools-version:6.1
// JingleKit: Jingle voice calls over XMPP. See README.md for the layer map.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6)
]

let package = Package(
    name: "JingleKit",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "JingleKit", targets: ["JingleKit"]),
        .library(name: "XMLModel", targets: ["XMLModel"]),
        .library(name: "XMLStream", targets: ["XMLStream"]),
        .library(name: "EngineTime", targets: ["EngineTime"]),
        .library(name: "XMPPCore", targets: ["XMPPCore"]),
        .library(name: "Jingle", targets: ["Jingle"]),
        .library(name: "JingleJSON", targets: ["JingleJSON"]),
        .library(name: "STUN", targets: ["STUN"]),
        .library(name: "TURNClientEngine", targets: ["TURNClientEngine"]),
        .library(name: "TURNServer", targets: ["TURNServer"]),
        .library(name: "Media", targets: ["Media"]),
        .library(name: "Transport", targets: ["Transport"]),
        .executable(name: "jingle-agent", targets: ["jingle-agent"]),
        .executable(name: "jingle-relay", targets: ["jingle-relay"]),
        .executable(name: "jingle-harness", targets: ["jingle-harness"]),
        .executable(name: "jingle-bench", targets: ["jingle-bench"]),
        .executable(name: "answering-machine", targets: ["answering-machine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Builds the JingleKit DocC catalog: swift package generate-documentation --target JingleKit
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    ],
    targets: [
        // MARK: 1. C modules (leaf): system libraries with shims for what Swift cannot import.
        .systemLibrary(
            name: "CLibXML2", path: "Sources/CModules/CLibXML2", pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(
            name: "CNice", path: "Sources/CModules/CNice",
            providers: [.apt(["libnice-dev"])]),
        .systemLibrary(
            name: "CSRTP", path: "Sources/CModules/CSRTP", pkgConfig: "libsrtp2",
            providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(
            name: "COpus", path: "Sources/CModules/COpus", pkgConfig: "opus",
            providers: [.apt(["libopus-dev"])]),
        .systemLibrary(
            name: "COpenSSL", path: "Sources/CModules/COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CSndFile", path: "Sources/CModules/CSndFile", pkgConfig: "sndfile",
            providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(
            name: "CSoxr", path: "Sources/CModules/CSoxr", pkgConfig: "soxr",
            providers: [.apt(["libsoxr-dev"])]),
        // libbpf: loads the relay's kernel fast path and writes its maps.
        .systemLibrary(
            name: "CBPF", path: "Sources/CModules/CBPF", pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev"])]),
        // glibc's stub resolver (res_nsearch) for the XMPP SRV look-up; part of libc6-dev, no pkg-config.
        .systemLibrary(
            name: "CResolv", path: "Sources/CModules/CResolv",
            providers: [.apt(["libc6-dev"])]),
        // epoll, recvmmsg and sendmmsg with this platform's struct layouts (x86-64 and arm64 differ).
        .target(name: "CLinuxCalls", path: "Sources/CModules/CLinuxCalls"),

        // MARK: 2. Wire and pure helpers.
        .target(
            name: "CryptoPrimitives", dependencies: ["COpenSSL"],
            path: "Sources/CryptoPrimitives", swiftSettings: swiftSettings),
        // The XML element model, its serialiser and the stream events: pure Swift, so engines
        // that only build and read elements link no libxml2.
        .target(name: "XMLModel", path: "Sources/XMLModel", swiftSettings: swiftSettings),
        // The engines' one time type (`EngineInstant`) and a driver's clock for it.
        .target(name: "EngineTime", path: "Sources/EngineTime", swiftSettings: swiftSettings),
        // Drivers' clock for the engines (`EngineClock`): the only reader of the clock beside I/O code.
        .target(name: "DriverClock", dependencies: ["EngineTime"], path: "Sources/DriverClock", swiftSettings: swiftSettings),
        // The streaming parser (libxml2's push parser) that makes `XMLModel`'s elements; it
        // re-exports XMLModel.
        .target(
            name: "XMLStream", dependencies: ["XMLModel", "CLibXML2"],
            path: "Sources/XMLStream", swiftSettings: swiftSettings),
        // The version string every tool prints for --version.
        .target(name: "JingleKitVersion", path: "Sources/JingleKitVersion", swiftSettings: swiftSettings),

        // MARK: 3. Protocols: wire + sans-IO engines.
        .target(
            name: "XMPPCore", dependencies: ["EngineTime", "XMLModel", "CryptoPrimitives"],
            path: "Sources/XMPPCore", swiftSettings: swiftSettings),
        .target(
            name: "Jingle", dependencies: ["XMLModel", "XMPPCore"],
            path: "Sources/Jingle", swiftSettings: swiftSettings),
        .target(
            name: "STUN", dependencies: ["CryptoPrimitives"],
            path: "Sources/STUN", swiftSettings: swiftSettings),
        // The TURN client engine (RFC 8656 §6-§12, RFC 6062) over the STUN wire types.
        .target(
            name: "TURNClientEngine", dependencies: ["EngineTime", "STUN", "CryptoPrimitives"],
            path: "Sources/TURNClientEngine", swiftSettings: swiftSettings),
        // Jingle IQs and JMI messages as the tools' JSON, and Jingle <-> SDP from text.
        .target(
            name: "JingleJSON", dependencies: ["Jingle", "XMLStream", "XMPPCore"],
            path: "Sources/JingleJSON", swiftSettings: swiftSettings),
        .target(
            name: "TURNServer",
            dependencies: [
                "EngineTime", "STUN", "CryptoPrimitives",
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            path: "Sources/TURNServer", swiftSettings: swiftSettings),

        // MARK: 4. Adapters over C libraries.
        .target(
            name: "TLS",
            dependencies: [
                "COpenSSL",
                "EngineTime",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/TLS", swiftSettings: swiftSettings),
        .target(
            name: "Media", dependencies: ["COpus", "CSndFile", "CSoxr", "EngineTime"],
            path: "Sources/Media", swiftSettings: swiftSettings),
        .target(
            name: "Transport", dependencies: ["CNice", "CSRTP", "DriverClock", "EngineTime", "TLS", "STUN", "TURNClientEngine", "Media"],
            path: "Sources/Transport", swiftSettings: swiftSettings),
        // Virtual-time network paths and senders for media tests and benchmarks (not a product).
        .target(
            name: "NetworkEmulator", dependencies: ["EngineTime", "Media", "Transport"],
            path: "Sources/NetworkEmulator", swiftSettings: swiftSettings),

        // MARK: 5. Runtime: sockets, clocks, threads.
        .target(
            name: "XMPPClient",
            dependencies: [
                "DriverClock", "XMPPCore", "XMLStream", "TLS", "CResolv",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/XMPPClient", swiftSettings: swiftSettings),
        // The relay's kernel fast path: a TC program built from BPF/*.bpf.c by CompileBPF at build
        // time, its loader and its maps.
        .target(
            name: "RelayFastPath", dependencies: ["EngineTime", "TURNServer", "STUN", "CBPF"],
            path: "Sources/RelayFastPath", exclude: ["BPF"], swiftSettings: swiftSettings, plugins: ["CompileBPF"]),
        .executableTarget(name: "compile-bpf", path: "Sources/compile-bpf"),
        .plugin(
            name: "CompileBPF", capability: .buildTool(), dependencies: ["compile-bpf"],
            path: "Plugins/CompileBPF"),
        .target(
            name: "RelayServer",
            dependencies: [
                "DriverClock", "EngineTime", "TURNServer", "STUN", "TLS", "CLinuxCalls", "RelayFastPath",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/RelayServer", swiftSettings: swiftSettings),
        .target(
            name: "JingleKit",
            dependencies: [
                "DriverClock", "XMPPClient", "XMPPCore", "Jingle", "Transport", "Media",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/JingleKit", swiftSettings: swiftSettings),

        .target(
            name: "Harness",
            dependencies: [
                "EngineTime", "Jingle", "XMPPCore", "XMPPClient", "XMLStream", "JingleKit", "Media", "CLibXML2",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/Harness", swiftSettings: swiftSettings, plugins: ["EmbedScenarios"]),
        // The built-in scenarios (Samples/harness/*.xml) compiled into Harness at build time.
        .executableTarget(name: "embed-scenarios", path: "Sources/embed-scenarios"),
        .plugin(
            name: "EmbedScenarios", capability: .buildTool(), dependencies: ["embed-scenarios"],
            path: "Plugins/EmbedScenarios"),

        // MARK: 6. Tools.
        .executableTarget(
            name: "jingle-agent",
            dependencies: [
                "JingleKit", "Jingle", "Transport", "XMPPClient", "XMPPCore", "JingleKitVersion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/jingle-agent", swiftSettings: swiftSettings),
        .executableTarget(
            name: "jingle-relay",
            dependencies: [
                "RelayServer", "TURNServer", "JingleKitVersion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/jingle-relay", swiftSettings: swiftSettings),
        .executableTarget(
            name: "jingle-harness",
            dependencies: [
                "Jingle", "JingleJSON", "XMLStream", "XMPPCore", "Harness", "JingleKitVersion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/jingle-harness", swiftSettings: swiftSettings),
        .target(name: "CXMLBenchLoop", dependencies: ["CLibXML2"], path: "Sources/CModules/CXMLBenchLoop"),
        // The wrapper-against-raw-C-library media benchmarks, kept out of Media and Transport.
        .target(
            name: "MediaBenchmarks", dependencies: ["Media", "Transport", "COpus", "CSRTP"],
            path: "Sources/MediaBenchmarks", swiftSettings: swiftSettings),
        .executableTarget(
            name: "jingle-bench",
            dependencies: [
                "XMLStream", "CXMLBenchLoop", "MediaBenchmarks", "DriverClock", "EngineTime", "STUN", "TURNClientEngine", "Media",
                "Transport",
                "JingleKit", "Jingle", "XMPPClient", "XMPPCore", "JingleKitVersion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/jingle-bench", swiftSettings: swiftSettings),

        // MARK: 7. Samples: programs on the public API.
        .executableTarget(
            name: "answering-machine",
            dependencies: [
                "JingleKit", "Jingle", "XMPPClient", "XMPPCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Samples/answering-machine", exclude: ["README.md"], swiftSettings: swiftSettings),
        // The README's library example, compiled so it stays true (`import JingleKit` only).
        .executableTarget(
            name: "readme-call", dependencies: ["JingleKit"],
            path: "Samples/readme-call", swiftSettings: swiftSettings),

        // MARK: Tests.
        .testTarget(
            name: "XMLStreamTests", dependencies: ["XMLStream"],
            resources: [.copy("Transcripts")], swiftSettings: swiftSettings),
        .testTarget(
            name: "XMPPCoreTests", dependencies: ["XMPPCore", "XMLStream", "CryptoPrimitives"],
            resources: [.copy("Vectors")], swiftSettings: swiftSettings),
        .testTarget(
            name: "XMPPClientTests",
            dependencies: [
                "XMPPClient", "XMPPCore", "XMLStream", "TLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "JingleTests", dependencies: ["Jingle", "JingleJSON", "XMLStream", "XMPPCore"],
            resources: [.copy("Vectors")], swiftSettings: swiftSettings),
        .testTarget(
            name: "STUNTests", dependencies: ["EngineTime", "STUN", "TURNClientEngine", "TURNServer"],
            resources: [.copy("Vectors")], swiftSettings: swiftSettings),
        .testTarget(
            name: "TLSTests",
            dependencies: [
                "DriverClock", "EngineTime", "TLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "MediaTests", dependencies: ["DriverClock", "EngineTime", "Media"],
            resources: [.copy("Vectors")], swiftSettings: swiftSettings),
        // Test support the test targets share: two libnice agents wired to each other.
        .target(name: "ICETestSupport", dependencies: ["Transport"], path: "Tests/ICETestSupport", swiftSettings: swiftSettings),
        // Test support for call tests: bounded waits and readers of a call's events.
        .target(name: "CallTestSupport", dependencies: ["JingleKit"], path: "Tests/CallTestSupport", swiftSettings: swiftSettings),
        .testTarget(
            name: "TransportTests",
            dependencies: [
                "DriverClock", "EngineTime", "ICETestSupport", "Transport", "Media", "NetworkEmulator", "MediaBenchmarks", "TLS", "Jingle",
                "JingleJSON",
                "XMPPCore",
                "XMLStream", "RelayServer", "TURNServer", "STUN",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.copy("Vectors")], swiftSettings: swiftSettings),
        .testTarget(
            name: "RelayTests",
            dependencies: [
                "DriverClock", "EngineTime", "RelayServer", "RelayFastPath", "TURNServer", "STUN", "TURNClientEngine", "CLinuxCalls",
                "Transport",
                "ICETestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "HarnessTests", dependencies: ["Harness", "EngineTime", "Jingle", "XMPPCore", "XMPPClient", "XMLStream", "Media"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "JingleKitTests",
            dependencies: [
                "CallTestSupport", "JingleKit", "Jingle", "XMPPCore", "XMLStream", "Transport", "Media",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "XMPPClient", "XMPPCore", "XMLStream", "CryptoPrimitives", "RelayServer",
                "CallTestSupport", "JingleKit", "Jingle", "Harness", "Transport", "STUN", "TURNServer", "ICETestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
    ]
)
