import Foundation

/// The client configuration: the keys of the C config JSON (`pieces_client_new`), `nil` meaning
/// the library's default.
public struct PiecesConfig: Sendable, Hashable, Encodable {
    /// e.g. `http://localhost:39300`. Default `http://localhost:1000`, or what discovery finds.
    public var baseURL: String?
    /// Sent as `X-Application-ID`.
    public var applicationID: String?
    /// Sent as `Authorization: Bearer` on `select`.
    public var accessToken: String?
    public var connectTimeoutMs: Int?
    /// Bounds a whole call (default 30000).
    public var timeoutMs: Int?
    public var userAgent: String?
    public var maxResponseBytes: Int?
    /// A PEM file whose certificates replace the default roots for https/wss.
    public var tlsCAFile: String?
    /// Find Pieces OS instead of using the default URL (a `baseURL` given beside it wins).
    public var discovery: Discovery?

    public init(
        baseURL: String? = nil, applicationID: String? = nil, accessToken: String? = nil,
        connectTimeoutMs: Int? = nil, timeoutMs: Int? = nil, userAgent: String? = nil,
        maxResponseBytes: Int? = nil, tlsCAFile: String? = nil, discovery: Discovery? = nil
    ) {
        self.baseURL = baseURL
        self.applicationID = applicationID
        self.accessToken = accessToken
        self.connectTimeoutMs = connectTimeoutMs
        self.timeoutMs = timeoutMs
        self.userAgent = userAgent
        self.maxResponseBytes = maxResponseBytes
        self.tlsCAFile = tlsCAFile
        self.discovery = discovery
    }

    /// Discover a running Pieces OS with the default search (`PIECES_BASE_URL`, the port file, ports
    /// 39300–39333, the legacy ports).
    public static var discovery: PiecesConfig { PiecesConfig(discovery: Discovery()) }

    /// How to search for Pieces OS (`pieces_discover`'s options); `nil` means the default.
    public struct Discovery: Sendable, Hashable, Encodable {
        /// The first and last port of the health probe (default 39300...39333).
        public var ports: ClosedRange<Int>?
        /// The port file to read; `""` skips it.
        public var portFile: String?
        public var legacyPorts: [Int]?
        public var probeTimeoutMs: Int?
        /// A loopback address to probe (default 127.0.0.1).
        public var host: String?

        public init(
            ports: ClosedRange<Int>? = nil, portFile: String? = nil, legacyPorts: [Int]? = nil,
            probeTimeoutMs: Int? = nil, host: String? = nil
        ) {
            self.ports = ports
            self.portFile = portFile
            self.legacyPorts = legacyPorts
            self.probeTimeoutMs = probeTimeoutMs
            self.host = host
        }

        enum CodingKeys: String, CodingKey {
            case ports, host
            case portFile = "port_file"
            case legacyPorts = "legacy_ports"
            case probeTimeoutMs = "probe_timeout_ms"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(ports.map { [$0.lowerBound, $0.upperBound] }, forKey: .ports)
            try c.encodeIfPresent(portFile, forKey: .portFile)
            try c.encodeIfPresent(legacyPorts, forKey: .legacyPorts)
            try c.encodeIfPresent(probeTimeoutMs, forKey: .probeTimeoutMs)
            try c.encodeIfPresent(host, forKey: .host)
        }
    }

    enum CodingKeys: String, CodingKey {
        case discovery
        case baseURL = "base_url"
        case applicationID = "application_id"
        case accessToken = "access_token"
        case connectTimeoutMs = "connect_timeout_ms"
        case timeoutMs = "timeout_ms"
        case userAgent = "user_agent"
        case maxResponseBytes = "max_response_bytes"
        case tlsCAFile = "tls_ca_file"
    }

    /// The config JSON `pieces_client_new` reads.
    public func json() throws -> String {
        try encodeJSON(self)
    }
}

/// Options of `PiecesClient.userEvents` (`pieces_user_stream_start`'s options), `nil` meaning the
/// library's default.
public struct StreamOptions: Sendable, Hashable, Encodable {
    public var reconnectMinMs: Int?
    public var reconnectMaxMs: Int?
    /// Consecutive failed connection attempts before the stream stops; `nil` retries forever.
    public var maxAttempts: Int?
    public var pingIntervalMs: Int?
    public var pingTimeoutMs: Int?
    public var maxFrameBytes: Int?
    /// Events the sequence holds for a slow consumer before the oldest are dropped (and reported
    /// as `.overflow`). Swift side only.
    public var bufferSize: Int

    public init(
        reconnectMinMs: Int? = nil, reconnectMaxMs: Int? = nil, maxAttempts: Int? = nil,
        pingIntervalMs: Int? = nil, pingTimeoutMs: Int? = nil, maxFrameBytes: Int? = nil,
        bufferSize: Int = 64
    ) {
        self.reconnectMinMs = reconnectMinMs
        self.reconnectMaxMs = reconnectMaxMs
        self.maxAttempts = maxAttempts
        self.pingIntervalMs = pingIntervalMs
        self.pingTimeoutMs = pingTimeoutMs
        self.maxFrameBytes = maxFrameBytes
        self.bufferSize = bufferSize
    }

    enum CodingKeys: String, CodingKey {
        case reconnectMinMs = "reconnect_min_ms"
        case reconnectMaxMs = "reconnect_max_ms"
        case maxAttempts = "max_attempts"
        case pingIntervalMs = "ping_interval_ms"
        case pingTimeoutMs = "ping_timeout_ms"
        case maxFrameBytes = "max_frame_bytes"
    }
}

/// Encodes a value to JSON text.
func encodeJSON<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    do {
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    } catch {
        throw PiecesError.invalidArgument("cannot encode \(T.self) as JSON: \(error)")
    }
}
