// swift-tools-version:6.1
// Coverage-guided fuzz targets for JingleKit's parsers (libFuzzer through Swift's -sanitize=fuzzer).
// Build and run with Tools/fuzz; see README.md. This package is separate from the root one so the
// sanitizer flags never touch the main build.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

func fuzzTarget(_ name: String, _ products: [String]) -> Target {
    .executableTarget(name: name,
                      dependencies: ["FuzzSupport", "CFuzzerDriver"] + products.map { .product(name: $0, package: "JingleKit") },
                      path: "Sources/\(name)", swiftSettings: swiftSettings)
}

let package = Package(
    name: "JingleKitFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        // A symlink to the repository root, so the dependency is named JingleKit whatever the clone is called.
        .package(path: "Root/JingleKit"),
    ],
    targets: [
        .target(name: "CFuzzerDriver", path: "Sources/CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: [.product(name: "XMLStream", package: "JingleKit")],
                path: "Sources/FuzzSupport", swiftSettings: swiftSettings),
        fuzzTarget("fuzz-xml-stream", ["XMLStream"]),
        fuzzTarget("fuzz-jingle", ["Jingle", "XMLStream", "XMPPCore"]),
        fuzzTarget("fuzz-sdp", ["Jingle"]),
        fuzzTarget("fuzz-stun", ["STUN"]),
    ]
)
