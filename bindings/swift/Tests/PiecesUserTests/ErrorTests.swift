import CPiecesUser
import Foundation
import XCTest

@testable import PiecesUser

final class ErrorTests: XCTestCase {
    func testHTTPStatusesMapToTheirCategories() throws {
        let standin = try Standin("--signed-out")
        defer { standin.stop() }
        let client = try PiecesClient(baseURL: standin.url)

        let notFound = piecesError { try client.updateVanity(makeProfile("u-1", vanity: "ada")) }
        XCTAssertEqual(notFound?.category, .notFound)
        XCTAssertEqual(notFound?.status, 404)
        XCTAssertEqual(notFound?.code, PIECES_ERR_NOT_FOUND)
        XCTAssertEqual(notFound?.body, "no user is signed in")

        let serverError = piecesError { try client.refresh() }
        XCTAssertEqual(serverError?.category, .serverError)
        XCTAssertEqual(serverError?.status, 500)

        let authentication = piecesError { try client.betaStatus(UserBetaStatus(user: "u-1")) }
        XCTAssertEqual(authentication?.category, .authenticationRequired)
        XCTAssertEqual(authentication?.status, 511)

        let notImplemented = piecesError { try client.providers() }
        XCTAssertEqual(notImplemented?.category, .notImplemented)
        XCTAssertEqual(notImplemented?.status, 501)

        _ = try client.update(makeProfile("u-1"))
        let conflict = piecesError { try client.updateVanity(makeProfile("u-1", vanity: "taken")) }
        XCTAssertEqual(conflict?.category, .conflict)
        XCTAssertEqual(conflict?.status, 409)
        XCTAssertEqual(conflict?.code, PIECES_ERR_CONFLICT)
        XCTAssertTrue(conflict?.message.contains("taken") ?? false)
        XCTAssertNil(conflict?.path)
    }

    func testAsyncErrorsAreReadOnTheThreadOfTheCall() async throws {
        let standin = try Standin("--signed-out")
        defer { standin.stop() }
        let client = try PiecesClient(baseURL: standin.url)
        // Many failures at once on the client's concurrent queue: each must carry its own detail.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<16 {
                group.addTask {
                    do {
                        if i % 2 == 0 { _ = try await client.refresh() } else { _ = try await client.providers() }
                        XCTFail("succeeded")
                    } catch let e as PiecesError {
                        XCTAssertEqual(e.status, i % 2 == 0 ? 500 : 501)
                        XCTAssertEqual(e.category, i % 2 == 0 ? .serverError : .notImplemented)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    func testConnectionRefused() throws {
        let port = try SilentServer().port  // closed again at once: nothing listens there
        let client = try PiecesClient(config: PiecesConfig(baseURL: "http://127.0.0.1:\(port)", connectTimeoutMs: 2000))
        let error = piecesError { try client.snapshot() }
        XCTAssertEqual(error?.category, .connection)
        XCTAssertEqual(error?.code, PIECES_ERR_CONNECTION)
        XCTAssertNil(error?.status)
    }

    func testTimeoutOnAServerThatNeverAnswers() async throws {
        let server = try SilentServer()
        let client = try PiecesClient(config: PiecesConfig(baseURL: server.url, timeoutMs: 300))
        let started = Date()
        do {
            _ = try await client.snapshot()
            XCTFail("succeeded")
        } catch let error as PiecesError {
            XCTAssertEqual(error.category, .timeout)
            XCTAssertEqual(error.code, PIECES_ERR_TIMEOUT)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "a 300 ms timeout took far too long")
    }

    /// Cancelling an async call's task interrupts that call in the library (otherwise it would wait
    /// out its 60 s timeout) and throws `CancellationError`; another call on the same client, waiting
    /// on the same silent server, is untouched until `interrupt()` ends it with `.interrupted`.
    func testCancellingATaskInterruptsOnlyItsCall() async throws {
        let server = try SilentServer()
        let client = try PiecesClient(config: PiecesConfig(baseURL: server.url, timeoutMs: 60_000))
        let otherDone = Locked(false)
        let other = Task {
            defer { otherDone.withLock { $0 = true } }
            return try await client.snapshotJSON()
        }
        let cancelled = Task { try await client.snapshotJSON() }
        XCTAssertTrue(eventually(within: 10) { server.wasConnected() }, "no call reached the server")
        let started = Date()
        cancelled.cancel()
        do {
            _ = try await cancelled.value
            XCTFail("a cancelled call succeeded")
        } catch {
            XCTAssert(error is CancellationError, "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "the cancelled call waited for its timeout")
        XCTAssertFalse(otherDone.withLock { $0 }, "cancelling one task ended another call")

        client.interrupt()
        do {
            _ = try await other.value
            XCTFail("an interrupted call succeeded")
        } catch let error as PiecesError {
            XCTAssertEqual(error.category, .interrupted)
            XCTAssertEqual(error.code, PIECES_ERR_INTERRUPTED)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "interrupt() did not end the call")
    }

    func testInvalidDocumentNamesItsPathAndSendsNothing() throws {
        let server = try SilentServer()
        let client = try PiecesClient(config: PiecesConfig(baseURL: server.url, timeoutMs: 2000))
        let error = piecesError {
            try client.updateJSON(#"{"id":"u","aesthetics":{"font":{"size":"14"},"theme":{"dark":true}}}"#)
        }
        XCTAssertEqual(error?.category, .invalidDocument)
        XCTAssertEqual(error?.code, PIECES_ERR_INVALID_DOCUMENT)
        XCTAssertEqual(error?.path, "$.aesthetics.font.size")
        XCTAssertFalse(server.wasConnected())

        XCTAssertEqual(piecesError { try client.updateJSON(#"{"id":"#) }?.category, .malformedJSON)
        XCTAssertEqual(piecesError { try client.updateJSON("{\"id\":\"a\u{0}b\"}") }?.category, .invalidArgument)
        XCTAssertFalse(server.wasConnected())
    }

    func testBadConfigurationIsAnInvalidArgument() {
        let error = piecesError { try PiecesClient(config: PiecesConfig(baseURL: "http://127.0.0.1:1", timeoutMs: -5)) }
        XCTAssertEqual(error?.category, .invalidArgument)
        XCTAssertEqual(error?.code, PIECES_ERR_INVALID_ARGUMENT)
    }

    func testConfigEncodesTheCKeys() throws {
        let config = PiecesConfig(
            baseURL: "http://127.0.0.1:39300", applicationID: "app", accessToken: "tok", connectTimeoutMs: 1,
            timeoutMs: 2, userAgent: "ua", maxResponseBytes: 3, tlsCAFile: "/ca.pem",
            discovery: .init(ports: 1...2, portFile: "", legacyPorts: [5], probeTimeoutMs: 4, host: "127.0.0.1"))
        let expected = try jsonValue(#"""
            {"base_url":"http://127.0.0.1:39300","application_id":"app","access_token":"tok",
             "connect_timeout_ms":1,"timeout_ms":2,"user_agent":"ua","max_response_bytes":3,
             "tls_ca_file":"/ca.pem","discovery":{"ports":[1,2],"port_file":"","legacy_ports":[5],
             "probe_timeout_ms":4,"host":"127.0.0.1"}}
            """#)
        XCTAssertEqual(try jsonValue(config.json()), expected)
        XCTAssertEqual(try jsonValue(PiecesConfig.discovery.json()), try jsonValue(#"{"discovery":{}}"#))
    }

    func testNothingRunningIsNotRunning() throws {
        let port = try SilentServer().port
        let options = PiecesConfig.Discovery(ports: Int(port)...Int(port), portFile: "", legacyPorts: [], probeTimeoutMs: 100)
        if ProcessInfo.processInfo.environment["PIECES_BASE_URL"] == nil {
            XCTAssertEqual(piecesError { try PiecesClient.discover(options) }?.category, .notRunning)
        }
    }

    func testUnknownCodesKeepAnOpenCategory() {
        let category = PiecesError.Category(rawValue: "interrupted")
        XCTAssertNotEqual(category, .timeout)
        XCTAssertEqual(category.rawValue, "interrupted")
        // A code no pieces_last_error record matches still gives the C library's description.
        let error = PiecesError.last(code: 12345)
        XCTAssertEqual(error.code, 12345)
        XCTAssertEqual(error.message, String(cString: pieces_status_str(12345)))
        XCTAssertEqual(error.category.rawValue, "unknown")
        XCTAssertEqual(PiecesError.Category.codes["conflict"], PIECES_ERR_CONFLICT)
        XCTAssertEqual(PiecesError.Category.codes["invalid_utf8"], PIECES_ERR_INVALID_UTF8)
    }
}
