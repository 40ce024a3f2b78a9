import Foundation

/// Any JSON value: what `extra` holds for keys this version of the models does not know.
///
/// Numbers keep their digits (see `JSONNumber`), so a document decodes and re-encodes to an equal
/// JSON value.
public enum JSONValue: Codable, Sendable, Hashable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        if var items = try? decoder.unkeyedContainer() {
            var values: [JSONValue] = []
            while !items.isAtEnd {
                values.append(try items.decode(JSONValue.self))
            }
            self = .array(values)
        } else if let members = try? decoder.container(keyedBy: WireKey.self) {
            var values: [String: JSONValue] = [:]
            for key in members.allKeys {
                values[key.stringValue] = try members.decode(JSONValue.self, forKey: key)
            }
            self = .object(values)
        } else {
            self = try Self.scalar(decoder.singleValueContainer())
        }
    }

    private static func scalar(_ c: any SingleValueDecodingContainer) throws -> JSONValue {
        if c.decodeNil() { return .null }
        // Bool first: Foundation's decoder does not turn numbers into booleans, nor the reverse.
        if let b = try? c.decode(Bool.self) { return .bool(b) }
        if let s = try? c.decode(String.self) { return .string(s) }
        return .number(try c.decode(JSONNumber.self))
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .number(let n):
            try n.encode(to: encoder)
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let values):
            var c = encoder.unkeyedContainer()
            for v in values { try c.encode(v) }
        case .object(let members):
            var c = encoder.container(keyedBy: WireKey.self)
            for (k, v) in members { try c.encode(v, forKey: WireKey(k)) }
        }
    }
}

/// A JSON number held as a `Decimal`, which keeps up to 38 significant digits exactly: integers far
/// beyond `Int64`, and decimal fractions without binary rounding (`0.1` stays `0.1`).
///
/// Limits (those of Foundation's JSON decoder): more than 38 significant digits are rounded, and a
/// magnitude beyond `Double`'s range (`1e400`) is refused as invalid JSON.
public struct JSONNumber: Codable, Sendable, Hashable, CustomStringConvertible,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral
{
    public var decimal: Decimal

    public init(_ decimal: Decimal) { self.decimal = decimal }
    public init(integerLiteral value: Int64) { decimal = Decimal(value) }
    public init(floatLiteral value: Double) { decimal = Decimal(string: "\(value)") ?? Decimal(value) }

    /// The number's text, e.g. `"12345678901234567890"` or `"0.1"`.
    public var description: String { decimal.description }
    public var doubleValue: Double { NSDecimalNumber(decimal: decimal).doubleValue }
    /// The value as an `Int64` when it is an integer in range, else `nil`.
    public var int64Value: Int64? { Int64(description) }

    public init(from decoder: any Decoder) throws {
        decimal = try decoder.singleValueContainer().decode(Decimal.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(decimal)
    }
}

/// A wire date-time, kept as the text the server sent (so it round-trips unchanged), with `date`
/// for the parsed value. Both RFC 3339 forms in use are understood: `2024-03-14T09:26:53.589000+00:00`
/// (Python SDK) and `2024-03-14T09:26:53.589Z` (TypeScript SDK).
public struct PiecesDateTime: Codable, Sendable, Hashable, CustomStringConvertible {
    public var text: String

    public init(text: String) { self.text = text }

    /// Written in the TypeScript SDK's form, e.g. `2024-03-14T09:26:53.589Z`.
    public init(_ date: Date) {
        text = Self.fractional.format(date)
    }

    /// The instant, or `nil` when the text is not an RFC 3339 date-time.
    public var date: Date? {
        (try? Date(text, strategy: Self.fractional)) ?? (try? Date(text, strategy: Self.whole))
    }

    public var description: String { text }

    private static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let whole = Date.ISO8601FormatStyle()

    public init(from decoder: any Decoder) throws {
        text = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

/// A coding key for any wire key, so the models can see the keys they do not know.
struct WireKey: CodingKey, Hashable {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ key: String) { stringValue = key }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer where Key == WireKey {
    /// The members whose keys are not in `known`, and the explicit `null`s of known optional keys
    /// (so that `"user": null` is written back as it came, not dropped).
    func decodeExtra(known: Set<String>) throws -> [String: JSONValue] {
        var extra: [String: JSONValue] = [:]
        for key in allKeys {
            if !known.contains(key.stringValue) {
                extra[key.stringValue] = try decode(JSONValue.self, forKey: key)
            } else if try decodeNil(forKey: key) {
                extra[key.stringValue] = .null
            }
        }
        return extra
    }
}

extension KeyedEncodingContainer where Key == WireKey {
    /// An optional member: its value, or `null` when it came as `null`, or nothing.
    mutating func encodeOptional<T: Encodable>(
        _ value: T?, forKey key: WireKey, extra: [String: JSONValue]
    ) throws {
        if let value {
            try encode(value, forKey: key)
        } else if extra[key.stringValue] == .null {
            try encodeNil(forKey: key)
        }
    }

    mutating func encodeExtra(_ extra: [String: JSONValue], known: Set<String>) throws {
        for (key, value) in extra where !known.contains(key) {
            try encode(value, forKey: WireKey(key))
        }
    }
}
