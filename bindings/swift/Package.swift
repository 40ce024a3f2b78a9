// swift-tools-version:6.0
// The Swift package of pieces_user: a module map over include/pieces_user.h (CPiecesUser) and one
// idiomatic wrapper (PiecesUser). See README.md for how the library is found and linked.
import Foundation
import PackageDescription

/// Where libpieces_user lives: $PIECES_USER_LIB_DIR, else the repository's own cargo build
/// ($CARGO_TARGET_DIR or ../../target; debug, or release when only that one was built).
func libraryDirectory() -> String {
    // Context.environment (not ProcessInfo) so SwiftPM knows the manifest depends on these.
    let env = Context.environment
    if let dir = env["PIECES_USER_LIB_DIR"], !dir.isEmpty {
        return dir
    }
    let root = URL(fileURLWithPath: Context.packageDirectory + "/../..").standardized.path
    var target = env["CARGO_TARGET_DIR"] ?? "target"
    if !target.hasPrefix("/") {
        target = root + "/" + target
    }
    let built = { (profile: String) in
        ["so", "dylib", "a"].contains {
            FileManager.default.fileExists(atPath: "\(target)/\(profile)/libpieces_user.\($0)")
        }
    }
    return built("debug") || !built("release") ? "\(target)/debug" : "\(target)/release"
}

let libDir = libraryDirectory()

let package = Package(
    name: "PiecesUser",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "PiecesUser", targets: ["PiecesUser"]),
    ],
    targets: [
        .systemLibrary(name: "CPiecesUser", path: "Sources/CPiecesUser"),
        .target(
            name: "PiecesUser",
            dependencies: ["CPiecesUser"],
            // -L finds the library at link time, the rpath at run time (no LD_LIBRARY_PATH).
            linkerSettings: [.unsafeFlags(["-L", libDir, "-Xlinker", "-rpath", "-Xlinker", libDir])]
        ),
        .executableTarget(
            name: "PiecesUserBench",
            dependencies: ["PiecesUser", "CPiecesUser"]
        ),
        .testTarget(
            name: "PiecesUserTests",
            dependencies: ["PiecesUser", "CPiecesUser"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
