import CPiecesUser
import Foundation

/// A failed call: the detail `pieces_last_error` gives on the thread of the failing call.
public struct PiecesError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The `PIECES_ERR_*` status code; a newer library may return codes not listed here.
    public var code: Int32
    /// What kind of failure this is, to branch on. Open: an unknown category is kept as it is.
    public var category: Category
    /// The HTTP status when the server answered.
    public var status: Int?
    public var message: String
    /// The server's text, when it answered with an error.
    public var body: String?
    /// The JSON path of the offending value for `.invalidDocument`, e.g. `$.aesthetics.font.size`.
    public var path: String?

    public init(
        code: Int32, category: Category, status: Int? = nil, message: String,
        body: String? = nil, path: String? = nil
    ) {
        self.code = code
        self.category = category
        self.status = status
        self.message = message
        self.body = body
        self.path = path
    }

    public var description: String {
        var text = "\(category.rawValue) (\(code)): \(message)"
        if let path { text += " at \(path)" }
        return text
    }

    /// The stable snake_case category word of the C status table (`conflict`, `not_found`, ...).
    public struct Category: RawRepresentable, Sendable, Hashable, Codable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let invalidArgument = Self(rawValue: "invalid_argument")
        public static let nullPointer = Self(rawValue: "null_pointer")
        public static let invalidUTF8 = Self(rawValue: "invalid_utf8")
        public static let malformedJSON = Self(rawValue: "malformed_json")
        public static let invalidDocument = Self(rawValue: "invalid_document")
        public static let notFound = Self(rawValue: "not_found")
        public static let conflict = Self(rawValue: "conflict")
        public static let serverError = Self(rawValue: "server_error")
        public static let notImplemented = Self(rawValue: "not_implemented")
        public static let authenticationRequired = Self(rawValue: "authentication_required")
        public static let httpStatus = Self(rawValue: "http_status")
        public static let connection = Self(rawValue: "connection")
        public static let timeout = Self(rawValue: "timeout")
        public static let tls = Self(rawValue: "tls")
        public static let invalidResponse = Self(rawValue: "invalid_response")
        public static let responseTooLarge = Self(rawValue: "response_too_large")
        public static let notRunning = Self(rawValue: "not_running")
        public static let interrupted = Self(rawValue: "interrupted")
        public static let wrongProcess = Self(rawValue: "wrong_process")
        public static let panic = Self(rawValue: "panic")

        /// Category word to status code, read from the library's own status table: a category is
        /// its constant's name without `PIECES_ERR_`, lower-cased (`PIECES_ERR_NOT_FOUND` is
        /// `not_found`). Stream error events carry only the category.
        static let codes: [String: Int32] = {
            var codes: [String: Int32] = [:]
            for code in Int32(1)..<128 {
                let text = String(cString: pieces_status_str(code))
                guard text.hasPrefix("PIECES_ERR_"), let colon = text.firstIndex(of: ":") else { continue }
                codes[text[text.index(text.startIndex, offsetBy: 11)..<colon].lowercased()] = code
            }
            return codes
        }()
    }
}

extension PiecesError {
    /// The failure `code` just returned on this thread, as `pieces_last_error` describes it. Must run
    /// on the thread of the failing call, right after it.
    static func last(code: Int32) -> PiecesError {
        var text: UnsafeMutablePointer<CChar>?
        guard pieces_last_error(&text) == PIECES_OK, let text else {
            return fallback(code: code)
        }
        defer { pieces_string_free(text) }
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), count: strlen(text))
        guard let record = try? Record(JSONReader.read(bytes) { try $0.readValue() }),
            record.int("code") == Int(code), let category = record.string("category")
        else {
            return fallback(code: code)
        }
        return PiecesError(
            code: code, category: Category(rawValue: category), status: record.int("status"),
            message: record.string("message") ?? "", body: record.string("body"), path: record.string("path"))
    }

    /// A stream's error event: `{"kind":"…","message":"…","path":…,"status":…}`.
    static func event(_ json: String) -> PiecesError {
        guard let record = try? Record(JSONReader.read(json) { try $0.readValue() }), let kind = record.string("kind")
        else {
            return PiecesError(code: PIECES_ERR_INVALID_RESPONSE, category: .invalidResponse, message: json)
        }
        return PiecesError(
            code: Category.codes[kind] ?? 0, category: Category(rawValue: kind),
            status: record.int("status"), message: record.string("message") ?? "", path: record.string("path"))
    }

    /// An argument refused on the Swift side before the C call (e.g. a string with a NUL).
    static func invalidArgument(_ message: String) -> PiecesError {
        PiecesError(code: PIECES_ERR_INVALID_ARGUMENT, category: .invalidArgument, message: message)
    }

    /// A response the library accepted that the Swift models cannot represent (or, should the
    /// library ever pass one, text that is not JSON).
    static func response(_ error: JSONReadError) -> PiecesError {
        PiecesError(
            code: PIECES_ERR_INVALID_RESPONSE, category: .invalidResponse,
            message: "the response does not decode into the Swift model: \(error)")
    }

    /// Text a caller gave `init(jsonText:)`: not JSON, or JSON that does not fit the model.
    static func document(_ error: JSONReadError) -> PiecesError {
        switch error.kind {
        case .syntax:
            return PiecesError(code: PIECES_ERR_MALFORMED_JSON, category: .malformedJSON, message: "\(error)")
        case .shape:
            return PiecesError(code: PIECES_ERR_INVALID_DOCUMENT, category: .invalidDocument, message: "\(error)")
        }
    }

    /// When no record describes the failure: the category from the status table, the
    /// description as the message.
    private static func fallback(code: Int32) -> PiecesError {
        let category = Category.codes.first { $0.value == code }?.key ?? "unknown"
        return PiecesError(
            code: code, category: Category(rawValue: category), message: String(cString: pieces_status_str(code)))
    }

    /// A small JSON object (an error record or event), read with the package's own reader.
    private struct Record {
        let members: [String: JSONValue]

        init?(_ value: JSONValue) {
            guard case .object(let members) = value else { return nil }
            self.members = members
        }

        func string(_ key: String) -> String? {
            if case .string(let text)? = members[key] { return text }
            return nil
        }

        func int(_ key: String) -> Int? {
            if case .number(let number)? = members[key] { return number.int64Value.map(Int.init) }
            return nil
        }
    }
}
