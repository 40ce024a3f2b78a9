import CPiecesUser
import Foundation

/// One event of the user stream (`PiecesClient.userEvents`).
public enum UserEvent: Sendable, Hashable {
    /// Connected to this URL; a `.user` or `.signedOut` with the current state follows.
    case connected(url: String)
    /// The signed-in user changed (or was fetched after a connect).
    case user(UserProfile)
    case signedOut
    /// Something failed but the stream goes on (a bad frame, a failed connection attempt, ...).
    case error(PiecesError)
    /// The connection was lost; `.reconnecting` follows.
    case disconnected(reason: String)
    /// Attempt `attempt` (from 1 since the last connection) starts after `delay`.
    case reconnecting(attempt: Int, delay: Duration)
    /// The consumer fell behind and this many earlier events were dropped (reported ahead of the
    /// next event after the drop).
    case overflow(dropped: Int)
    /// The stream has ended (stopped, or gave up after `maxAttempts`). Always the last event.
    case stopped(reason: String)
}

extension PiecesClient {
    /// The user stream as an `AsyncSequence`: a C stream thread connects to `/user/stream`,
    /// reconnects with backoff, and hands each event to the sequence.
    ///
    /// The sequence ends after `.stopped`. Leaving the loop or cancelling the consuming task stops
    /// and frees the C stream (in the background, bounded by the connect timeout); nothing is kept
    /// after that. A consumer that falls behind by more than `options.bufferSize` events loses the
    /// oldest ones and sees `.overflow(dropped:)`.
    public func userEvents(options: StreamOptions = .init()) -> AsyncStream<UserEvent> {
        let (events, continuation) = AsyncStream.makeStream(
            of: UserEvent.self, bufferingPolicy: .bufferingNewest(max(options.bufferSize, 1)))
        let handle = StreamHandle()
        continuation.onTermination = { _ in handle.end() }
        do {
            handle.started(try startStream(options: options, sink: EventSink(continuation)))
        } catch {
            let failure = error as? PiecesError ?? .invalidArgument("\(error)")
            continuation.yield(.error(failure))
            continuation.yield(.stopped(reason: "could not start: \(failure.message)"))
            continuation.finish()
        }
        return events
    }

    private func startStream(options: StreamOptions, sink: EventSink) throws -> OpaquePointer {
        let json = try encodeJSON(options)
        let userData = Unmanaged.passRetained(sink).toOpaque()
        var out: OpaquePointer?
        let rc = json.withCString {
            pieces_user_stream_start(cHandle, $0, onStreamEvent, userData, onStreamRelease, &out)
        }
        guard rc == PIECES_OK, let out else {
            // On failure no callback runs and release is not called: the sink is still ours.
            Unmanaged<EventSink>.fromOpaque(userData).release()
            throw PiecesError.last(code: rc)
        }
        return out
    }
}

/// Runs on the stream's thread, one event at a time.
private let onStreamEvent: PiecesStreamCallback = { userData, kind, json in
    guard let userData, let json else { return }
    Unmanaged<EventSink>.fromOpaque(userData).takeUnretainedValue().deliver(kind: kind, json: String(cString: json))
}

/// Runs exactly once, after the last callback: drops the reference the C stream held.
private let onStreamRelease: PiecesReleaseCallback = { userData in
    guard let userData else { return }
    Unmanaged<EventSink>.fromOpaque(userData).release()
}

/// Turns C events into `UserEvent`s for the sequence. Used only from the stream's thread (the C
/// library calls back serially), which is why `dropped` needs no lock.
final class EventSink: @unchecked Sendable {
    private let continuation: AsyncStream<UserEvent>.Continuation
    private var dropped = 0

    init(_ continuation: AsyncStream<UserEvent>.Continuation) {
        self.continuation = continuation
        Self.live.withLock { $0 += 1 }
    }

    deinit {
        Self.live.withLock { $0 -= 1 }
    }

    /// Sinks not yet released by their C stream: the tests check it returns to zero.
    static let live = Locked(0)

    func deliver(kind: Int32, json: String) {
        guard let event = Self.event(kind: kind, json: json) else { return }
        if dropped > 0, case .enqueued = continuation.yield(.overflow(dropped: dropped)) {
            dropped = 0
        }
        if case .dropped = continuation.yield(event) {
            dropped += 1
        }
        if case .stopped = event {
            continuation.finish()
        }
    }

    /// `nil` for an event kind newer than this package: skipped.
    private static func event(kind: Int32, json: String) -> UserEvent? {
        switch kind {
        case PIECES_EVENT_CONNECTED:
            return .connected(url: field(json, "url") ?? "")
        case PIECES_EVENT_USER:
            var json = json
            do {
                return .user(try json.withUTF8 { try PiecesClient.decodeResponse($0) })
            } catch {
                return .error(error as? PiecesError ?? .invalidArgument("\(error)"))
            }
        case PIECES_EVENT_SIGNED_OUT:
            return .signedOut
        case PIECES_EVENT_ERROR:
            return .error(.event(json))
        case PIECES_EVENT_DISCONNECTED:
            return .disconnected(reason: field(json, "reason") ?? "")
        case PIECES_EVENT_RECONNECTING:
            let attempt = Int(field(json, "attempt") ?? "") ?? 0
            let delay = Int64(field(json, "delay_ms") ?? "") ?? 0
            return .reconnecting(attempt: attempt, delay: .milliseconds(delay))
        case PIECES_EVENT_OVERFLOW:
            return .overflow(dropped: Int(field(json, "dropped") ?? "") ?? 0)
        case PIECES_EVENT_STOPPED:
            return .stopped(reason: field(json, "reason") ?? "")
        default:
            return nil
        }
    }

    /// A top-level member of a small event object, as text (strings unquoted, numbers as written).
    private static func field(_ json: String, _ key: String) -> String? {
        guard case .object(let members)? = try? JSONReader.read(json, { try $0.readValue() }) else { return nil }
        switch members[key] {
        case .string(let text)?: return text
        case .number(let number)?: return number.text
        default: return nil
        }
    }
}

/// The C stream handle, freed exactly once whichever comes first: the sequence ending before
/// `pieces_user_stream_start` returned, or after.
private final class StreamHandle: @unchecked Sendable {
    private enum State {
        case starting
        case running(OpaquePointer)
        case ended
    }

    private let state = Locked(State.starting)

    func started(_ stream: OpaquePointer) {
        let endedAlready = state.withLock {
            if case .ended = $0 { return true }
            $0 = .running(stream)
            return false
        }
        if endedAlready { Self.free(stream) }
    }

    func end() {
        let stream: OpaquePointer? = state.withLock { state in
            defer { state = .ended }
            if case .running(let stream) = state { return stream }
            return nil
        }
        if let stream { Self.free(stream) }
    }

    /// `pieces_stream_free` waits for the stream thread (bounded by the connect timeout), so it
    /// runs off the caller: `end` may be called on Swift's cooperative pool or on the stream's own
    /// thread (there the C call only signals, but it is simpler not to tell the two apart). A
    /// serial queue of its own, for the reason given at `PiecesClient.runOffPool`.
    private static func free(_ stream: OpaquePointer) {
        nonisolated(unsafe) let stream = stream
        DispatchQueue(label: "pieces_user.stream-free").async { pieces_stream_free(stream) }
    }
}

/// A value behind a lock (Synchronization's Mutex needs macOS 15; this package supports 13).
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
