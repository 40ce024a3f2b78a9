import Foundation

/// Any JSON value: what `extra` holds for keys this version of the models does not know.
///
/// Numbers keep their digits (see `JSONNumber`), so a document decodes and re-encodes to an equal
/// JSON value.
public enum JSONValue: Codable, JSONCodable, Sendable, Hashable {
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

    public init(json reader: inout JSONReader) throws {
        self = try reader.readValue()
    }

    /// Writes compact JSON; object members sorted by key.
    public func write(to writer: inout JSONWriter) {
        writer.write(self)
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

/// A JSON number kept as its literal text, so that no number is ever rounded: `1e400`, an integer
/// of fifty digits and `0.1` are written back exactly as they came (through `JSONCodable`, which
/// the client's typed routes use).
///
/// Equality (and hashing) is by exact decimal value: `1.0 == 1 == 1e0`, `-0 == 0`, computed from
/// the text without rounding. Through Foundation's `JSONDecoder`/`JSONEncoder` (the `Codable`
/// conformance) the number goes through `Decimal`: 38 significant digits, and `1e400` refused.
public struct JSONNumber: Codable, Sendable, Hashable, CustomStringConvertible,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral
{
    /// The literal, e.g. `"12345678901234567890123456789012345678901234567890"` or `"1e400"`.
    public let text: String

    /// A number from JSON number text; `nil` when `text` is not one (e.g. `"+1"`, `"1."`, `"NaN"`).
    public init?(text: String) {
        // The reader allows whitespace around a value; a number's text has none.
        guard let last = text.utf8.last, last &- UInt8(ascii: "0") < 10,
            let first = text.utf8.first, first == UInt8(ascii: "-") || first &- UInt8(ascii: "0") < 10,
            (try? JSONReader.read(text, { try $0.readNumber() })) != nil
        else { return nil }
        self.text = text
    }

    /// Text the reader has checked.
    init(validated text: String) { self.text = text }

    public init(_ value: Int64) { text = String(value) }
    public init(integerLiteral value: Int64) { self.init(value) }
    /// The shortest text that reads back as `value`; `value` must be finite.
    public init(_ value: Double) {
        precondition(value.isFinite, "JSON has no \(value)")
        text = "\(value)"
    }
    public init(floatLiteral value: Double) { self.init(value) }
    /// `decimal`'s text; it must not be NaN.
    public init(_ decimal: Decimal) {
        precondition(!decimal.isNaN, "JSON has no NaN")
        text = decimal.description
    }

    public var description: String { text }
    /// The nearest `Double` (`1e400` is `+infinity`).
    public var doubleValue: Double { Double(text) ?? .nan }
    /// The value as an `Int64` when it is an integer within range (`1e3` and `2.0` are), else `nil`.
    public var int64Value: Int64? {
        if let value = Int64(text) { return value }
        guard let exact = canonical, exact.exponent >= 0, exact.digits.count + exact.exponent <= 19 else { return nil }
        return Int64((exact.negative ? "-" : "") + exact.digits + String(repeating: "0", count: exact.exponent))
    }
    /// The value as a `Decimal` (38 significant digits: longer ones rounded), `nil` beyond its range.
    public var decimalValue: Decimal? {
        guard let exact = canonical, abs(exact.exponent + exact.digits.count) < 120 else { return nil }
        return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
    }

    @available(*, deprecated, renamed: "decimalValue")
    public var decimal: Decimal { decimalValue ?? .nan }

    /// The exact value as sign, significant digits (no leading or trailing zeros) and a power of
    /// ten; zero is `("0", 0)` without sign. `nil` for an exponent beyond `Int`'s range, compared
    /// by text instead.
    private var canonical: (negative: Bool, digits: String, exponent: Int)? {
        var utf8 = Substring(text).utf8
        let negative = utf8.first == UInt8(ascii: "-")
        if negative { utf8 = utf8.dropFirst() }
        var digits: [UInt8] = []
        var exponent = 0
        var seenPoint = false
        var rest = utf8[...]
        while let byte = rest.first, byte != UInt8(ascii: "e"), byte != UInt8(ascii: "E") {
            rest = rest.dropFirst()
            if byte == UInt8(ascii: ".") {
                seenPoint = true
                continue
            }
            if !(digits.isEmpty && byte == UInt8(ascii: "0")) { digits.append(byte) }
            if seenPoint { exponent -= 1 }
        }
        if !rest.isEmpty {
            guard let power = Int(String(decoding: rest.dropFirst(), as: UTF8.self)) else { return nil }
            let (sum, overflow) = exponent.addingReportingOverflow(power)
            if overflow { return nil }
            exponent = sum
        }
        while digits.last == UInt8(ascii: "0") {
            digits.removeLast()
            exponent += 1
        }
        if digits.isEmpty { return (false, "0", 0) }
        return (negative, String(decoding: digits, as: UTF8.self), exponent)
    }

    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        if lhs.text == rhs.text { return true }
        guard let l = lhs.canonical, let r = rhs.canonical else { return false }
        return l == r
    }

    public func hash(into hasher: inout Hasher) {
        if let exact = canonical {
            hasher.combine(exact.negative)
            hasher.combine(exact.digits)
            hasher.combine(exact.exponent)
        } else {
            hasher.combine(text)
        }
    }

    public init(from decoder: any Decoder) throws {
        let decimal = try decoder.singleValueContainer().decode(Decimal.self)
        text = decimal.description
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let int = Int64(text) {
            try c.encode(int)
        } else if let decimal = decimalValue {
            try c.encode(decimal)
        } else {
            try c.encode(doubleValue)
        }
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
