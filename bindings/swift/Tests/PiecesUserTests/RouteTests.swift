import CPiecesUser
import Foundation
import XCTest

@testable import PiecesUser

final class RouteTests: XCTestCase {
    var standin: Standin!
    var client: PiecesClient!

    override func setUpWithError() throws {
        standin = try Standin()
        client = try PiecesClient(config: PiecesConfig(baseURL: standin.url, applicationID: "swift-tests", timeoutMs: 10_000))
    }

    override func tearDown() {
        client = nil
        standin.stop()
    }

    func testEveryRouteBlocking() throws {
        let start = try client.snapshot()
        XCTAssertNotNil(start.user, "the stand-in starts signed in")

        let updated = try client.update(makeProfile("u-1", dark: false))
        XCTAssertEqual(updated.id, "u-1")
        XCTAssertEqual(updated.aesthetics.theme.dark, false)
        XCTAssertEqual(try client.snapshot().user?.aesthetics.theme.dark, false)

        XCTAssertEqual(try client.updateVanity(makeProfile("u-1", vanity: "ada")).vanityname, "ada")
        XCTAssertEqual(try client.refresh().id, "u-1")

        let beta = try client.betaStatus(UserBetaStatus(user: "u-1"))
        XCTAssertEqual(beta.user, "u-1")

        let selected = try client.select(Auth0User(name: "Ada", userId: "auth0|ada"))
        XCTAssertEqual(selected.id, "auth0|ada")
        XCTAssertEqual(try client.snapshot().user?.id, "auth0|ada")

        XCTAssertEqual(piecesError { try client.providers() }?.category, .notImplemented)

        try client.clear()
        XCTAssertNil(try client.snapshot().user)
        XCTAssertTrue(try client.streamURL().hasPrefix("ws://127.0.0.1:"))
    }

    func testEveryRouteAsync() async throws {
        let client = self.client!
        let start = try await client.snapshot()
        XCTAssertNotNil(start.user)
        let updated = try await client.update(makeProfile("u-2"))
        XCTAssertEqual(updated.id, "u-2")
        let renamed = try await client.updateVanity(makeProfile("u-2", vanity: "grace"))
        XCTAssertEqual(renamed.vanityname, "grace")
        let refreshed = try await client.refresh()
        XCTAssertEqual(refreshed.vanityname, "grace")
        let beta = try await client.betaStatus(UserBetaStatus(user: "u-2"))
        XCTAssertEqual(beta.user, "u-2")
        let selected = try await client.select(Auth0User(userId: "auth0|grace"))
        XCTAssertEqual(selected.id, "auth0|grace")
        do {
            _ = try await client.providers()
            XCTFail("providers succeeded")
        } catch let error as PiecesError {
            XCTAssertEqual(error.status, 501)
        }
        try await client.clear()
        let end = try await client.snapshot()
        XCTAssertNil(end.user)
    }

    /// The JSON forms hand over the server's text unchanged: what the C ABI returns, byte for byte.
    func testJSONFormsPassTextThroughUnchanged() async throws {
        let client = self.client!
        let doc = #"{"id":"u-3","aesthetics":{"font":{"size":16},"theme":{"dark":true}},"futureKey":{"n":12345678901234567890123}}"#
        let expected = try jsonValue(doc)
        var texts: [String] = []
        texts.append(try await client.updateJSON(doc))
        texts.append(try await client.updateVanityJSON(doc))
        texts.append(try await client.refreshJSON())
        for text in texts {
            XCTAssertEqual(try jsonValue(text), expected)
        }
        let asyncText = try await client.snapshotJSON()
        XCTAssertEqual(asyncText, try cSnapshot())
        try blocking {
            XCTAssertEqual(try client.snapshotJSON(), try self.cSnapshot())
            XCTAssertEqual(try jsonValue(client.updateJSON(doc)), expected)
            XCTAssertEqual(try jsonValue(client.refreshJSON()), expected)
            XCTAssertTrue(try client.betaStatusJSON(#"{"user":"u-3"}"#).contains("u-3"))
            XCTAssertTrue(try client.selectJSON(#"{"user_id":"auth0|x"}"#).contains("auth0|x"))
            XCTAssertEqual(piecesError { try client.providersJSON() }?.status, 501)
        }
        let beta = try await client.betaStatusJSON(#"{"user":"u-3"}"#)
        XCTAssertTrue(beta.contains("u-3"))
        let selected = try await client.selectJSON(#"{"user_id":"auth0|y"}"#)
        XCTAssertTrue(selected.contains("auth0|y"))
        do {
            _ = try await client.providersJSON()
            XCTFail("providers succeeded")
        } catch let error as PiecesError {
            XCTAssertEqual(error.category, .notImplemented)
        }
    }

    /// The typed forms keep what the models do not know: unknown keys, unknown enum values, explicit
    /// nulls and big numbers survive a trip through the server.
    func testTypedFormsKeepUnknownKeysAndValues() throws {
        var doc = try fixtureText("UserProfile.max.json")
        doc = doc.replacingOccurrences(of: #""cloud": "RUNNING""#, with: #""cloud": "SOMETHING_NEW""#)
        let brace = doc.firstIndex(of: "{")!
        doc.insert(
            contentsOf: #""huge": 123456789012345678901234567890, "precise": 0.1, "nothing": null, "nested": {"a": [1, 2.5e3, true, null, "x"]},"#,
            at: doc.index(after: brace))
        let profile = try UserProfile(jsonText: doc)
        XCTAssertEqual(profile.allocation?.status.cloud.rawValue, "SOMETHING_NEW")
        XCTAssertNotEqual(profile.allocation?.status.cloud, .running)
        XCTAssertEqual(profile.extra["huge"], .number(JSONNumber(text: "123456789012345678901234567890")!))
        XCTAssertEqual(profile.extra["nothing"], .null)
        let stored = try client.update(profile)
        XCTAssertEqual(stored, profile)
        XCTAssertEqual(try jsonValue(stored.jsonText()), try jsonValue(doc))
        XCTAssertEqual(try jsonValue(encoded(stored)), try jsonValue(doc))
    }

    func testDateTimesKeepTheirTextAndParse() throws {
        for text in ["2024-03-14T09:26:53.589000+00:00", "2024-03-14T09:26:53.589Z", "2024-03-14T09:26:53Z"] {
            let date = try decoded(PiecesDateTime.self, "\"\(text)\"")
            XCTAssertEqual(date.text, text)
            XCTAssertEqual(date.date?.timeIntervalSince1970 ?? 0, 1_710_408_413.589, accuracy: 1)
            XCTAssertEqual(try encoded(date), "\"\(text)\"")
        }
        XCTAssertNil(PiecesDateTime(text: "yesterday").date)
        let now = Date(timeIntervalSince1970: 1_710_408_413.589)
        let written = PiecesDateTime(now)
        XCTAssertTrue(written.text.hasSuffix("Z"), written.text)
        XCTAssertEqual(written.date?.timeIntervalSince1970 ?? 0, now.timeIntervalSince1970, accuracy: 0.001)
    }

    func testSixteenConcurrentTasksOnOneClient() async throws {
        let client = self.client!
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    for round in 0..<10 {
                        let id = "t\(task)-\(round)"
                        let stored = try await client.update(makeProfile(id))
                        XCTAssertEqual(stored.id, id)
                        _ = try await client.snapshot()
                        XCTAssertEqual(try client.streamURL().isEmpty, false)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// The async forms wait on the client's queue, not on Swift's cooperative pool (as wide as the
    /// machine has cores): with 8 calls hanging on a server that never answers, other async work,
    /// including another call, still finishes while all 8 are still waiting.
    func testHangingAsyncCallsDoNotStarveTheCooperativePool() async throws {
        let server = try SilentServer()
        let hung = try PiecesClient(config: PiecesConfig(baseURL: server.url, timeoutMs: 3_000))
        let finished = Locked(0)
        let waiting = (0..<8).map { _ in
            Task {
                _ = try? await hung.snapshot()
                finished.withLock { $0 += 1 }
            }
        }
        try await Task.sleep(for: .milliseconds(200))  // let them all reach the server
        let client = self.client!
        let quick = try await Task { try await client.snapshot() }.value
        XCTAssertNotNil(quick.user)
        XCTAssertEqual(finished.withLock { $0 }, 0, "the quick call waited for the hung ones")
        for task in waiting { await task.value }
        XCTAssertEqual(finished.withLock { $0 }, 8)
    }

    func testBaseURLInitAndDiscovery() async throws {
        let port = standin.url.split(separator: ":").last.map(String.init)!
        let options = PiecesConfig.Discovery(ports: Int(port)!...Int(port)!, portFile: "", legacyPorts: [], probeTimeoutMs: 500)
        // PIECES_BASE_URL would win over the probe: only run the probe when it is not set.
        if ProcessInfo.processInfo.environment["PIECES_BASE_URL"] == nil {
            try blocking { XCTAssertEqual(try PiecesClient.discover(options), "http://127.0.0.1:\(port)") }
            let found = try await PiecesClient.discover(options)
            XCTAssertEqual(found, "http://127.0.0.1:\(port)")
            let client = try PiecesClient(config: PiecesConfig(discovery: options))
            let found2 = try await client.snapshot()
            XCTAssertNotNil(found2.user)
        }
        let plain = try await PiecesClient(baseURL: standin.url).snapshot()
        XCTAssertNotNil(plain.user)
        XCTAssertFalse(PiecesClient.libraryVersion.isEmpty)
    }

    /// Calls the blocking forms from an async test (there the async overloads win).
    func blocking(_ body: () throws -> Void) throws { try body() }

    private func cSnapshot() throws -> String {
        var c: OpaquePointer?
        XCTAssertEqual(pieces_client_new("{\"base_url\":\"\(standin.url)\"}", &c), PIECES_OK)
        defer { pieces_client_free(c) }
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(pieces_user_snapshot(c, &out), PIECES_OK)
        defer { pieces_string_free(out) }
        return String(cString: out!)
    }
}
