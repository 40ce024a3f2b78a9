import CPiecesUser
import Foundation
import XCTest

@testable import PiecesUser

final class StreamTests: XCTestCase {
    override func tearDown() {
        // Every test ends with no C stream holding a sink: release ran for each one.
        XCTAssertTrue(eventually(within: 10) { EventSink.live.withLock { $0 } == 0 }, "a stream sink was never released")
    }

    func testASignInThroughRESTArrivesOnTheStream() async throws {
        let standin = try Standin("--signed-out")
        defer { standin.stop() }
        let client = try PiecesClient(baseURL: standin.url)
        var seen: [UserEvent] = []
        for await event in client.userEvents() {
            seen.append(event)
            if case .signedOut = event, !seen.contains(where: { if case .user = $0 { true } else { false } }) {
                _ = try await client.select(Auth0User(name: "Ada", userId: "auth0|stream"))
            }
            if case .user(let profile) = event, profile.id == "auth0|stream" {
                break
            }
        }
        guard case .connected(let url) = seen.first else { return XCTFail("first event: \(seen)") }
        XCTAssertTrue(url.hasPrefix("ws://127.0.0.1:"), url)
        guard case .user(let profile) = seen.last else { return XCTFail("last event: \(seen)") }
        XCTAssertEqual(profile.name, "Ada")
    }

    func testCancellingTheConsumingTaskStopsTheStream() async throws {
        let standin = try Standin()
        defer { standin.stop() }
        let client = try PiecesClient(baseURL: standin.url)
        let connected = Locked(false)
        let consumer = Task {
            var count = 0
            for await event in client.userEvents() {
                if case .connected = event { connected.withLock { $0 = true } }
                count += 1
            }
            return count
        }
        XCTAssertTrue(eventually(within: 10) { connected.withLock { $0 } })
        XCTAssertEqual(EventSink.live.withLock { $0 }, 1)
        let cancelled = Date()
        consumer.cancel()
        let count = await consumer.value
        XCTAssertGreaterThan(count, 0)
        XCTAssertTrue(eventually(within: 5) { EventSink.live.withLock { $0 } == 0 }, "the C stream was not freed")
        XCTAssertLessThan(Date().timeIntervalSince(cancelled), 5)
    }

    func testAStreamThatGivesUpEndsTheSequence() async throws {
        let port = try SilentServer().port  // nothing listens: every attempt is refused
        let client = try PiecesClient(config: PiecesConfig(baseURL: "http://127.0.0.1:\(port)", connectTimeoutMs: 1000))
        var events: [UserEvent] = []
        for await event in client.userEvents(options: StreamOptions(reconnectMinMs: 10, reconnectMaxMs: 20, maxAttempts: 2)) {
            events.append(event)
        }
        guard case .stopped = events.last else { return XCTFail("\(events)") }
        let errors = events.compactMap { if case .error(let e) = $0 { e } else { nil } }
        XCTAssertEqual(errors.first?.category, .connection)
        XCTAssertEqual(errors.first?.code, PIECES_ERR_CONNECTION)
        XCTAssertTrue(events.contains { if case .reconnecting(1, let delay) = $0 { delay <= .milliseconds(20) } else { false } }, "\(events)")
    }

    func testBadOptionsEndTheSequenceWithTheError() async throws {
        let client = try PiecesClient(baseURL: "http://127.0.0.1:1")
        var events: [UserEvent] = []
        for await event in client.userEvents(options: StreamOptions(reconnectMinMs: -1)) {
            events.append(event)
        }
        XCTAssertEqual(events.count, 2)
        guard case .error(let error) = events.first else { return XCTFail("\(events)") }
        XCTAssertEqual(error.category, .invalidArgument)
    }

    /// A consumer that stops reading loses the oldest events, is told how many, and still gets
    /// the newest state.
    func testASlowConsumerSeesOverflowThenTheNewestState() async throws {
        let standin = try Standin()
        defer { standin.stop() }
        let client = try PiecesClient(baseURL: standin.url)
        var events = client.userEvents(options: StreamOptions(bufferSize: 2)).makeAsyncIterator()
        guard case .connected = await events.next() else { return XCTFail("not connected first") }
        // 30 changes pushed while nobody reads: at most 2 can wait in the buffer.
        try blocking {
            for i in 0..<30 { _ = try client.update(makeProfile("u-\(i)")) }
        }
        try await Task.sleep(for: .seconds(1))
        try blocking { _ = try client.update(makeProfile("u-final")) }
        var dropped = 0
        while let event = await events.next() {
            if case .overflow(let n) = event { dropped += n }
            if case .user(let profile) = event, profile.id == "u-final" { break }
        }
        XCTAssertGreaterThan(dropped, 0)
    }

    func blocking(_ body: () throws -> Void) throws { try body() }

    /// 100 start/cancel cycles leave no thread, no file descriptor and no sink behind.
    func testStartAndCancelCyclesLeaveNothingBehind() async throws {
        let standin = try Standin()
        defer { standin.stop() }
        let client = try PiecesClient(baseURL: standin.url)
        try await cycles(client, 5)  // warm up: Dispatch's worker threads, the connection pool
        XCTAssertTrue(eventually(within: 10) { EventSink.live.withLock { $0 } == 0 })
        let (fds, tasks) = (openFDs(), threads())
        try await cycles(client, 100)
        XCTAssertTrue(eventually(within: 10) { EventSink.live.withLock { $0 } == 0 }, "sinks left")
        XCTAssertTrue(eventually(within: 10) { openFDs() <= fds + 8 }, "fds: \(fds) before, \(openFDs()) after")
        XCTAssertTrue(eventually(within: 10) { threads() <= tasks + 16 }, "threads: \(tasks) before, \(threads()) after")
    }

    /// Half the cycles leave the loop at the first event, half cancel the task.
    private func cycles(_ client: PiecesClient, _ n: Int) async throws {
        for i in 0..<n {
            if i % 2 == 0 {
                for await _ in client.userEvents() { break }
            } else {
                let started = Locked(false)
                let task = Task {
                    for await _ in client.userEvents() { started.withLock { $0 = true } }
                }
                _ = eventually(within: 5) { started.withLock { $0 } }
                task.cancel()
                await task.value
            }
        }
    }
}
