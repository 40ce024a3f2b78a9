import Foundation
import XCTest

@testable import PiecesUser

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The repository root, from this file's place in it.
let repoRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().appendingPathComponent("../../../..").standardized

/// `../shared/fixtures` beside the worktree, or $PIECES_FIXTURES.
let fixturesDir: URL = {
    if let dir = ProcessInfo.processInfo.environment["PIECES_FIXTURES"] {
        return URL(fileURLWithPath: dir)
    }
    return repoRoot.appendingPathComponent("../shared/fixtures").standardized
}()

func fixtureText(_ name: String) throws -> String {
    try String(contentsOf: fixturesDir.appendingPathComponent(name), encoding: .utf8)
}

/// JSON text as a comparable value (numbers by value, objects unordered).
func jsonValue(_ text: String) throws -> JSONValue {
    try JSONValue(jsonText: text)
}

func encoded<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
}

func decoded<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
    try JSONDecoder().decode(type, from: Data(text.utf8))
}

/// The thrown error as a PiecesError, failing the test when the call succeeds or throws another type.
func piecesError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> PiecesError? {
    do {
        _ = try body()
        XCTFail("the call succeeded", file: file, line: line)
    } catch let error as PiecesError {
        return error
    } catch {
        XCTFail("not a PiecesError: \(error)", file: file, line: line)
    }
    return nil
}

/// The stand-in Pieces OS (target/debug/pieces-standin, or $PIECES_STANDIN) on a free port.
final class Standin {
    let process = Process()
    let stdin = Pipe()
    let url: String

    init(_ args: String...) throws {
        let path =
            ProcessInfo.processInfo.environment["PIECES_STANDIN"]
            ?? repoRoot.appendingPathComponent("target/debug/pieces-standin").path
        let stdout = Pipe()
        process.executableURL = URL(fileURLWithPath: path)
        // Exits when our end of stdin closes, so a crashed test run leaves no server behind.
        process.arguments = ["--port", "0", "--exit-on-stdin-eof"] + args
        process.standardOutput = stdout
        process.standardInput = stdin
        try process.run()
        url = try Self.firstLine(stdout.fileHandleForReading)
        guard url.hasPrefix("http://") else {
            throw PiecesError.invalidArgument("the stand-in printed \(url.debugDescription), not its URL")
        }
    }

    private static func firstLine(_ handle: FileHandle) throws -> String {
        var bytes = Data()
        while true {
            guard let byte = try handle.read(upToCount: 1), !byte.isEmpty else { break }
            if byte.first == UInt8(ascii: "\n") { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func stop() {
        try? stdin.fileHandleForWriting.close()
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// A loopback TCP listener that never accepts: connections complete (the kernel's backlog) but
/// nothing is ever answered. `port` of a closed one refuses connections.
final class SilentServer {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw PiecesError.invalidArgument("cannot listen on 127.0.0.1")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        port = UInt16(bigEndian: addr.sin_port)
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// Whether a client has connected: false proves a request was refused before anything went out.
    func wasConnected() -> Bool {
        var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&ready, 1, 0) > 0
    }

    deinit { _ = close(fd) }
}

/// Open file descriptors and threads of this process.
func openFDs() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1 }
func threads() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1 }

/// Polls `condition` until it holds or `seconds` pass; for promptness proved by a generous bound.
func eventually(within seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

func makeProfile(_ id: String, vanity: String? = nil, dark: Bool = true) -> UserProfile {
    UserProfile(aesthetics: Aesthetics(font: Font(size: 15), theme: Theme(dark: dark)), id: id, vanityname: vanity)
}
