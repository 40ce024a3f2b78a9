import CPiecesUser
import Foundation

/// A client for one Pieces OS: the nine User API routes, each blocking (`throws`) and `async`, typed
/// (the generated models) and as JSON text passed through unchanged (the `...JSON` forms).
///
/// Thread-safe: the C client is, so one `PiecesClient` may be shared by any number of tasks and
/// threads (they share one connection pool). The async forms run the blocking C call on a private
/// dispatch queue, never on Swift's cooperative thread pool.
public final class PiecesClient: Sendable {
    /// The C handle; the C client is thread-safe and this class frees it only in `deinit`, when no
    /// call can still be running (every call holds `self`).
    nonisolated(unsafe) private let handle: OpaquePointer

    public init(config: PiecesConfig) throws {
        guard pieces_abi_version() == UInt32(PIECES_ABI_VERSION) else {
            throw PiecesError.invalidArgument(
                "libpieces_user implements C ABI \(pieces_abi_version()), this package was built for \(PIECES_ABI_VERSION)")
        }
        let json = try config.json()
        var out: OpaquePointer?
        let rc = json.withCString { pieces_client_new($0, &out) }
        guard rc == PIECES_OK, let out else { throw PiecesError.last(code: rc) }
        handle = out
    }

    public convenience init(baseURL: String) throws {
        try self.init(config: PiecesConfig(baseURL: baseURL))
    }

    deinit {
        pieces_client_free(handle)
    }

    /// The library version, e.g. `"0.1.0"`.
    public static var libraryVersion: String { String(cString: pieces_version()) }

    /// Finds a running Pieces OS on this machine and returns its base URL (`pieces_discover`).
    /// Throws `.notRunning` when nothing was found.
    public static func discover(_ options: PiecesConfig.Discovery = .init()) throws -> String {
        let json = try encodeJSON(options)
        var out: UnsafeMutablePointer<CChar>?
        let rc = json.withCString { pieces_discover($0, &out) }
        return try take(rc, out)
    }

    public static func discover(_ options: PiecesConfig.Discovery = .init()) async throws -> String {
        try await runOffPool { try discover(options) }
    }

    /// The WebSocket URL of `/user/stream` for this client. Makes no connection.
    public func streamURL() throws -> String {
        try call(pieces_user_stream_url)
    }

    // MARK: JSON forms: the documents as text, exactly as on the wire.

    /// `GET /user`: a ReturnedUserProfile document.
    public func snapshotJSON() throws -> String { try call(pieces_user_snapshot) }
    /// `GET /user/refresh`: a UserProfile document.
    public func refreshJSON() throws -> String { try call(pieces_user_refresh) }
    /// `POST /user/select` with an Auth0User document: a UserProfile document.
    public func selectJSON(_ auth0User: String) throws -> String { try call(pieces_user_select, auth0User) }
    /// `POST /user/update` with a UserProfile document: the stored UserProfile document.
    public func updateJSON(_ profile: String) throws -> String { try call(pieces_user_update, profile) }
    /// `POST /user/update/vanity` with a UserProfile document carrying the new `vanityname`.
    public func updateVanityJSON(_ profile: String) throws -> String {
        try call(pieces_user_update_vanity, profile)
    }
    /// `POST /user/beta/status` with a UserBetaStatus document: the resulting UserBetaStatus document.
    public func betaStatusJSON(_ status: String) throws -> String { try call(pieces_user_beta_status, status) }
    /// `GET /user/providers`: a ReturnedUserProfile document (a local Pieces OS answers 501).
    public func providersJSON() throws -> String { try call(pieces_user_providers) }

    public func snapshotJSON() async throws -> String { try await run { try self.snapshotJSON() } }
    public func refreshJSON() async throws -> String { try await run { try self.refreshJSON() } }
    public func selectJSON(_ auth0User: String) async throws -> String {
        try await run { try self.selectJSON(auth0User) }
    }
    public func updateJSON(_ profile: String) async throws -> String {
        try await run { try self.updateJSON(profile) }
    }
    public func updateVanityJSON(_ profile: String) async throws -> String {
        try await run { try self.updateVanityJSON(profile) }
    }
    public func betaStatusJSON(_ status: String) async throws -> String {
        try await run { try self.betaStatusJSON(status) }
    }
    public func providersJSON() async throws -> String { try await run { try self.providersJSON() } }

    // MARK: Typed forms: the generated models, encoded and decoded around the JSON forms.

    /// `GET /user`: the current user; nobody signed in is `user == nil`, not an error.
    public func snapshot() throws -> ReturnedUserProfile { try typed(pieces_user_snapshot) }
    /// `GET /user/refresh`: re-fetches the user from the identity provider.
    public func refresh() throws -> UserProfile { try typed(pieces_user_refresh) }
    /// `POST /user/select`: makes this Auth0 user the current user (sent with the access token).
    public func select(_ auth0User: Auth0User) throws -> UserProfile { try typed(pieces_user_select, auth0User) }
    /// `POST /user/update`: writes a changed profile and returns the stored one.
    public func update(_ profile: UserProfile) throws -> UserProfile { try typed(pieces_user_update, profile) }
    /// `POST /user/update/vanity`: `profile.vanityname` carries the new name; `.conflict` when taken.
    public func updateVanity(_ profile: UserProfile) throws -> UserProfile {
        try typed(pieces_user_update_vanity, profile)
    }
    /// `POST /user/beta/status`: grants or revokes a beta.
    public func betaStatus(_ status: UserBetaStatus) throws -> UserBetaStatus {
        try typed(pieces_user_beta_status, status)
    }
    /// `GET /user/providers`: the linked identity providers (`.notImplemented` on a local Pieces OS).
    public func providers() throws -> ReturnedUserProfile { try typed(pieces_user_providers) }
    /// `POST /user/clear`: signs the current user out.
    public func clear() throws {
        let rc = pieces_user_clear(handle)
        guard rc == PIECES_OK else { throw PiecesError.last(code: rc) }
    }

    public func snapshot() async throws -> ReturnedUserProfile { try await run { try self.snapshot() } }
    public func refresh() async throws -> UserProfile { try await run { try self.refresh() } }
    public func select(_ auth0User: Auth0User) async throws -> UserProfile {
        try await run { try self.select(auth0User) }
    }
    public func update(_ profile: UserProfile) async throws -> UserProfile {
        try await run { try self.update(profile) }
    }
    public func updateVanity(_ profile: UserProfile) async throws -> UserProfile {
        try await run { try self.updateVanity(profile) }
    }
    public func betaStatus(_ status: UserBetaStatus) async throws -> UserBetaStatus {
        try await run { try self.betaStatus(status) }
    }
    public func providers() async throws -> ReturnedUserProfile { try await run { try self.providers() } }
    public func clear() async throws { try await run { try self.clear() } }

    // MARK: Plumbing

    /// Runs one whole blocking call (C call, reading the last error, decoding) off Swift's
    /// cooperative pool. It is one closure on one thread on purpose: `pieces_last_error` is per
    /// thread, and the call's cancel token is bound to that thread for the call. Cancelling the
    /// task triggers the token: the C call returns `PIECES_ERR_INTERRUPTED` at once, wherever it is
    /// blocked, and this throws `CancellationError`. Other calls on the client go on.
    private func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let token = try CancelToken()
        do {
            return try await withTaskCancellationHandler {
                try await Self.runOffPool {
                    pieces_cancel_bind(token.handle)
                    defer { pieces_cancel_bind(nil) }
                    return try work()
                }
            } onCancel: {
                token.trigger()
            }
        } catch let error as PiecesError where error.category == .interrupted && token.isTriggered {
            throw CancellationError()
        }
    }

    /// Makes every call in flight on this client return `.interrupted` promptly, wherever it is
    /// blocked (`pieces_client_interrupt`); calls started afterwards work as usual. For a single
    /// async call, cancel its task instead. Callable from any thread; streams are not affected.
    public func interrupt() {
        _ = pieces_client_interrupt(handle)
    }

    /// Each call gets a serial queue of its own. Not a shared concurrent queue or a global one:
    /// those run on Dispatch's width-limited pool (one thread per core), which on Linux is also
    /// the pool Swift's cooperative executor runs on, so calls waiting on the network would hold
    /// every task up. A serial queue is given a thread of its own when its work blocks.
    static func runOffPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "pieces_user.call").async {
                continuation.resume(with: Result(catching: work))
            }
        }
    }

    private typealias OutString = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    private func call(_ route: (OpaquePointer, OutString) -> Int32) throws -> String {
        var out: UnsafeMutablePointer<CChar>?
        let rc = route(handle, &out)
        return try Self.take(rc, out)
    }

    private func call(_ route: (OpaquePointer, UnsafePointer<CChar>, OutString) -> Int32, _ document: String)
        throws -> String
    {
        // A NUL would cut the C string short and send a different document.
        var document = document
        guard !document.withUTF8({ $0.contains(0) }) else {
            throw PiecesError.invalidArgument("the document contains a NUL character")
        }
        return try document.withCString { text in try call { route($0, text, $1) } }
    }

    /// The string a successful call returned, copied and freed; or the failure's detail, read on
    /// this thread right after the call.
    private static func take(_ rc: Int32, _ out: UnsafeMutablePointer<CChar>?) throws -> String {
        guard rc == PIECES_OK, let out else { throw PiecesError.last(code: rc) }
        defer { pieces_string_free(out) }
        return String(cString: out)
    }

    // The typed routes: the model written straight into the C string the call takes, and the
    // answer read straight from the C string it returns (no Foundation, no intermediate String).

    private func typed<T: JSONCodable>(_ route: (OpaquePointer, OutString) -> Int32) throws -> T {
        var out: UnsafeMutablePointer<CChar>?
        let rc = route(handle, &out)
        return try Self.takeDecoded(rc, out)
    }

    private func typed<T: JSONCodable>(
        _ route: (OpaquePointer, UnsafePointer<CChar>, OutString) -> Int32, _ document: some JSONCodable
    ) throws -> T {
        var writer = JSONWriter(capacity: 4096)
        document.write(to: &writer)
        // No NUL can be in it: the writer escapes U+0000 in strings.
        var out: UnsafeMutablePointer<CChar>?
        let rc = writer.withCString { route(handle, $0, &out) }
        return try Self.takeDecoded(rc, out)
    }

    private static func takeDecoded<T: JSONCodable>(_ rc: Int32, _ out: UnsafeMutablePointer<CChar>?) throws -> T {
        guard rc == PIECES_OK, let out else { throw PiecesError.last(code: rc) }
        defer { pieces_string_free(out) }
        return try decodeResponse(UnsafeBufferPointer(start: UnsafeRawPointer(out).assumingMemoryBound(to: UInt8.self), count: strlen(out)))
    }

    /// A document the library returned (or the stream delivered), as a model.
    static func decodeResponse<T: JSONCodable>(_ bytes: UnsafeBufferPointer<UInt8>) throws -> T {
        do {
            return try JSONReader.read(bytes) { try T(json: &$0) }
        } catch let error as JSONReadError {
            throw PiecesError.response(error)
        }
    }

    /// For the stream, which holds its own reference to the C client's state, and for the benchmark
    /// (SPI, not API: it compares the wrappers with bare C calls on the same C client).
    @_spi(Benchmark) public var cHandle: OpaquePointer { handle }
}

/// A one-shot `PiecesCancel` for one async call: bound on the call's thread, triggered by the task's
/// cancellation handler from any thread. The C token is thread-safe and freed when the last
/// reference goes (freeing while bound is safe: the binding holds its own reference).
final class CancelToken: Sendable {
    nonisolated(unsafe) let handle: OpaquePointer
    private let triggered = Locked(false)

    init() throws {
        var out: OpaquePointer?
        let rc = pieces_cancel_new(&out)
        guard rc == PIECES_OK, let out else { throw PiecesError.last(code: rc) }
        handle = out
    }

    deinit { pieces_cancel_free(handle) }

    func trigger() {
        triggered.withLock { $0 = true }
        _ = pieces_cancel_trigger(handle)
    }

    var isTriggered: Bool { triggered.withLock { $0 } }
}
