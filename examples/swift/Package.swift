// swift-tools-version:6.0
// The Swift examples: `user` (every User API route) and `stream` (follow the signed-in user).
// Run with `make demo`, or `swift run user http://127.0.0.1:39300` after `cargo build`.
import PackageDescription

let package = Package(
    name: "PiecesUserExamples",
    platforms: [.macOS(.v13)],
    // `PiecesUser` is a symlink to ../../bindings/swift: SwiftPM names a path dependency after its
    // directory, and `swift` would clash with this package's own directory name.
    dependencies: [.package(path: "PiecesUser")],
    targets: [
        .executableTarget(name: "user", dependencies: [.product(name: "PiecesUser", package: "PiecesUser")]),
        .executableTarget(name: "stream", dependencies: [.product(name: "PiecesUser", package: "PiecesUser")]),
    ],
    swiftLanguageModes: [.v6]
)
